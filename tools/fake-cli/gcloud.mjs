#!/usr/bin/env node
// @ts-check
// A stand-in for the two gcloud commands the per-run cluster uses (docs/reference/per-run-cluster.md#liveness, docs/reference/per-run-cluster.md#teardown):
//   gcloud compute instances list --filter=labels.KEY=VALUE --format=value(status|name,zone) [--project=P]
//   gcloud compute instances delete NAME --quiet --delete-disks=all --zone=ZONE [--project=P]
// It records every call to FAKE_CLI_LOG and reads/writes the instances in FAKE_GCLOUD_STATE.
// Failures are scripted: FAKE_GCLOUD_LIST_FAIL=<n>|always (the first n list calls fail),
// FAKE_GCLOUD_DELETE_FAIL=<name,...>.
import { listed, readInstances, readRecords, recordCall, withStateLock, writeInstances } from './record.mjs';

const args = process.argv.slice(2);

/** @param {string} msg @returns {never} */
function fail(msg, code = 1) {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

/** @param {string} name */
function flag(name) {
  const hit = args.find((a) => a === name || a.startsWith(`${name}=`));
  if (hit === undefined) return undefined;
  return hit.includes('=') ? hit.slice(hit.indexOf('=') + 1) : true;
}

/** The value a real `value(zone)` prints: the zone's URL. */
function zoneUrl(/** @type {string} */ zone) {
  const project = flag('--project');
  return `https://www.googleapis.com/compute/v1/projects/${typeof project === 'string' ? project : 'fake-project'}/zones/${zone}`;
}

function list() {
  const failSpec = process.env.FAKE_GCLOUD_LIST_FAIL;
  if (failSpec) {
    // This call is already recorded: count the list calls before it.
    const earlier = readRecords().filter((r) => r.tool === 'gcloud' && 'argv' in r && r.argv[2] === 'list').length - 1;
    if (failSpec === 'always' || earlier < Number(failSpec)) {
      fail('ERROR: (gcloud.compute.instances.list) There was a problem refreshing your current auth tokens: (fake) transient failure');
    }
  }
  const filter = flag('--filter');
  const format = flag('--format');
  if (typeof filter !== 'string' || typeof format !== 'string') fail('fake gcloud: list needs --filter=... and --format=...', 2);
  const m = /^labels\.([a-z0-9_-]+)=([a-z0-9_-]+)$/.exec(filter);
  if (!m) fail(`fake gcloud: unsupported filter ${filter}`, 2);
  const [, key, value] = m;
  const rows = readInstances().filter((i) => i.labels?.[key] === value);
  /** @type {Record<string, (i: import('./record.mjs').FakeInstance) => string>} */
  const fields = { name: (i) => i.name, zone: (i) => zoneUrl(i.zone), status: (i) => i.status };
  const fm = /^value\(([a-z,]+)\)$/.exec(format);
  if (!fm) fail(`fake gcloud: unsupported format ${format}`, 2);
  const cols = fm[1].split(',');
  for (const c of cols) if (!fields[c]) fail(`fake gcloud: unsupported field ${c}`, 2);
  for (const r of rows) process.stdout.write(`${cols.map((c) => fields[c](r)).join('\t')}\n`);
}

function del() {
  const names = args.slice(3).filter((a) => !a.startsWith('-'));
  const zone = flag('--zone');
  if (flag('--quiet') !== true) fail('fake gcloud: delete without --quiet would prompt', 2);
  if (flag('--delete-disks') !== 'all') fail('fake gcloud: delete needs --delete-disks=all', 2);
  if (typeof zone !== 'string' || zone.includes('/')) fail(`fake gcloud: --zone must be a zone name, got ${String(zone)}`, 2);
  for (const name of names) {
    if (listed(process.env.FAKE_GCLOUD_DELETE_FAIL, name))
      fail(`ERROR: (gcloud.compute.instances.delete) Could not fetch resource:\n - (fake) failure deleting ${name}`);
  }
  const missing = withStateLock(() => {
    const all = readInstances();
    const absent = names.filter((name) => !all.some((i) => i.name === name && i.zone === zone));
    if (absent.length === 0) writeInstances(all.filter((i) => !names.includes(i.name)));
    return absent;
  });
  if (missing.length > 0)
    fail(
      `ERROR: (gcloud.compute.instances.delete) Could not fetch resource:\n - The resource 'projects/p/zones/${zone}/instances/${missing[0]}' was not found`,
    );
  for (const name of names) process.stderr.write(`Deleted [https://www.googleapis.com/compute/v1/projects/p/zones/${zone}/instances/${name}].\n`);
}

recordCall('gcloud', args);
if (args[0] === 'compute' && args[1] === 'instances' && args[2] === 'list') list();
else if (args[0] === 'compute' && args[1] === 'instances' && args[2] === 'delete') del();
else if (args[0] === '--version') process.stdout.write('Google Cloud SDK 999.0.0 (fake)\n');
else fail(`fake gcloud: unsupported command ${JSON.stringify(args)}`, 2);

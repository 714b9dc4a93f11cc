#!/usr/bin/env node
// @ts-check
// A stand-in for the two gcloud commands the per-run cluster uses (docs/reference/per-run-cluster.md#liveness, docs/reference/per-run-cluster.md#teardown):
//   gcloud compute instances list --filter=labels.KEY=VALUE --format=value(status|name,zone) [--project=P]
//   gcloud compute instances delete NAME --quiet --delete-disks=all --zone=ZONE [--project=P]
// and the two that bird-eval.yml's fetch job uses to download a run's rows and logs:
//   gcloud storage ls gs://BUCKET/PATH
//   gcloud storage cp [--recursive] gs://BUCKET/PATH DEST_DIR/
// It records every call to FAKE_CLI_LOG and reads/writes the instances in FAKE_GCLOUD_STATE; the
// objects of bucket B are the files under FAKE_GCS_DIR/B/. Failures are scripted:
// FAKE_GCLOUD_LIST_FAIL=<n>|always (the first n list calls fail), FAKE_GCLOUD_DELETE_FAIL=<name,...>,
// FAKE_GCLOUD_STORAGE_FAIL=denied (every storage call answers 403).
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
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

/** @param {string} url @returns {{ bucket: string, path: string, dir: string }} */
function gsUrl(url) {
  const m = /^gs:\/\/([a-z0-9][-a-z0-9_.]*[a-z0-9])\/(.+)$/.exec(url);
  if (!m) fail(`fake gcloud: unsupported URL ${url}`, 2);
  const root = process.env.FAKE_GCS_DIR;
  if (!root) fail('fake gcloud: FAKE_GCS_DIR is not set', 2);
  const path = m[2].replace(/\/+$/, '');
  return { bucket: m[1], path, dir: join(root, m[1]) };
}

/** Every file under dir, as posix paths relative to it. @param {string} dir @returns {string[]} */
function filesUnder(dir) {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .map((f) => f.split('\\').join('/'))
    .sort();
}

/** What a URL names: one object, or the objects under it as a folder (relative names), or nothing. @param {string} url */
function resolveUrl(url) {
  const u = gsUrl(url);
  const file = join(u.dir, u.path);
  if (existsSync(file) && statSync(file).isFile()) return { ...u, object: file, under: /** @type {string[]} */ ([]) };
  return { ...u, object: null, under: filesUnder(file) };
}

function storageDenied(/** @type {string} */ verb, /** @type {string} */ url) {
  if (process.env.FAKE_GCLOUD_STORAGE_FAIL === 'denied')
    fail(
      `ERROR: (gcloud.storage.${verb}) [fake@p.iam.gserviceaccount.com] does not have permission to access b instance [${gsUrl(url).bucket}] (or it may not exist): (fake) 403`,
    );
}

function storageLs() {
  const url = args[2];
  storageDenied('ls', url);
  const r = resolveUrl(url);
  if (r.object) process.stdout.write(`${url}\n`);
  else if (r.under.length > 0) {
    // One level, as ls prints it: objects directly under the folder, and sub-folders with a slash.
    const names = new Set(r.under.map((f) => (f.includes('/') ? `${f.slice(0, f.indexOf('/'))}/` : f)));
    for (const n of [...names].sort()) process.stdout.write(`gs://${r.bucket}/${r.path}/${n}\n`);
  } else fail('ERROR: (gcloud.storage.ls) One or more URLs matched no objects.');
}

function storageCp() {
  const rest = args.slice(2);
  const recursive = rest.some((a) => a === '--recursive' || a === '-r' || a === '-R');
  const [src, dest] = rest.filter((a) => !a.startsWith('-'));
  if (!src || !dest || rest.filter((a) => !a.startsWith('-')).length !== 2) fail('fake gcloud: cp needs exactly SOURCE DESTINATION', 2);
  storageDenied('cp', src);
  if (!existsSync(dest) || !statSync(dest).isDirectory()) fail(`fake gcloud: the destination ${dest} must be an existing directory`, 2);
  const r = resolveUrl(src);
  if (r.object) {
    copyFileSync(r.object, join(dest, basename(r.path)));
  } else if (r.under.length > 0) {
    if (!recursive) fail(`ERROR: (gcloud.storage.cp) Omitting container "${src}". Include the --recursive flag to copy it.`);
    // The folder keeps its name under the destination directory, as the real cp -r does.
    const top = join(dest, basename(r.path));
    for (const f of r.under) {
      const to = join(top, f);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(r.dir, r.path, f), to);
    }
    process.stderr.write(`Completed files ${r.under.length}/${r.under.length} (fake), into ${relative(process.cwd(), top) || top}\n`);
  } else fail(`ERROR: (gcloud.storage.cp) The following URLs matched no objects or files:\n-${src}`);
}

recordCall('gcloud', args);
if (args[0] === 'compute' && args[1] === 'instances' && args[2] === 'list') list();
else if (args[0] === 'compute' && args[1] === 'instances' && args[2] === 'delete') del();
else if (args[0] === 'storage' && args[1] === 'ls' && args.length === 3) storageLs();
else if (args[0] === 'storage' && args[1] === 'cp') storageCp();
else if (args[0] === '--version') process.stdout.write('Google Cloud SDK 999.0.0 (fake)\n');
else fail(`fake gcloud: unsupported command ${JSON.stringify(args)}`, 2);

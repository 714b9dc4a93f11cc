#!/usr/bin/env node
// @ts-check
// A stand-in for the `ray` cluster launcher CLI (ray up / ray dashboard / ray down), for tests.
// It records every call (argv, cwd, env names) to FAKE_CLI_LOG. `ray dashboard` serves THE Ray
// Jobs API double (tools/ray-sim/server.mjs) on the local port that `--port` names, where the
// real command would forward the head's dashboard over SSH, and runs until it is killed.
// README.md in this folder lists the scripting variables and what the stand-in cannot prove.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { startRaySim } from '../ray-sim/server.mjs';
import { appendRecord, listed, readInstances, recordCall, scripted, sleep, withStateLock, writeInstances } from './record.mjs';

const FAKE_RAY_VERSION = '2.47.1';

const DEFAULT_DASHBOARD_PORT = 8265;
/** Options of the real CLI that take a value (click), so their value is not the YAML path. */
const VALUE_OPTIONS = new Set([
  '--min-workers',
  '--max-workers',
  '-n',
  '--cluster-name',
  '-p',
  '--port',
  '--remote-port',
  '--log-style',
  '--log-color',
  '--redirect-command-output',
]);

/**
 * @param {string[]} args
 * @returns {{ flags: Map<string, string | true>, positionals: string[] }}
 */
function parseArgs(args) {
  /** @type {Map<string, string | true>} */
  const flags = new Map();
  const positionals = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('-')) {
      const eq = a.indexOf('=');
      if (eq > 0) flags.set(a.slice(0, eq), a.slice(eq + 1));
      else if (VALUE_OPTIONS.has(a)) flags.set(a, args[++i] ?? '');
      else flags.set(a, true);
    } else positionals.push(a);
  }
  return { flags, positionals };
}

/** @param {string} msg @returns {never} */
function fail(msg, code = 1) {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

/**
 * Reads and checks the cluster YAML as far as `ray up` would before touching the cloud.
 * @param {string | undefined} file
 * @returns {any}
 */
function loadConfig(file) {
  if (!file) fail("Error: Missing argument 'CLUSTER_CONFIG_FILE'.", 2);
  const path = resolve(file);
  if (!existsSync(path)) fail(`Error: Invalid value for 'CLUSTER_CONFIG_FILE': Path '${file}' does not exist.`, 2);
  const config = parse(readFileSync(path, 'utf8'), { version: '1.1' });
  if (!config || typeof config !== 'object') fail(`ray: ${file} is not a mapping`);
  if (config.provider?.type !== 'gcp') fail(`ray: provider.type must be gcp, got ${config.provider?.type}`);
  if (!config.available_node_types?.[config.head_node_type]) fail('ray: head_node_type is not one of available_node_types');
  const key = config.auth?.ssh_private_key;
  if (typeof key !== 'string' || !existsSync(key)) fail(`ray: auth.ssh_private_key ${key} does not exist`);
  if ((statSync(key).mode & 0o077) !== 0) fail(`ray: WARNING: UNPROTECTED PRIVATE KEY FILE! Permissions for '${key}' are too open (ssh would refuse it).`);
  return config;
}

/** @param {string} runId */
const byRun = (runId) => (/** @type {import('./record.mjs').FakeInstance} */ i) => i.labels?.['bird-interact-run-id'] === runId;

async function up(/** @type {string[]} */ args) {
  const { flags, positionals } = parseArgs(args);
  const config = loadConfig(positionals[0]);
  if (!flags.has('--yes') && !flags.has('-y')) fail('This will create a new cluster [y/N]: \nAborted!');
  const name = config.cluster_name;
  process.stdout.write(
    `Cluster: ${name}\n\nChecking GCP environment settings\nNo head node found. Launching a new cluster. Confirm [y/N]: y [automatic, due to --yes]\n`,
  );
  await sleep(scripted(process.env.FAKE_RAY_SLEEP, 'up'));
  if (listed(process.env.FAKE_RAY_FAIL, 'up')) fail('New status: update-failed\n!!!\nSSH command failed.\n!!!\n\nFailed to setup head node.');
  const zone = config.provider.availability_zone;
  const labels = config.available_node_types[config.head_node_type].node_config?.labels ?? {};
  const workers = Number(config.available_node_types['ray-worker-default']?.min_workers ?? 0);
  const hex = () => randomBytes(4).toString('hex');
  const made = [{ name: `ray-${name}-head-${hex()}-compute`, zone, status: 'RUNNING', labels }];
  for (let i = 0; i < workers; i++) made.push({ name: `ray-${name}-worker-${hex()}-compute`, zone, status: 'RUNNING', labels });
  withStateLock(() => writeInstances([...readInstances().filter((i) => !made.some((m) => m.name === i.name)), ...made]));
  process.stdout.write(`  New status: up-to-date\n\nUseful commands:\n  To terminate the cluster:\n    ray down ${positionals[0]}\n`);
}

async function down(/** @type {string[]} */ args) {
  const { flags, positionals } = parseArgs(args);
  const config = loadConfig(positionals[0]);
  if (!flags.has('--yes') && !flags.has('-y')) fail('Destroying cluster. Confirm [y/N]: \nAborted!');
  process.stdout.write(`Destroying cluster. Confirm [y/N]: y [automatic, due to --yes]\n`);
  await sleep(scripted(process.env.FAKE_RAY_SLEEP, 'down'));
  if (listed(process.env.FAKE_RAY_FAIL, 'down'))
    fail('googleapiclient.errors.HttpError: <HttpError 503 when requesting https://compute.googleapis.com/compute/v1/...: "Service Unavailable">');
  const ours = byRun(config.cluster_name);
  const gone = withStateLock(() => {
    const all = readInstances();
    writeInstances(all.filter((i) => !ours(i)));
    return all.filter(ours);
  });
  process.stdout.write(`Requested ${gone.length} nodes to shut down. [interval=1s]\n0 nodes remaining after 1 second(s).\nNo nodes remaining.\n`);
}

async function dashboard(/** @type {string[]} */ args) {
  const { flags, positionals } = parseArgs(args);
  loadConfig(positionals[0]);
  const portFlag = flags.get('--port') ?? flags.get('-p');
  const port = portFlag === undefined || portFlag === true ? DEFAULT_DASHBOARD_PORT : Number(portFlag);
  const remote = flags.get('--remote-port');
  const remotePort = remote === undefined || remote === true ? DEFAULT_DASHBOARD_PORT : Number(remote);
  process.stdout.write(`Attempting to establish dashboard locally at http://localhost:${port}/ connected to remote port ${remotePort}\n`);
  if (listed(process.env.FAKE_RAY_FAIL, 'dashboard')) {
    fail(
      `Error: Failed to forward dashboard from remote port ${remotePort} to local port ${port}. There are a couple possibilities: \n 1. The remote port is incorrectly specified \n 2. The local port ${port} is already in use.\n The exception is: SSH command failed.`,
    );
  }
  await sleep(scripted(process.env.FAKE_RAY_SLEEP, 'dashboard'));
  /** @type {import('../ray-sim/server.mjs').RaySimOptions} */
  const extra = process.env.FAKE_RAY_SIM_OPTIONS ? JSON.parse(process.env.FAKE_RAY_SIM_OPTIONS) : {};
  // The forwarded head runs the Ray this stand-in CLI claims to be (`ray --version`).
  const sim = await startRaySim({ rayVersion: FAKE_RAY_VERSION, ...extra, port, host: '127.0.0.1' });
  sim.events.on('request', (/** @type {import('../ray-sim/server.mjs').RequestLogEntry} */ e) => {
    appendRecord({ tool: 'ray-dashboard', kind: 'http', method: e.method, path: e.path, status: e.status, time: Date.now() });
  });
  let closing = false;
  const stop = async (/** @type {number} */ code) => {
    if (closing) return;
    closing = true;
    await sim.close().catch(() => undefined);
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(143));
  process.on('SIGINT', () => void stop(130));
  // Test hygiene, not Ray's behaviour: leave when the process that started us is gone.
  const parent = process.ppid;
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      void stop(1);
    }
  }, 500).unref();
  // Stays up (the HTTP server holds the event loop) until killed.
}

const [sub, ...rest] = process.argv.slice(2);
recordCall('ray', process.argv.slice(2));
if (sub === 'up') await up(rest);
else if (sub === 'down') await down(rest);
else if (sub === 'dashboard') await dashboard(rest);
else if (sub === '--version') process.stdout.write(`ray, version ${FAKE_RAY_VERSION} (fake)\n`);
else fail(`fake ray: unsupported command ${JSON.stringify(process.argv.slice(2))}`, 2);

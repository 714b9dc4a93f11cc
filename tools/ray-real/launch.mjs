// @ts-check
// Starts a real single-node Ray head from tools/python/.venv for the tests and the demo, and stops
// exactly what it started. Everything is bound to loopback, every port is chosen here (outside
// Ray's defaults, so a Ray already running on the machine is never touched), and all state lives
// in a short per-head temp dir (Ray's unix sockets must fit in 107 bytes). Never a machine-wide
// `ray stop`.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = join(HERE, '..', '..');
const VENV_BIN = join(REPO_ROOT, 'tools', 'python', '.venv', 'bin');
export const RAY = join(VENV_BIN, 'ray');
export const VENV_PYTHON = join(VENV_BIN, 'python');
const INSTALL_CMD = 'node tools/python/install.mjs';

// Ray's own defaults are 6379 (GCS), 8265 (dashboard), 10001 (client), 10002–19999 (workers); the
// Linux ephemeral range starts at 32768. A block from the gap between them collides with neither.
const PORT_LOW = 20000;
const PORT_HIGH = 32000;
const FIXED_PORTS = 9;
const WORKER_PORTS = 48;

/** @param {number} port @returns {Promise<boolean>} */
function portFree(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A run of `n` consecutive free loopback ports inside [PORT_LOW, PORT_HIGH). */
async function freePortBlock(/** @type {number} */ n) {
  for (let tries = 0; tries < 50; tries++) {
    const base = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW - n));
    let ok = true;
    for (let p = base; p < base + n && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports in ${PORT_LOW}-${PORT_HIGH}`);
}

/** @param {number} port @returns {Promise<boolean>} */
function accepts(port) {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Live pids whose parent chain leads to one of `roots` (Ray's workers and job drivers run in
 * process groups and sessions of their own, so the head's group alone is not all of it).
 * Linux /proc only; elsewhere just the roots.
 * @param {Set<number>} known
 * @returns {Set<number>}
 */
function familyOf(known) {
  /** @type {Map<number, number>} */
  const parent = new Map();
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return new Set([...known].filter(alive));
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // pid (comm) state ppid ...; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(e), ppid);
    } catch {
      /* gone */
    }
  }
  const out = new Set([...known].filter((p) => parent.has(p)));
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return out;
}

/** @param {number} pid */
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** @param {number} pid @param {NodeJS.Signals} sig */
function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * @typedef {{ url: string, gcsAddress: string, tempDir: string, pid: number, ports: Record<string, number>, stop: () => Promise<void> }} RayHead
 */

/**
 * @param {{ numCpus?: number, env?: Record<string, string>, startTimeoutMs?: number, graceMs?: number, log?: (line: string) => void, signal?: AbortSignal }} [o]
 * @returns {Promise<RayHead>}
 */
export async function startRayHead(o = {}) {
  if (!existsSync(RAY)) throw new Error(`Ray is not installed: ${RAY} is missing.\nRun from the repository root: ${INSTALL_CMD}`);
  const base = await freePortBlock(FIXED_PORTS + WORKER_PORTS);
  const ports = {
    gcs: base,
    dashboard: base + 1,
    objectManager: base + 2,
    nodeManager: base + 3,
    agentListen: base + 4,
    agentGrpc: base + 5,
    runtimeEnvAgent: base + 6,
    metricsExport: base + 7,
    client: base + 8,
    minWorker: base + FIXED_PORTS,
    maxWorker: base + FIXED_PORTS + WORKER_PORTS - 1,
  };
  // /tmp, not a long $TMPDIR: the session's socket paths must stay short.
  const tempDir = mkdtempSync(join(tmpdir().length <= 20 ? tmpdir() : '/tmp', 'bray-'));
  const args = [
    'start',
    '--head',
    '--block',
    '--disable-usage-stats',
    `--num-cpus=${o.numCpus ?? 2}`,
    `--temp-dir=${tempDir}`,
    '--node-ip-address=127.0.0.1',
    '--dashboard-host=127.0.0.1',
    `--port=${ports.gcs}`,
    `--dashboard-port=${ports.dashboard}`,
    `--object-manager-port=${ports.objectManager}`,
    `--node-manager-port=${ports.nodeManager}`,
    `--dashboard-agent-listen-port=${ports.agentListen}`,
    `--dashboard-agent-grpc-port=${ports.agentGrpc}`,
    `--runtime-env-agent-port=${ports.runtimeEnvAgent}`,
    `--metrics-export-port=${ports.metricsExport}`,
    `--ray-client-server-port=${ports.client}`,
    `--min-worker-port=${ports.minWorker}`,
    `--max-worker-port=${ports.maxWorker}`,
    // Small: the object store is only used for the stand-in's one actor.
    '--object-store-memory=200000000',
  ];
  const child = spawn(RAY, args, {
    cwd: tempDir,
    detached: true, // its own process group
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...o.env,
      // On Linux Ray turns 127.0.0.1 into the machine's address (services.resolve_ip_for_localhost)
      // and binds the GCS, raylet and agents to it; with this set to 0 it keeps loopback.
      RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER: '0',
      RAY_USAGE_STATS_ENABLED: '0',
      // Explicit: with RAY_AUTH_MODE unset, Ray 2.60 turns token auth on whenever ~/.ray/auth_token
      // exists, and any local `ray.init()` on the machine writes one.
      RAY_AUTH_MODE: 'disabled',
      PYTHONUNBUFFERED: '1',
    },
  });
  const pid = /** @type {number} */ (child.pid);
  let out = '';
  const keep = (/** @type {Buffer} */ c) => {
    out = (out + c).slice(-20000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  /** @type {{ exited: { code: number | null, signal: NodeJS.Signals | null } | null }} */
  const state = { exited: null };
  child.once('exit', (code, sig) => {
    state.exited = { code, signal: sig };
  });

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    const grace = o.graceMs ?? 5000;
    let family = familyOf(new Set([pid]));
    signal(-pid, 'SIGTERM');
    for (const p of family) signal(p, 'SIGTERM');
    const deadline = Date.now() + grace;
    while (Date.now() < deadline) {
      family = familyOf(family);
      if (family.size === 0) break;
      await sleep(200);
    }
    family = familyOf(family);
    signal(-pid, 'SIGKILL');
    for (const p of family) signal(p, 'SIGKILL');
    for (let i = 0; i < 50 && familyOf(family).size > 0; i++) await sleep(100);
    rmSync(tempDir, { recursive: true, force: true });
  };

  const url = `http://127.0.0.1:${ports.dashboard}`;
  // Generous: on a busy 2-core machine the head has needed over two minutes.
  const timeoutMs = o.startTimeoutMs ?? 300_000;
  const deadline = Date.now() + timeoutMs;
  try {
    // Ready = the dashboard answers, the job agent accepts connections (a submit before that is
    // Ray's "no agent" 500) and `ray start` has written the GCS address it settled on.
    let pending = 'the dashboard';
    for (;;) {
      if (o.signal?.aborted) throw new Error('aborted while starting');
      const ex = state.exited;
      if (ex) throw new Error(`ray start exited (code ${ex.code}, signal ${ex.signal})`);
      if (Date.now() > deadline) throw new Error(`the head was not ready within ${timeoutMs} ms (still waiting for ${pending})`);
      if (!(await versionOk(url))) pending = `GET ${url}/api/version`;
      else if (!(await accepts(ports.agentListen))) pending = `the job agent on port ${ports.agentListen}`;
      else if (!existsSync(join(tempDir, 'ray_current_cluster'))) pending = 'ray start to write the GCS address';
      else break;
      await sleep(250);
    }
    const gcsAddress = readFileSync(join(tempDir, 'ray_current_cluster'), 'utf8').trim();
    if (gcsAddress !== `127.0.0.1:${ports.gcs}`) throw new Error(`the head reports GCS address ${gcsAddress}, not loopback 127.0.0.1:${ports.gcs}`);
    child.stdout?.resume();
    child.stderr?.resume();
    o.log?.(`ray head: ${url} (GCS ${gcsAddress}, temp dir ${tempDir})`);
    return { url, gcsAddress, tempDir, pid, ports, stop };
  } catch (e) {
    await stop();
    throw new Error(`Ray head failed to start: ${e instanceof Error ? e.message : String(e)}\n--- ray start output ---\n${out}`);
  }
}

/** @param {string} url */
async function versionOk(url) {
  try {
    const res = await fetch(`${url}/api/version`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) return false;
    const v = /** @type {{ ray_version?: string }} */ (await res.json());
    return typeof v.ray_version === 'string';
  } catch {
    return false;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // CLI: start a head, print its URL, stop it on SIGINT/SIGTERM (also while it is starting).
  const abort = new AbortController();
  /** @type {RayHead | null} */
  let head = null;
  const bye = () => {
    if (head) void head.stop().then(() => process.exit(0));
    else abort.abort();
  };
  process.once('SIGINT', bye);
  process.once('SIGTERM', bye);
  try {
    head = await startRayHead({ log: (l) => console.log(l), signal: abort.signal });
    console.log(`ray-real listening on ${head.url}`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}

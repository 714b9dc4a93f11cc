// The two CLIs of a per-run cluster (domain §12.3–§12.5): the Ray cluster launcher (`ray up`,
// `ray dashboard`, `ray down`; the `ray-cli` input names the executable) and `gcloud` (liveness
// and the fallback teardown by label). Output is streamed line by line; nothing secret goes into
// argv or the child environment (API keys, action inputs and runner tokens are removed).
import * as core from '@actions/core';
import { HttpClient } from '@actions/http-client';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { KNOWN_KEYS } from '../params/combos.js';
import { describeError } from '../retry.js';
import { RUN_ID_LABEL } from './yaml.js';

/** Where the CLIs' output and our progress lines go. */
export interface CliLog {
  info(line: string): void;
  warning(line: string): void;
  /** Runs `fn` with its output folded under `title` (a `::group::` on GitHub). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
}

/** A line of child output can never act as a workflow command (`::set-output`, `::add-mask::`, ...). */
export function neutralizeCommand(line: string): string {
  return /^\s*::/.test(line) ? `| ${line}` : line;
}

/** The GitHub log: groups via @actions/core. */
export function actionsCliLog(): CliLog {
  return {
    info: (l) => core.info(l),
    warning: (l) => core.warning(l),
    group: (title, fn) => core.group(title, fn),
  };
}

/** Environment variables a child never gets: they are secrets it does not need. */
export const CHILD_ENV_DENY: readonly string[] = [...KNOWN_KEYS, 'ACTIONS_RUNTIME_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'GITHUB_TOKEN', 'GH_TOKEN'];

/**
 * The environment of `ray` and `gcloud`: the runner's, minus the API keys (src/params/combos.ts
 * KNOWN_KEYS), the runner's tokens and every `INPUT_*` variable (inputs such as ray-headers may
 * hold credentials). Google credentials (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_*) stay: both
 * CLIs need them, and they are file paths, not secrets.
 */
export function childEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const deny = new Set(CHILD_ENV_DENY);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) {
    if (v === undefined || deny.has(k) || k.startsWith('INPUT_')) continue;
    out[k] = v;
  }
  // Python tools print progress promptly instead of in 8 KiB blocks.
  out.PYTHONUNBUFFERED = '1';
  return out;
}

/** A CLI call that failed: exit code or timeout, and the last lines of its output. */
export class ClusterCliError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly code: number | null,
    readonly tail: readonly string[],
  ) {
    super(tail.length > 0 ? `${message}\n${tail.map((l) => `  ${l}`).join('\n')}` : message);
    this.name = 'ClusterCliError';
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  /** The last lines of stdout and stderr, merged in arrival order. */
  tail: string[];
}

const TAIL_LINES = 20;
const KILL_GRACE_MS = 5_000;

/** Splits a stream into lines; `flush` delivers a last line without a newline. */
function lineSplitter(onLine: (l: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString();
      let i: number;
      while ((i = rest.indexOf('\n')) >= 0) {
        onLine(rest.slice(0, i).replace(/\r$/, ''));
        rest = rest.slice(i + 1);
      }
    },
    flush() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Own process group (detached): the signal reaches ray's ssh children too.
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      // already gone
    }
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after a grace period. Resolves when it exited. */
async function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  killGroup(child, 'SIGTERM');
  const t = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(t);
}

export interface ClusterCliOptions {
  /** The ray executable (the `ray-cli` input): a name on PATH or a path. */
  rayCli: string;
  /** The gcloud executable; default `gcloud`. */
  gcloud?: string;
  /** Added to every gcloud call as `--project=<project>` (the manifest's project). */
  project?: string;
  /** Working directory of every call (the per-run directory). */
  cwd: string;
  /** The base environment; default process.env. Filtered by {@link childEnv}. */
  env?: NodeJS.ProcessEnv;
  log: CliLog;
  /** `ray up`; default 30 min. */
  upTimeoutMs?: number;
  /** `ray down`; default 15 min. */
  downTimeoutMs?: number;
  /** One gcloud call; default 3 min. */
  gcloudTimeoutMs?: number;
  /** gcloud list retries: attempts (default 3) and the first delay (default 2 s, doubling). */
  gcloudAttempts?: number;
  gcloudRetryMs?: number;
}

export interface DashboardOptions {
  /** Local port; default a free one. */
  port?: number;
  /** How long to wait for /api/version through the forward; default 5 min. */
  readyTimeoutMs?: number;
  pollMs?: number;
  /** Restarts of a forward that died on its own (an SSH drop) after it was ready; default 5. */
  maxRestarts?: number;
}

/** A running `ray dashboard` port forward. */
export interface DashboardForward {
  /** `http://127.0.0.1:<port>`: give it to the Ray Jobs client. */
  readonly url: string;
  readonly port: number;
  /** Restarts so far. */
  readonly restarts: number;
  /** Kills the forward (idempotent). */
  stop(): Promise<void>;
}

export interface InstanceRef {
  name: string;
  /** The zone's basename (`us-central1-a`), from the URL gcloud prints. */
  zone: string;
}

export interface DeleteByLabelResult {
  found: InstanceRef[];
  deleted: InstanceRef[];
  failed: Array<InstanceRef & { error: string }>;
}

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** `value(status)` output: alive when any line is RUNNING (head or worker, as Python decides). */
export function parseAlive(stdout: string): boolean {
  return stdout.split('\n').some((l) => l.trim() === 'RUNNING');
}

/** `value(name,zone)` output: tab-separated name and zone URL (or name) per line. */
export function parseInstances(stdout: string): InstanceRef[] {
  const out: InstanceRef[] = [];
  for (const line of stdout.split('\n')) {
    const parts = line.trim().split(/\s+/).filter(Boolean);
    if (parts.length < 2) continue;
    const zone = parts[1].replace(/\/+$/, '').split('/').pop() ?? '';
    out.push({ name: parts[0], zone });
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ClusterCli {
  private readonly children = new Set<ChildProcess>();
  private readonly env: Record<string, string>;
  readonly gcloud: string;

  constructor(readonly o: ClusterCliOptions) {
    this.env = childEnv(o.env ?? process.env);
    this.gcloud = o.gcloud ?? 'gcloud';
  }

  /** Spawns one CLI call in its own process group, streaming each output line to `onLine`. */
  run(cmd: string, args: readonly string[], o: { timeoutMs: number; onLine?: (l: string) => void }): Promise<RunResult> {
    return new Promise((resolve) => {
      const tail: string[] = [];
      let stdout = '';
      let timedOut = false;
      const onLine = (l: string): void => {
        tail.push(l);
        if (tail.length > TAIL_LINES) tail.shift();
        o.onLine?.(neutralizeCommand(l));
      };
      let child: ChildProcess;
      try {
        child = spawn(cmd, [...args], { cwd: this.o.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      } catch (e) {
        resolve({ code: null, signal: null, timedOut: false, stdout: '', tail: [`could not start ${cmd}: ${describeError(e)}`] });
        return;
      }
      this.children.add(child);
      const out = lineSplitter(onLine);
      const err = lineSplitter(onLine);
      child.stdout?.on('data', (d: Buffer) => {
        stdout += d.toString();
        out.push(d);
      });
      child.stderr?.on('data', (d: Buffer) => err.push(d));
      const timer = setTimeout(() => {
        timedOut = true;
        void stopChild(child);
      }, o.timeoutMs);
      child.on('error', (e) => {
        onLine(`could not start ${cmd}: ${describeError(e)}`);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        out.flush();
        err.flush();
        this.children.delete(child);
        resolve({ code, signal, timedOut, stdout, tail });
      });
    });
  }

  private describe(cmd: string, args: readonly string[]): string {
    return [cmd, ...args].join(' ');
  }

  private async rayGrouped(args: string[], timeoutMs: number): Promise<void> {
    const command = this.describe(this.o.rayCli, args);
    const r = await this.o.log.group(command, () => this.run(this.o.rayCli, args, { timeoutMs, onLine: (l) => this.o.log.info(l) }));
    if (r.code !== 0) {
      const why = r.timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : r.code === null ? `was killed (${r.signal ?? 'no exit code'})` : `exited with ${r.code}`;
      throw new ClusterCliError(`${command} ${why}`, command, r.code, r.tail);
    }
  }

  /** `ray up --yes <yaml>`. */
  rayUp(yamlPath: string): Promise<void> {
    return this.rayGrouped(['up', '--yes', yamlPath], this.o.upTimeoutMs ?? 30 * 60_000);
  }

  /** `ray down --yes <yaml>`. */
  rayDown(yamlPath: string): Promise<void> {
    return this.rayGrouped(['down', '--yes', yamlPath], this.o.downTimeoutMs ?? 15 * 60_000);
  }

  /**
   * `ray dashboard --port <port> <yaml>`: forwards the head's dashboard (8265) to a local port over
   * SSH and runs until stopped. Resolves once GET /api/version answers through the forward;
   * rejects (and stops the forward) when the CLI exits first or the deadline passes.
   */
  async rayDashboard(yamlPath: string, d: DashboardOptions = {}): Promise<DashboardForward> {
    const port = d.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const args = ['dashboard', '--port', String(port), yamlPath];
    const command = this.describe(this.o.rayCli, args);
    const readyMs = d.readyTimeoutMs ?? 5 * 60_000;
    const pollMs = d.pollMs ?? 1_000;
    const maxRestarts = d.maxRestarts ?? 5;
    const http = new HttpClient('bird-cloud-action', [], { allowRetries: false, socketTimeout: 5_000, keepAlive: false });
    const log = this.o.log;
    let child: ChildProcess | null = null;
    const closed = new WeakMap<ChildProcess, Promise<void>>();
    let stopped = false;
    let restarts = 0;
    let tail: string[] = [];

    const start = (): ChildProcess => {
      const c = spawn(this.o.rayCli, args, { cwd: this.o.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      this.children.add(c);
      const onLine = (l: string): void => {
        tail.push(l);
        if (tail.length > TAIL_LINES) tail.shift();
        log.info(`[ray dashboard] ${neutralizeCommand(l)}`);
      };
      const out = lineSplitter(onLine);
      const err = lineSplitter(onLine);
      c.stdout?.on('data', (b: Buffer) => out.push(b));
      c.stderr?.on('data', (b: Buffer) => err.push(b));
      c.on('error', (e) => onLine(`could not start ${this.o.rayCli}: ${describeError(e)}`));
      closed.set(
        c,
        new Promise<void>((r) =>
          c.on('close', () => {
            out.flush();
            err.flush();
            this.children.delete(c);
            r();
          }),
        ),
      );
      return c;
    };

    const ready = async (): Promise<string | null> => {
      try {
        const res = await http.get(`${url}/api/version`);
        const body = await res.readBody();
        if (res.message.statusCode !== 200) return null;
        const v = JSON.parse(body) as { ray_version?: string };
        return typeof v.ray_version === 'string' ? v.ray_version : 'unknown';
      } catch {
        return null;
      }
    };

    const exitedEarly = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

    child = start();
    const deadline = Date.now() + readyMs;
    let version: string | null = null;
    for (;;) {
      version = await ready();
      if (version !== null) break;
      if (exitedEarly(child)) {
        // Let the last output lines arrive before quoting them.
        await Promise.race([closed.get(child), sleep(2_000)]);
        throw new ClusterCliError(`${command} exited with ${child.exitCode ?? child.signalCode} before the dashboard answered`, command, child.exitCode, tail);
      }
      if (Date.now() > deadline) {
        await stopChild(child);
        throw new ClusterCliError(`${command}: GET ${url}/api/version did not answer within ${Math.round(readyMs / 1000)} s`, command, null, tail);
      }
      await sleep(pollMs);
    }
    log.info(`dashboard: Ray ${version} answers at ${url} (forwarded by ${command})`);

    // After it was ready: a forward that dies on its own (an SSH drop) is started again.
    const watch = (c: ChildProcess): void => {
      c.once('exit', (code, signal) => {
        if (stopped) return;
        if (restarts >= maxRestarts) {
          log.warning(`${command} exited (${code ?? signal}) and was restarted ${restarts} times already; the dashboard is no longer forwarded`);
          return;
        }
        restarts++;
        log.warning(`${command} exited (${code ?? signal}); restarting the port forward (${restarts}/${maxRestarts})`);
        setTimeout(() => {
          if (stopped) return;
          tail = [];
          child = start();
          watch(child);
        }, 2_000).unref();
      });
    };
    watch(child);

    return {
      url,
      port,
      get restarts() {
        return restarts;
      },
      stop: async () => {
        stopped = true;
        if (child) await stopChild(child);
      },
    };
  }

  private gcloudArgs(args: string[]): string[] {
    return this.o.project ? [...args, `--project=${this.o.project}`] : args;
  }

  /** One gcloud call, retried; throws ClusterCliError after the last attempt. */
  private async gcloudRetried(args: string[], what: string): Promise<string> {
    const attempts = this.o.gcloudAttempts ?? 3;
    const base = this.o.gcloudRetryMs ?? 2_000;
    const full = this.gcloudArgs(args);
    const command = this.describe(this.gcloud, full);
    let last: RunResult | null = null;
    for (let i = 1; i <= attempts; i++) {
      last = await this.run(this.gcloud, full, { timeoutMs: this.o.gcloudTimeoutMs ?? 3 * 60_000 });
      if (last.code === 0) return last.stdout;
      const why = last.timedOut ? 'timed out' : `exited with ${last.code ?? last.signal}`;
      if (i < attempts) {
        const delay = base * 2 ** (i - 1);
        this.o.log.warning(`${what}: \`${command}\` ${why} (attempt ${i}/${attempts}); retrying in ${Math.round(delay / 1000)} s: ${last.tail.slice(-1)[0] ?? ''}`);
        await sleep(delay);
      }
    }
    const why = last?.timedOut ? 'timed out' : `exited with ${last?.code ?? last?.signal}`;
    throw new ClusterCliError(`${what}: \`${command}\` ${why} after ${attempts} attempts`, command, last?.code ?? null, last?.tail ?? []);
  }

  /**
   * Domain §12.4: true when any instance labelled with the run id is RUNNING, false when none is.
   * A gcloud that keeps failing is reported and gives null (unknown), never "headless".
   */
  async headAlive(runId: string): Promise<boolean | null> {
    try {
      const out = await this.gcloudRetried(['compute', 'instances', 'list', `--filter=labels.${RUN_ID_LABEL}=${runId}`, '--format=value(status)'], 'liveness check');
      return parseAlive(out);
    } catch (e) {
      this.o.log.warning(`could not check whether the head of ${runId} is alive (not counted as headless): ${describeError(e)}`);
      return null;
    }
  }

  /** The instances labelled with the run id, with their zone basenames. Throws when gcloud keeps failing. */
  async listByLabel(runId: string): Promise<InstanceRef[]> {
    const out = await this.gcloudRetried(['compute', 'instances', 'list', `--filter=labels.${RUN_ID_LABEL}=${runId}`, '--format=value(name,zone)'], 'listing the cluster by label');
    return parseInstances(out);
  }

  /**
   * The fallback teardown (domain §12.5): list by label, then delete each instance with
   * `--quiet --delete-disks=all --zone=<basename of its zone>`, four at a time.
   */
  async deleteByLabel(runId: string): Promise<DeleteByLabelResult> {
    const found = await this.listByLabel(runId);
    const deleted: InstanceRef[] = [];
    const failed: DeleteByLabelResult['failed'] = [];
    const queue = [...found];
    const worker = async (): Promise<void> => {
      for (let inst = queue.shift(); inst; inst = queue.shift()) {
        const args = this.gcloudArgs(['compute', 'instances', 'delete', inst.name, '--quiet', '--delete-disks=all', `--zone=${inst.zone}`]);
        const r = await this.run(this.gcloud, args, { timeoutMs: this.o.gcloudTimeoutMs ?? 3 * 60_000, onLine: (l) => this.o.log.info(`[delete ${inst.name}] ${l}`) });
        if (r.code === 0) deleted.push(inst);
        else failed.push({ ...inst, error: r.tail.slice(-1)[0] ?? `exited with ${r.code ?? r.signal}` });
      }
    };
    await this.o.log.group(`deleting ${found.length} instance(s) labelled ${RUN_ID_LABEL}=${runId}`, () => Promise.all([1, 2, 3, 4].map(() => worker())).then(() => undefined));
    return { found, deleted, failed };
  }

  /** Stops every running CLI call (SIGTERM, then SIGKILL): a `ray up` still running when the teardown starts. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c)));
  }

  /** Kills every running CLI call (a second signal abandons the teardown). */
  killAll(): void {
    for (const c of this.children) killGroup(c, 'SIGKILL');
  }

  /** Running CLI calls (for tests and diagnostics). */
  get running(): number {
    return this.children.size;
  }
}

/**
 * A `headAlive` for waitForAttempt that asks gcloud at most once per `minIntervalMs` (default
 * 60 s) and repeats the last answer in between: the wait polls every few seconds, a gcloud call
 * takes seconds.
 */
export function headAliveProbe(cli: Pick<ClusterCli, 'headAlive'>, runId: string, minIntervalMs = 60_000, now: () => number = Date.now): () => Promise<boolean | null> {
  let last: { at: number; value: boolean | null } | null = null;
  return async () => {
    if (last && now() - last.at < minIntervalMs) return last.value;
    const value = await cli.headAlive(runId);
    last = { at: now(), value };
    return value;
  };
}

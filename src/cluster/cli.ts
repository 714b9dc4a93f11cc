// The two CLIs of a per-run cluster (docs/reference/per-run-cluster.md): the Ray cluster launcher (`ray up`,
// `ray dashboard`, `ray down`; the `ray-cli` input names the executable) and `gcloud` (liveness
// and the fallback teardown by label). Nothing secret goes into argv or the child environment.
import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { RetryBudget, RetryExhaustedError, type RetryPolicy, withRetry } from '../common/retry.js';
import { DashboardForward, ForwardError, type ForwardOptions } from './port-forward.js';
import { ChildSet, childEnv, stopChild } from './process.js';
import { RUN_ID_LABEL } from './yaml.js';

/** A CLI call that failed: exit code or timeout, and the last lines of its output. */
class ClusterCliError extends Error {
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
  log: Log;
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

/** `value(status)` output: alive when any line is RUNNING (head or worker, as Python decides). */
function parseAlive(stdout: string): boolean {
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

export class ClusterCli {
  private readonly children: ChildSet;
  readonly gcloud: string;

  constructor(readonly options: ClusterCliOptions) {
    this.children = new ChildSet(options.cwd, childEnv(options.env ?? process.env));
    this.gcloud = options.gcloud ?? 'gcloud';
  }

  /** Runs one CLI call in its own process group; `onLine` gets each output line (untrusted text). */
  async run(cmd: string, args: readonly string[], options: { timeoutMs: number; onLine?: (line: string) => void }): Promise<RunResult> {
    let timedOut = false;
    let t: ReturnType<ChildSet['spawn']>;
    try {
      t = this.children.spawn(cmd, args, options.onLine);
    } catch (e) {
      return { code: null, signal: null, timedOut: false, stdout: '', tail: [`could not start ${cmd}: ${errorMessage(e)}`] };
    }
    const timer = setTimeout(() => {
      timedOut = true;
      void stopChild(t.child);
    }, options.timeoutMs);
    const { code, signal } = await t.closed;
    clearTimeout(timer);
    return { code, signal, timedOut, stdout: t.stdout(), tail: t.tail };
  }

  private describe(cmd: string, args: readonly string[]): string {
    return [cmd, ...args].join(' ');
  }

  private async rayGrouped(args: string[], timeoutMs: number): Promise<void> {
    const command = this.describe(this.options.rayCli, args);
    const r = await this.options.log.group(command, () => this.run(this.options.rayCli, args, { timeoutMs, onLine: (l) => this.options.log.untrusted(l) }));
    if (r.code !== 0) {
      const why = r.timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s`
        : r.code === null
          ? `was killed (${r.signal ?? 'no exit code'})`
          : `exited with ${r.code}`;
      throw new ClusterCliError(`${command} ${why}`, command, r.code, r.tail);
    }
  }

  /** `ray up --yes <yaml>`. */
  rayUp(yamlPath: string): Promise<void> {
    return this.rayGrouped(['up', '--yes', yamlPath], this.options.upTimeoutMs ?? 30 * 60_000);
  }

  /** `ray down --yes <yaml>`. */
  rayDown(yamlPath: string): Promise<void> {
    return this.rayGrouped(['down', '--yes', yamlPath], this.options.downTimeoutMs ?? 15 * 60_000);
  }

  /** `ray dashboard`: the head's dashboard forwarded to a local port, once it answers. */
  async rayDashboard(yamlPath: string, options: ForwardOptions = {}): Promise<DashboardForward> {
    try {
      return await DashboardForward.open(this.options.rayCli, yamlPath, this.children, this.options.log, options);
    } catch (e) {
      if (!(e instanceof ForwardError)) throw e;
      throw new ClusterCliError(e.message.split('\n')[0], this.describe(this.options.rayCli, ['dashboard', yamlPath]), e.code, e.tail);
    }
  }

  private gcloudArgs(args: string[]): string[] {
    return this.options.project ? [...args, `--project=${this.options.project}`] : args;
  }

  /** One gcloud call, retried through the shared retry loop; throws ClusterCliError after the last attempt. */
  private gcloudRetried(args: string[], what: string): Promise<string> {
    const full = this.gcloudArgs(args);
    const command = this.describe(this.gcloud, full);
    const policy: RetryPolicy = {
      attempts: this.options.gcloudAttempts ?? 3,
      baseMs: this.options.gcloudRetryMs ?? 2_000,
      maxMs: 60_000,
      budget: new RetryBudget(10),
    };
    const once = async (): Promise<string> => {
      const r = await this.run(this.gcloud, full, { timeoutMs: this.options.gcloudTimeoutMs ?? 3 * 60_000 });
      if (r.code === 0) return r.stdout;
      throw new ClusterCliError(`${what}: \`${command}\` ${r.timedOut ? 'timed out' : `exited with ${r.code ?? r.signal}`}`, command, r.code, r.tail);
    };
    return withRetry(
      what,
      once,
      (e) => e instanceof ClusterCliError,
      policy,
      (e, attempt, delay) =>
        this.options.log.warning(`${errorMessage(e).split('\n')[0]} (attempt ${attempt}/${policy.attempts}); retrying in ${Math.round(delay / 1000)} s`),
    ).catch((e: unknown) => {
      throw e instanceof RetryExhaustedError && e.cause instanceof ClusterCliError
        ? new ClusterCliError(`${e.cause.message.split('\n')[0]} after ${e.attempts} attempts`, command, e.cause.code, e.cause.tail)
        : e;
    });
  }

  /**
   * docs/reference/per-run-cluster.md#liveness: true when any instance labelled with the run id is RUNNING, false when none is.
   * A gcloud that keeps failing is reported and gives null (unknown), never "headless".
   */
  async headAlive(runId: string): Promise<boolean | null> {
    try {
      const out = await this.gcloudRetried(
        ['compute', 'instances', 'list', `--filter=labels.${RUN_ID_LABEL}=${runId}`, '--format=value(status)'],
        'liveness check',
      );
      return parseAlive(out);
    } catch (e) {
      this.options.log.warning(`could not check whether the head of ${runId} is alive (not counted as headless): ${errorMessage(e)}`);
      return null;
    }
  }

  /** The instances labelled with the run id, with their zone basenames. Throws when gcloud keeps failing. */
  async listByLabel(runId: string): Promise<InstanceRef[]> {
    const out = await this.gcloudRetried(
      ['compute', 'instances', 'list', `--filter=labels.${RUN_ID_LABEL}=${runId}`, '--format=value(name,zone)'],
      'listing the cluster by label',
    );
    return parseInstances(out);
  }

  /**
   * The fallback teardown (docs/reference/per-run-cluster.md#teardown): list by label, then delete each instance with
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
        const name = inst.name;
        const r = await this.run(this.gcloud, args, {
          timeoutMs: this.options.gcloudTimeoutMs ?? 3 * 60_000,
          onLine: (l) => this.options.log.untrusted(`[delete ${name}] ${l}`),
        });
        if (r.code === 0) deleted.push(inst);
        else failed.push({ ...inst, error: r.tail.slice(-1)[0] ?? `exited with ${r.code ?? r.signal}` });
      }
    };
    await this.options.log.group(`deleting ${found.length} instance(s) labelled ${RUN_ID_LABEL}=${runId}`, async () => {
      await Promise.all([1, 2, 3, 4].map(() => worker()));
    });
    return { found, deleted, failed };
  }

  /** Stops every running CLI call (SIGTERM, then SIGKILL): a `ray up` still running when the teardown starts. */
  stopAll(): Promise<void> {
    return this.children.stopAll();
  }

  /** Kills every running CLI call (a second signal abandons the teardown). */
  killAll(): void {
    this.children.killAll();
  }

  /** Running CLI calls (for tests and diagnostics). */
  get running(): number {
    return this.children.size;
  }
}

/**
 * A `headAlive` for the wait that asks gcloud at most once per `minIntervalMs` (default 60 s)
 * and repeats the last answer in between: the wait polls every few seconds, a gcloud call takes
 * seconds.
 */
export function headAliveProbe(
  cli: Pick<ClusterCli, 'headAlive'>,
  runId: string,
  minIntervalMs = 60_000,
  now: () => number = Date.now,
): () => Promise<boolean | null> {
  let last: { at: number; value: boolean | null } | null = null;
  return async () => {
    if (last && now() - last.at < minIntervalMs) return last.value;
    const value = await cli.headAlive(runId);
    last = { at: now(), value };
    return value;
  };
}

// Teardown of a per-run cluster (domain §12.5): `ray down --yes <yaml>`, and when that fails, the
// instances listed by label are deleted one by one. Idempotent: concurrent calls share one run, and
// a marker file next to the YAML makes every later call (a second signal, the post step) a no-op.
// The action state carries what the post step needs, so it tears down even when the main step died.
import { State } from '../constants.js';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeError } from '../retry.js';
import { actionsCliLog, ClusterCli, type CliLog, type DashboardForward, type InstanceRef } from './cli.js';

/** Action state keys, from the State enum. */
export const CLUSTER_STATE_KEY = State.EphemeralCluster;
export const TEARDOWN_STATE_KEY = State.ClusterTeardown;

/** `pending` from just before `ray up`; `detached` after a successful submit with wait: false; `done` once it is gone. */
export type TeardownStatus = 'pending' | 'detached' | 'done';

export interface TeardownTarget {
  runId: string;
  /** The rendered cluster YAML (in the per-run directory under RUNNER_TEMP). */
  yamlPath: string;
  /** The `ray-cli` input. */
  rayCli: string;
  /** For `gcloud --project` and the messages. */
  project: string;
  zone: string;
  /** The marker file that records a finished (or detached) teardown. */
  markerPath: string;
  /** ISO time by which the self-delete timer removes the VMs (bring-up + max-runtime-hours). */
  selfDeleteBy?: string;
}

export interface TeardownResult {
  outcome: 'ray-down' | 'deleted-by-label' | 'already-done' | 'detached' | 'failed';
  /** One line for the log and the summary. */
  detail: string;
  /** Instances that could not be deleted (failed only). */
  leftovers: InstanceRef[];
}

interface Marker {
  status: 'done' | 'detached';
  outcome: TeardownResult['outcome'];
  reason: string;
  at: string;
}

export function readMarker(path: string): Marker | null {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<Marker>;
    return m.status === 'done' || m.status === 'detached' ? (m as Marker) : null;
  } catch {
    return null;
  }
}

function writeMarker(path: string, m: Marker): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(m));
  renameSync(tmp, path);
}

/** The command a person runs when every automatic teardown failed. */
export function manualTeardownCommand(t: Pick<TeardownTarget, 'runId' | 'project'>): string {
  return `gcloud compute instances list --project=${t.project} --filter=labels.bird-interact-run-id=${t.runId} --format='value(name,zone.basename())' | while read -r name zone; do gcloud compute instances delete "$name" --project=${t.project} --zone="$zone" --quiet --delete-disks=all; done`;
}

export interface TeardownOptions {
  log: CliLog;
  /** Called with each status change, e.g. to save it in the action state. */
  onStatus?: (status: TeardownStatus) => void;
}

export class Teardown {
  private running: Promise<TeardownResult> | null = null;
  private forward: DashboardForward | null = null;
  private abandoned = false;

  constructor(
    readonly target: TeardownTarget,
    readonly cli: ClusterCli,
    private readonly o: TeardownOptions,
  ) {}

  /** The port forward to stop before `ray down`. */
  attachForward(f: DashboardForward): void {
    this.forward = f;
  }

  /** True once a teardown finished or the run detached (per the marker file). */
  get settled(): boolean {
    return readMarker(this.target.markerPath) !== null;
  }

  /**
   * wait: false after a successful submit: the cluster runs on and the self-delete timer removes
   * it. Later run() calls do nothing. Stops the local port forward only.
   */
  async detach(): Promise<void> {
    await this.forward?.stop().catch(() => undefined);
    writeMarker(this.target.markerPath, { status: 'detached', outcome: 'detached', reason: 'wait: false after a successful submit', at: new Date().toISOString() });
    this.o.onStatus?.('detached');
    const by = this.target.selfDeleteBy ? ` by ${this.target.selfDeleteBy}` : '';
    this.o.log.info(`detached: cluster ${this.target.runId} keeps running; its VMs delete themselves${by} (max-runtime-hours), or tear it down earlier with \`${manualTeardownCommand(this.target)}\``);
  }

  /** Tears the cluster down once; every other call gets the same result. Never throws. */
  run(reason: string): Promise<TeardownResult> {
    if (!this.running) this.running = this.once(reason);
    return this.running;
  }

  /** A second signal: kill the CLI calls in flight and leave the rest to the post step and the timer. */
  abandon(): void {
    this.abandoned = true;
    this.cli.killAll();
  }

  private async once(reason: string): Promise<TeardownResult> {
    const t = this.target;
    const log = this.o.log;
    const marker = readMarker(t.markerPath);
    if (marker?.status === 'detached') return { outcome: 'detached', detail: `cluster ${t.runId} was detached (${marker.reason}); left to the self-delete timer`, leftovers: [] };
    if (marker?.status === 'done') return { outcome: 'already-done', detail: `cluster ${t.runId} was already torn down (${marker.outcome}, ${marker.at})`, leftovers: [] };
    log.info(`teardown of cluster ${t.runId} (${reason})`);
    await this.forward?.stop().catch((e: unknown) => log.warning(`could not stop the dashboard forward: ${describeError(e)}`));
    // A signal during bring-up: `ray up` must not go on creating nodes while `ray down` runs.
    if (this.cli.running > 0) {
      log.info(`stopping ${this.cli.running} CLI call(s) still running before the teardown`);
      await this.cli.stopAll();
    }

    const finish = (outcome: 'ray-down' | 'deleted-by-label', detail: string): TeardownResult => {
      writeMarker(t.markerPath, { status: 'done', outcome, reason, at: new Date().toISOString() });
      this.o.onStatus?.('done');
      log.info(detail);
      return { outcome, detail, leftovers: [] };
    };

    if (existsSync(t.yamlPath)) {
      try {
        await this.cli.rayDown(t.yamlPath);
        return finish('ray-down', `cluster ${t.runId} torn down with ray down`);
      } catch (e) {
        log.warning(`ray down failed; deleting the instances labelled bird-interact-run-id=${t.runId} instead: ${describeError(e)}`);
      }
    } else {
      log.warning(`the cluster YAML ${t.yamlPath} is gone; deleting the instances labelled bird-interact-run-id=${t.runId} instead`);
    }

    if (this.abandoned) {
      return { outcome: 'failed', detail: `cluster ${t.runId}: teardown abandoned (second signal); the post step tears it down from the saved state`, leftovers: [] };
    }
    const timer = t.selfDeleteBy ? ` Their self-delete timer removes them by ${t.selfDeleteBy}.` : ' Their self-delete timer removes them after max-runtime-hours.';
    try {
      const r = await this.cli.deleteByLabel(t.runId);
      if (r.failed.length === 0) {
        return finish('deleted-by-label', `cluster ${t.runId}: ${r.deleted.length} instance(s) deleted by label${r.found.length === 0 ? ' (none were left)' : ''}`);
      }
      const detail = `cluster ${t.runId}: could not delete ${r.failed.map((f) => `${f.name} (${f.zone}): ${f.error}`).join('; ')}.${timer} To delete them now: ${manualTeardownCommand(t)}`;
      return { outcome: 'failed', detail, leftovers: r.failed.map(({ name, zone }) => ({ name, zone })) };
    } catch (e) {
      const detail = `cluster ${t.runId}: teardown failed: ${describeError(e)}.${timer} To delete the instances now: ${manualTeardownCommand(t)}`;
      return { outcome: 'failed', detail, leftovers: [] };
    }
  }
}

/** The saved form of a target: what the post step reads back. */
interface SavedCluster extends TeardownTarget {
  v: 1;
}

/** State entries to save right before `ray up` (save them with core.saveState, in order). */
export function teardownStateEntries(t: TeardownTarget, status: TeardownStatus = 'pending'): Array<[string, string]> {
  const saved: SavedCluster = { v: 1, ...t };
  return [
    [CLUSTER_STATE_KEY, JSON.stringify(saved)],
    [TEARDOWN_STATE_KEY, status],
  ];
}

export function targetFromState(getState: (key: string) => string): TeardownTarget | null {
  const raw = getState(CLUSTER_STATE_KEY);
  if (!raw) return null;
  const s = JSON.parse(raw) as Partial<SavedCluster>;
  if (s.v !== 1 || typeof s.runId !== 'string' || typeof s.yamlPath !== 'string' || typeof s.rayCli !== 'string' || typeof s.markerPath !== 'string') {
    throw new Error(`the saved state ${CLUSTER_STATE_KEY} is not a cluster this version wrote`);
  }
  return { runId: s.runId, yamlPath: s.yamlPath, rayCli: s.rayCli, project: s.project ?? '', zone: s.zone ?? '', markerPath: s.markerPath, selfDeleteBy: s.selfDeleteBy };
}

export interface PostTeardownOptions {
  log?: CliLog;
  /** Base environment of the CLIs; default process.env. */
  env?: NodeJS.ProcessEnv;
  gcloud?: string;
  /** Passed to ClusterCli (tests shorten the gcloud retries). */
  gcloudAttempts?: number;
  gcloudRetryMs?: number;
}

/**
 * For the post step: tears down what the main step left, from the action state. Returns null when
 * the run had no per-run cluster. Never throws: problems come back as a `failed` result.
 */
export async function teardownFromState(getState: (key: string) => string, o: PostTeardownOptions = {}): Promise<TeardownResult | null> {
  const log = o.log ?? actionsCliLog();
  let target: TeardownTarget | null;
  try {
    target = targetFromState(getState);
  } catch (e) {
    return { outcome: 'failed', detail: describeError(e), leftovers: [] };
  }
  if (!target) return null;
  const status = getState(TEARDOWN_STATE_KEY);
  if (status === 'done') return { outcome: 'already-done', detail: `cluster ${target.runId} was torn down by the main step`, leftovers: [] };
  if (status === 'detached') return { outcome: 'detached', detail: `cluster ${target.runId} was detached (wait: false); its VMs delete themselves${target.selfDeleteBy ? ` by ${target.selfDeleteBy}` : ''}`, leftovers: [] };
  const cwd = existsSync(dirname(target.yamlPath)) ? dirname(target.yamlPath) : process.cwd();
  const cli = new ClusterCli({ rayCli: target.rayCli, gcloud: o.gcloud, project: target.project || undefined, cwd, env: o.env, log, gcloudAttempts: o.gcloudAttempts, gcloudRetryMs: o.gcloudRetryMs });
  return new Teardown(target, cli, { log }).run('post step: the main step ended without tearing down');
}

/** What `process` offers for signals; injectable for tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (sig: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (sig: NodeJS.Signals) => void): unknown;
}

export interface SignalTeardownOptions {
  log: CliLog;
  /** Default process.exit. */
  exit?: (code: number) => void;
  proc?: SignalSource;
  /** How long the teardown waits for held work (e.g. stopping the Ray job); default 20 s. */
  holdMs?: number;
}

/**
 * The first SIGINT/SIGTERM tears down, then exits 1; a second one abandons the teardown (kills the
 * CLI calls in flight) and exits at once: the post step then tears down from the saved state, and
 * the self-delete timer is the last line of defence (domain §12.5).
 */
export class SignalTeardown {
  private first: NodeJS.Signals | null = null;
  private held: Array<Promise<unknown>> = [];
  private done: Promise<TeardownResult> | null = null;
  private readonly proc: SignalSource;
  private readonly exit: (code: number) => void;
  private readonly handler = (sig: NodeJS.Signals): void => this.onSignal(sig);

  constructor(
    private readonly teardown: Teardown,
    private readonly o: SignalTeardownOptions,
  ) {
    this.proc = o.proc ?? process;
    this.exit = o.exit ?? ((code: number) => process.exit(code));
  }

  install(): void {
    this.proc.on('SIGINT', this.handler);
    this.proc.on('SIGTERM', this.handler);
  }

  uninstall(): void {
    this.proc.off('SIGINT', this.handler);
    this.proc.off('SIGTERM', this.handler);
  }

  get signalled(): NodeJS.Signals | null {
    return this.first;
  }

  /** Work that must finish (or time out) before the teardown starts, e.g. asking Ray to stop the job. */
  hold<T>(p: Promise<T>): Promise<T> {
    this.held.push(p.catch(() => undefined));
    return p;
  }

  /** For another signal handler: exits after the teardown that the signal started. */
  async exitAfterTeardown(code: number): Promise<void> {
    if (this.done) await this.done;
    this.exit(code);
  }

  private onSignal(sig: NodeJS.Signals): void {
    if (this.first) {
      this.o.log.warning(`${sig} again: abandoning the teardown of ${this.teardown.target.runId}; the post step tears it down from the saved state, and the VMs delete themselves${this.teardown.target.selfDeleteBy ? ` by ${this.teardown.target.selfDeleteBy}` : ' after max-runtime-hours'}`);
      this.teardown.abandon();
      this.exit(1);
      return;
    }
    this.first = sig;
    this.o.log.info(`${sig}: tearing down cluster ${this.teardown.target.runId} before exiting (a second signal abandons it)`);
    this.done = (async () => {
      // Other handlers of this signal run after this one: give them a turn to hold their work.
      await new Promise((r) => setImmediate(r));
      const holdMs = this.o.holdMs ?? 20_000;
      await Promise.race([Promise.all(this.held), new Promise((r) => setTimeout(r, holdMs).unref())]);
      return this.teardown.run(`${sig}`);
    })();
    void this.done.then((r) => {
      if (r.outcome === 'failed') this.o.log.warning(r.detail);
      this.exit(1);
    });
  }
}

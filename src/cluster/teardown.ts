// Teardown of a per-run cluster (docs/reference/per-run-cluster.md#teardown): `ray down --yes <yaml>`, and when that fails, the
// instances listed by label are deleted one by one. Idempotent: concurrent calls share one run, and
// a marker file next to the YAML makes every later call (a second signal, the post step) a no-op.
// The action state carries what the post step needs, so it tears down even when the main step died.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../common/errors.js';
import { actionsLog, type Log } from '../common/log.js';
import type { ActionState, ClusterState, TeardownStatus } from '../common/state.js';
import { ClusterCli, type InstanceRef } from './cli.js';
import type { DashboardForward } from './port-forward.js';

/** What a teardown needs: the cluster as saved in the action state. */
export type TeardownTarget = ClusterState;

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

function readMarker(path: string): Marker | null {
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
function manualTeardownCommand(t: Pick<TeardownTarget, 'runId' | 'project'>): string {
  return `gcloud compute instances list --project=${t.project} --filter=labels.bird-interact-run-id=${t.runId} --format='value(name,zone.basename())' | while read -r name zone; do gcloud compute instances delete "$name" --project=${t.project} --zone="$zone" --quiet --delete-disks=all; done`;
}

export interface TeardownOptions {
  log: Log;
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
  attachForward(dashboard: DashboardForward): void {
    this.forward = dashboard;
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
    writeMarker(this.target.markerPath, {
      status: 'detached',
      outcome: 'detached',
      reason: 'wait: false after a successful submit',
      at: new Date().toISOString(),
    });
    this.o.onStatus?.('detached');
    const by = this.target.selfDeleteBy ? ` by ${this.target.selfDeleteBy}` : '';
    this.o.log.info(
      `detached: cluster ${this.target.runId} keeps running; its VMs delete themselves${by} (max-runtime-hours), or tear it down earlier with \`${manualTeardownCommand(this.target)}\``,
    );
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
    if (marker?.status === 'detached')
      return { outcome: 'detached', detail: `cluster ${t.runId} was detached (${marker.reason}); left to the self-delete timer`, leftovers: [] };
    if (marker?.status === 'done')
      return { outcome: 'already-done', detail: `cluster ${t.runId} was already torn down (${marker.outcome}, ${marker.at})`, leftovers: [] };
    log.info(`teardown of cluster ${t.runId} (${reason})`);
    await this.forward?.stop().catch((e: unknown) => log.warning(`could not stop the dashboard forward: ${errorMessage(e)}`));
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
        log.warning(`ray down failed; deleting the instances labelled bird-interact-run-id=${t.runId} instead: ${errorMessage(e)}`);
      }
    } else {
      log.warning(`the cluster YAML ${t.yamlPath} is gone; deleting the instances labelled bird-interact-run-id=${t.runId} instead`);
    }

    if (this.abandoned) {
      return {
        outcome: 'failed',
        detail: `cluster ${t.runId}: teardown abandoned (second signal); the post step tears it down from the saved state`,
        leftovers: [],
      };
    }
    const timer = t.selfDeleteBy
      ? ` Their self-delete timer removes them by ${t.selfDeleteBy}.`
      : ' Their self-delete timer removes them after max-runtime-hours.';
    try {
      const r = await this.cli.deleteByLabel(t.runId);
      if (r.failed.length === 0) {
        return finish(
          'deleted-by-label',
          `cluster ${t.runId}: ${r.deleted.length} instance(s) deleted by label${r.found.length === 0 ? ' (none were left)' : ''}`,
        );
      }
      const detail = `cluster ${t.runId}: could not delete ${r.failed.map((f) => `${f.name} (${f.zone}): ${f.error}`).join('; ')}.${timer} To delete them now: ${manualTeardownCommand(t)}`;
      return { outcome: 'failed', detail, leftovers: r.failed.map(({ name, zone }) => ({ name, zone })) };
    } catch (e) {
      const detail = `cluster ${t.runId}: teardown failed: ${errorMessage(e)}.${timer} To delete the instances now: ${manualTeardownCommand(t)}`;
      return { outcome: 'failed', detail, leftovers: [] };
    }
  }
}

export interface PostTeardownOptions {
  log?: Log;
  /** What the saved cluster must match: this step's RUNNER_TEMP and `ray-cli` input. */
  expected: { runnerTemp: string; rayCli: string };
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
export async function teardownFromState(state: ActionState, options: PostTeardownOptions): Promise<TeardownResult | null> {
  const log = options.log ?? actionsLog;
  let saved: ReturnType<ActionState['loadCluster']>;
  try {
    saved = state.loadCluster(options.expected);
  } catch (e) {
    return { outcome: 'failed', detail: errorMessage(e), leftovers: [] };
  }
  if (!saved) return null;
  const target = saved.cluster;
  if (saved.teardown === 'done') return { outcome: 'already-done', detail: `cluster ${target.runId} was torn down by the main step`, leftovers: [] };
  if (saved.teardown === 'detached')
    return {
      outcome: 'detached',
      detail: `cluster ${target.runId} was detached (wait: false); its VMs delete themselves${target.selfDeleteBy ? ` by ${target.selfDeleteBy}` : ''}`,
      leftovers: [],
    };
  const cwd = existsSync(dirname(target.yamlPath)) ? dirname(target.yamlPath) : process.cwd();
  const cli = new ClusterCli({
    rayCli: target.rayCli,
    gcloud: options.gcloud,
    project: target.project || undefined,
    cwd,
    env: options.env,
    log,
    gcloudAttempts: options.gcloudAttempts,
    gcloudRetryMs: options.gcloudRetryMs,
  });
  return new Teardown(target, cli, { log }).run('post step: the main step ended without tearing down');
}

// The per-run cluster's life, in two calls for the main step:
//   prepareCluster: key pair + YAML in a fresh directory under RUNNER_TEMP, and the action state
//                   the post step needs (saved before any cloud call);
//   bringUp:        ray up, then ray dashboard until /api/version answers through the forward.
// Any failure of bringUp tears the cluster down before it rethrows (docs/reference/per-run-cluster.md#teardown: every failure
// after the render). The caller tears down after the wait, or detaches after a wait: false submit.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { ActionState } from '../common/state.js';
import type { RunManifest } from '../plan/manifest.js';
import { ClusterCli, type ClusterCliOptions } from './cli.js';
import type { PhaseClock } from './phases.js';
import type { DashboardForward, ForwardOptions } from './port-forward.js';
import { makeSshKeyPair, type SshKeyPair } from './sshkey.js';
import { Teardown, type TeardownTarget } from './teardown.js';
import { renderClusterYaml, selfDeleteSeconds } from './yaml.js';

const CLUSTER_YAML_FILE = 'cluster.yaml';
const TEARDOWN_MARKER_FILE = 'teardown.json';

export interface PrepareOptions {
  manifest: Pick<RunManifest, 'run_id' | 'render_inputs'>;
  runnerTemp: string;
  /** The `ray-cli` input. */
  rayCli: string;
  gcloud?: string;
  /** Base environment of the CLIs (filtered: no API keys); default process.env. */
  env?: NodeJS.ProcessEnv;
  log: Log;
  /** Where the post step finds the cluster (saved before any cloud call). */
  state: ActionState;
  cli?: Pick<ClusterCliOptions, 'upTimeoutMs' | 'downTimeoutMs' | 'gcloudTimeoutMs' | 'gcloudAttempts' | 'gcloudRetryMs'>;
  now?: () => Date;
}

export interface PreparedCluster {
  runId: string;
  key: SshKeyPair;
  /** The per-run directory: key pair, cluster.yaml, teardown.json. */
  dir: string;
  yamlPath: string;
  yaml: string;
  target: TeardownTarget;
  cli: ClusterCli;
  teardown: Teardown;
}

/**
 * Renders the cluster from the manifest and saves the teardown state. No cloud call yet, so the
 * caller can install the signal handler (SignalTeardown) before bringUp.
 */
export async function prepareCluster(options: PrepareOptions): Promise<PreparedCluster> {
  const m = options.manifest;
  const ri = m.render_inputs;
  const key = await makeSshKeyPair(options.runnerTemp, m.run_id);
  const yaml = renderClusterYaml(m, { sshPrivateKeyPath: key.privateKeyPath, sshPublicKey: key.publicKey });
  const yamlPath = join(key.dir, CLUSTER_YAML_FILE);
  await writeFile(yamlPath, yaml, { mode: 0o644, flag: 'wx' });
  const now = (options.now ?? (() => new Date()))();
  const target: TeardownTarget = {
    runId: m.run_id,
    yamlPath,
    rayCli: options.rayCli,
    project: ri.project,
    zone: ri.zone,
    markerPath: join(key.dir, TEARDOWN_MARKER_FILE),
    selfDeleteBy: new Date(now.getTime() + selfDeleteSeconds(ri.max_runtime_hours) * 1000).toISOString(),
  };
  options.state.saveCluster(target);
  const cli = new ClusterCli({
    rayCli: options.rayCli,
    gcloud: options.gcloud,
    project: ri.project,
    cwd: key.dir,
    env: options.env,
    log: options.log,
    ...options.cli,
  });
  const teardown = new Teardown(target, cli, { log: options.log, onStatus: (status) => options.state.setTeardown(status) });
  options.log.info(
    `cluster ${m.run_id}: ${ri.workers} x ${ri.worker_type} (${ri.actors_per_worker} actors each) in ${ri.zone}, image ${ri.image_uri}; YAML ${yamlPath}`,
  );
  return { runId: m.run_id, key, dir: key.dir, yamlPath, yaml, target, cli, teardown };
}

export interface BringUpOptions {
  phases?: PhaseClock;
  dashboard?: ForwardOptions;
}

export interface RunningCluster {
  /** The forwarded dashboard, for RayJobsClient({address}). */
  address: string;
  forward: DashboardForward;
}

/** An error of the bring-up, with what the teardown after it did. */
export class BringUpError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
    this.name = 'BringUpError';
  }
}

/** `ray up`, then the dashboard forward. On failure: teardown, then a BringUpError. */
export async function bringUp(prepared: PreparedCluster, options: BringUpOptions = {}): Promise<RunningCluster> {
  const phase = <T>(fn: () => Promise<T>): Promise<T> => (options.phases ? options.phases.run('up', fn, `ray up, ray dashboard`) : fn());
  try {
    return await phase(async () => {
      await prepared.cli.rayUp(prepared.yamlPath);
      const forward = await prepared.cli.rayDashboard(prepared.yamlPath, options.dashboard);
      prepared.teardown.attachForward(forward);
      return { address: forward.url, forward };
    });
  } catch (e) {
    const down = options.phases
      ? await options.phases.run('down', () => prepared.teardown.run('bring-up failed'))
      : await prepared.teardown.run('bring-up failed');
    throw new BringUpError(`bringing up cluster ${prepared.runId} failed: ${errorMessage(e)}\nteardown: ${down.outcome}: ${down.detail}`, e);
  }
}

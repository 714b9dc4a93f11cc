// The per-run cluster around a dispatch (docs/reference/per-run-cluster.md): the checks that must
// pass before anything is written (the ray CLI, the image in Artifact Registry), and the
// cluster's life around the job: bring-up, teardown at every exit (cancel included, through the
// one cleanup path) unless a submit detaches.

import { realpath } from 'node:fs/promises';
import * as core from '@actions/core';
import { CleanupOrder } from '../common/cancel.js';
import { Inputs, Outputs } from '../common/constants.js';
import { ProblemsError } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { CommonSettings, GceSettings } from '../inputs/settings.js';
import type { RunManifest } from '../plan/manifest.js';
import type { ClusterTarget, DispatchOutcome, StepContext } from '../ray/attempt.js';
import { checkCluster, rayClient } from '../ray/submit.js';
import { ClusterCli, headAliveProbe } from './cli.js';
import { PhaseClock } from './phases.js';
import { buildCommand, imageExists, type RegistryTrust, registryAccess, registryFromEnv } from './registry.js';
import { bringUp, prepareCluster } from './session.js';

/** The ray CLI must run, at the pinned version, before anything is written. */
export async function checkRayCli(log: Log, gce: GceSettings, cwd: string): Promise<void> {
  const install = `install it in a step before this one: pip install "ray[default]==${gce.rayVersion || "<the image's Ray>"}" google-api-python-client`;
  const r = await new ClusterCli({ rayCli: gce.rayCli, cwd, log }).run(gce.rayCli, ['--version'], { timeoutMs: 120_000 });
  if (r.code !== 0)
    throw new ProblemsError(
      [{ input: Inputs.RayCli, message: `'${gce.rayCli} --version' failed: ${r.tail.join(' ') || `exit ${r.code}`}`, fix: install }],
      'preflight failed',
    );
  const version = /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? '';
  if (gce.rayVersion && version !== gce.rayVersion) {
    throw new ProblemsError(
      [{ input: Inputs.RayVersion, message: `the ray CLI is ${version || 'of an unknown version'}, but ray-version pins ${gce.rayVersion}`, fix: install }],
      'preflight failed',
    );
  }
  log.info(`ray CLI ${version} (${gce.rayCli})`);
}

export interface ImageCheck {
  uri: string;
  /** The input a refused image is blamed on: image-uri for a submit, rerun-run-id for a rerun. */
  input: Inputs;
  trust: RegistryTrust;
  repoDir: string;
  miniInteractRoot: string;
}

/**
 * Per-run cluster: the image must be in its registry before anything is written. The workflow's
 * token goes only to Artifact Registry of gcp-project (docs/reference/per-run-cluster.md#image-tag).
 */
export async function checkImage(log: Log, phases: PhaseClock, image: ImageCheck): Promise<void> {
  const uri = image.uri;
  const access = registryAccess(uri, image.trust);
  if ('problem' in access) {
    throw new ProblemsError(
      [
        {
          input: image.input,
          message: access.problem,
          fix: 'push the image to Artifact Registry of gcp-project, or name its registry host in image-registries',
        },
      ],
      'preflight failed',
    );
  }
  core.setOutput(Outputs.ImageUri, uri);
  const reg = registryFromEnv();
  const exists = await phases.run('image', () => imageExists(uri, access.access === 'token' ? reg.getToken : null, { baseUrl: reg.baseUrl }), uri);
  core.setOutput(Outputs.ImageExists, exists === null ? 'unknown' : String(exists));
  phases.note('image', exists === null ? 'not checked (no credentials for that registry)' : exists ? 'exists' : 'missing');
  if (exists === null) log.warning(`image ${uri} could not be checked without credentials; the cluster's pull will tell`);
  if (exists === false) {
    const real = async (p: string): Promise<string> => realpath(p).catch(() => p);
    throw new ProblemsError(
      [
        {
          input: image.input,
          message: `image ${uri} is not in its registry`,
          fix: `let the image job of bird-eval.yml build it, or build and push it yourself:\n${buildCommand(uri, await real(image.repoDir), await real(image.miniInteractRoot))}`,
        },
      ],
      'preflight failed',
    );
  }
}

export interface OnClusterOptions {
  settings: CommonSettings;
  manifest: RunManifest;
  /** The phase clock of a per-run cluster, when the checks before the writes started it. */
  phases: PhaseClock | null;
  /** A new submit with wait: false leaves a per-run cluster running; a rerun never does. */
  canDetach: boolean;
}

/**
 * Runs a dispatch where the settings say: nowhere (none), on an existing cluster, or on a per-run
 * cluster that is brought up here and torn down at every exit, unless a successful submit
 * detaches it (wait: false, new submits only).
 */
export async function onCluster(
  ctx: StepContext,
  options: OnClusterOptions,
  body: (target: ClusterTarget) => Promise<DispatchOutcome>,
): Promise<DispatchOutcome> {
  const d = options.settings.dispatch;
  if (d.cluster === 'none') return body({ client: null, publicDashboard: true });
  if (d.cluster === 'existing') return body({ client: rayClient(ctx.log, d, { clock: ctx.clock }), publicDashboard: true });
  const clock = options.phases ?? new PhaseClock(ctx.log);
  const ri = options.manifest.render_inputs;
  ctx.summary.cluster({ phases: clock, workers: ri.workers, workerType: ri.worker_type });
  const p = await prepareCluster({ manifest: options.manifest, runnerTemp: options.settings.runnerTemp, rayCli: d.gce.rayCli, log: ctx.log, state: ctx.state });
  const removeTeardown = ctx.cancel.add({
    order: CleanupOrder.Teardown,
    name: `tear down cluster ${p.runId}`,
    timeoutMs: 20 * 60_000,
    run: async (signal) => {
      const r = await p.teardown.run(signal);
      ctx.summary.clusterTeardown(r.outcome);
      if (r.outcome === 'failed') ctx.log.warning(r.detail);
      return `cluster ${p.runId}: ${r.outcome}`;
    },
    abandon: () => p.teardown.abandon(),
  });
  let detached = false;
  let outcome: DispatchOutcome | null = null;
  let failure: unknown = null;
  try {
    const up = await bringUp(p, { phases: clock });
    // The forwarded dashboard needs no auth headers; TLS does not apply to loopback.
    const client = rayClient(ctx.log, { ...d, rayHeaders: {}, tlsVerify: true }, { address: up.address, clock: ctx.clock });
    const v = await checkCluster(client);
    ctx.log.info(`Ray ${v.ray_version} answers through the forwarded dashboard at ${client.address}`);
    outcome = await body({ client, headAlive: headAliveProbe(p.cli, p.runId), phases: clock, publicDashboard: false });
    // wait: false after a new submit, or a wait that timed out with on-wait-timeout: leave.
    if ((!d.wait && options.canDetach) || outcome.leftRunning) {
      await p.teardown.detach();
      detached = true;
      ctx.summary.clusterTeardown('detached');
      clock.skip('down', `${outcome.leftRunning ? 'on-wait-timeout: leave' : 'wait: false'}: left to the self-delete timer`);
      core.setOutput(Outputs.ClusterTeardown, 'detached');
    }
  } catch (e) {
    failure = e;
  }
  removeTeardown();
  // A cancelled step tears down through the cleanup path, not here.
  if (!detached && !ctx.cancel.cancelled) {
    // A failed bring-up or submit stays in its stage; after a wait, the teardown has its own.
    if (!failure) ctx.summary.stage('teardown');
    const r = await clock.run('down', () => p.teardown.run(failure ? 'the step failed after the render' : 'end of the run'));
    ctx.summary.clusterTeardown(r.outcome);
    core.setOutput(Outputs.ClusterTeardown, r.outcome);
    if (r.outcome === 'failed') {
      ctx.log.error(r.detail);
      // Fail the step for a leftover cluster, unless it is failing already for another reason.
      failure ??= new Error(`the run finished but its cluster could not be torn down: ${r.detail}`);
    }
  }
  if (failure || !outcome) throw failure;
  return outcome;
}

// The per-run cluster around a dispatch (domain §12): the checks that must pass before anything
// is written (the ray CLI, the image in Artifact Registry), and the cluster's life around the
// job: bring-up, the signal guard, and the teardown at every exit unless a submit detaches.
import * as core from '@actions/core';
import { realpath } from 'node:fs/promises';
import { Inputs, Outputs } from '../constants.js';
import { rayClient, type DispatchOutcome } from '../dispatch.js';
import { ProblemsError } from '../errors.js';
import type { RunManifest } from '../manifest.js';
import type { RayJobsClient } from '../ray/client.js';
import { checkCluster } from '../ray/dispatch.js';
import { writeSummary } from '../report.js';
import type { CommonSettings, GceSettings } from '../settings.js';
import { ClusterCli, actionsCliLog, headAliveProbe } from './cli.js';
import { PhaseClock } from './phases.js';
import { buildCommand, imageExists, registryFromEnv } from './registry.js';
import { bringUp, prepareCluster } from './session.js';
import { SignalTeardown } from './teardown.js';

/** The ray CLI must run, at the pinned version, before anything is written. */
export async function checkRayCli(g: GceSettings, cwd: string): Promise<void> {
  const install = `install it in a step before this one: pip install "ray[default]==${g.rayVersion || '<the image\'s Ray>'}" google-api-python-client`;
  const r = await new ClusterCli({ rayCli: g.rayCli, cwd, log: actionsCliLog() }).run(g.rayCli, ['--version'], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new ProblemsError([{ input: Inputs.RayCli, message: `'${g.rayCli} --version' failed: ${r.tail.join(' ') || `exit ${r.code}`}`, fix: install }], 'preflight failed');
  const version = /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] ?? '';
  if (g.rayVersion && version !== g.rayVersion) {
    throw new ProblemsError([{ input: Inputs.RayVersion, message: `the ray CLI is ${version || 'of an unknown version'}, but ray-version pins ${g.rayVersion}`, fix: install }], 'preflight failed');
  }
  core.info(`ray CLI ${version} (${g.rayCli})`);
}

/** What a dispatch needs from where the job runs. */
export interface ClusterRun {
  client: RayJobsClient | null;
  headAlive?: () => Promise<boolean | null>;
  signals?: SignalTeardown;
  phases?: PhaseClock;
  publicDashboard: boolean;
}

/** Per-run cluster: the image must be in Artifact Registry before anything is written. */
export async function checkImage(uri: string, phases: PhaseClock, repoDir: string, miniInteractRoot: string): Promise<void> {
  core.setOutput(Outputs.ImageUri, uri);
  const reg = registryFromEnv();
  const exists = await phases.run('image', () => imageExists(uri, reg.getToken, { baseUrl: reg.baseUrl }), uri);
  core.setOutput(Outputs.ImageExists, String(exists));
  phases.note('image', exists ? 'exists' : 'missing');
  if (!exists) {
    const real = async (p: string): Promise<string> => realpath(p).catch(() => p);
    throw new ProblemsError(
      [{ input: Inputs.ImageUri, message: `image ${uri} is not in Artifact Registry`, fix: `let the image job of bird-eval.yml build it, or build and push it yourself:\n${buildCommand(uri, await real(repoDir), await real(miniInteractRoot))}` }],
      'preflight failed',
    );
  }
}

/**
 * Runs a dispatch where the settings say: nowhere (none), on an existing cluster, or on a per-run
 * cluster that is brought up here and torn down at every exit, unless a successful submit
 * detaches it (wait: false, new submits only).
 */
export async function onCluster(s: CommonSettings, manifest: RunManifest, phases: PhaseClock | null, canDetach: boolean, body: (c: ClusterRun) => Promise<DispatchOutcome>): Promise<DispatchOutcome> {
  const d = s.dispatch;
  if (d.cluster === 'none') return body({ client: null, publicDashboard: true });
  if (d.cluster === 'existing') return body({ client: rayClient(d), publicDashboard: true });
  const clock = phases ?? new PhaseClock((l) => core.info(l));
  const log = actionsCliLog();
  const p = await prepareCluster({ manifest, runnerTemp: s.runnerTemp, rayCli: d.gce.rayCli, log, saveState: (k, v) => core.saveState(k, v) });
  const guard = new SignalTeardown(p.teardown, { log });
  guard.install();
  let detached = false;
  let ok = false;
  try {
    const up = await bringUp(p, { phases: clock });
    // The forwarded dashboard needs no auth headers; TLS does not apply to loopback.
    const client = rayClient({ ...d, rayHeaders: {}, tlsVerify: true }, up.address);
    const v = await checkCluster(client);
    core.info(`Ray ${v.ray_version} answers through the forwarded dashboard at ${client.address}`);
    const outcome = await body({ client, headAlive: headAliveProbe(p.cli, p.runId), signals: guard, phases: clock, publicDashboard: false });
    if (!d.wait && canDetach) {
      await p.teardown.detach();
      detached = true;
      clock.skip('down', 'wait: false: left to the self-delete timer');
      core.setOutput(Outputs.ClusterTeardown, 'detached');
    }
    ok = true;
    return outcome;
  } finally {
    if (!detached) {
      const r = await clock.run('down', () => p.teardown.run(ok ? 'end of the run' : 'the step failed after the render'));
      core.setOutput(Outputs.ClusterTeardown, r.outcome);
      if (r.outcome === 'failed') {
        core.error(r.detail);
        // Fail the step for a leftover cluster, unless it is failing already for another reason.
        if (ok) throw new Error(`the run finished but its cluster could not be torn down: ${r.detail}`);
      }
    }
    guard.uninstall();
    await writeSummary(clock.summaryMarkdown());
  }
}


// What the submit, rerun and report modes share: the runs bucket, the plan file, and the last
// checks before anything is written (the cluster answers, or the per-run cluster can be made).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PhaseClock } from '../cluster/phases.js';
import { checkImage, checkRayCli } from '../cluster/run.js';
import { renderInputsProblems } from '../cluster/yaml.js';
import { Inputs } from '../common/constants.js';
import { errorMessage, ProblemsError } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { Clock } from '../common/time.js';
import { RunStore } from '../gcs/store.js';
import type { CommonSettings } from '../inputs/settings.js';
import type { RenderInputs } from '../plan/manifest.js';
import { checkCluster, rayClient } from '../ray/submit.js';

/** The runs bucket, with its retries in the log and their backoff on the step's clock. */
export function openStore(log: Log, clock: Clock, settings: Pick<CommonSettings, 'gcsBucket' | 'gcpProject'>): RunStore {
  const store = new RunStore(settings.gcsBucket, settings.gcpProject, { clock });
  store.onRetry = (what, e, attempt, delay) => log.info(`retry ${attempt} of ${what} in ${delay} ms: ${errorMessage(e)}`);
  return store;
}

/** The plan (or a rerun's plan) as JSON in RUNNER_TEMP: the `plan-file` output. */
export async function writePlanFile(runnerTemp: string, runId: string, plan: object): Promise<string> {
  const dir = join(runnerTemp, 'bird-cloud-action');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `plan-${runId}.json`);
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`);
  return file;
}

export interface TargetCheck {
  /** The run's image (per-run cluster). */
  imageUri: string;
  /** The input a refused image is blamed on. */
  imageInput: Inputs;
  miniInteractRoot: string;
}

/**
 * The last checks before any write, for a new submit and a rerun alike: an existing cluster's
 * dashboard answers with a Ray this action supports; a per-run cluster's ray CLI runs at the
 * pinned version and its image is in Artifact Registry. Returns the per-run cluster's phase clock.
 */
export async function checkTarget(step: { log: Log; clock: Clock }, settings: CommonSettings, target: TargetCheck): Promise<PhaseClock | null> {
  const { log } = step;
  const d = settings.dispatch;
  if (d.cluster === 'existing') {
    const v = await checkCluster(rayClient(log, d, { clock: step.clock }));
    log.info(`Ray ${v.ray_version} (Jobs API ${v.version}) answers at ${d.rayAddress}`);
    return null;
  }
  if (d.cluster !== 'ephemeral') return null;
  const phases = new PhaseClock(log);
  await checkRayCli(log, d.gce, settings.runnerTemp);
  await checkImage(log, phases, {
    uri: target.imageUri,
    input: target.imageInput,
    trust: { project: settings.gcpProject, extraHosts: d.gce.imageRegistries },
    repoDir: settings.workspace,
    miniInteractRoot: target.miniInteractRoot,
  });
  return phases;
}

/**
 * A per-run cluster rendered from a stored manifest (a rerun, a stop): its render inputs must pass
 * their checks and name the gcp-project input's project, never one the bucket chose.
 */
export function refuseStoredClusterInputs(o: {
  runId: string;
  renderInputs: RenderInputs;
  gcpProject: string;
  /** The mode's input (rerun-run-id, stop-run-id) and the fixes for its two kinds of problem. */
  input: Inputs;
  fix: string;
  projectFix: string;
  refused: string;
}): void {
  const ri = o.renderInputs;
  const problems = renderInputsProblems(o.runId, ri).map((why) => ({ input: o.input, message: `the stored manifest's ${why}`, fix: o.fix }));
  if (ri.project !== o.gcpProject) {
    problems.push({
      input: Inputs.GcpProject,
      message: `the stored manifest's render_inputs.project '${String(ri.project)}' is not gcp-project '${o.gcpProject}'`,
      fix: o.projectFix,
    });
  }
  if (problems.length > 0) throw new ProblemsError(problems, o.refused);
}

// A rerun (workflow_dispatch with rerun-run-id): the stored manifest's values stand; only the
// unfinished instances go into the next attempt, and nothing is uploaded
// (docs/reference/reruns-and-progress.md).
import * as core from '@actions/core';
import { onCluster } from '../cluster/run.js';
import { Inputs, Outputs } from '../common/constants.js';
import { ProblemsError } from '../common/errors.js';
import { checkSetupStillThere } from '../gcs/run-state.js';
import { runPaths } from '../gcs/store.js';
import { keyNeeds } from '../inputs/combos.js';
import { listIds } from '../inputs/instance-ids.js';
import type { RerunSettings } from '../inputs/settings.js';
import { submissionId } from '../plan/job-args.js';
import { planRerun, type RerunPlan } from '../plan/rerun-plan.js';
import { type SetupRoots, setupRoots, storedRoots } from '../plan/setup-roots.js';
import { readRunKeys } from '../preflight/api-keys.js';
import { planCode } from '../preflight/code.js';
import { dispatchAttempt, NOT_DISPATCHED, type StepContext } from '../ray/attempt.js';
import { TERMINAL } from '../ray/client.js';
import { rayClient } from '../ray/submit.js';
import { code } from '../results/render.js';
import type { DetailSection } from '../results/step-summary.js';
import { liveComment, reportAfterWait } from './report.js';
import { checkTarget, openStore, refuseStoredClusterInputs, writePlanFile } from './shared.js';

/**
 * A per-run cluster is rendered from the stored manifest: its values reach the VMs' shell and the
 * GCP project the cluster goes to. They must pass the cluster's own checks, and the project must
 * be the gcp-project input (never a project the bucket names).
 */
function refuseClusterOfManifest(settings: RerunSettings, plan: RerunPlan): void {
  refuseStoredClusterInputs({
    runId: plan.runId,
    renderInputs: plan.manifest.render_inputs,
    gcpProject: settings.gcpProject,
    input: Inputs.RerunRunId,
    fix: 'start a new run',
    projectFix: 'rerun with the gcp-project the run was started in, or start a new run',
    refused: 'rerun refused',
  });
}

/**
 * A rerun of a run on an existing cluster uses the roots its manifest recorded: the same content,
 * no second download. Otherwise (an older manifest, another cluster mode) they follow the inputs.
 */
function rerunRoots(settings: RerunSettings, plan: RerunPlan): SetupRoots | null {
  const d = settings.dispatch;
  const fresh = setupRoots({ cluster: d.cluster, scratchRoot: d.clusterScratchRoot, runId: plan.runId, queryMode: plan.manifest.query_mode });
  if (!fresh) return null;
  return storedRoots(plan.manifest.dispatch?.setup_roots) ?? fresh;
}

/** Two attempts on the same instances would both spend and both write status.json. */
async function refuseWhilePreviousRuns(ctx: StepContext, settings: RerunSettings, plan: RerunPlan): Promise<void> {
  if (settings.dispatch.cluster !== 'existing' || plan.attempt <= 1) return;
  const sid = submissionId(plan.runId, plan.attempt - 1);
  const previous = await rayClient(ctx.log, settings.dispatch, { clock: ctx.clock }).job(sid);
  if (previous && !TERMINAL.includes(previous.status)) {
    throw new ProblemsError(
      [
        {
          input: Inputs.RerunRunId,
          message: `attempt ${plan.attempt - 1} of run '${plan.runId}' (${sid}) is still ${previous.status} on the cluster`,
          fix: 'wait for it to end (or stop it), then rerun',
        },
      ],
      'rerun refused',
    );
  }
}

const UNFINISHED_SHOWN = 50;

/** The rerun's plan: what is done, what the next attempt takes; nothing is uploaded. */
function rerunSection(plan: RerunPlan): DetailSection {
  const total = plan.manifest.instance_ids.length;
  return {
    line: `Rerun plan: attempt ${plan.attempt} takes the ${plan.unfinished.length} unfinished of ${total} instances`,
    body: [
      `- ${plan.done} of ${total} instances done; attempt ${plan.attempt} takes the ${plan.unfinished.length} unfinished ones. Nothing was uploaded.`,
      `- unfinished: ${plan.unfinished.slice(0, UNFINISHED_SHOWN).map(code).join(', ')}${plan.unfinished.length > UNFINISHED_SHOWN ? `, … and ${plan.unfinished.length - UNFINISHED_SHOWN} more` : ''}`,
    ].join('\n'),
  };
}

export async function rerun(ctx: StepContext, settings: RerunSettings): Promise<void> {
  const store = openStore(ctx.log, ctx.clock, settings);
  core.setOutput(Outputs.RunId, settings.runId);
  core.setOutput(Outputs.DispatchedInstances, '0');
  ctx.summary.run({ runId: settings.runId, kind: 'rerun', dryRun: settings.dryRun });
  const plan = await planRerun(store, settings.runId);
  const m = plan.manifest;
  ctx.summary.run({ runId: plan.runId, kind: 'rerun', dryRun: settings.dryRun, manifest: m });
  ctx.summary.manifestCommitted();
  ctx.log.info(
    `rerun of ${plan.runId}: ${plan.done} of ${m.instance_ids.length} instances are done; ${plan.unfinished.length} unfinished; next attempt ${plan.attempt}. Nothing is uploaded.`,
  );
  core.setOutput(Outputs.ManifestUri, store.uri(runPaths.manifest(plan.runId)));
  core.setOutput(Outputs.Attempt, String(plan.attempt));
  core.setOutput(Outputs.UploadedFiles, '0');
  core.setOutput(Outputs.UploadedBytes, '0');
  core.setOutput(Outputs.PlanFile, await writePlanFile(settings.runnerTemp, plan.runId, plan));
  if (plan.unfinished.length === 0) {
    ctx.log.info(`nothing to rerun: every instance of ${plan.runId} has a successful row. Nothing was dispatched.`);
    core.setOutput(Outputs.DispatchedInstances, '0');
    core.setOutput(Outputs.JobStatus, NOT_DISPATCHED);
    ctx.summary.note(`Nothing to rerun: all ${m.instance_ids.length} instances are done. Nothing was dispatched.`);
    return;
  }
  ctx.log.info(`unfinished: ${listIds(plan.unfinished)}`);
  const { keys, missing, problems } = readRunKeys(keyNeeds({ agentModel: m.agent_model, userSimModel: m.user_sim_model }, m.query_mode), settings);
  if (missing) problems.unshift(missing);
  const code = await planCode(ctx.log, settings.dispatch, settings.workspace);
  problems.push(...code.problems);
  if (problems.length > 0) throw new ProblemsError(problems, 'rerun refused');
  await checkSetupStillThere(store, plan);
  for (const w of plan.warnings) ctx.log.warning(`the stored manifest: ${w}`);
  if (settings.dispatch.cluster === 'ephemeral') refuseClusterOfManifest(settings, plan);
  if (settings.dispatch.cluster === 'ephemeral' && !m.render_inputs.image_uri) {
    throw new ProblemsError(
      [
        {
          input: Inputs.RerunRunId,
          message: `the manifest of '${plan.runId}' names no image (render_inputs.image_uri is empty): it did not run on a per-run cluster`,
          fix: 'rerun it with cluster: existing or none',
        },
      ],
      'rerun refused',
    );
  }
  const phases = await checkTarget(ctx, settings, {
    imageUri: m.render_inputs.image_uri,
    imageInput: Inputs.RerunRunId,
    miniInteractRoot: settings.miniInteractRoot,
  });
  await refuseWhilePreviousRuns(ctx, settings, plan);
  ctx.summary.plan(rerunSection(plan));
  if (settings.dryRun) {
    ctx.log.info('dry-run: the rerun plan is complete; nothing was dispatched.');
    return;
  }
  // A rerun renders the cluster from the stored manifest, and never detaches.
  ctx.summary.stage('dispatch');
  const outcome = await onCluster(ctx, { settings, manifest: m, phases, canDetach: false }, (target) =>
    dispatchAttempt(
      ctx,
      {
        settings: settings.dispatch,
        manifest: m,
        attempt: plan.attempt,
        instanceIds: plan.unfinished,
        keys: keys.values,
        store,
        roots: rerunRoots(settings, plan),
        code: code.plan,
        live: liveComment(ctx, settings, store, m, plan.attempt),
      },
      target,
    ),
  );
  await reportAfterWait(ctx, settings, store, { runId: plan.runId, attempt: plan.attempt, outcome, runIdInput: Inputs.RerunRunId });
}

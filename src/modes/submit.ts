// A new submit: preflight (a dry run stops here) → the last checks before any write → upload →
// the manifest, the commit point → dispatch → wait → report.
import * as core from '@actions/core';
import { onCluster } from '../cluster/run.js';
import { Inputs, Outputs } from '../common/constants.js';
import { ProblemsError } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { commitManifest, judgeRun, listRun, type RemoteRun, type RunListing, setupMismatches } from '../gcs/run-state.js';
import { type RunStore, runPaths } from '../gcs/store.js';
import { logUploadResult, type UploadResult, uploadArtifacts } from '../gcs/upload.js';
import type { SubmitSettings } from '../inputs/settings.js';
import type { RunPlan } from '../plan/plan.js';
import { preflight } from '../preflight/preflight.js';
import { dispatchAttempt, type StepContext } from '../ray/attempt.js';
import { logPlan, planSection, uploadSection } from '../results/summary.js';
import { liveComment, reportAfterWait } from './report.js';
import { checkTarget, openStore, writePlanFile } from './shared.js';

const NOTHING_UPLOADED: UploadResult = { dbs: [], uploadedFiles: 0, skippedFiles: 0, uploadedBytes: 0, writtenConcurrently: 0 };

async function upload(log: Log, plan: RunPlan, store: RunStore, remote: RemoteRun): Promise<UploadResult> {
  if (!plan.artifact) return NOTHING_UPLOADED;
  const totalFiles = plan.artifacts.reduce((n, a) => n + a.files.length, 0);
  log.info(
    `uploading ${totalFiles} files of ${plan.dbs.length} DB(s) to ${store.uri(runPaths.setupPrefix(plan.runId, plan.artifact.kind))} (concurrency ${plan.settings.uploadConcurrency})`,
  );
  const result = await uploadArtifacts({
    store,
    runId: plan.runId,
    artifact: plan.artifact.kind,
    root: plan.artifact.root,
    artifacts: plan.artifacts,
    remote: remote.objects,
    concurrency: plan.settings.uploadConcurrency,
    log,
  });
  await logUploadResult(log, result);
  return result;
}

/** A committed run that was dispatched before is continued by a rerun, never by attempt 1 again. */
function refuseRedispatch(plan: RunPlan, store: RunStore, remote: RemoteRun, settings: SubmitSettings): void {
  if (settings.dispatch.cluster === 'none' || !remote.objects.has(runPaths.status(plan.runId))) return;
  throw new ProblemsError(
    [
      {
        input: Inputs.RunId,
        message: `run '${plan.runId}' is committed and was already dispatched (${store.uri(runPaths.status(plan.runId))} exists)`,
        fix: `to continue it, use rerun-run-id: ${plan.runId}; to start a new run, leave run-id empty`,
      },
    ],
    'preflight failed',
  );
}

/**
 * Whether the first listing and the upload's own answers already prove that the bucket holds exactly this plan's
 * files: a committed manifest of this plan with nothing written now, or a run id this submit minted (no other
 * submit can write under it) with no sign of another writer. Otherwise a concurrent submit of the same run id may
 * have written other content, and one more listing checks.
 */
function setupProven(minted: boolean, remote: RemoteRun, result: UploadResult): boolean {
  const removed = result.dbs.reduce((n, d) => n + d.removed, 0);
  if (remote.manifest === 'same') return result.uploadedFiles === 0 && removed === 0;
  return minted && result.writtenConcurrently === 0;
}

/** Upload, verify, then write the manifest create-only: the commit point of a submit. */
async function uploadAndCommit(ctx: StepContext, plan: RunPlan, store: RunStore, remote: RemoteRun, minted: boolean): Promise<void> {
  const result = await upload(ctx.log, plan, store, remote);
  const proven = setupProven(minted, remote, result);
  if (plan.artifact && !proven) {
    // The bucket must hold exactly this plan's files (a concurrent submit of the same run id
    // with other content would show here) before the manifest says so.
    const bad = await setupMismatches(store, plan.runId, plan.artifact.kind, plan.manifest.slayer_artifacts.dbs);
    if (bad.length > 0)
      throw new Error(
        `the uploaded setup does not match the plan, so no manifest was written:\n  - ${bad.join('\n  - ')}\nIs another submit of run id ${plan.runId} running? Submit again when it is done.`,
      );
  }
  const manifestUri = store.uri(runPaths.manifest(plan.runId));
  // A manifest of this plan was read in the listing, and a manifest is never rewritten.
  const committed = remote.manifest === 'same' && proven ? 'same' : await commitManifest(store, plan.manifest);
  ctx.log.info(committed === 'written' ? `manifest committed: ${manifestUri}` : `manifest already committed for this plan: ${manifestUri}`);
  core.setOutput(Outputs.ManifestUri, manifestUri);
  core.setOutput(Outputs.UploadedFiles, String(result.uploadedFiles));
  core.setOutput(Outputs.SkippedFiles, String(result.skippedFiles));
  core.setOutput(Outputs.UploadedBytes, String(result.uploadedBytes));
  ctx.summary.manifestCommitted();
  ctx.summary.upload(uploadSection(plan, { manifestUri, manifest: committed, dbs: result.dbs }));
}

/**
 * What runs beside the preflight: the storage client loads while git runs and files are hashed, and a given run id
 * is listed (a read: nothing is written before every check passed). The preflight's problems come first; the
 * listing's error, if any, is thrown where it is awaited.
 */
function startRemote(ctx: StepContext, settings: SubmitSettings): { store: RunStore; listing?: Promise<RunListing> } | undefined {
  if (settings.dryRun) return undefined;
  const store = openStore(ctx.log, ctx.clock, settings);
  if (!settings.runId) {
    store.open().catch(() => undefined);
    return { store };
  }
  const listing = listRun(store, settings.runId);
  listing.catch(() => undefined);
  return { store, listing };
}

export async function submit(ctx: StepContext, settings: SubmitSettings): Promise<void> {
  // A given run id names the summary even when the preflight fails (a minted one comes with the plan).
  if (settings.runId) ctx.summary.run({ runId: settings.runId, kind: 'submit', dryRun: settings.dryRun });
  const checks = preflight(ctx.log, settings);
  const early = startRemote(ctx, settings);
  const { plan, keys } = await checks;
  ctx.summary.run({ runId: plan.runId, kind: 'submit', dryRun: plan.dryRun, manifest: plan.manifest });
  core.setOutput(Outputs.RunId, plan.runId);
  core.setOutput(Outputs.Dbs, JSON.stringify(plan.dbs));
  core.setOutput(Outputs.Artifact, plan.artifact?.kind ?? 'none');
  // Until a job is submitted, nothing was dispatched.
  core.setOutput(Outputs.DispatchedInstances, '0');
  ctx.log.info(
    `cluster: ${settings.dispatch.cluster}${settings.dispatch.clusterSource === 'derived' ? ` (cluster unset: ${settings.dispatch.cluster === 'existing' ? 'ray-address is set' : 'no ray-address'})` : ''}`,
  );
  await logPlan(ctx.log, plan);
  core.setOutput(Outputs.PlanFile, await writePlanFile(settings.runnerTemp, plan.runId, plan));
  ctx.summary.plan(planSection(plan));
  const imageUri = plan.manifest.render_inputs.image_uri;
  if (imageUri) core.setOutput(Outputs.ImageUri, imageUri);
  if (plan.dryRun) {
    if (settings.dispatch.cluster === 'ephemeral') core.setOutput(Outputs.ImageExists, 'unknown');
    ctx.log.info('dry-run: the plan is complete; nothing was uploaded or dispatched.');
    return;
  }

  // The last checks before any write: what the bucket holds for this run id, and the cluster.
  const store = early?.store ?? openStore(ctx.log, ctx.clock, settings);
  const remote = judgeRun(store, plan.manifest, await (early?.listing ?? listRun(store, plan.runId)));
  const phases = await checkTarget(ctx, settings, { imageUri, imageInput: Inputs.ImageUri, miniInteractRoot: settings.miniInteractRoot });
  if (remote.manifest === 'same') {
    refuseRedispatch(plan, store, remote, settings);
    ctx.log.notice(`run ${plan.runId} already has a manifest for this same plan: checking and completing the upload.`);
  }
  ctx.summary.stage('upload');
  await uploadAndCommit(ctx, plan, store, remote, settings.runId === null);

  ctx.summary.stage('dispatch');
  const outcome = await onCluster(ctx, { settings, manifest: plan.manifest, phases, canDetach: true }, (target) =>
    dispatchAttempt(
      ctx,
      {
        settings: settings.dispatch,
        manifest: plan.manifest,
        attempt: plan.attempt,
        instanceIds: plan.settings.instanceIds,
        keys: keys.values,
        store,
        roots: plan.setupRoots,
        code: plan.code,
        live: liveComment(ctx, settings, store, plan.manifest, plan.attempt),
      },
      target,
    ),
  );
  await reportAfterWait(ctx, settings, store, { runId: plan.runId, attempt: plan.attempt, outcome, runIdInput: Inputs.RunId });
}

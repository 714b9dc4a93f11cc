// Orchestration only: settings → preflight → (dry run stops) → probe → upload → manifest.
import * as core from '@actions/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_PREFIX, Outputs, State } from './constants.js';
import { errorMessage } from './errors.js';
import { commitManifest, probeRun } from './gcs/run-state.js';
import { RunStore, runPaths } from './gcs/store.js';
import { uploadArtifacts, type UploadResult } from './gcs/upload.js';
import type { RunPlan } from './plan.js';
import { preflight } from './preflight.js';
import { logPlan, planSummary, uploadSummary, writeSummary } from './report.js';
import { describeError } from './retry.js';
import { coreInputReader, parseSettings } from './settings.js';

async function writePlanFile(plan: RunPlan): Promise<string> {
  const dir = join(plan.settings.runnerTemp, 'bird-cloud-action');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `plan-${plan.runId}.json`);
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`);
  return file;
}

async function upload(plan: RunPlan, store: RunStore, remote: Awaited<ReturnType<typeof probeRun>>): Promise<UploadResult> {
  if (!plan.artifact) return { dbs: [], uploadedFiles: 0, skippedFiles: 0, uploadedBytes: 0 };
  const totalFiles = plan.artifacts.reduce((n, a) => n + a.files.length, 0);
  core.info(`uploading ${totalFiles} files of ${plan.dbs.length} DB(s) to ${store.uri(runPaths.setupPrefix(plan.runId, plan.artifact.kind))} (concurrency ${plan.settings.uploadConcurrency})`);
  const result = await uploadArtifacts({
    store,
    runId: plan.runId,
    artifact: plan.artifact.kind,
    root: plan.artifact.root,
    artifacts: plan.artifacts,
    remote: remote.objects,
    concurrency: plan.settings.uploadConcurrency,
    log: (l) => core.info(l),
  });
  for (const d of result.dbs) {
    core.startGroup(`${d.db}: ${d.files} files, ${d.uploaded} uploaded, ${d.skipped} skipped, ${d.bytes} bytes, ${d.seconds.toFixed(1)} s`);
    for (const l of d.lines.sort()) core.info(l);
    core.endGroup();
  }
  return result;
}

export async function run(): Promise<void> {
  try {
    const settings = parseSettings(coreInputReader);
    const { plan } = await preflight(settings);
    core.saveState(State.RunId, plan.runId);
    core.setOutput(Outputs.RunId, plan.runId);
    core.setOutput(Outputs.Dbs, JSON.stringify(plan.dbs));
    core.setOutput(Outputs.Artifact, plan.artifact?.kind ?? 'none');
    logPlan(plan);
    core.setOutput(Outputs.PlanFile, await writePlanFile(plan));
    await writeSummary(planSummary(plan));
    if (plan.dryRun) {
      core.info('dry-run: the plan is complete; nothing was uploaded or dispatched.');
      return;
    }

    const store = new RunStore(settings.gcsBucket, settings.gcpProject);
    store.onRetry = (what, e, attempt, delay) => core.info(`retry ${attempt} of ${what} in ${delay} ms: ${describeError(e)}`);
    // The last check before any write: what the bucket already holds for this run id.
    const remote = await probeRun(store, plan.manifest);
    if (remote.manifest === 'same') core.notice(`run ${plan.runId} already has a manifest for this same plan: checking and completing the upload only.`);

    const result = await upload(plan, store, remote);
    const manifestUri = store.uri(runPaths.manifest(plan.runId));
    const committed = await commitManifest(store, plan.manifest);
    core.info(committed === 'written' ? `manifest committed: ${manifestUri}` : `manifest already committed for this plan: ${manifestUri}`);
    core.setOutput(Outputs.ManifestUri, manifestUri);
    core.setOutput(Outputs.UploadedFiles, String(result.uploadedFiles));
    core.setOutput(Outputs.SkippedFiles, String(result.skippedFiles));
    core.setOutput(Outputs.UploadedBytes, String(result.uploadedBytes));
    await writeSummary(uploadSummary(plan, { manifestUri, manifest: committed, dbs: result.dbs }));
    core.info(`cluster: none: the run is uploaded and committed; nothing was dispatched. List it with: gcloud storage ls -r ${store.uri(runPaths.prefix(plan.runId))}`);
  } catch (e) {
    core.setFailed(`${ERROR_PREFIX}: ${errorMessage(e)}`);
  }
}

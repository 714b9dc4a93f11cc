// Orchestration only. A new submit: settings → preflight → (dry run stops) → remote checks →
// upload → manifest → dispatch → wait. A rerun: manifest → unfinished instances → dispatch.
import * as core from '@actions/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PhaseClock } from './cluster/phases.js';
import { checkImage, checkRayCli, onCluster } from './cluster/run.js';
import { ERROR_PREFIX, Inputs, Outputs, State } from './constants.js';
import { NOT_DISPATCHED, dispatchAttempt, rayClient, type DispatchOutcome } from './dispatch.js';
import { ProblemsError, errorMessage } from './errors.js';
import { commitManifest, probeRun, setupMismatches } from './gcs/run-state.js';
import { RunStore, runPaths } from './gcs/store.js';
import { uploadArtifacts, type UploadResult } from './gcs/upload.js';
import { readGithubContext } from './github-context.js';
import { submissionId } from './jobargs.js';
import type { RunPlan } from './plan.js';
import { preflight } from './preflight.js';
import { TERMINAL } from './ray/client.js';
import { checkCluster, runtimeEnvProblem } from './ray/dispatch.js';
import { checkSetupStillThere, planRerun } from './rerun.js';
import { logPlan, planSummary, uploadSummary, writeSummary } from './report.js';
import { GateFailedError, reportRun, type ReportOptions } from './results/index.js';
import { describeError } from './retry.js';
import { missingKeysMessage, readApiKeys } from './secrets.js';
import { coreInputReader, parseSettings, type CommonSettings, type ReportOnlySettings, type RerunSettings, type SubmitSettings } from './settings.js';

async function writePlanFile(dir: string, runId: string, plan: object): Promise<string> {
  const out = join(dir, 'bird-cloud-action');
  await mkdir(out, { recursive: true });
  const file = join(out, `plan-${runId}.json`);
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`);
  return file;
}

function openStore(s: CommonSettings): RunStore {
  const store = new RunStore(s.gcsBucket, s.gcpProject);
  store.onRetry = (what, e, attempt, delay) => core.info(`retry ${attempt} of ${what} in ${delay} ms: ${describeError(e)}`);
  return store;
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

async function submit(settings: SubmitSettings): Promise<void> {
  const { plan, keys } = await preflight(settings);
  core.saveState(State.RunId, plan.runId);
  core.setOutput(Outputs.RunId, plan.runId);
  core.setOutput(Outputs.Dbs, JSON.stringify(plan.dbs));
  core.setOutput(Outputs.Artifact, plan.artifact?.kind ?? 'none');
  logPlan(plan);
  core.setOutput(Outputs.PlanFile, await writePlanFile(settings.runnerTemp, plan.runId, plan));
  await writeSummary(planSummary(plan));
  if (plan.manifest.render_inputs.image_uri) core.setOutput(Outputs.ImageUri, plan.manifest.render_inputs.image_uri);
  if (plan.dryRun) {
    if (settings.dispatch.cluster === 'ephemeral') core.setOutput(Outputs.ImageExists, 'unknown');
    core.info('dry-run: the plan is complete; nothing was uploaded or dispatched.');
    return;
  }

  // The last checks before any write: what the bucket holds for this run id, and the cluster.
  const store = openStore(settings);
  const remote = await probeRun(store, plan.manifest);
  if (settings.dispatch.cluster === 'existing') {
    const v = await checkCluster(rayClient(settings.dispatch));
    core.info(`Ray ${v.ray_version} (Jobs API ${v.version}) answers at ${settings.dispatch.rayAddress}`);
  }
  const phases = settings.dispatch.cluster === 'ephemeral' ? new PhaseClock((l) => core.info(l)) : null;
  if (phases) {
    await checkRayCli(settings.dispatch.gce, settings.runnerTemp);
    await checkImage(plan.manifest.render_inputs.image_uri, phases, settings.workspace, settings.miniInteractRoot);
  }
  if (remote.manifest === 'same') {
    // A committed run that was dispatched before is continued by a rerun, never by attempt 1 again.
    if (settings.dispatch.cluster !== 'none' && remote.objects.has(runPaths.status(plan.runId))) {
      throw new ProblemsError(
        [{ input: Inputs.RunId, message: `run '${plan.runId}' is committed and was already dispatched (${store.uri(runPaths.status(plan.runId))} exists)`, fix: `to continue it, use rerun-run-id: ${plan.runId}; to start a new run, leave run-id empty` }],
        'preflight failed',
      );
    }
    core.notice(`run ${plan.runId} already has a manifest for this same plan: checking and completing the upload.`);
  }

  const result = await upload(plan, store, remote);
  if (plan.artifact) {
    // The commit point: the bucket must hold exactly this plan's files (a concurrent submit of
    // the same run id with other content would show here) before the manifest says so.
    const bad = await setupMismatches(store, plan.runId, plan.artifact.kind, plan.manifest.slayer_artifacts.dbs);
    if (bad.length > 0) throw new Error(`the uploaded setup does not match the plan, so no manifest was written:\n  - ${bad.join('\n  - ')}\nIs another submit of run id ${plan.runId} running? Submit again when it is done.`);
  }
  const manifestUri = store.uri(runPaths.manifest(plan.runId));
  const committed = await commitManifest(store, plan.manifest);
  core.info(committed === 'written' ? `manifest committed: ${manifestUri}` : `manifest already committed for this plan: ${manifestUri}`);
  core.setOutput(Outputs.ManifestUri, manifestUri);
  core.setOutput(Outputs.UploadedFiles, String(result.uploadedFiles));
  core.setOutput(Outputs.SkippedFiles, String(result.skippedFiles));
  core.setOutput(Outputs.UploadedBytes, String(result.uploadedBytes));
  await writeSummary(uploadSummary(plan, { manifestUri, manifest: committed, dbs: result.dbs }));

  const outcome = await onCluster(settings, plan.manifest, phases, true, (c) =>
    dispatchAttempt({
      settings: settings.dispatch,
      manifest: plan.manifest,
      attempt: plan.attempt,
      instanceIds: plan.settings.instanceIds,
      keys: keys.values,
      github: readGithubContext(),
      store,
      ...c,
    }),
  );
  await reportAfterWait(settings, store, plan.runId, plan.attempt, outcome, Inputs.RunId);
}

/** A waited attempt is reported (summary, outputs, PR comment, gate), then a failed wait fails the step. */
async function reportAfterWait(s: CommonSettings, store: RunStore, runId: string, attempt: number, o: DispatchOutcome, runIdInput: Inputs): Promise<void> {
  if (!o.waited) {
    const t = s.report.thresholds;
    if (t.minPhase1Rate !== null || t.maxErrors !== null || s.report.baselineRunId) {
      core.warning(`min-phase1-rate, max-errors and baseline-run-id apply to a report: this step did not wait, so nothing was reported or gated. Report later with report-run-id: ${runId}`);
    }
    return;
  }
  let gate: unknown = null;
  try {
    await reportRun({ ...reportOptions(s, store, runId), runIdInput, attempt, dashboardUrl: o.dashboardUrl, durationSeconds: o.durationSeconds });
  } catch (e) {
    if (!(e instanceof GateFailedError)) throw o.failure ?? e;
    gate = e;
  }
  if (o.failure) throw o.failure;
  if (gate) throw gate;
}

function reportOptions(s: CommonSettings, store: RunStore, runId: string): ReportOptions {
  return {
    store,
    runId,
    github: readGithubContext(),
    token: s.report.token,
    commentOnPr: s.report.commentOnPr,
    baselineRunId: s.report.baselineRunId || undefined,
    thresholds: s.report.thresholds,
    runnerTemp: s.runnerTemp,
    rayAddress: s.dispatch.rayAddress || undefined,
  };
}

async function report(settings: ReportOnlySettings): Promise<void> {
  core.setOutput(Outputs.RunId, settings.runId);
  await reportRun({ ...reportOptions(settings, openStore(settings), settings.runId), runIdInput: Inputs.ReportRunId, datasetFile: settings.datasetFile });
}

async function rerun(settings: RerunSettings): Promise<void> {
  const store = openStore(settings);
  core.saveState(State.RunId, settings.runId);
  core.setOutput(Outputs.RunId, settings.runId);
  const plan = await planRerun(store, settings.runId);
  const m = plan.manifest;
  core.info(`rerun of ${plan.runId}: ${plan.done} of ${m.instance_ids.length} instances are done; ${plan.unfinished.length} unfinished; next attempt ${plan.attempt}. Nothing is uploaded.`);
  core.setOutput(Outputs.ManifestUri, store.uri(runPaths.manifest(plan.runId)));
  core.setOutput(Outputs.Attempt, String(plan.attempt));
  core.setOutput(Outputs.UploadedFiles, '0');
  core.setOutput(Outputs.UploadedBytes, '0');
  core.setOutput(Outputs.PlanFile, await writePlanFile(settings.runnerTemp, plan.runId, plan));
  if (plan.unfinished.length === 0) {
    core.info(`nothing to rerun: every instance of ${plan.runId} has a successful row. Nothing was dispatched.`);
    core.setOutput(Outputs.DispatchedInstances, '0');
    core.setOutput(Outputs.JobStatus, NOT_DISPATCHED);
    await writeSummary(`## BIRD-Interact rerun of \`${plan.runId}\`\n\nNothing to rerun: all ${m.instance_ids.length} instances are done. Nothing was dispatched.\n`);
    return;
  }
  core.info(`unfinished: ${plan.unfinished.join(', ')}`);
  const keys = readApiKeys(plan.requiredKeys);
  if (keys.missing.length > 0) throw new ProblemsError([{ input: 'env', message: missingKeysMessage(keys.missing) }], 'rerun refused');
  const envProblem = runtimeEnvProblem(settings.dispatch.runtimeEnv, [...keys.values.values(), ...Object.values(settings.dispatch.rayHeaders), settings.report.token], keys.values.size > 0);
  if (envProblem) throw new ProblemsError([{ input: Inputs.RuntimeEnv, message: envProblem, fix: 'remove that part of runtime-env' }], 'rerun refused');
  await checkSetupStillThere(store, plan);
  if (settings.dispatch.cluster === 'existing') {
    const client = rayClient(settings.dispatch);
    await checkCluster(client);
    // Two attempts on the same instances would both spend and both write status.json.
    const previous = plan.attempt > 1 ? await client.job(submissionId(plan.runId, plan.attempt - 1)) : null;
    if (previous && !TERMINAL.includes(previous.status)) {
      throw new ProblemsError(
        [{ input: Inputs.RerunRunId, message: `attempt ${plan.attempt - 1} of run '${plan.runId}' (${submissionId(plan.runId, plan.attempt - 1)}) is still ${previous.status} on the cluster`, fix: 'wait for it to end (or stop it), then rerun' }],
        'rerun refused',
      );
    }
  }
  const phases = settings.dispatch.cluster === 'ephemeral' ? new PhaseClock((l) => core.info(l)) : null;
  if (phases) {
    if (!m.render_inputs.image_uri) throw new ProblemsError([{ input: Inputs.RerunRunId, message: `the manifest of '${plan.runId}' names no image (render_inputs.image_uri is empty): it did not run on a per-run cluster`, fix: 'rerun it with cluster: existing or none' }], 'rerun refused');
    await checkRayCli(settings.dispatch.gce, settings.runnerTemp);
    await checkImage(m.render_inputs.image_uri, phases, settings.workspace, settings.miniInteractRoot);
  }
  await writeSummary(`## BIRD-Interact rerun of \`${plan.runId}\`\n\n${plan.done} of ${m.instance_ids.length} instances done; attempt ${plan.attempt} takes the ${plan.unfinished.length} unfinished ones. Nothing was uploaded.\n`);
  if (settings.dryRun) {
    core.info('dry-run: the rerun plan is complete; nothing was dispatched.');
    return;
  }
  // A rerun renders the cluster from the stored manifest, and never detaches.
  const outcome = await onCluster(settings, m, phases, false, (c) =>
    dispatchAttempt({ settings: settings.dispatch, manifest: m, attempt: plan.attempt, instanceIds: plan.unfinished, keys: keys.values, github: readGithubContext(), store, ...c }),
  );
  await reportAfterWait(settings, store, plan.runId, plan.attempt, outcome, Inputs.RerunRunId);
}

export async function run(): Promise<void> {
  try {
    const settings = parseSettings(coreInputReader);
    if (settings.kind === 'rerun') await rerun(settings);
    else if (settings.kind === 'report') await report(settings);
    else await submit(settings);
  } catch (e) {
    core.setFailed(`${ERROR_PREFIX}: ${errorMessage(e)}`);
  }
}

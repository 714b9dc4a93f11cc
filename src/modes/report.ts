// Reporting: after a wait (summary, outputs, PR comment, gate), and the report-run-id mode,
// which reports on any run in the bucket without dispatching anything.
import * as core from '@actions/core';
import { Inputs, Outputs } from '../common/constants.js';
import { unfinished } from '../gcs/rows.js';
import type { RunStore } from '../gcs/store.js';
import type { CommonSettings, ReportOnlySettings } from '../inputs/settings.js';
import { submissionId } from '../plan/job-args.js';
import { type DispatchOutcome, rerunHint, type StepContext } from '../ray/attempt.js';
import { rayClient } from '../ray/submit.js';
import { waitForAttempt } from '../ray/wait.js';
import { commentTarget, upsertComment } from '../results/comment.js';
import { LiveComment, markCancelledOnCancel } from '../results/live-comment.js';
import { collectResults, readRun } from '../results/read.js';
import { commentKey, commentMarker, type RunHeader } from '../results/render.js';
import { GateFailedError, type ReportOptions, reportRun } from '../results/report.js';
import { openStore } from './shared.js';

function reportOptions(ctx: StepContext, s: CommonSettings, store: RunStore, runId: string): ReportOptions {
  return {
    store,
    runId,
    github: ctx.github,
    token: s.report.token,
    commentOnPr: s.report.commentOnPr,
    commentKey: s.report.commentKey || undefined,
    baselineRunId: s.report.baselineRunId || undefined,
    thresholds: s.report.thresholds,
    runnerTemp: s.runnerTemp,
    rayAddress: s.dispatch.rayAddress || undefined,
    log: ctx.log,
    summary: ctx.summary,
    trendRuns: s.report.trendRuns,
  };
}

/**
 * The live PR comment of an attempt the step waits on (comment-on-pr), or null: not waiting, or no
 * comment to make (commentTarget; the report says why).
 */
export function liveComment(
  ctx: StepContext,
  settings: CommonSettings,
  store: RunStore,
  manifest: RunHeader['manifest'] & { run_id: string },
  attempt: number,
  since?: string,
): LiveComment | null {
  if (!settings.dispatch.wait) return null;
  const r = settings.report;
  const where = commentTarget(r.commentOnPr, ctx.github, r.token);
  if ('skip' in where) return null;
  const marker = commentMarker(commentKey(r.commentKey, process.env.GITHUB_WORKFLOW ?? '', manifest));
  return new LiveComment({
    clock: ctx.clock,
    marker,
    runId: manifest.run_id,
    attempt,
    manifest,
    workflowRunUrl: ctx.github.workflow_run_url || null,
    post: (body) => upsertComment({ token: r.token, target: where.target, marker, body, log: ctx.log }),
    figures: async () => (await collectResults(store, manifest.run_id, { input: Inputs.RunId, log: ctx.log })).results,
    log: ctx.log,
    since,
  });
}

export interface WaitedAttempt {
  runId: string;
  attempt: number;
  outcome: DispatchOutcome;
  /** The input that named the run: run-id for a submit, rerun-run-id for a rerun. */
  runIdInput: Inputs;
}

/** A waited attempt is reported (summary, outputs, PR comment, gate), then a failed wait fails the step. */
export async function reportAfterWait(ctx: StepContext, settings: CommonSettings, store: RunStore, waitedAttempt: WaitedAttempt): Promise<void> {
  const o = waitedAttempt.outcome;
  // A wait that ended badly is the step's failure, reported after the results.
  if (o.failure) ctx.summary.fail(o.failure, 'wait');
  if (!o.waited) {
    const t = settings.report.thresholds;
    if (t.minPhase1Rate !== null || t.maxErrors !== null || settings.report.baselineRunId || settings.report.trendRuns > 0) {
      ctx.log.warning(
        `min-phase1-rate, max-errors, baseline-run-id and trend-runs apply to a report: this step did not wait, so nothing was reported or gated. Report later with report-run-id: ${waitedAttempt.runId}`,
      );
    }
    return;
  }
  let gate: GateFailedError | null = null;
  ctx.summary.stage('report');
  try {
    await reportRun({
      ...reportOptions(ctx, settings, store, waitedAttempt.runId),
      runIdInput: waitedAttempt.runIdInput,
      datasetFile: 'datasetFile' in settings && typeof settings.datasetFile === 'string' ? settings.datasetFile : undefined,
      attempt: waitedAttempt.attempt,
      dashboardUrl: o.dashboardUrl,
      durationSeconds: o.durationSeconds,
    });
  } catch (e) {
    if (!(e instanceof GateFailedError)) throw o.failure ?? e;
    gate = e;
  }
  if (o.failure) throw o.failure;
  if (gate) throw gate;
}

/**
 * report-run-id with wait: true: waits for the run's latest attempt as a submit does (progress,
 * no-progress deadline, timeout), on the rows and status.json, and on the job when ray-address is
 * set. It never stops the job: this step did not start it.
 */
async function waitForRun(
  ctx: StepContext,
  settings: ReportOnlySettings,
  store: RunStore,
): Promise<{ failure: Error | null; attempt: number; seconds: number }> {
  const run = await readRun(store, settings.runId, Inputs.ReportRunId);
  const attempt = Math.max(run.attempt, 1);
  // The instances of that attempt: those not done after the attempts before it (docs/reference/reruns-and-progress.md).
  const before = new Map(
    [...run.refs].flatMap(([iid, refs]) => {
      const earlier = refs.filter((ref) => ref.attempt < attempt);
      return earlier.length > 0 ? [[iid, earlier[earlier.length - 1]] as const] : [];
    }),
  );
  const latestBefore = new Map(
    [...before].map(([iid, ref]) => [iid, { ref, row: run.latest.get(iid)?.ref.attempt === ref.attempt ? (run.latest.get(iid)?.row ?? null) : null }]),
  );
  const ids = attempt === 1 ? run.manifest.instance_ids : unfinished(run.manifest.instance_ids, latestBefore);
  const jobId = run.status?.ray_job_id;
  const sid = typeof jobId === 'string' && /^[A-Za-z0-9_-]+$/.test(jobId) && jobId !== 'unknown' ? jobId : submissionId(settings.runId, attempt);
  const d = settings.dispatch;
  const client = d.rayAddress ? rayClient(ctx.log, d, { clock: ctx.clock }) : null;
  ctx.log.info(
    `waiting for attempt ${attempt} of ${settings.runId} (${ids.length} instance(s)${client ? `, job ${sid} at ${d.rayAddress}` : ', from the bucket only: no ray-address'})`,
  );
  const started = ctx.clock.now();
  const live = liveComment(ctx, settings, store, { ...run.manifest, run_id: settings.runId }, attempt, 'this step began to wait');
  await live?.dispatched({ rowsDone: 0, rowsTotal: ids.length, jobStatus: null }, null);
  const removeLive = markCancelledOnCancel(
    ctx.cancel,
    live,
    (signal) => `The workflow was cancelled (${signal}) while it waited; the job was left as it is (report-run-id never stops it).`,
  );
  const result = await waitForAttempt({
    client,
    store,
    runId: settings.runId,
    attempt,
    submissionId: sid,
    instanceIds: ids,
    pollIntervalMs: d.pollIntervalMs,
    waitTimeoutMs: d.waitTimeoutMs,
    noProgressMs: d.noProgressMs,
    signal: ctx.cancel.signal,
    log: ctx.log,
    clock: ctx.clock,
    onProgress: live ? (p) => live.progress(p) : undefined,
  }).finally(removeLive);
  if (ctx.cancel.cancelled) await ctx.cancel.finished;
  const v = result.verdict;
  const seconds = (ctx.clock.now() - started) / 1000;
  if (v.kind === 'finished' && v.ok) return { failure: null, attempt, seconds };
  // A dashboard that stopped answering: the run is finished by a rerun, as after a submit.
  const next = v.kind === 'unreachable' ? `; ${rerunHint(settings.runId)}` : '';
  return {
    failure: new Error(`${v.kind === 'finished' ? 'error' : v.kind}: ${v.reason}; the job was left as it is (report-run-id never stops it)${next}`),
    attempt,
    seconds,
  };
}

/** report-run-id: report on an existing run without dispatching anything (after waiting for it, with wait: true). */
export async function report(ctx: StepContext, settings: ReportOnlySettings): Promise<void> {
  core.setOutput(Outputs.RunId, settings.runId);
  ctx.summary.run({ runId: settings.runId, kind: 'report' });
  const store = openStore(ctx.log, ctx.clock, settings);
  const options = { ...reportOptions(ctx, settings, store, settings.runId), runIdInput: Inputs.ReportRunId, datasetFile: settings.datasetFile };
  if (!settings.dispatch.wait) {
    ctx.summary.stage('report');
    await reportRun(options);
    return;
  }
  ctx.summary.stage('wait');
  const waited = await waitForRun(ctx, settings, store);
  await reportAfterWait(ctx, settings, store, {
    runId: settings.runId,
    attempt: waited.attempt,
    runIdInput: Inputs.ReportRunId,
    outcome: { waited: true, failure: waited.failure, dashboardUrl: null, durationSeconds: waited.seconds, leftRunning: false },
  });
}

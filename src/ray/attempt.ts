// One attempt of a run on a cluster: its job is submitted (or, with cluster none, printed as a
// `ray job submit` command), then the step may wait on it. A wait that does not end in success
// stops the job; a cancelled step stops it through the one cleanup path (common/cancel.ts).
import * as core from '@actions/core';
import type { PhaseClock } from '../cluster/phases.js';
import { type Cancellation, CleanupOrder } from '../common/cancel.js';
import { Outputs } from '../common/constants.js';
import { errorMessage } from '../common/errors.js';
import type { GithubContext } from '../common/github-context.js';
import type { Log } from '../common/log.js';
import type { ActionState } from '../common/state.js';
import type { Clock } from '../common/time.js';
import { parseStatus, type RunStatus, writeFreshStatus } from '../gcs/rows.js';
import { isPreconditionFailed, type RunStore, runPaths } from '../gcs/store.js';
import type { DispatchSettings } from '../inputs/settings.js';
import { type CodePlan, readCodeFiles } from '../plan/code-source.js';
import { submissionId } from '../plan/job-args.js';
import type { RunManifest } from '../plan/manifest.js';
import type { SetupRoots } from '../plan/setup-roots.js';
import { type LiveComment, markCancelledOnCancel } from '../results/live-comment.js';
import { code, mdText } from '../results/render.js';
import type { DetailSection, StepSummary } from '../results/step-summary.js';
import { dashboardUrl, type JobStatus, type RayJobsClient, TERMINAL } from './client.js';
import { attemptJob, rayJobSubmitCommand, type SubmitOutcome, submitIdempotent, uploadJobPackage } from './submit.js';
import { type WaitResult, waitForAttempt } from './wait.js';

export const NOT_DISPATCHED = 'NOT_DISPATCHED';

/** What every effect of the main step shares. */
export interface StepContext {
  log: Log;
  state: ActionState;
  cancel: Cancellation;
  github: GithubContext;
  /** What the wait reads the time from and sleeps on (systemClock in the action). */
  clock: Clock;
  /** The job summary, written once at the end of the step. */
  summary: StepSummary;
}

/** The attempt to carry out. */
export interface AttemptRequest {
  settings: DispatchSettings;
  manifest: RunManifest;
  attempt: number;
  instanceIds: readonly string[];
  keys: ReadonlyMap<string, string>;
  store: RunStore;
  /** Run-scoped setup roots (existing cluster, SLayer), or null. */
  roots: SetupRoots | null;
  code: CodePlan;
  /** The live PR comment of a step that waits (comment-on-pr), or none. */
  live?: LiveComment | null;
}

/** Where the job goes, as the cluster mode provides it. */
export interface ClusterTarget {
  /** null with cluster none: nothing is dispatched. */
  client: RayJobsClient | null;
  /** Per-run cluster: is the head VM still there (docs/reference/per-run-cluster.md)? */
  headAlive?: () => Promise<boolean | null>;
  phases?: PhaseClock;
  /** False when the dashboard is a port forward that dies with the step: no link is published. */
  publicDashboard: boolean;
}

export interface DispatchOutcome {
  /** True when the step waited for the attempt to end (then a report follows). */
  waited: boolean;
  /** The failure of a wait that ended badly; thrown by the caller after the report. */
  failure: Error | null;
  dashboardUrl: string | null;
  durationSeconds: number | null;
  /** on-wait-timeout: leave: the wait timed out and the job was left running (a per-run cluster too). */
  leftRunning: boolean;
}

const NO_WAIT: DispatchOutcome = { waited: false, failure: null, dashboardUrl: null, durationSeconds: null, leftRunning: false };

/** After the last row, the driver still shuts down for a few seconds: the status reported waits for it, a little. */
const DRIVER_EXIT_WAIT_MS = 30_000;

async function settledStatus(clock: Clock, client: RayJobsClient, sid: string, fallback: JobStatus | null): Promise<JobStatus | 'UNKNOWN'> {
  const deadline = clock.now() + DRIVER_EXIT_WAIT_MS;
  for (;;) {
    const status = (await client.job(sid).catch(() => null))?.status ?? null;
    if (status === null) return fallback ?? 'UNKNOWN';
    if (TERMINAL.includes(status) || clock.now() > deadline) return status;
    await clock.sleep(1_000);
  }
}

export function rerunHint(runId: string): string {
  return `rerun the unfinished instances with \`rerun-run-id: ${runId}\` (a workflow_dispatch rerun)`;
}

/** A job the step waited on that is still running gets one stop, never two. */
async function stopOnce(log: Log, client: RayJobsClient, sid: string): Promise<void> {
  const job = await client.job(sid);
  if (job && !TERMINAL.includes(job.status)) {
    const stopped = await client.stop(sid);
    log.info(`asked Ray to stop ${sid}: ${stopped ? 'stopping' : 'it was not running'}`);
  }
}

/** Only a stop that went through (or a job that ended) releases the post step from stopping it. */
async function stopAndRecord(ctx: StepContext, client: RayJobsClient, sid: string): Promise<void> {
  try {
    await stopOnce(ctx.log, client, sid);
    ctx.state.setWait('done');
    ctx.summary.jobState(sid, 'stopped');
  } catch (e) {
    ctx.log.warning(`could not stop ${sid}: ${errorMessage(e)}; the post step tries again`);
  }
}

/**
 * A fresh status.json for this attempt (docs/reference/reruns-and-progress.md), unless the job's
 * own heartbeat got there first: a heartbeat racing the write is a 412, after which the newer
 * content stands.
 */
async function freshStatus(store: RunStore, runId: string, status: RunStatus): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const current = parseStatus(await store.read(runPaths.status(runId)));
    if (typeof current?.attempt === 'number' && current.attempt >= status.attempt) return;
    try {
      await writeFreshStatus(store, runId, status);
      return;
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
    }
  }
}

/** cluster: none: the equivalent command, without secrets. */
function printSubmitCommand(ctx: StepContext, r: AttemptRequest): DispatchOutcome {
  const job = attemptJob({
    dispatch: r.settings,
    manifest: r.manifest,
    attempt: r.attempt,
    instanceIds: r.instanceIds,
    withSecrets: r.keys.size > 0,
    github: ctx.github,
    packageUri: null,
    roots: r.roots,
    code: r.code.source,
  });
  ctx.log.info('cluster: none: nothing is dispatched. The equivalent command (without secrets):');
  ctx.log.info(rayJobSubmitCommand(job, r.settings.rayAddress));
  core.setOutput(Outputs.JobStatus, NOT_DISPATCHED);
  core.setOutput(Outputs.SubmissionId, job.submissionId);
  ctx.summary.dispatch({
    line: 'Dispatch: nothing dispatched (cluster: none)',
    body: `Nothing was dispatched (cluster: none). The equivalent \`ray job submit\` command for ${code(job.submissionId)} (without secrets) is in the step's log.`,
  });
  return NO_WAIT;
}

/** Submits the attempt's job once per submission id; a retried step follows the job it made. */
async function submitJob(ctx: StepContext, r: AttemptRequest, client: RayJobsClient): Promise<SubmitOutcome> {
  const m = r.manifest;
  const sid = submissionId(m.run_id, r.attempt);
  const earlier = await client.job(sid);
  if (earlier) {
    if (earlier.metadata?.run_id === m.run_id && earlier.metadata?.attempt === String(r.attempt)) return 'existing';
    throw new Error(
      `a Ray job named ${sid} already exists and is not this run's attempt (its metadata: ${JSON.stringify(earlier.metadata)}). Stop or delete that job, or use another run id.`,
    );
  }
  const packageUri = await uploadJobPackage(client, r.keys, r.code.source === 'checkout' ? await readCodeFiles(r.code) : []);
  const job = attemptJob({
    dispatch: r.settings,
    manifest: m,
    attempt: r.attempt,
    instanceIds: r.instanceIds,
    withSecrets: r.keys.size > 0,
    github: ctx.github,
    packageUri,
    roots: r.roots,
    code: r.code.source,
  });
  return submitIdempotent(client, job.request, m.run_id, r.attempt);
}

export async function dispatchAttempt(ctx: StepContext, request: AttemptRequest, target: ClusterTarget): Promise<DispatchOutcome> {
  const m = request.manifest;
  core.setOutput(Outputs.Attempt, String(request.attempt));
  const client = target.client;
  if (request.settings.cluster === 'none' || !client) return printSubmitCommand(ctx, request);
  core.setOutput(Outputs.DispatchedInstances, String(request.instanceIds.length));
  const phase = <T>(name: 'submit' | 'wait', fn: () => Promise<T>): Promise<T> => (target.phases ? target.phases.run(name, fn) : fn());
  // The id is known before the POST: saved first, so a step killed mid-submit still leaves the
  // post step something to stop (a GET answers 404 when nothing was created).
  const sid = submissionId(m.run_id, request.attempt);
  ctx.state.saveJob({ submissionId: sid, rayAddress: client.address, wait: request.settings.wait ? 'waiting' : 'detached' });
  const outcome = await phase('submit', () => submitJob(ctx, request, client));
  ctx.summary.jobState(sid, 'submitted');
  ctx.log.info(outcome === 'created' ? `submitted ${sid} to ${client.address}` : `${sid} was already submitted by an earlier try of this step: following it`);
  await freshStatus(request.store, m.run_id, {
    ray_job_id: sid,
    last_heartbeat_ts: ctx.clock.now() / 1000,
    rows_done: 0,
    rows_total: request.instanceIds.length,
    terminal_state: null,
    attempt: request.attempt,
  });
  const url = target.publicDashboard ? dashboardUrl(client.address, sid) : null;
  core.setOutput(Outputs.SubmissionId, sid);
  if (url) core.setOutput(Outputs.DashboardUrl, url);
  const status = (await client.job(sid))?.status ?? 'PENDING';
  core.setOutput(Outputs.JobStatus, status);
  const facts: DispatchFacts = { runId: m.run_id, attempt: request.attempt, sid, url, dispatched: request.instanceIds.length, status, wait: null };
  ctx.summary.dispatch(dispatchSection(facts));
  if (!request.settings.wait) {
    ctx.log.info(`not waiting (wait: false): the job runs on; follow it at ${url ?? client.address}`);
    return { ...NO_WAIT, dashboardUrl: url };
  }
  ctx.summary.stage('wait');
  await request.live?.dispatched({ rowsDone: 0, rowsTotal: request.instanceIds.length, jobStatus: status }, url);
  return phase('wait', () => waitOnJob(ctx, request, target, client, url));
}

/** Waits; on cancel the cleanup path stops the job; a wait that ends badly stops it too. */
async function waitOnJob(ctx: StepContext, r: AttemptRequest, target: ClusterTarget, client: RayJobsClient, url: string | null): Promise<DispatchOutcome> {
  const m = r.manifest;
  const sid = submissionId(m.run_id, r.attempt);
  const started = ctx.clock.now();
  const removeStop = ctx.cancel.add({
    order: CleanupOrder.StopJob,
    name: `stop ${sid}`,
    timeoutMs: 20_000,
    run: async () => {
      await stopAndRecord(ctx, client, sid);
      return `${sid} was asked to stop. Then ${rerunHint(m.run_id)}`;
    },
  });
  const live = r.live;
  // On cancel the live comment says so (after the stop), instead of "in progress" for good.
  const removeLive = markCancelledOnCancel(
    ctx.cancel,
    live,
    (signal) => `The workflow was cancelled (${signal}); the job ${code(sid)} was asked to stop. Then ${rerunHint(m.run_id)}.`,
  );
  let result: WaitResult;
  try {
    result = await waitForAttempt({
      client,
      store: r.store,
      runId: m.run_id,
      attempt: r.attempt,
      submissionId: sid,
      instanceIds: r.instanceIds,
      pollIntervalMs: r.settings.pollIntervalMs,
      waitTimeoutMs: r.settings.waitTimeoutMs,
      noProgressMs: r.settings.noProgressMs,
      signal: ctx.cancel.signal,
      log: ctx.log,
      clock: ctx.clock,
      headAlive: target.headAlive,
      onProgress: live ? (p) => live.progress(p) : undefined,
    });
  } finally {
    removeStop();
    removeLive();
  }
  // A signal ended the wait: the cleanup path stops the job and fails the step.
  if (ctx.cancel.cancelled) {
    await ctx.cancel.finished;
    return { ...NO_WAIT, dashboardUrl: url };
  }
  const v = result.verdict;
  const ok = v.kind === 'finished' && v.ok;
  // on-wait-timeout: leave: a run longer than the wait goes on (the post step leaves it alone too).
  const leave = v.kind === 'wait-timeout' && r.settings.onWaitTimeout === 'leave';
  // A dashboard that stopped answering cannot take a stop now: the post step tries it once more.
  const unreachable = v.kind === 'unreachable';
  if (ok) {
    ctx.state.setWait('done');
    ctx.summary.jobState(sid, 'finished');
  } else if (leave) {
    ctx.state.setWait('detached');
    ctx.summary.jobState(sid, 'left running');
  } else if (unreachable) ctx.log.warning(`could not stop ${sid}: the dashboard does not answer; the post step tries again`);
  else await stopAndRecord(ctx, client, sid);
  const final = ok
    ? await settledStatus(ctx.clock, client, sid, result.jobStatus)
    : unreachable
      ? (result.jobStatus ?? 'UNKNOWN')
      : ((await client.job(sid).catch(() => null))?.status ?? result.jobStatus ?? 'UNKNOWN');
  core.setOutput(Outputs.JobStatus, final);
  ctx.summary.dispatch(dispatchSection({ runId: m.run_id, attempt: r.attempt, sid, url, dispatched: r.instanceIds.length, status: final, wait: result }));
  const waited: DispatchOutcome = { waited: true, failure: null, dashboardUrl: url, durationSeconds: (ctx.clock.now() - started) / 1000, leftRunning: leave };
  if (leave) {
    const message = `wait-timeout: ${v.reason}; the job ${sid} is left running (on-wait-timeout: leave). Report on it later with \`report-run-id: ${m.run_id}\` (add wait: true to wait for it)`;
    return { ...waited, failure: new Error(message) };
  }
  if (!ok) {
    const label = v.kind === 'finished' ? 'error' : v.kind;
    return { ...waited, failure: new Error(`${label}: ${v.reason}; ${rerunHint(m.run_id)}`) };
  }
  ctx.log.info(`finished: ${v.reason}`);
  return waited;
}

interface DispatchFacts {
  runId: string;
  attempt: number;
  sid: string;
  url: string | null;
  dispatched: number;
  status: JobStatus | string;
  wait: WaitResult | null;
}

/** The dispatch's section: where the job went and how it ended (no table: label and value per line). */
function dispatchSection(f: DispatchFacts): DetailSection {
  const lines = [
    `- run ${code(f.runId)}, attempt ${f.attempt}: ${f.dispatched} instance${f.dispatched === 1 ? '' : 's'} dispatched`,
    `- submission: ${f.url ? `[${code(f.sid)}](${f.url})` : code(f.sid)}`,
    `- Ray job status: ${mdText(f.status)}`,
  ];
  if (f.wait) {
    lines.push(`- rows of this attempt: ${f.wait.rowsDone}/${f.wait.rowsTotal}`);
    // The reason may quote Ray's job message: untrusted text.
    lines.push(`- verdict: ${f.wait.verdict.kind}: ${mdText(f.wait.verdict.reason)}`);
  }
  // The folded line is HTML (<summary>): Ray's status word only, nothing that could be markup.
  const status = String(f.status).replace(/[^A-Za-z0-9_-]/g, '');
  return { line: `Dispatch: ${f.sid}, ${f.dispatched} instance${f.dispatched === 1 ? '' : 's'}, Ray job ${status}`, body: lines.join('\n') };
}

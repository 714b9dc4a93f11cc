// Carrying out a dispatch: the job of one attempt goes to the cluster (or, with cluster
// none, is printed as a `ray job submit` command), then the step may wait on it.
import * as core from '@actions/core';
import { Outputs, State } from './constants.js';
import type { GithubContext } from './github-context.js';
import { markdownTable, writeSummary } from './report.js';
import { describeError } from './retry.js';
import { dashboardUrl, RayJobsClient, TERMINAL, type JobStatus } from './ray/client.js';
import { attemptJob, rayJobSubmitCommand, submitIdempotent, uploadSecrets, type SubmitOutcome } from './ray/dispatch.js';
import { submissionId } from './jobargs.js';
import { isPreconditionFailed, runPaths, type RunStore } from './gcs/store.js';
import { neutralizeCommand } from './cluster/cli.js';
import { waitForAttempt, type WaitResult } from './ray/wait.js';
import type { PhaseClock } from './cluster/phases.js';
import type { SignalTeardown } from './cluster/teardown.js';
import { parseStatus, writeFreshStatus, type RunStatus } from './rows.js';
import type { RunManifest } from './manifest.js';
import type { DispatchSettings } from './settings.js';

export const NOT_DISPATCHED = 'NOT_DISPATCHED';

export function rayClient(d: DispatchSettings, address = d.rayAddress): RayJobsClient {
  return new RayJobsClient({
    address,
    headers: d.rayHeaders,
    tlsVerify: d.tlsVerify,
    onRetry: (what, e, attempt, delay) => core.info(`retry ${attempt} of ${what} in ${delay} ms: ${describeError(e)}`),
  });
}

export interface DispatchRequest {
  settings: DispatchSettings;
  manifest: RunManifest;
  attempt: number;
  instanceIds: readonly string[];
  keys: ReadonlyMap<string, string>;
  github: GithubContext;
  store: RunStore;
  client: RayJobsClient | null;
  /** Per-run cluster: is the head VM still there (domain §12.4)? */
  headAlive?: () => Promise<boolean | null>;
  /** Per-run cluster: a cancel tears the cluster down after the job stop, then exits. */
  signals?: Pick<SignalTeardown, 'hold' | 'exitAfterTeardown'>;
  phases?: PhaseClock;
  /** False when the dashboard is a port forward that dies with the step: no link is published. */
  publicDashboard?: boolean;
}

function rerunHint(runId: string): string {
  return `rerun the unfinished instances with \`rerun-run-id: ${runId}\` (a workflow_dispatch rerun)`;
}

/** A job the step waited on that is still running gets one stop, never two. */
async function stopOnce(client: RayJobsClient, sid: string): Promise<void> {
  const job = await client.job(sid);
  if (job && !TERMINAL.includes(job.status)) {
    const stopped = await client.stop(sid);
    core.info(`asked Ray to stop ${sid}: ${stopped ? 'stopping' : 'it was not running'}`);
  }
}

/** Only a stop that went through (or a job that ended) releases the post step from stopping it. */
async function stopAndRecord(client: RayJobsClient, sid: string): Promise<void> {
  try {
    await stopOnce(client, sid);
    core.saveState(State.WaitStatus, 'done');
  } catch (e) {
    core.warning(`could not stop ${sid}: ${describeError(e)}; the post step tries again`);
  }
}

/**
 * A fresh status.json for this attempt (domain §9), unless the job's own heartbeat got there
 * first: a heartbeat racing the write is a 412, after which the newer content stands.
 */
async function freshStatus(store: RunStore, runId: string, s: RunStatus): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const current = parseStatus(await store.read(runPaths.status(runId)));
    if (typeof current?.attempt === 'number' && current.attempt >= s.attempt) return;
    try {
      await writeFreshStatus(store, runId, s);
      return;
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
    }
  }
}

export interface DispatchOutcome {
  /** True when the step waited for the attempt to end (then a report follows). */
  waited: boolean;
  /** The failure of a wait that ended badly; thrown by the caller after the report. */
  failure: Error | null;
  dashboardUrl: string | null;
  durationSeconds: number | null;
}

const NO_WAIT: DispatchOutcome = { waited: false, failure: null, dashboardUrl: null, durationSeconds: null };

export async function dispatchAttempt(r: DispatchRequest): Promise<DispatchOutcome> {
  const { settings: d, manifest: m } = r;
  const withSecrets = r.keys.size > 0;
  core.setOutput(Outputs.Attempt, String(r.attempt));
  core.setOutput(Outputs.DispatchedInstances, String(r.instanceIds.length));
  if (d.cluster === 'none' || !r.client) {
    const job = attemptJob(d, m, r.attempt, r.instanceIds, withSecrets, r.github, null);
    core.info('cluster: none: nothing is dispatched. The equivalent command (without secrets):');
    core.info(rayJobSubmitCommand(job, d.rayAddress));
    core.setOutput(Outputs.JobStatus, NOT_DISPATCHED);
    core.setOutput(Outputs.SubmissionId, job.submissionId);
    return NO_WAIT;
  }
  const client = r.client;
  const phase = <T>(name: 'submit' | 'wait', fn: () => Promise<T>): Promise<T> => (r.phases ? r.phases.run(name, fn) : fn());
  // The id is known before the POST: saved first, so a step killed mid-submit still leaves the
  // post step something to stop (a GET answers 404 when nothing was created).
  const sid = submissionId(m.run_id, r.attempt);
  core.saveState(State.SubmissionId, sid);
  core.saveState(State.RayAddress, client.address);
  core.saveState(State.WaitStatus, d.wait ? 'waiting' : 'detached');
  const outcome = await phase('submit', async (): Promise<SubmitOutcome> => {
    // A retried step finds its job and uploads no second keys package.
    const earlier = await client.job(sid);
    if (earlier) {
      if (earlier.metadata?.run_id === m.run_id && earlier.metadata?.attempt === String(r.attempt)) return 'existing';
      throw new Error(`a Ray job named ${sid} already exists and is not this run's attempt (its metadata: ${JSON.stringify(earlier.metadata)}). Stop or delete that job, or use another run id.`);
    }
    const packageUri = await uploadSecrets(client, r.keys);
    const j = attemptJob(d, m, r.attempt, r.instanceIds, withSecrets, r.github, packageUri);
    return submitIdempotent(client, j.request, m.run_id, r.attempt);
  });
  core.info(outcome === 'created' ? `submitted ${sid} to ${client.address}` : `${sid} was already submitted by an earlier try of this step: following it`);
  await freshStatus(r.store, m.run_id, { ray_job_id: sid, last_heartbeat_ts: Date.now() / 1000, rows_done: 0, rows_total: r.instanceIds.length, terminal_state: null, attempt: r.attempt });
  const url = r.publicDashboard === false ? null : dashboardUrl(client.address, sid);
  core.setOutput(Outputs.SubmissionId, sid);
  if (url) core.setOutput(Outputs.DashboardUrl, url);
  const status = (await client.job(sid))?.status ?? 'PENDING';
  core.setOutput(Outputs.JobStatus, status);
  if (!d.wait) {
    await writeSummary(dispatchSummary(m.run_id, r.attempt, sid, url, r.instanceIds.length, status, null));
    core.info(`not waiting (wait: false): the job runs on; follow it at ${url}`);
    return { ...NO_WAIT, dashboardUrl: url };
  }
  const waitStarted = Date.now();

  // While waiting, a cancelled workflow (SIGINT, then SIGTERM) stops the job once.
  let stopping: Promise<void> | null = null;
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) return;
    ac.abort();
    core.info(`${sig}: stopping ${sid} before exiting`);
    const stop = stopAndRecord(client, sid);
    stopping = (r.signals ? r.signals.hold(stop) : stop)
      .finally(() => {
        core.setFailed(`bird-cloud-action: cancelled (${sig}) while waiting; ${sid} was asked to stop. Then ${rerunHint(m.run_id)}.`);
        if (r.signals) void r.signals.exitAfterTeardown(1);
        else process.exit(1);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let result: WaitResult;
  try {
    result = await phase('wait', () => waitForAttempt({
      client,
      store: r.store,
      runId: m.run_id,
      attempt: r.attempt,
      submissionId: sid,
      instanceIds: r.instanceIds,
      pollIntervalMs: d.pollIntervalMs,
      waitTimeoutMs: d.waitTimeoutMs,
      noProgressMs: d.noProgressMs,
      signal: ac.signal,
      log: (l) => core.info(l),
      logGroup: (title, text) => {
        core.startGroup(title);
        // The job log is untrusted text (model output): no line of it may be a workflow command.
        core.info(text.replace(/\n$/, '').split('\n').map(neutralizeCommand).join('\n'));
        core.endGroup();
      },
      headAlive: r.headAlive,
    }));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // A signal ended the wait: its handler stops the job and fails the step; nothing more here.
  if (stopping) {
    await stopping;
    return { ...NO_WAIT, dashboardUrl: url };
  }
  const v = result.verdict;
  const ok = v.kind === 'finished' && v.ok;
  if (!ok) await stopAndRecord(client, sid);
  else core.saveState(State.WaitStatus, 'done');
  const final = (await client.job(sid).catch(() => null))?.status ?? result.jobStatus ?? 'UNKNOWN';
  core.setOutput(Outputs.JobStatus, final);
  await writeSummary(dispatchSummary(m.run_id, r.attempt, sid, url, r.instanceIds.length, final, result));
  const waited: DispatchOutcome = { waited: true, failure: null, dashboardUrl: url, durationSeconds: (Date.now() - waitStarted) / 1000 };
  if (!ok) {
    const label = v.kind === 'finished' ? 'error' : v.kind;
    return { ...waited, failure: new Error(`${label}: ${v.reason}; ${rerunHint(m.run_id)}`) };
  }
  core.info(`finished: ${v.reason}`);
  return waited;
}

function dispatchSummary(runId: string, attempt: number, sid: string, url: string | null, n: number, status: JobStatus | string, w: WaitResult | null): string {
  const rows = [
    ['run', `\`${runId}\``],
    ['attempt', String(attempt)],
    ['instances dispatched', String(n)],
    ['submission', url ? `[\`${sid}\`](${url})` : `\`${sid}\``],
    ['Ray job status', status],
  ];
  if (w) {
    rows.push(['rows of this attempt', `${w.rowsDone}/${w.rowsTotal}`]);
    rows.push(['verdict', `${w.verdict.kind}: ${w.verdict.reason}`]);
  }
  return ['### Dispatch', '', markdownTable(['', ''], rows), ''].join('\n');
}

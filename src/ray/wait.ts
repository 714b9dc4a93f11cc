// Waiting on a dispatched attempt (docs/reference/reruns-and-progress.md#verdicts): the verdicts are a pure function of what one
// poll observed; the loop around it does the I/O, prints progress and logs, and stops on cancel.

import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { Clock } from '../common/time.js';
import { parseStatus, rowRefs } from '../gcs/rows.js';
import { type RunStore, runPaths } from '../gcs/store.js';
import type { JobStatus, RayJobsClient } from './client.js';
import { followLog, type LogFollower, shownText, type TakeMoment } from './log-follow.js';

export const STALL_AFTER_MS = 300_000;
/** Polls in a row that may fail (after their own retries) before the wait gives up. */
const MAX_FAILED_POLLS = 5;

export interface Observation {
  now: number;
  jobStatus: JobStatus | null;
  jobMessage: string | null;
  /** From status.json, only when it belongs to this attempt. */
  terminalState: 'done' | 'error' | null;
  heartbeatMs: number | null;
  rowsDone: number;
  rowsTotal: number;
  /** Per-run cluster only: false when the head is gone; null when unknown or not applicable. */
  headAlive: boolean | null;
}

export interface WaitClock {
  startedMs: number;
  /** When the last new row was seen (or the wait started). */
  lastProgressMs: number;
  waitTimeoutMs: number;
  noProgressMs: number;
}

export type Verdict =
  | { kind: 'finished'; ok: boolean; reason: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'stalled' | 'headless' | 'timed-out' | 'wait-timeout'; reason: string }
  /** The dashboard stopped answering (MAX_FAILED_POLLS polls in a row); the reason says where and how many rows are in. */
  | { kind: 'unreachable'; reason: string };

/** Checked in the order of docs/reference/reruns-and-progress.md#verdicts at each poll; null means keep waiting. */
export function decide(observed: Observation, clock: WaitClock): Verdict | null {
  if (observed.terminalState === 'done') return { kind: 'finished', ok: true, reason: 'the run reported terminal_state done' };
  if (observed.terminalState === 'error') return { kind: 'finished', ok: false, reason: 'the run reported terminal_state error' };
  if (observed.rowsTotal > 0 && observed.rowsDone >= observed.rowsTotal)
    return { kind: 'finished', ok: true, reason: `every instance of this attempt has a row (${observed.rowsDone}/${observed.rowsTotal})` };
  if (observed.jobStatus === 'FAILED' || observed.jobStatus === 'STOPPED')
    return { kind: 'failed', reason: `the Ray job is ${observed.jobStatus}: ${observed.jobMessage ?? 'no message'}` };
  if (observed.jobStatus === 'SUCCEEDED')
    return { kind: 'failed', reason: `the Ray job SUCCEEDED but only ${observed.rowsDone}/${observed.rowsTotal} instances have a row for this attempt` };
  if (
    observed.jobStatus === 'RUNNING' &&
    observed.headAlive !== false &&
    observed.heartbeatMs !== null &&
    observed.now - observed.heartbeatMs > STALL_AFTER_MS
  ) {
    return { kind: 'stalled', reason: `job appears stalled: no heartbeat for ${Math.round((observed.now - observed.heartbeatMs) / 1000)} s` };
  }
  if (observed.headAlive === false) return { kind: 'headless', reason: 'head node is gone' };
  if (observed.now - clock.lastProgressMs > clock.noProgressMs) {
    return {
      kind: 'timed-out',
      reason: `no new rows within the no-progress deadline (${Math.round(clock.noProgressMs / 60000)} min); check \`ray status\` on the head (workers may not have scaled up)`,
    };
  }
  if (observed.now - clock.startedMs > clock.waitTimeoutMs)
    return { kind: 'wait-timeout', reason: `still not finished after wait-timeout-minutes (${Math.round(clock.waitTimeoutMs / 60000)} min)` };
  return null;
}

/**
 * A finished run's driver is winding down and a failed job is over: their log streams close soon.
 * After a stall or a timeout the job runs on, and waiting for its stream would only add time.
 */
function takeMoment(verdict: Verdict | null): TakeMoment {
  if (verdict === null) return 'poll';
  return verdict.kind === 'finished' || verdict.kind === 'failed' ? 'end-job-over' : 'end-job-running';
}

export interface WaitOptions {
  /** null when no dashboard is known (a report that waits on the bucket only). */
  client: RayJobsClient | null;
  store: RunStore;
  runId: string;
  attempt: number;
  submissionId: string;
  instanceIds: readonly string[];
  pollIntervalMs: number;
  waitTimeoutMs: number;
  noProgressMs: number;
  signal: AbortSignal;
  log: Log;
  /** Where the deadlines read the time and the polls sleep (systemClock in the action). */
  clock: Clock;
  headAlive?: () => Promise<boolean | null>;
  /** Called after every poll with what it saw (a live PR comment throttles itself); must not throw. */
  onProgress?: (p: WaitProgress) => Promise<void>;
  /** How long the end of the wait lets a busy log stream catch up (END_GRACE_MS in the action). */
  logEndGraceMs?: number;
}

/** What one poll saw, for onProgress. */
interface WaitProgress {
  rowsDone: number;
  rowsTotal: number;
  jobStatus: JobStatus | null;
}

export interface WaitResult {
  verdict: Verdict | { kind: 'cancelled'; reason: string };
  jobStatus: JobStatus | null;
  rowsDone: number;
  rowsTotal: number;
}

/** A poll that failed at the dashboard (not at the bucket): after MAX_FAILED_POLLS of them, the unreachable verdict. */
class DashboardError extends Error {
  constructor(failure: unknown) {
    super(errorMessage(failure));
    this.name = 'DashboardError';
  }
}

/** The unreachable verdict's reason: where, what failed, and how far the attempt got. */
export function unreachableReason(address: string, failure: string, rowsDone: number, rowsTotal: number, attempt: number): string {
  return `the Ray dashboard at ${address} stopped answering (${failure}); ${rowsDone}/${rowsTotal} instances have a row for attempt ${attempt}`;
}

export async function waitForAttempt(options: WaitOptions): Promise<WaitResult> {
  const follower = options.client
    ? followLog(options.client, options.submissionId, options.clock, (line) => options.log.info(line), options.logEndGraceMs)
    : null;
  try {
    return await waitWith(options, follower);
  } finally {
    follower?.close();
  }
}

async function waitWith(options: WaitOptions, follower: LogFollower | null): Promise<WaitResult> {
  const wanted = new Set(options.instanceIds);
  const started = options.clock.now();
  const deadlines: WaitClock = { startedMs: started, lastProgressMs: started, waitTimeoutMs: options.waitTimeoutMs, noProgressMs: options.noProgressMs };
  let lastLine = '';
  let rowsDone = 0;
  let jobStatus: JobStatus | null = null;
  let failedPolls = 0;
  for (;;) {
    if (options.signal.aborted) return { verdict: { kind: 'cancelled', reason: 'the workflow was cancelled' }, jobStatus, rowsDone, rowsTotal: wanted.size };
    let verdict: Verdict | null;
    try {
      verdict = await poll();
      failedPolls = 0;
      options.client?.policy.budget.refill();
      options.store.policy.budget.refill();
    } catch (e) {
      // A per-run cluster whose head is gone takes its forwarded dashboard with it: ask GCE.
      const alive = options.headAlive ? await options.headAlive().catch(() => null) : null;
      if (alive === false)
        return {
          verdict: { kind: 'headless', reason: `head node is gone (the dashboard answers no more: ${errorMessage(e)})` },
          jobStatus,
          rowsDone,
          rowsTotal: wanted.size,
        };
      if (++failedPolls >= MAX_FAILED_POLLS) {
        if (!(e instanceof DashboardError) || !options.client) throw e;
        // The bucket may still answer: the count of rows in is worth one more listing.
        rowsDone = await countRows().catch(() => rowsDone);
        const reason = unreachableReason(options.client.address, e.message, rowsDone, wanted.size, options.attempt);
        return { verdict: { kind: 'unreachable', reason }, jobStatus, rowsDone, rowsTotal: wanted.size };
      }
      options.log.info(`poll failed (${failedPolls} of ${MAX_FAILED_POLLS} in a row allowed): ${errorMessage(e)}`);
      verdict = null;
    }
    if (verdict) return { verdict, jobStatus, rowsDone, rowsTotal: wanted.size };
    await options.clock.sleep(options.pollIntervalMs, options.signal);
  }

  async function printNewLogs(moment: TakeMoment): Promise<void> {
    const news = await follower?.take(moment);
    if (news) await options.log.group(`job log (+${news.total} characters)`, async () => options.log.untrusted(shownText(news)));
  }

  /** Instances of this attempt with a row: one listing of the rows prefix. */
  async function countRows(): Promise<number> {
    const refs = rowRefs((await options.store.list(runPaths.rowsPrefix(options.runId))).keys());
    let done = 0;
    for (const [iid, list] of refs) if (wanted.has(iid) && list.some((r) => r.attempt === options.attempt)) done++;
    return done;
  }

  async function poll(): Promise<Verdict | null> {
    const job = options.client
      ? await options.client.job(options.submissionId).catch((e: unknown) => {
          throw new DashboardError(e);
        })
      : null;
    jobStatus = job?.status ?? null;
    const done = await countRows();
    if (done > rowsDone) deadlines.lastProgressMs = options.clock.now();
    rowsDone = done;
    const status = parseStatus(await options.store.read(runPaths.status(options.runId)));
    const ours = status !== null && status.attempt === options.attempt;
    const hb = ours && typeof status.last_heartbeat_ts === 'number' ? status.last_heartbeat_ts * 1000 : null;
    const headAlive = options.headAlive ? await options.headAlive().catch(() => null) : null;

    const line = `progress: ${rowsDone}/${wanted.size} instances have a row for attempt ${options.attempt}; Ray job ${jobStatus ?? 'unknown'}`;
    if (line !== lastLine) options.log.info(line);
    lastLine = line;

    await options.onProgress?.({ rowsDone, rowsTotal: wanted.size, jobStatus });

    const verdict = decide(
      {
        now: options.clock.now(),
        jobStatus,
        jobMessage: job?.message ?? null,
        terminalState: ours ? (status.terminal_state ?? null) : null,
        heartbeatMs: hb,
        rowsDone,
        rowsTotal: wanted.size,
        headAlive,
      },
      deadlines,
    );
    await printNewLogs(takeMoment(verdict));
    return verdict;
  }
}

// The live PR comment of a step that waits: posted as soon as the job is dispatched, then updated
// in place at most every LIVE_UPDATE_MS while the step waits (done/total, the rates so far, the
// elapsed time, links to the workflow run and the Ray job). The final report finds the same
// comment by the same marker and replaces it with the results (report.ts).
import { type Cancellation, CleanupOrder } from '../common/cancel.js';
import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { type Clock, formatDuration } from '../common/time.js';
import type { Figures } from './aggregate.js';
import type { CommentOutcome } from './comment.js';
import { code, comboLines, type RunHeader } from './render.js';

/** At most one update of the live comment per this long (the first comes at dispatch). */
export const LIVE_UPDATE_MS = 5 * 60_000;

/** What the wait saw at its last poll. */
export interface LiveProgress {
  rowsDone: number;
  rowsTotal: number;
  jobStatus: string | null;
}

export interface LiveCommentOptions {
  clock: Clock;
  /** The hidden marker of the run's comment (render.ts commentMarker of commentKey). */
  marker: string;
  runId: string;
  attempt: number;
  manifest: RunHeader['manifest'];
  workflowRunUrl: string | null;
  /** Creates or updates the comment with this body (comment.ts upsertComment); never throws. */
  post: (body: string) => Promise<CommentOutcome>;
  /** The figures of the run's rows so far; a failure leaves the rates out of that update. */
  figures?: () => Promise<Figures>;
  log: Log;
  minIntervalMs?: number;
  /** What the elapsed time counts from (default: the dispatch). */
  since?: string;
}

export interface LiveCommentBody {
  marker: string;
  runId: string;
  attempt: number;
  manifest: RunHeader['manifest'];
  progress: LiveProgress;
  /** Since the dispatch. */
  elapsedMs: number;
  figures: Figures | null;
  dashboardUrl: string | null;
  workflowRunUrl: string | null;
  minIntervalMs: number;
  /** What the elapsed time counts from (default: the dispatch). */
  since?: string;
  /** The step was cancelled: why, and what became of the job (markdown); the title says so. */
  cancelled?: string;
}

function rate(passed: number, of: number): string {
  return `${((passed / of) * 100).toFixed(1)}% (${passed}/${of})`;
}

/** Pure: the body of the live comment. */
export function renderLiveComment(b: LiveCommentBody): string {
  const f = b.figures;
  const finished = f ? f.n - f.missing : 0;
  const status = b.progress.jobStatus ? `Ray job ${code(b.progress.jobStatus)}` : 'Ray job status unknown';
  const links = [...(b.workflowRunUrl ? [`[workflow run](${b.workflowRunUrl})`] : []), ...(b.dashboardUrl ? [`[Ray job](${b.dashboardUrl})`] : [])];
  return [
    b.marker,
    b.cancelled === undefined ? `### ⏳ BIRD-Interact run ${code(b.runId)}: in progress` : `### ⏹ BIRD-Interact run ${code(b.runId)}: cancelled`,
    '',
    ...(b.cancelled === undefined ? [] : [b.cancelled, '']),
    `**${b.progress.rowsDone}/${b.progress.rowsTotal} instances done** (attempt ${b.attempt}) · ${status} · ${formatDuration(b.elapsedMs)} since ${b.since ?? 'the dispatch'}`,
    '',
    ...(f && finished > 0
      ? [`- so far, of ${finished} with a row: phase-1 ${rate(f.phase1_passed, finished)}, phase-2 ${rate(f.phase2_passed, finished)}, errors ${f.errors}`]
      : []),
    ...comboLines(b.manifest),
    '',
    `<sub>${links.length > 0 ? `${links.join(' · ')} · ` : ''}${b.cancelled === undefined ? `updated at most every ${Math.max(1, Math.round(b.minIntervalMs / 60_000))} min while the step waits; the results replace this comment` : 'as it stood when the step was cancelled'}</sub>`,
    '',
  ].join('\n');
}

/**
 * The throttle around the comment: `dispatched` posts at once; `progress` (after every poll)
 * updates only when LIVE_UPDATE_MS have passed since the last post. A post that fails ends the
 * live updates (its warning was logged once); the final report tries again.
 */
export class LiveComment {
  private readonly minIntervalMs: number;
  private started: number | null = null;
  private last: number | null = null;
  private dashboardUrl: string | null = null;
  private stopped = false;
  private lastProgress: LiveProgress | null = null;

  constructor(private readonly o: LiveCommentOptions) {
    this.minIntervalMs = o.minIntervalMs ?? LIVE_UPDATE_MS;
  }

  /** The job is dispatched (or a report begins to wait on a run): the comment appears now. */
  async dispatched(p: LiveProgress, dashboardUrl: string | null): Promise<void> {
    this.started = this.o.clock.now();
    this.dashboardUrl = dashboardUrl;
    await this.update(p);
  }

  /** A poll of the wait: an update when the last one is LIVE_UPDATE_MS old. */
  async progress(p: LiveProgress): Promise<void> {
    if (this.started === null || this.last === null || this.stopped) return;
    if (this.o.clock.now() - this.last < this.minIntervalMs) return;
    await this.update(p);
  }

  /** The step was cancelled (its cleanup path): the comment says so at once, with the last progress. */
  async cancelled(note: string): Promise<void> {
    if (this.started === null || this.lastProgress === null) return;
    await this.update(this.lastProgress, note);
    this.stopped = true;
  }

  private async update(p: LiveProgress, cancelled?: string): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    this.last = now;
    this.lastProgress = p;
    let figures: Figures | null = null;
    if (this.o.figures && p.rowsDone > 0) {
      try {
        figures = await this.o.figures();
      } catch (e) {
        this.o.log.info(`live comment: no rates this time, the rows could not be read: ${errorMessage(e)}`);
      }
    }
    const body = renderLiveComment({
      marker: this.o.marker,
      runId: this.o.runId,
      attempt: this.o.attempt,
      manifest: this.o.manifest,
      progress: p,
      elapsedMs: now - (this.started ?? now),
      figures,
      dashboardUrl: this.dashboardUrl,
      workflowRunUrl: this.o.workflowRunUrl,
      minIntervalMs: this.minIntervalMs,
      since: this.o.since,
      cancelled,
    });
    const outcome = await this.o.post(body);
    if (outcome.kind === 'failed') {
      this.stopped = true;
      this.o.log.info('live comment: no more progress updates after that failure; the report tries once more');
    }
  }
}

/**
 * On cancel the live comment says so, after the job's stop (its cleanup order), instead of "in
 * progress" for good. Returns what takes that step back once the wait is over.
 */
export function markCancelledOnCancel(cancel: Cancellation, live: LiveComment | null | undefined, message: (signal: string) => string): () => void {
  if (!live) return () => undefined;
  return cancel.add({
    order: CleanupOrder.Comment,
    name: 'mark the PR comment cancelled',
    timeoutMs: 20_000,
    run: async (signal) => {
      await live.cancelled(message(signal));
      return undefined;
    },
  });
}

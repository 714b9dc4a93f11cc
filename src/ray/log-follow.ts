// Following a job's driver log during a wait, with traffic that grows linearly with the log
// (docs/reference/ray-jobs.md#following-the-log-during-a-wait): the WebSocket tail streams it
// once; a tail that drops is reopened a few times (the stream restarts at the top, and what was
// already seen is skipped); where the tail cannot be had, the whole log is fetched on a doubling
// schedule and only its new part is printed. At the end of a wait on a job that is over, the
// stream gets a moment to end; a stream that does not end is completed by one full fetch. A quiet
// stream is no proof that it has caught up: Ray's tail idles about 2 s at the end of the file
// (docs/reference/ray-jobs.md#p16-a-quiet-tail-has-not-caught-up).

import { errorMessage } from '../common/errors.js';
import type { Clock } from '../common/time.js';
import type { LogTail, RayJobsClient, TailEnd } from './client.js';

/** What one poll prints of the job log at most; more is counted and left out, never kept in memory. */
const LOG_CHUNK_MAX = 64 * 1024;
/** Reopens of a tail that dropped before the follower falls back to rare full fetches. */
const MAX_TAIL_REOPENS = 3;
/** The longest the end of a wait waits for the stream to end before fetching the rest. */
const END_GRACE_MS = 10_000;
const END_STEP_MS = 250;

/** The new log text of one poll: `total` characters arrived, `text` is their last LOG_CHUNK_MAX at most. */
export interface LogNews {
  total: number;
  text: string;
}

/** Text that arrived since the last take, keeping only the last `max` characters (bounded memory). */
export class LogBuffer {
  private parts: string[] = [];
  private kept = 0;
  private total = 0;

  constructor(private readonly max = LOG_CHUNK_MAX) {}

  push(text: string): void {
    if (!text) return;
    this.parts.push(text);
    this.kept += text.length;
    this.total += text.length;
    if (this.kept > 2 * this.max) {
      const tail = this.parts.join('').slice(-this.max);
      this.parts = [tail];
      this.kept = tail.length;
    }
  }

  take(): LogNews | null {
    if (this.total === 0) return null;
    const text = this.parts.join('').slice(-this.max);
    const news = { total: this.total, text };
    this.parts = [];
    this.kept = 0;
    this.total = 0;
    return news;
  }
}

/** How a poll's news is printed: the whole of it, or its end after a note of what was left out. */
export function shownText(news: LogNews): string {
  const left = news.total - news.text.length;
  return left > 0 ? `… ${left} characters left out …\n${news.text}` : news.text;
}

/**
 * A reopened tail repeats the log from its first line: `replay` characters of it were seen
 * already. Returns the new part of `frame` and what is left to skip.
 */
export function skipReplayed(frame: string, replay: number): { fresh: string; replay: number } {
  if (replay <= 0) return { fresh: frame, replay: 0 };
  if (frame.length <= replay) return { fresh: '', replay: replay - frame.length };
  return { fresh: frame.slice(replay), replay: 0 };
}

/** The fallback's schedule: the whole log is fetched at the 1st, 2nd, 4th, 8th, … poll (and at the end). */
export function isFetchPoll(poll: number): boolean {
  return poll > 0 && (poll & (poll - 1)) === 0;
}

/**
 * When the wait takes the log: at a poll that goes on, or at its end, with the job over (its
 * stream closes within seconds) or with the job still running (the stream will not close).
 */
export type TakeMoment = 'poll' | 'end-job-over' | 'end-job-running';

export interface LogFollower {
  /** The log that arrived since the last call, or null. */
  take(moment: TakeMoment): Promise<LogNews | null>;
  /** How the log is followed now, for the step log. */
  readonly mode: 'tail' | 'fetch';
  close(): void;
}

/**
 * Follows the log of `submissionId`. `note` receives a line when the way of following changes or
 * a fetch fails (logs vanish with their node: the status still speaks). `endGraceMs` replaces
 * END_GRACE_MS (a test on a job that never ends waits less than the action does).
 */
export function followLog(client: RayJobsClient, submissionId: string, clock: Clock, note: (line: string) => void, endGraceMs = END_GRACE_MS): LogFollower {
  const buffer = new LogBuffer();
  /** Characters of the log received so far (the stream's position). */
  let seen = 0;
  let replay = 0;
  let reopens = 0;
  let polls = 0;
  let mode: 'tail' | 'fetch' = 'tail';
  let tail: LogTail | null = null;
  let end = null as TailEnd | null;

  const open = (): void => {
    end = null;
    tail = client.tailLogs(submissionId, {
      text: (frame) => {
        const r = skipReplayed(frame, replay);
        replay = r.replay;
        seen += r.fresh.length;
        buffer.push(r.fresh);
      },
      closed: (e) => {
        end = e;
        tail = null;
      },
    });
  };

  /** The whole log, keeping only what the stream has not delivered. */
  const fetchRest = async (): Promise<void> => {
    try {
      const logs = await client.logs(submissionId);
      // A shorter log is another file (a job record made anew): print it from its start.
      if (logs.length < seen) seen = 0;
      buffer.push(logs.slice(seen));
      seen = logs.length;
    } catch (e) {
      note(`job log unavailable: ${errorMessage(e)}`);
    }
  };

  /**
   * At the end of a wait: true when the stream ended normally within the grace. Ray closes it only
   * after one more read to the end of the file once the job is terminal, so nothing is left unread.
   */
  const streamEnded = async (): Promise<boolean> => {
    const deadline = clock.now() + endGraceMs;
    while (end === null && clock.now() < deadline) await clock.sleep(END_STEP_MS);
    return end?.kind === 'ended';
  };

  open();
  return {
    get mode() {
      return mode;
    },
    async take(moment) {
      const last = moment !== 'poll';
      const ended: TailEnd | null = end;
      if (mode === 'tail' && ended && ended.kind !== 'ended') {
        if (ended.kind === 'refused' || reopens >= MAX_TAIL_REOPENS) {
          mode = 'fetch';
          note(`job log: the WebSocket tail is not available (${ended.reason}); fetching the whole log now and then instead`);
        } else if (!last) {
          reopens++;
          replay = seen;
          open();
        }
      }
      if (mode === 'fetch') {
        polls++;
        if (last || isFetchPoll(polls)) await fetchRest();
      } else if (last && (moment === 'end-job-running' || !(await streamEnded()))) {
        // The stream has not ended (the driver still runs, or the stream broke): what it has not
        // brought yet. The tail is closed first, so no frame the fetch already covers arrives after it.
        tail?.close();
        tail = null;
        await fetchRest();
      }
      return buffer.take();
    },
    close() {
      tail?.close();
      tail = null;
    },
  };
}

// The job log during a wait, on a real Ray 2.60 head (tests/setup/ray-global-setup.ts) through the
// log tail WebSocket: printed once, in order, without repeats, every line kept from acting as a
// workflow command, and the dashboard traffic under 3× the final log (a proxy counts it). The same
// waits run on the double in tests/integration/wait-log.test.ts.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { BURSTS, GROWING, recordingLog, reportedChars, waitOnJob } from '../helpers/wait-log.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the job log during a wait (real Ray 2.60.0)', () => {
  it('prints the log once, in order, without repeats; no line acts as a workflow command', async () => {
    const { log, texts, recording } = recordingLog();
    const r = await waitOnJob(inject('rayUrl'), BURSTS, recording, cleanups);
    expect(r.result.verdict.reason).toBe('the Ray job SUCCEEDED but only 0/1 instances have a row for this attempt');
    // Ray writes its "Running entrypoint" line into the same file while the job starts, so only the
    // job's own lines are in a known order.
    expect(r.finalLog).toContain('partial-');
    expect(r.finalLog).toContain('::warning::line-600 ');
    expect(texts.join('')).toBe(r.finalLog);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    expect(log.lines.filter((l) => l.startsWith('| ::warning::line-'))).toHaveLength(600);
    expect(log.lines.filter((l) => l.startsWith('::'))).toEqual([]);
    // Followed through the tail: no fallback note.
    expect(log.lines.filter((l) => l.startsWith('job log: '))).toEqual([]);
  });

  it('fetches less than 3× the final log from the dashboard while the log grows to about 3 MB', async () => {
    const { log, recording } = recordingLog();
    const r = await waitOnJob(inject('rayUrl'), GROWING, recording, cleanups);
    expect(r.finalLog.length).toBeGreaterThan(3_000_000);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    expect(r.logBytes).toBeLessThan(3 * r.finalLog.length);
  });
});

// The job log during a wait, on the Ray double over real HTTP and WebSocket: printed once, in
// order, without repeats (through a tail that drops and is reopened, and through the fallback when
// no WebSocket is had), with dashboard traffic bounded by the log's size (a proxy counts the bytes
// the double serves); and a dashboard that stops answering mid-wait ends it with the address, the
// rows in and the rerun to finish the run.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import { type RaySim, startRaySim } from '../../tools/ray-sim/server.mjs';
import { virtualClock } from '../helpers/clock.js';
import { stepFiles } from '../helpers/step-files.js';
import { BURSTS, GROWING, recordingLog, reportedChars, waitOnJob } from '../helpers/wait-log.js';
import { waitedAttempt } from '../helpers/waited-attempt.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A double with exact logs (no supervisor lines) whose tail reads the file often. */
async function exactSim(): Promise<RaySim> {
  const sim = await startRaySim({ pendingDelayMs: 20, supervisorLogLines: false, tailPollMs: 50 });
  cleanups.push(() => sim.close());
  return sim;
}

const tails = (sim: RaySim, sid: string) => sim.requests.filter((q) => q.path === `/api/jobs/${sid}/logs/tail` && q.outcome === 'websocket');

describe('the job log during a wait (Ray double)', () => {
  it('prints the log once, in order, without repeats, through a tail that drops mid-stream and is reopened', async () => {
    const sim = await exactSim();
    let dropped = false;
    const { log, texts, recording } = recordingLog((n) => {
      if (n === 2 && !dropped) {
        dropped = true;
        sim.control.dropTails();
      }
    });
    const r = await waitOnJob(sim.url, BURSTS, recording, cleanups);
    expect(r.result.verdict.reason).toBe('the Ray job SUCCEEDED but only 0/1 instances have a row for this attempt');
    expect(dropped).toBe(true);
    expect(r.finalLog).toContain('::warning::line-600 ');
    expect(texts.join('')).toBe(r.finalLog);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    // Two tails: the first, cut; the reopened one, whose replay was skipped.
    expect(tails(sim, r.sid)).toHaveLength(2);
    // Job log lines never act as workflow commands: each is shown behind a visible prefix.
    expect(log.lines).toContain('| ::warning::line-1 not-a-command 0000000000000000000000000000000000000001');
    expect(log.lines.filter((l) => l.startsWith('| ::warning::line-'))).toHaveLength(600);
    expect(log.lines.filter((l) => l.startsWith('::'))).toEqual([]);
  });

  it('prints the lines a job writes just before it exits, though the tail idles at the end of the file as Ray does', async () => {
    // Ray's tail pauses about 2 s after a read that found the end of the file (1 s in its reader, 1 s
    // in the job manager), longer on a busy head: 3 s here. The tail reaches the end while the job
    // sleeps, the job then writes 50 lines and exits, and the wait sees SUCCEEDED within a poll,
    // more than 1.5 s before the tail reads again: a silent stream has not caught up.
    const sim = await startRaySim({ pendingDelayMs: 20, supervisorLogLines: false, tailPollMs: 50, tailIdleMs: 3_000 });
    cleanups.push(() => sim.close());
    const { log, texts, recording } = recordingLog();
    const r = await waitOnJob(sim.url, `echo first; sleep 0.5; i=1; while [ $i -le 50 ]; do echo "last-$i"; i=$((i+1)); done`, recording, cleanups);
    expect(r.finalLog).toContain('last-50\n');
    expect(texts.join('')).toBe(r.finalLog);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    // The stream ended, so it brought all of it: no full fetch.
    expect(r.fullFetches).toBe(0);
  });

  it('falls back to fetching the whole log now and then where the tail is refused, and still prints it once, in order', async () => {
    const sim = await exactSim();
    sim.control.failNext({ status: 502, count: 1, match: (method, path) => method === 'GET' && path.endsWith('/logs/tail') });
    const { log, texts, recording } = recordingLog();
    const r = await waitOnJob(sim.url, BURSTS, recording, cleanups);
    expect(texts.join('')).toBe(r.finalLog);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    expect(tails(sim, r.sid)).toHaveLength(0);
    expect(log.lines.some((l) => /^job log: the WebSocket tail is not available \(GET .*\/logs\/tail answered 502 instead of a WebSocket\)/.test(l))).toBe(
      true,
    );
  });

  it('needs no full fetch when the stream ended; one at once, printing only what the stream had not brought, when the wait times out on a job that still writes', async () => {
    const sim = await exactSim();
    // A job that never stops writing, and a wait that times out after 1.5 s. Its stream cannot end
    // while the job runs, so the follower does not wait for it: the end's grace here is 10 min, and
    // waiting it out would time the test out. The two waits are on two jobs of their own, at the
    // same time.
    const { log, texts, recording } = recordingLog();
    const [ended, busy] = await Promise.all([
      waitOnJob(sim.url, BURSTS, recordingLog().recording, cleanups),
      waitOnJob(sim.url, 'i=1; while true; do echo "busy-$i"; i=$((i+1)); sleep 0.05; done', recording, cleanups, 1_500, 600_000),
    ]);
    expect(ended.fullFetches).toBe(0);
    expect(busy.result.verdict.kind).toBe('wait-timeout');
    expect(busy.fullFetches).toBe(1);
    const printed = texts.join('');
    expect(printed.length).toBeGreaterThan(0);
    expect(busy.finalLog.startsWith(printed)).toBe(true);
    expect(reportedChars(log.lines)).toBe(printed.length);
    expect(printed.match(/^busy-\d+$/gm)).toEqual(Array.from({ length: printed.split('\n').length - 1 }, (_, k) => `busy-${k + 1}`));
  });

  it('fetches what a stream that does not close within the grace has not brought, once the job is over', async () => {
    // The double's tail pauses 60 s after the end of the file: the job is over long before its
    // stream would close. After the grace (1 s here, 10 s in the action) one GET …/logs completes it.
    const sim = await startRaySim({ pendingDelayMs: 20, supervisorLogLines: false, tailPollMs: 50, tailIdleMs: 60_000 });
    cleanups.push(() => sim.close());
    const { log, texts, recording } = recordingLog();
    const r = await waitOnJob(sim.url, BURSTS, recording, cleanups, 120_000, 1_000);
    expect(r.result.verdict.kind).toBe('failed');
    expect(r.fullFetches).toBe(1);
    expect(texts.join('')).toBe(r.finalLog);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    expect(log.lines.filter((l) => l.startsWith('| ::warning::line-'))).toHaveLength(600);
  });

  it('fetches less than 3× the final log from the dashboard while the log grows to about 3 MB', async () => {
    // A fetch of the whole log at every poll would be about 15× the log here.
    const sim = await exactSim();
    const { log, recording } = recordingLog();
    const r = await waitOnJob(sim.url, GROWING, recording, cleanups);
    expect(r.finalLog.length).toBeGreaterThan(3_000_000);
    expect(reportedChars(log.lines)).toBe(r.finalLog.length);
    expect(r.logBytes).toBeGreaterThanOrEqual(r.finalLog.length);
    expect(r.logBytes).toBeLessThan(3 * r.finalLog.length);
  });
});

describe('a dashboard that stops answering during a wait', () => {
  const files = stepFiles('wait-unreachable');

  it('ends the wait with the address, the rows in and the rerun that finishes the run; no stop is tried on it', async () => {
    // The head is killed once the first row is in: the polls after it fail, with their retries, in virtual time.
    let killed = false;
    const log = memoryLog();
    const { outcome, sim, sid, manifest, saved } = await waitedAttempt({
      files,
      cleanups,
      outcomes: { db_a_1: 'pass', db_b_1: 'hang' },
      clock: virtualClock({ realMs: 50 }),
      log: (sim) => ({
        ...log,
        info: (line) => {
          log.info(line);
          if (!killed && line.startsWith('progress: 1/2')) {
            killed = true;
            void sim.close();
          }
        },
      }),
    });
    expect(killed).toBe(true);
    const message = outcome.failure?.message ?? '';
    expect(message.startsWith(`unreachable: the Ray dashboard at ${sim.url} stopped answering (GET api/jobs/${sid} failed after 6 attempts: `)).toBe(true);
    expect(message).toMatch(/ECONNREFUSED/);
    expect(message).toContain(`); 1/2 instances have a row for attempt 1; rerun the unfinished instances with \`rerun-run-id: ${manifest.run_id}\``);
    expect(log.warnings).toContain(`could not stop ${sid}: the dashboard does not answer; the post step tries again`);
    // The post step still has the job to stop.
    expect(saved.get('wait-status')).toBe('waiting');
  });
});

import { describe, expect, it } from 'vitest';
import { decide, type Observation, STALL_AFTER_MS, type WaitClock } from '../../src/ray/wait.js';

const clock: WaitClock = { startedMs: 0, lastProgressMs: 0, waitTimeoutMs: 6 * 3600_000, noProgressMs: 3600_000 };
const obs = (o: Partial<Observation>): Observation => ({
  now: 1000,
  jobStatus: 'RUNNING',
  jobMessage: null,
  terminalState: null,
  heartbeatMs: 900,
  rowsDone: 1,
  rowsTotal: 4,
  headAlive: null,
  ...o,
});

describe('wait verdicts (docs/reference/reruns-and-progress.md#verdicts), in order', () => {
  it('keeps waiting while a running job makes progress', () => {
    expect(decide(obs({}), clock)).toBeNull();
  });

  it('finishes on terminal_state done, fails on error, and on every row present', () => {
    expect(decide(obs({ terminalState: 'done' }), clock)).toMatchObject({ kind: 'finished', ok: true });
    expect(decide(obs({ terminalState: 'error' }), clock)).toMatchObject({ kind: 'finished', ok: false });
    expect(decide(obs({ rowsDone: 4 }), clock)).toMatchObject({ kind: 'finished', ok: true });
  });

  it('finished wins over a stale heartbeat (rule 1 before rule 2)', () => {
    expect(decide(obs({ rowsDone: 4, now: STALL_AFTER_MS + 5000, heartbeatMs: 1 }), clock)).toMatchObject({ kind: 'finished' });
  });

  it("fails with Ray's message on FAILED and STOPPED, and on a SUCCEEDED job with missing rows", () => {
    expect(decide(obs({ jobStatus: 'FAILED', jobMessage: 'Job entrypoint command failed with exit code 1' }), clock)).toEqual({
      kind: 'failed',
      reason: 'the Ray job is FAILED: Job entrypoint command failed with exit code 1',
    });
    expect(decide(obs({ jobStatus: 'STOPPED', jobMessage: 'Job was intentionally stopped.' }), clock)?.kind).toBe('failed');
    expect(decide(obs({ jobStatus: 'SUCCEEDED' }), clock)?.reason).toBe('the Ray job SUCCEEDED but only 1/4 instances have a row for this attempt');
  });

  it('calls a running job with a heartbeat older than 300 s stalled', () => {
    expect(decide(obs({ now: 1000 + STALL_AFTER_MS + 1, heartbeatMs: 1000 }), clock)).toMatchObject({
      kind: 'stalled',
      reason: 'job appears stalled: no heartbeat for 300 s',
    });
    expect(decide(obs({ now: 1000 + STALL_AFTER_MS, heartbeatMs: 1000 }), clock)).toBeNull();
    // A PENDING job (runtime_env setup) is not stalled.
    expect(decide(obs({ jobStatus: 'PENDING', now: 1000 + STALL_AFTER_MS + 1, heartbeatMs: 1000 }), clock)).toBeNull();
  });

  it('calls a gone head headless, and only when the head is known to be gone', () => {
    expect(decide(obs({ headAlive: false }), clock)).toMatchObject({ kind: 'headless' });
    expect(decide(obs({ headAlive: null }), clock)).toBeNull();
  });

  it('times out on no new row within the no-progress deadline, then on the overall limit', () => {
    expect(decide(obs({ now: 3600_001, heartbeatMs: 3600_000 }), clock)).toMatchObject({
      kind: 'timed-out',
      reason: 'no new rows within the no-progress deadline (60 min); check `ray status` on the head (workers may not have scaled up)',
    });
    expect(decide(obs({ now: 6 * 3600_000 + 1, heartbeatMs: 6 * 3600_000 }), { ...clock, lastProgressMs: 6 * 3600_000 - 10 })).toMatchObject({
      kind: 'wait-timeout',
    });
  });
});

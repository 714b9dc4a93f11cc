// on-wait-timeout, in-process (the overall wait limit is minutes as an input; here the parsed
// settings get a short one): with leave, a wait that times out leaves the job running and tells how
// to report later; with stop, it is stopped once.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import { systemClock } from '../../src/common/time.js';
import { stepFiles } from '../helpers/step-files.js';
import { waitedAttempt } from '../helpers/waited-attempt.js';

const files = stepFiles('wait-leave');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function timedOutWait(onWaitTimeout: 'stop' | 'leave') {
  const r = await waitedAttempt({
    files,
    cleanups,
    outcomes: { db_a_1: 'hang' },
    inputs: { 'on-wait-timeout': onWaitTimeout },
    clock: systemClock,
    log: () => memoryLog(),
    tune: (d) => ({ ...d, waitTimeoutMs: 1_500, pollIntervalMs: 200 }),
  });
  return { ...r, stops: r.sim.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/stop')) };
}

describe('on-wait-timeout', () => {
  it('leave: the job runs on, the post step is told not to stop it, and the failure names report-run-id', async () => {
    const { outcome, sim, sid, saved, stops } = await timedOutWait('leave');
    expect(stops).toEqual([]);
    expect(sim.jobs.get(sid)?.status).toBe('RUNNING');
    expect(saved.get('wait-status')).toBe('detached');
    expect(outcome.leftRunning).toBe(true);
    expect(outcome.failure?.message).toMatch(
      /^wait-timeout: .*left running \(on-wait-timeout: leave\)\. Report on it later with `report-run-id: 20261125t0907-pydanticai-raw-a1b2c3`/,
    );
  });

  it('stop: the job is stopped once', async () => {
    const { outcome, stops, saved } = await timedOutWait('stop');
    expect(stops).toHaveLength(1);
    expect(saved.get('wait-status')).toBe('done');
    expect(outcome.leftRunning).toBe(false);
    expect(outcome.failure?.message).toMatch(/^wait-timeout: /);
  });
});

// The headless verdict when the head VM is gone: its forwarded dashboard stops answering, and
// GCE no longer lists the head; the wait must say "headless", not fail on a connection error.

import { describe, expect, it } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import { systemClock } from '../../src/common/time.js';
import { RunStore } from '../../src/gcs/store.js';
import { RayJobsClient } from '../../src/ray/client.js';
import { waitForAttempt } from '../../src/ray/wait.js';
import { createBucket, uniqueBucketName } from '../helpers/gcs.js';

/** A wait on a dashboard that is gone (nothing listens on port 9), with a given head probe. */
async function waitOnDeadDashboard(runId: string, headAlive: () => Promise<boolean | null>) {
  const bucket = uniqueBucketName('headless');
  await createBucket(bucket);
  return waitForAttempt({
    client: new RayJobsClient({ address: 'http://127.0.0.1:9', policy: { attempts: 1 } }),
    store: new RunStore(bucket, 'demo-test'),
    runId,
    attempt: 1,
    submissionId: `bird-${runId}-a1`,
    instanceIds: ['a_1'],
    pollIntervalMs: 10,
    waitTimeoutMs: 60_000,
    noProgressMs: 60_000,
    signal: new AbortController().signal,
    log: memoryLog(),
    clock: systemClock,
    headAlive,
  });
}

describe('waitForAttempt on a per-run cluster', () => {
  it('returns headless when the dashboard is gone and GCE lists no running head', async () => {
    const probes: string[] = [];
    const result = await waitOnDeadDashboard('r-headless', async () => {
      probes.push('probe');
      return false;
    });
    expect(result.verdict.kind).toBe('headless');
    expect(result.verdict.reason).toMatch(/^head node is gone \(the dashboard answers no more: /);
    expect(probes).toEqual(['probe']);
  });

  it('keeps the connection error when GCE cannot tell (gcloud failing is never headless)', async () => {
    const run = waitOnDeadDashboard('r-unknown', async () => null);
    await expect(run).rejects.toThrow(/ECONNREFUSED|connect/);
  });
});

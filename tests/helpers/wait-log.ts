// A wait on one job as the action waits (src/ray/wait.ts), through a fault proxy that counts the
// bytes the dashboard serves, with a log that keeps the job log texts exactly as the wait hands
// them over. Shared by the double's tests (tests/integration/wait-log.test.ts) and the real Ray
// tier's (tests/real/ray-wait-log.test.ts).
import { randomBytes } from 'node:crypto';
import { type Log, type MemoryLog, memoryLog } from '../../src/common/log.js';
import { systemClock } from '../../src/common/time.js';
import { RunStore } from '../../src/gcs/store.js';
import { RayJobsClient } from '../../src/ray/client.js';
import { type WaitResult, waitForAttempt } from '../../src/ray/wait.js';
import { startFaultProxy } from '../../tools/fault-proxy/proxy.mjs';
import { createBucket, uniqueBucketName } from './gcs.js';

export interface RecordingLog {
  log: MemoryLog;
  /** Each text given to log.untrusted, as given. */
  texts: string[];
  recording: Log;
}

export function recordingLog(onUntrusted: (count: number) => void = () => undefined): RecordingLog {
  const log = memoryLog();
  const texts: string[] = [];
  const recording: Log = {
    ...log,
    untrusted: (text) => {
      texts.push(text);
      log.untrusted(text);
      onUntrusted(texts.length);
    },
  };
  return { log, texts, recording };
}

/** The group titles' `+N` summed: every character the wait reported as new. */
export function reportedChars(lines: readonly string[]): number {
  return lines.reduce((n, l) => n + Number(/^\[group\] job log \(\+(\d+) characters\)$/.exec(l)?.[1] ?? 0), 0);
}

export interface WaitedJob {
  result: WaitResult;
  sid: string;
  /** Response bytes of GET …/logs and of the tail's frames, as the proxy counted them. */
  logBytes: number;
  /** The whole log, read after the wait with one GET …/logs. */
  finalLog: string;
  /** GET …/logs requests the wait made (the tail's fallback or the rest at its end). */
  fullFetches: number;
}

/** Submits `entrypoint` to the dashboard at `url` and waits on it (no rows come: it ends with the job). */
export async function waitOnJob(
  url: string,
  entrypoint: string,
  log: Log,
  cleanups: Array<() => Promise<void> | void>,
  waitTimeoutMs = 120_000,
  logEndGraceMs?: number,
): Promise<WaitedJob> {
  const bucket = uniqueBucketName('waitlog');
  await createBucket(bucket);
  const proxy = await startFaultProxy(url);
  cleanups.push(() => proxy.close());
  const sid = `bird-waitlog-${randomBytes(4).toString('hex')}-a1`;
  const client = new RayJobsClient({ address: proxy.url, policy: { attempts: 2, baseMs: 20 } });
  await client.submitOnce({ entrypoint, submission_id: sid, metadata: {} });
  const result = await waitForAttempt({
    client,
    store: new RunStore(bucket, 'demo-test'),
    runId: 'waitlog',
    attempt: 1,
    submissionId: sid,
    instanceIds: ['x_1'],
    pollIntervalMs: 150,
    waitTimeoutMs,
    noProgressMs: 120_000,
    signal: new AbortController().signal,
    log,
    clock: systemClock,
    logEndGraceMs,
  });
  const logBytes = proxy.stats.log.filter((e) => e.url.startsWith(`/api/jobs/${sid}/logs`)).reduce((n, e) => n + e.bytesOut, 0);
  const fullFetches = proxy.stats.log.filter((e) => e.url === `/api/jobs/${sid}/logs`).length;
  return { result, sid, logBytes, fullFetches, finalLog: await new RayJobsClient({ address: url }).logs(sid) };
}

/** 600 lines in bursts, each looking like a workflow command, after a line written in two parts. */
export const BURSTS =
  `printf 'partial-'; sleep 0.3; echo 'end'; i=1; while [ $i -le 600 ]; do echo "::warning::line-$i not-a-command $(printf '%040d' $i)"; ` +
  `if [ $((i % 60)) -eq 0 ]; then sleep 0.2; fi; i=$((i+1)); done`;

/** A log of 30 steps of 100,000 characters in lines of 99: about 3 MB. */
export const GROWING = `i=1; while [ $i -le 30 ]; do head -c 100000 /dev/zero | tr '\\0' 'x' | fold -w 99; echo; sleep 0.1; i=$((i+1)); done`;

// on-wait-timeout, in-process (the overall wait limit is minutes as an input; here the parsed
// settings get a short one): with leave, a wait that times out leaves the job running and tells how
// to report later; with stop, it is stopped once.
import { afterEach, describe, expect, it } from 'vitest';
import { Cancellation } from '../../src/common/cancel.js';
import { memoryLog } from '../../src/common/log.js';
import { ActionState } from '../../src/common/state.js';
import { systemClock } from '../../src/common/time.js';
import { RunStore } from '../../src/gcs/store.js';
import { type InputReader, parseSettings, type SubmitSettings } from '../../src/inputs/settings.js';
import { dispatchAttempt, type StepContext } from '../../src/ray/attempt.js';
import { rayClient } from '../../src/ray/submit.js';
import { StepSummary } from '../../src/results/step-summary.js';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { clusterManifest } from '../helpers/cluster.js';
import { createBucket, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster } from '../helpers/ray.js';
import { prContext } from '../helpers/results.js';
import { stepFiles } from '../helpers/step-files.js';

const files = stepFiles('wait-leave');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function timedOutWait(onWaitTimeout: 'stop' | 'leave') {
  files.reset();
  const bucket = uniqueBucketName('leave');
  await createBucket(bucket);
  const sim: RaySim = await startCluster({ bucket, outcomes: { db_a_1: 'hang' } });
  cleanups.push(() => sim.close());
  const inputs: Record<string, string> = {
    framework: 'pydantic_ai',
    'query-mode': 'raw',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': 'db_a_1,db_b_1',
    'gcs-bucket': bucket,
    wait: 'true',
    'on-wait-timeout': onWaitTimeout,
    ...clusterInputs(sim),
  };
  const get: InputReader = (name) => inputs[name] ?? '';
  const settings = parseSettings(get, { GITHUB_WORKSPACE: files.dir, RUNNER_TEMP: files.dir }, () => undefined) as SubmitSettings;
  const dispatch = { ...settings.dispatch, waitTimeoutMs: 1_500, pollIntervalMs: 200 };
  const saved = new Map<string, string>();
  const log = memoryLog();
  const ctx: StepContext = {
    log,
    state: new ActionState({ save: (k, v) => saved.set(k, v), load: (k) => saved.get(k) ?? '' }),
    cancel: new Cancellation({ log, fail: () => undefined, exit: () => undefined }),
    github: prContext(null),
    clock: systemClock,
    summary: new StepSummary(),
  };
  const manifest = clusterManifest();
  const outcome = await dispatchAttempt(
    ctx,
    {
      settings: dispatch,
      manifest,
      attempt: 1,
      instanceIds: manifest.instance_ids,
      keys: new Map([['ANTHROPIC_API_KEY', 'sk-ant-TESTSECRET-x']]),
      store: new RunStore(bucket, 'demo-test'),
      roots: null,
      code: { source: 'image', sha: '', root: files.dir, files: [] },
    },
    { client: rayClient(log, dispatch, { clock: systemClock }), publicDashboard: true },
  );
  const sid = `bird-${manifest.run_id}-a1`;
  return { outcome, sim, sid, saved, stops: sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/stop')) };
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

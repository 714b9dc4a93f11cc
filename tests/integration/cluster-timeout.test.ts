// The per-run cluster's timeout path, in-process with a virtual clock: no new row within
// no-progress-minutes → the verdict timed-out → the job is stopped once → the cluster is torn
// down, and the failure names the verdict and the rerun input. The per-run cluster path
// (onCluster) and the dispatch (dispatchAttempt) run as the action runs them, against the
// stand-in `ray` and `gcloud` (tools/fake-cli), whose `ray dashboard` serves the Ray Jobs API
// double running the demo worker; only the wait's clock is virtual, so the minute takes no time.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { onCluster } from '../../src/cluster/run.js';
import { Cancellation } from '../../src/common/cancel.js';
import { readGithubContext } from '../../src/common/github-context.js';
import { type MemoryLog, memoryLog } from '../../src/common/log.js';
import { ActionState } from '../../src/common/state.js';
import { parseSettings, type SubmitSettings } from '../../src/inputs/settings.js';
import { openStore } from '../../src/modes/shared.js';
import { preflight } from '../../src/preflight/preflight.js';
import { dispatchAttempt, type StepContext } from '../../src/ray/attempt.js';
import { StepSummary } from '../../src/results/step-summary.js';
import { demoRepo, removeDir, TEST_KEYS, tempDir, validInputs } from '../helpers/action.js';
import { virtualClock } from '../helpers/clock.js';
import { callSummary, ephemeralInputs, fakeCliEnv } from '../helpers/cluster.js';
import { createBucket, emulatorHost, uniqueBucketName } from '../helpers/gcs.js';
import { actionInputs } from '../helpers/inputs.js';
import { WORKER_PREFIX } from '../helpers/ray.js';
import { stepFiles } from '../helpers/step-files.js';

const files = stepFiles('cluster-timeout');
const dirs: string[] = [files.dir];
beforeEach(() => files.reset());
afterEach(() => {
  vi.unstubAllEnvs();
  for (const d of dirs.splice(1)) removeDir(d);
});

describe('a per-run cluster whose job makes no progress', () => {
  it('times out after no-progress-minutes of the clock, stops the job once and tears down', async () => {
    const repo = demoRepo(['credit', 'news']);
    const cliDir = tempDir('fake-cli');
    dirs.push(repo.root, cliDir);
    const bucket = uniqueBucketName('timeout');
    await createBucket(bucket);
    const fake = fakeCliEnv(cliDir);
    const outcomes = { credit_1: 'hang', credit_2: 'hang', news_1: 'hang', news_2: 'hang' };
    const workerEnv = {
      BIRD_RUNS_BUCKET: bucket,
      STORAGE_EMULATOR_HOST: emulatorHost(),
      BIRD_DATA_PATH: repo.datasetFile,
      BIRD_DEMO_HEARTBEAT_MS: '200',
      BIRD_DEMO_OUTCOMES: JSON.stringify(outcomes),
    };
    // The CLIs read PATH and the stand-ins' variables from the process, as in the action.
    for (const [k, v] of Object.entries({
      ...fake.env,
      FAKE_RAY_SIM_OPTIONS: JSON.stringify({ pendingDelayMs: 50, stopWaitMs: 500, env: workerEnv }),
    }))
      vi.stubEnv(k, v);
    const env: NodeJS.ProcessEnv = {
      ...TEST_KEYS,
      GITHUB_WORKSPACE: repo.workspace,
      RUNNER_TEMP: files.dir,
      GITHUB_REPOSITORY: 'octo/eval-repo',
      GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
      GITHUB_RUN_ID: '4242',
    };
    const inputs = validInputs(repo, {
      'dry-run': 'false',
      'gcs-bucket': bucket,
      'entrypoint-prefix': WORKER_PREFIX,
      wait: 'true',
      ...ephemeralInputs(),
      'no-progress-minutes': '1',
    });
    const settings = parseSettings(actionInputs(inputs), env, () => {}) as SubmitSettings;
    const log: MemoryLog = memoryLog();
    const { plan, keys } = await preflight(log, settings, env);
    const saved = new Map<string, string>();
    const clock = virtualClock();
    const started = clock.now();
    const ctx: StepContext = {
      log,
      state: new ActionState({ save: (k, v) => void saved.set(k, v), load: (k) => saved.get(k) ?? '' }),
      cancel: new Cancellation({ log, fail: () => undefined, exit: () => undefined, proc: new EventEmitter() }),
      github: readGithubContext(env),
      clock,
      summary: new StepSummary({ now: () => clock.now() }),
    };
    const store = openStore(log, clock, settings);

    const outcome = await onCluster(ctx, { settings, manifest: plan.manifest, phases: null, canDetach: true }, (target) =>
      dispatchAttempt(
        ctx,
        {
          settings: settings.dispatch,
          manifest: plan.manifest,
          attempt: plan.attempt,
          instanceIds: settings.instanceIds,
          keys: keys.values,
          store,
          roots: plan.setupRoots,
          code: plan.code,
        },
        target,
      ),
    );

    expect(outcome.waited).toBe(true);
    expect(outcome.failure?.message).toContain('timed-out: no new rows within the no-progress deadline (1 min)');
    expect(outcome.failure?.message).toContain('rerun-run-id: test-run-0001');
    // The deadline ran on the clock: a minute of it passed, in polls a poll interval apart, and the
    // verdict came at the first poll past the minute (a retry's backoff would only bring it sooner).
    expect(clock.now() - started).toBeGreaterThan(60_000);
    const polls = clock.sleeps.filter((ms) => ms === 1000).length;
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThanOrEqual(61);
    expect(log.lines.some((l) => /^progress: 0\/4 instances have a row for attempt 1; Ray job (PENDING|RUNNING)$/.test(l))).toBe(true);
    // Stopped once, before the teardown; the cluster is gone.
    const seq = callSummary(fake.records());
    const stops = seq.filter((c) => c === 'http POST /api/jobs/bird-test-run-0001-a1/stop');
    expect(stops).toHaveLength(1);
    expect(seq.indexOf(stops[0])).toBeLessThan(seq.indexOf('ray down'));
    expect(seq.filter((c) => c.startsWith('ray '))).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(files.outputs()).toMatchObject({ 'cluster-teardown': 'ray-down' });
    expect(JSON.parse(readFileSync(fake.stateFile, 'utf8'))).toEqual({ instances: [] });
  });
});

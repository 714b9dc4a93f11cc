// One attempt dispatched to the Ray double and waited on in-process, as the action's submit does
// (src/ray/attempt.ts), for tests of how a wait ends. The demo worker plays each instance's outcome.
import { Cancellation } from '../../src/common/cancel.js';
import type { Log } from '../../src/common/log.js';
import { ActionState } from '../../src/common/state.js';
import type { Clock } from '../../src/common/time.js';
import { RunStore } from '../../src/gcs/store.js';
import { type DispatchSettings, type InputReader, parseSettings, type SubmitSettings } from '../../src/inputs/settings.js';
import type { RunManifest } from '../../src/plan/manifest.js';
import { type DispatchOutcome, dispatchAttempt, type StepContext } from '../../src/ray/attempt.js';
import { rayClient } from '../../src/ray/submit.js';
import { StepSummary } from '../../src/results/step-summary.js';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { clusterManifest } from './cluster.js';
import { createBucket, uniqueBucketName } from './gcs.js';
import { type ClusterOptions, clusterInputs, startCluster } from './ray.js';
import { prContext } from './results.js';
import type { StepFiles } from './step-files.js';

export interface WaitedAttemptOptions {
  files: StepFiles;
  cleanups: Array<() => Promise<void> | void>;
  outcomes: NonNullable<ClusterOptions['outcomes']>;
  /** Inputs beside the combo, the two instances, the bucket, `wait: true` and the double's. */
  inputs?: Record<string, string>;
  clock: Clock;
  /** The step log; given the double, so that a test can act on it from a log line. */
  log: (sim: RaySim) => Log;
  /** Changes to the parsed dispatch settings (a wait limit shorter than the input's minutes). */
  tune?: (d: DispatchSettings) => DispatchSettings;
}

export interface WaitedAttempt {
  outcome: DispatchOutcome;
  sim: RaySim;
  sid: string;
  manifest: RunManifest;
  /** What the step saved for its post step. */
  saved: Map<string, string>;
}

export async function waitedAttempt(o: WaitedAttemptOptions): Promise<WaitedAttempt> {
  o.files.reset();
  const bucket = uniqueBucketName('waited');
  await createBucket(bucket);
  const sim = await startCluster({ bucket, outcomes: o.outcomes });
  o.cleanups.push(() => sim.close());
  const inputs: Record<string, string> = {
    framework: 'pydantic_ai',
    'query-mode': 'raw',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': 'db_a_1,db_b_1',
    'gcs-bucket': bucket,
    wait: 'true',
    ...o.inputs,
    ...clusterInputs(sim),
  };
  const get: InputReader = (name) => inputs[name] ?? '';
  const settings = parseSettings(get, { GITHUB_WORKSPACE: o.files.dir, RUNNER_TEMP: o.files.dir }, () => undefined) as SubmitSettings;
  const dispatch = o.tune ? o.tune(settings.dispatch) : settings.dispatch;
  const saved = new Map<string, string>();
  const log = o.log(sim);
  const ctx: StepContext = {
    log,
    state: new ActionState({ save: (k, v) => saved.set(k, v), load: (k) => saved.get(k) ?? '' }),
    cancel: new Cancellation({ log, fail: () => undefined, exit: () => undefined }),
    github: prContext(null),
    clock: o.clock,
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
      code: { source: 'image', sha: '', root: o.files.dir, files: [] },
    },
    { client: rayClient(log, dispatch, { clock: o.clock }), publicDashboard: true },
  );
  return { outcome, sim, sid: `bird-${manifest.run_id}-a1`, manifest, saved };
}

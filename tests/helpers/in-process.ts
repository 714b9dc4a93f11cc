// The main step in-process, as src/main.ts runs it, for tests that give it a clock of their own (a
// wait or a retry backoff of minutes then takes no time): the settings from the step's inputs
// (action.yml's defaults for the rest) and environment, the mode they ask for (runMode), one catch
// that turns a failure into the step's error and the summary's failure block, and the summary
// written once. The environment is the process's for the call, as the runner's is the action's; outputs and the summary go to the suite's step files, state to a map.
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';
import { Cancellation } from '../../src/common/cancel.js';
import { ERROR_PREFIX } from '../../src/common/constants.js';
import { errorMessage } from '../../src/common/errors.js';
import { readGithubContext } from '../../src/common/github-context.js';
import { type MemoryLog, memoryLog } from '../../src/common/log.js';
import { ActionState } from '../../src/common/state.js';
import type { Clock } from '../../src/common/time.js';
import { parseSettings } from '../../src/inputs/settings.js';
import { runMode } from '../../src/main.js';
import type { StepContext } from '../../src/ray/attempt.js';
import { StepSummary } from '../../src/results/step-summary.js';
import { actionInputs } from './inputs.js';
import type { StepFiles } from './step-files.js';

export interface InProcessOptions {
  inputs: Record<string, string>;
  /** The step's environment on top of the process's; GITHUB_WORKSPACE is the workspace. */
  env: Record<string, string>;
  workspace: string;
  clock: Clock;
  /** The suite's step files (reset before each test); their dir is RUNNER_TEMP. */
  files: StepFiles;
}

export interface InProcessResult {
  exitCode: 0 | 1;
  /** The error annotations as the runner shows them: logged errors, then the step's failure. */
  errors: string;
  log: MemoryLog;
  outputs: Record<string, string>;
  summary: string;
  state: Map<string, string>;
}

export async function runInProcess(o: InProcessOptions): Promise<InProcessResult> {
  const env: Record<string, string> = {
    GITHUB_WORKSPACE: o.workspace,
    RUNNER_TEMP: o.files.dir,
    GITHUB_REPOSITORY: 'octo/eval-repo',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '4242',
    GITHUB_EVENT_NAME: 'workflow_dispatch',
    ...o.env,
  };
  for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
  const log = memoryLog();
  const state = new Map<string, string>();
  const failures: string[] = [];
  // The summary reads the step's clock, so its stage times are the virtual ones.
  const summary = new StepSummary({ now: () => o.clock.now() });
  summary.stage('preflight');
  try {
    const ctx: StepContext = {
      log,
      state: new ActionState({ save: (k, v) => void state.set(k, v), load: (k) => state.get(k) ?? '' }),
      cancel: new Cancellation({ log, fail: (m) => void failures.push(m), exit: () => undefined, proc: new EventEmitter() }),
      github: readGithubContext(),
      clock: o.clock,
      summary,
    };
    try {
      await runMode(
        ctx,
        parseSettings(actionInputs(o.inputs), process.env, () => undefined),
      );
    } catch (e) {
      summary.fail(e);
      failures.push(errorMessage(e));
    }
    await summary.write();
  } finally {
    vi.unstubAllEnvs();
  }
  return {
    exitCode: failures.length > 0 ? 1 : 0,
    errors: [...log.errors, ...failures.map((f) => `${ERROR_PREFIX}: ${f}`)].join('\n'),
    log,
    outputs: o.files.outputs(),
    summary: o.files.summary(),
    state,
  };
}

// Orchestration only: settings, then the mode the inputs ask for (a new submit, a rerun, a
// report, a stop or a list of runs). One catch turns any failure into the step's error; one
// cancellation path handles SIGINT/SIGTERM (common/cancel.ts).
import * as core from '@actions/core';
import { Cancellation } from './common/cancel.js';
import { ERROR_PREFIX } from './common/constants.js';
import { errorMessage } from './common/errors.js';
import { readGithubContext } from './common/github-context.js';
import { actionsLog } from './common/log.js';
import { ActionState } from './common/state.js';
import { systemClock } from './common/time.js';
import { coreInputReader, parseSettings } from './inputs/settings.js';
import { listRuns } from './modes/list-runs.js';
import { report } from './modes/report.js';
import { rerun } from './modes/rerun.js';
import { stop } from './modes/stop.js';
import { submit } from './modes/submit.js';
import type { StepContext } from './ray/attempt.js';

export async function run(): Promise<void> {
  const log = actionsLog;
  const cancel = new Cancellation({ log, fail: (message) => core.setFailed(`${ERROR_PREFIX}: ${message}`) });
  cancel.install();
  try {
    const settings = parseSettings(coreInputReader);
    const ctx: StepContext = { log, state: new ActionState(), cancel, github: readGithubContext(), clock: systemClock };
    if (settings.kind === 'rerun') await rerun(ctx, settings);
    else if (settings.kind === 'report') await report(ctx, settings);
    else if (settings.kind === 'stop') await stop(ctx, settings);
    else if (settings.kind === 'list') await listRuns(ctx, settings);
    else await submit(ctx, settings);
  } catch (e) {
    core.setFailed(`${ERROR_PREFIX}: ${errorMessage(e)}`);
  } finally {
    // A signal's cleanup (stop the job, tear down) finishes before the step exits.
    if (cancel.cancelled) await cancel.finished;
    cancel.uninstall();
  }
}

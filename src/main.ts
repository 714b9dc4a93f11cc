// Orchestration only: settings, then the mode the inputs ask for (a new submit, a rerun, a
// report, a stop or a list of runs). One catch turns any failure into the step's error and the
// job summary's failure block; one cancellation path handles SIGINT/SIGTERM (common/cancel.ts).
// The job summary is written once, at the end (results/step-summary.ts).
import * as core from '@actions/core';
import { Cancellation, CleanupOrder } from './common/cancel.js';
import { ERROR_PREFIX } from './common/constants.js';
import { errorMessage } from './common/errors.js';
import { readGithubContext } from './common/github-context.js';
import { actionsLog } from './common/log.js';
import { ActionState } from './common/state.js';
import { systemClock } from './common/time.js';
import { coreInputReader, parseSettings, type Settings } from './inputs/settings.js';
import { listRuns } from './modes/list-runs.js';
import { report } from './modes/report.js';
import { rerun } from './modes/rerun.js';
import { stop } from './modes/stop.js';
import { submit } from './modes/submit.js';
import type { StepContext } from './ray/attempt.js';
import { StepSummary } from './results/step-summary.js';

/** The mode the settings ask for. */
export function runMode(ctx: StepContext, settings: Settings): Promise<void> {
  if (settings.kind === 'rerun') return rerun(ctx, settings);
  if (settings.kind === 'report') return report(ctx, settings);
  if (settings.kind === 'stop') return stop(ctx, settings);
  if (settings.kind === 'list') return listRuns(ctx, settings);
  return submit(ctx, settings);
}

export async function run(): Promise<void> {
  const log = actionsLog;
  const summary = new StepSummary();
  const cancel = new Cancellation({ log, fail: (message) => core.setFailed(`${ERROR_PREFIX}: ${message}`) });
  cancel.install();
  // A cancelled step exits from its cleanup path: the summary is written there, after the job
  // was stopped and the cluster torn down, so that it says so.
  const removeSummaryStep = cancel.add({
    order: CleanupOrder.Summary,
    name: 'write the job summary',
    run: async (signal) => {
      summary.fail(new Error(`cancelled (${signal})`));
      await summary.write();
      return undefined;
    },
  });
  summary.stage('preflight');
  try {
    const settings = parseSettings(coreInputReader);
    const github = readGithubContext();
    await runMode({ log, state: new ActionState(), cancel, github, clock: systemClock, summary }, settings);
  } catch (e) {
    summary.fail(e);
    core.setFailed(`${ERROR_PREFIX}: ${errorMessage(e)}`);
  } finally {
    // A signal's cleanup (stop the job, tear down, the summary) finishes before the step exits.
    if (cancel.cancelled) await cancel.finished;
    removeSummaryStep();
    cancel.uninstall();
    try {
      await summary.write();
    } catch (e) {
      log.warning(`could not write the job summary: ${errorMessage(e)}`);
    }
  }
}

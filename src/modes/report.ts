// Reporting: after a wait (summary, outputs, PR comment, gate), and the report-run-id mode,
// which reports on any run in the bucket without dispatching anything.
import * as core from '@actions/core';
import { Inputs, Outputs } from '../common/constants.js';
import type { RunStore } from '../gcs/store.js';
import type { CommonSettings, ReportOnlySettings } from '../inputs/settings.js';
import type { DispatchOutcome, StepContext } from '../ray/attempt.js';
import { GateFailedError, type ReportOptions, reportRun } from '../results/report.js';
import { openStore } from './shared.js';

function reportOptions(ctx: StepContext, s: CommonSettings, store: RunStore, runId: string): ReportOptions {
  return {
    store,
    runId,
    github: ctx.github,
    token: s.report.token,
    commentOnPr: s.report.commentOnPr,
    baselineRunId: s.report.baselineRunId || undefined,
    thresholds: s.report.thresholds,
    runnerTemp: s.runnerTemp,
    rayAddress: s.dispatch.rayAddress || undefined,
    log: ctx.log,
  };
}

export interface WaitedAttempt {
  runId: string;
  attempt: number;
  outcome: DispatchOutcome;
  /** The input that named the run: run-id for a submit, rerun-run-id for a rerun. */
  runIdInput: Inputs;
}

/** A waited attempt is reported (summary, outputs, PR comment, gate), then a failed wait fails the step. */
export async function reportAfterWait(ctx: StepContext, settings: CommonSettings, store: RunStore, waitedAttempt: WaitedAttempt): Promise<void> {
  const o = waitedAttempt.outcome;
  if (!o.waited) {
    const t = settings.report.thresholds;
    if (t.minPhase1Rate !== null || t.maxErrors !== null || settings.report.baselineRunId) {
      ctx.log.warning(
        `min-phase1-rate, max-errors and baseline-run-id apply to a report: this step did not wait, so nothing was reported or gated. Report later with report-run-id: ${waitedAttempt.runId}`,
      );
    }
    return;
  }
  let gate: GateFailedError | null = null;
  try {
    await reportRun({
      ...reportOptions(ctx, settings, store, waitedAttempt.runId),
      runIdInput: waitedAttempt.runIdInput,
      attempt: waitedAttempt.attempt,
      dashboardUrl: o.dashboardUrl,
      durationSeconds: o.durationSeconds,
    });
  } catch (e) {
    if (!(e instanceof GateFailedError)) throw o.failure ?? e;
    gate = e;
  }
  if (o.failure) throw o.failure;
  if (gate) throw gate;
}

/** report-run-id: report on an existing run without dispatching anything. */
export async function report(ctx: StepContext, settings: ReportOnlySettings): Promise<void> {
  core.setOutput(Outputs.RunId, settings.runId);
  const store = openStore(ctx.log, ctx.clock, settings);
  await reportRun({ ...reportOptions(ctx, settings, store, settings.runId), runIdInput: Inputs.ReportRunId, datasetFile: settings.datasetFile });
}

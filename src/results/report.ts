// Reporting a run: read → aggregate → report record (and trend) → job summary → outputs →
// results-json → PR comment → gate. main calls reportRun after a wait and in report-run-id mode.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as core from '@actions/core';
import { Inputs, Outputs } from '../common/constants.js';
import { errorMessage } from '../common/errors.js';
import type { GithubContext } from '../common/github-context.js';
import { actionsLog, type Log } from '../common/log.js';
import { indexRuns, writeReportRecord } from '../gcs/runs.js';
import { type RunStore, runPaths } from '../gcs/store.js';
import { KNOWN_KEYS } from '../inputs/combos.js';
import { dashboardUrl as rayDashboardUrl } from '../ray/client.js';
import { type RunResults, redactor, redactResults } from './aggregate.js';
import { type CommentOnPr, type CommentOutcome, commentTarget, upsertComment } from './comment.js';
import { GateFailedError, type GateThresholds, gateChecks, gateMessage } from './gate.js';
import { manifestGroup, reportRecord, serializeReportRecord, trendSection } from './history.js';
import { collectResults, type RunData } from './read.js';
import { type Baseline, commentKey, commentMarker, gcsLogUrl, headline, type RunHeader, renderComment } from './render.js';
import { StepSummary } from './step-summary.js';
import { reportTrend } from './trend.js';

export { GateFailedError, type GateThresholds, NO_GATE } from './gate.js';

export interface ReportOptions {
  store: RunStore;
  runId: string;
  /** The input the run id came from, named when the run has no manifest (default report-run-id). */
  runIdInput?: string;
  /** The attempt just waited on; default: the highest attempt in the rows or status.json. */
  attempt?: number;
  /** The Ray job's dashboard link; default: built from rayAddress and status.json's ray_job_id. */
  dashboardUrl?: string | null;
  rayAddress?: string;
  /** The wait's duration; default: manifest commit → last heartbeat, once the run has a terminal state. */
  durationSeconds?: number | null;
  /** A dataset JSONL for instances whose DB neither the manifest nor their row names. */
  datasetFile?: string;
  github: GithubContext;
  /** comment-key: one PR comment per key; default the workflow, the combo and the models (render.ts commentKey). */
  commentKey?: string;
  token: string;
  commentOnPr: CommentOnPr;
  /** A run in the same bucket to show per-DB deltas against (summary and comment). */
  baselineRunId?: string;
  thresholds: GateThresholds;
  runnerTemp: string;
  /** Values never to show (default: the token and every known API key in the environment). */
  secrets?: readonly string[];
  log?: Log;
  /** The GitHub REST root; default GITHUB_API_URL. */
  apiUrl?: string;
  /** The step's summary, which gets the results; without one, reportRun writes a summary of its own. */
  summary?: StepSummary;
  /** trend-runs: chart this many reported runs of the run's group in the summary; 0 or unset for none. */
  trendRuns?: number;
}

export interface ReportOutcome {
  results: RunResults;
  baseline: Baseline | null;
  header: RunHeader;
  resultsJson: string;
  /** The job summary as it reads with the results in it. */
  summary: string;
  comment: CommentOutcome;
}

function defaultSecrets(token: string): string[] {
  return [token, ...KNOWN_KEYS.map((k) => process.env[k] ?? '')].filter((v) => v.trim() !== '');
}

function header(o: ReportOptions, data: RunData): RunHeader {
  const jobId = data.status?.ray_job_id;
  const built = o.rayAddress && typeof jobId === 'string' && jobId !== '' && jobId !== 'unknown' ? rayDashboardUrl(o.rayAddress, jobId) : null;
  const waited = o.durationSeconds ?? null;
  return {
    runId: o.runId,
    manifest: data.manifest,
    attempt: o.attempt ?? data.attempt,
    durationSeconds: waited ?? data.elapsedSeconds,
    durationNote: waited === null && data.elapsedSeconds !== null ? 'manifest commit → last heartbeat' : undefined,
    dashboardUrl: o.dashboardUrl || built,
    // A stop records terminal_state error plus stopped_at: the report says stopped.
    state: typeof data.status?.stopped_at === 'number' ? 'stopped' : typeof data.status?.terminal_state === 'string' ? data.status.terminal_state : null,
  };
}

/** results-json: comparison.json's summary keys first, then the run, the lists and the gate. */
function resultsDocument(h: RunHeader, r: RunResults, baseline: Baseline | null, thresholds: GateThresholds, gate: string | null): object {
  const m = h.manifest;
  return {
    n: r.n,
    phase1_rate: r.phase1_rate,
    phase2_rate: r.phase2_rate,
    avg_reward: r.avg_reward,
    errors: r.errors,
    phase1_passed: r.phase1_passed,
    phase2_passed: r.phase2_passed,
    unreadable: r.unreadable,
    missing: r.missing,
    run_id: h.runId,
    attempt: h.attempt,
    state: h.state,
    duration_seconds: h.durationSeconds,
    dashboard_url: h.dashboardUrl,
    framework: m.framework,
    query_mode: m.query_mode,
    mode: m.mode,
    slayer_setup: m.slayer_setup,
    agent_model: m.agent_model,
    user_sim_model: m.user_sim_model,
    per_db: r.per_db,
    unreadable_ids: r.unreadable_ids,
    missing_ids: r.missing_ids,
    failures: r.failures,
    instances: r.instances,
    baseline: baseline
      ? {
          run_id: baseline.runId,
          n: baseline.results.n,
          phase1_rate: baseline.results.phase1_rate,
          phase2_rate: baseline.results.phase2_rate,
          avg_reward: baseline.results.avg_reward,
          errors: baseline.results.errors,
          per_db: baseline.results.per_db,
        }
      : null,
    gate: { min_phase1_rate: thresholds.minPhase1Rate, max_errors: thresholds.maxErrors, passed: gate === null, message: gate },
  };
}

async function writeResultsJson(runnerTemp: string, runId: string, doc: object): Promise<string> {
  const dir = join(runnerTemp, 'bird-cloud-action');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `results-${runId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  await writeFile(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

/**
 * Leaves the run's report record (runs/<id>/report.json) for later trends, then, with trend-runs,
 * returns the trend's markdown. Neither is worth failing a report for: a failure is a warning.
 */
async function recordAndTrend(o: ReportOptions, data: RunData, results: RunResults, h: RunHeader, log: Log): Promise<string | null> {
  const group = manifestGroup(data.manifest);
  if (!group) return null;
  const record = reportRecord(o.runId, group, results, h.attempt, h.state);
  try {
    await writeReportRecord(o.store, o.runId, serializeReportRecord(record));
  } catch (e) {
    log.warning(
      `bird-cloud-action: the report record ${o.store.uri(runPaths.report(o.runId))} was not written, so trends will count this run from its rows: ${errorMessage(e)}`,
    );
  }
  if (!o.trendRuns) return null;
  try {
    const index = await indexRuns(o.store);
    const created = index.runs.find((r) => r.runId === o.runId)?.created ?? Date.now();
    return trendSection(await reportTrend(o.store, index, group, { runId: o.runId, created, figures: results, source: 'this report' }, o.trendRuns, log));
  } catch (e) {
    log.warning(`bird-cloud-action: trend-runs: no trend, the runs could not be read: ${errorMessage(e)}`);
    return null;
  }
}

/**
 * Reports a run: log, job summary, outputs, results-json, PR comment, then the gate. A gate that
 * fails throws GateFailedError after all of that (main's one catch turns it into setFailed). A
 * failing comment, baseline or dataset mapping is a warning; a run that cannot be read (no
 * manifest, GCS errors) throws before anything is reported.
 */
export async function reportRun(options: ReportOptions): Promise<ReportOutcome> {
  const log = options.log ?? actionsLog;
  const redact = redactor(options.secrets ?? defaultSecrets(options.token));
  const { data, results: raw } = await collectResults(options.store, options.runId, {
    input: options.runIdInput ?? Inputs.ReportRunId,
    datasetFile: options.datasetFile,
    log,
  });
  const results = redactResults(raw, redact);

  let baseline: Baseline | null = null;
  if (options.baselineRunId) {
    try {
      const b = await collectResults(options.store, options.baselineRunId, { input: Inputs.BaselineRunId, datasetFile: options.datasetFile, log });
      baseline = { runId: options.baselineRunId, results: redactResults(b.results, redact) };
    } catch (e) {
      log.warning(`bird-cloud-action: ${Inputs.BaselineRunId} '${options.baselineRunId}' could not be read, so no deltas are shown: ${errorMessage(e)}`);
    }
  }

  const h = header(options, data);
  log.info(`results of ${options.runId} (attempt ${h.attempt}): ${headline(results).replace(/\*/g, '')}`);
  // The headline stays in sight; the per-DB lines and the failures fold (one group each), as the summary does.
  await log.group(`per DB: ${results.per_db.length} DB(s)`, async () => {
    for (const d of results.per_db) log.info(`${d.db}: ${headline(d).replace(/\*/g, '')}`);
  });
  if (results.failures.length > 0) {
    await log.group(`did not pass: ${results.failures.length} instance(s)`, async () => {
      for (const f of results.failures) log.info(`${f.instance_id} (${f.db}, attempt ${f.attempt ?? '-'}): ${f.reason}`);
    });
  }

  const gate = gateMessage(results, options.thresholds);
  const checks = gateChecks(results, options.thresholds);
  const stepSummary = options.summary ?? new StepSummary();
  const logUrl = gcsLogUrl(options.store.bucketName, options.runId);
  stepSummary.results({ header: h, results, baseline, gate: checks, redact, logUrl });
  const trend = await recordAndTrend(options, data, results, h, log);
  if (trend) stepSummary.trend(redact(trend));
  core.setOutput(Outputs.N, String(results.n));
  core.setOutput(Outputs.Phase1Rate, String(results.phase1_rate));
  core.setOutput(Outputs.Phase2Rate, String(results.phase2_rate));
  core.setOutput(Outputs.AvgReward, String(results.avg_reward));
  core.setOutput(Outputs.Errors, String(results.errors));
  const resultsJson = await writeResultsJson(options.runnerTemp, options.runId, resultsDocument(h, results, baseline, options.thresholds, gate));
  core.setOutput(Outputs.ResultsJson, resultsJson);

  let comment: CommentOutcome;
  const where = commentTarget(options.commentOnPr, options.github, options.token);
  if ('skip' in where) {
    comment = { kind: 'skipped', reason: where.skip };
    if (where.warn) log.warning(`bird-cloud-action: no PR comment: ${where.skip}`);
    else log.info(`no PR comment: ${where.skip}`);
  } else {
    const marker = commentMarker(commentKey(options.commentKey, process.env.GITHUB_WORKFLOW ?? '', h.manifest));
    const body = redact(
      renderComment({ marker, header: h, results, baseline, gate: checks, workflowRunUrl: options.github.workflow_run_url || undefined, logUrl }),
    );
    comment = await upsertComment({ token: options.token, target: where.target, marker, body, apiUrl: options.apiUrl, log });
  }

  // Sections added to the summary up to here (a trend, say) are in it; the step writes its own at its end.
  const summary = stepSummary.render();
  if (!options.summary) await stepSummary.write();
  if (gate !== null) throw new GateFailedError(gate);
  if (options.thresholds.minPhase1Rate !== null || options.thresholds.maxErrors !== null) log.info('quality gate passed');
  return { results, baseline, header: h, resultsJson, summary, comment };
}

// stop-run-id: stop a run that no one watches any more (started with wait: false, or its
// workflow was lost), as the Python tool's `kill` does. On an existing cluster every attempt's
// job that still runs is stopped through the ray-address input (never an address from the
// bucket); a per-run cluster is torn down (ray down on the YAML rendered from the manifest, then
// deletion by label). The run's status.json then says it was stopped.
import * as core from '@actions/core';
import { prepareCluster } from '../cluster/session.js';
import { Inputs, Outputs } from '../common/constants.js';
import { ProblemsError } from '../common/errors.js';
import { type Clock, formatDuration } from '../common/time.js';
import { recordStopped } from '../gcs/rows.js';
import type { StopSettings } from '../inputs/settings.js';
import { submissionId } from '../plan/job-args.js';
import type { StepContext } from '../ray/attempt.js';
import { type JobStatus, type RayJobsClient, TERMINAL } from '../ray/client.js';
import { checkCluster, rayClient } from '../ray/submit.js';
import { type RunData, readRun } from '../results/read.js';
import { code, mdText } from '../results/render.js';
import { markdownTable } from '../results/summary.js';
import { openStore, refuseStoredClusterInputs } from './shared.js';

/** How long a stop waits for Ray to report the stopped jobs as terminal. */
const STOP_WAIT_MS = 60_000;
const STOP_POLL_MS = 2_000;

interface AttemptStop {
  attempt: number;
  submissionId: string;
  /** Ray's status before the stop, or null when Ray does not know the job. */
  before: JobStatus | null;
  after: JobStatus | null;
  stopped: boolean;
}

/** Every attempt's job that Ray knows and that is not terminal gets one stop request. */
async function stopAttempts(client: RayJobsClient, runId: string, attempts: number): Promise<AttemptStop[]> {
  const out: AttemptStop[] = [];
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const sid = submissionId(runId, attempt);
    const job = await client.job(sid);
    const running = job !== null && !TERMINAL.includes(job.status);
    if (running) await client.stop(sid);
    out.push({ attempt, submissionId: sid, before: job?.status ?? null, after: job?.status ?? null, stopped: running });
  }
  return out;
}

/** Waits (bounded) until Ray reports every stopped job terminal; what is still running says so. */
async function awaitTerminal(client: RayJobsClient, stops: AttemptStop[], clock: Clock): Promise<void> {
  const deadline = clock.now() + STOP_WAIT_MS;
  for (;;) {
    for (const s of stops.filter((x) => x.stopped)) s.after = (await client.job(s.submissionId))?.status ?? null;
    if (stops.every((s) => !s.stopped || s.after === null || TERMINAL.includes(s.after)) || clock.now() > deadline) return;
    await clock.sleep(STOP_POLL_MS);
  }
}

/** What the stop did, as the summary's note: a paragraph each (no list to run into the facts below), then the attempts' table. */
function stopNote(lines: string[], table: string | null): string {
  return [...lines, ...(table ? [table] : [])].join('\n\n');
}

async function stopOnExistingCluster(ctx: StepContext, settings: StopSettings, run: RunData): Promise<{ summary: string; stoppedAny: boolean }> {
  const client = rayClient(ctx.log, settings.dispatch, { clock: ctx.clock });
  await checkCluster(client);
  const stops = await stopAttempts(client, settings.runId, Math.max(run.attempt, 1));
  const stopped = stops.filter((s) => s.stopped);
  if (stopped.length > 0) {
    ctx.log.info(`asked Ray to stop ${stopped.map((s) => s.submissionId).join(', ')}; waiting up to ${formatDuration(STOP_WAIT_MS)} for it to end`);
    await awaitTerminal(client, stops, ctx.clock);
  }
  for (const s of stops) ctx.log.info(`attempt ${s.attempt} (${s.submissionId}): ${s.before ?? 'unknown to Ray'}${s.stopped ? ` → ${s.after ?? 'gone'}` : ''}`);
  const last = stops[stops.length - 1];
  core.setOutput(Outputs.JobStatus, last.after ?? 'NOT_FOUND');
  const table = markdownTable(
    ['attempt', 'submission', 'before', 'after'],
    // Ray's statuses are its text: escaped.
    stops.map((s) => [
      String(s.attempt),
      code(s.submissionId),
      s.before ? mdText(s.before) : 'unknown to Ray',
      s.stopped ? (s.after ? mdText(s.after) : 'gone') : '(not stopped)',
    ]),
  );
  const still = stopped.filter((s) => s.after !== null && !TERMINAL.includes(s.after));
  const lines =
    stopped.length === 0
      ? ['nothing was running: every attempt Ray knows of had ended (or Ray does not know them any more)']
      : [
          `stopped ${stopped.length} job(s) at ${code(settings.dispatch.rayAddress)}`,
          ...(still.length > 0 ? [`still ending after ${formatDuration(STOP_WAIT_MS)}: ${still.map((s) => s.submissionId).join(', ')}`] : []),
        ];
  return { summary: stopNote(lines, table), stoppedAny: stopped.length > 0 };
}

/** A per-run cluster: rendered from the manifest (its checks and the gcp-project input hold), then torn down. */
async function stopPerRunCluster(ctx: StepContext, settings: StopSettings, run: RunData): Promise<{ summary: string; stoppedAny: boolean }> {
  refuseStoredClusterInputs({
    runId: settings.runId,
    renderInputs: run.manifest.render_inputs,
    gcpProject: settings.gcpProject,
    input: Inputs.StopRunId,
    fix: 'tear the cluster down by hand',
    projectFix: 'stop with the gcp-project the run was started in',
    refused: 'stop refused',
  });
  const p = await prepareCluster({
    manifest: run.manifest,
    runnerTemp: settings.runnerTemp,
    rayCli: settings.dispatch.gce.rayCli,
    log: ctx.log,
    state: ctx.state,
  });
  const r = await p.teardown.run('stop-run-id');
  core.setOutput(Outputs.ClusterTeardown, r.outcome);
  if (r.outcome === 'failed') throw new Error(`the cluster of run ${settings.runId} could not be torn down: ${r.detail}`);
  return { summary: stopNote([`per-run cluster: ${mdText(r.detail)}`], null), stoppedAny: true };
}

export async function stop(ctx: StepContext, settings: StopSettings): Promise<void> {
  core.setOutput(Outputs.RunId, settings.runId);
  ctx.summary.run({ runId: settings.runId, kind: 'stop' });
  const d = settings.dispatch;
  if (d.cluster === 'none') {
    throw new ProblemsError(
      [
        {
          input: Inputs.Cluster,
          message: 'stop-run-id needs the cluster the run went to, and cluster is none',
          fix: 'set ray-address (an existing cluster) or cluster: ephemeral with gcp-project',
        },
      ],
      'stop refused',
    );
  }
  const store = openStore(ctx.log, ctx.clock, settings);
  const run = await readRun(store, settings.runId, Inputs.StopRunId);
  if (run.manifest.run_id !== settings.runId) {
    throw new ProblemsError(
      [{ input: Inputs.StopRunId, message: `the stored manifest names run '${String(run.manifest.run_id)}'`, fix: 'check the run id and gcs-bucket' }],
      'stop refused',
    );
  }
  const finished = run.status?.terminal_state === 'done' || run.status?.terminal_state === 'error';
  ctx.summary.stage('stop');
  const result = d.cluster === 'existing' ? await stopOnExistingCluster(ctx, settings, run) : await stopPerRunCluster(ctx, settings, run);
  // A run that had already finished stays as it was; a stopped one says so.
  if (result.stoppedAny && !finished) {
    const recorded = await recordStopped(store, settings.runId, Math.max(run.attempt, 1));
    ctx.log.info(
      recorded === 'recorded'
        ? `recorded the stop in ${store.uri(`runs/${settings.runId}/status.json`)}`
        : 'status.json belongs to a newer attempt: left as it is',
    );
  } else if (finished) {
    ctx.log.info(`run ${settings.runId} had already finished (${String(run.status?.terminal_state)})`);
  }
  ctx.summary.note(result.summary);
}

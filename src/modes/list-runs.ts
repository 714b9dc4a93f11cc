// list-runs: the newest runs of the bucket, as the Python tool's `list` gives them (run id,
// combo, models, state, done/total, attempt), in the job summary and as runs-json; with
// trend-runs, the phase-1 trend of their groups. Reads one listing of the run folders, each
// manifest's creation time, and only the listed runs' manifest and status.json.
import * as core from '@actions/core';
import { Outputs } from '../common/constants.js';
import { errorMessage } from '../common/errors.js';
import { indexRuns, readRunHeads } from '../gcs/runs.js';
import type { ListSettings } from '../inputs/settings.js';
import type { StepContext } from '../ray/attempt.js';
import { listEntry, runsSummary, trendSection } from '../results/history.js';
import { listTrends } from '../results/trend.js';
import { openStore } from './shared.js';

export async function listRuns(ctx: StepContext, settings: ListSettings): Promise<void> {
  const store = openStore(ctx.log, ctx.clock, settings);
  const index = await indexRuns(store);
  const heads = await readRunHeads(store, index.runs.slice(0, settings.count));
  const now = Date.now();
  const entries = heads.map((h) => listEntry(h, now));
  ctx.log.info(
    `${index.runs.length} run(s) in gs://${settings.gcsBucket}/runs/${index.uncommitted.length > 0 ? ` (and ${index.uncommitted.length} folder(s) without a manifest)` : ''}; the ${entries.length} newest:`,
  );
  for (const e of entries) {
    const combo = e.combo ? `${e.combo.framework}/${e.combo.query_mode}/${e.combo.mode}/${e.combo.slayer_setup}` : '(unreadable manifest)';
    const models = e.models ? `${e.models.agent_model} + ${e.models.user_sim_model}` : '';
    const progress = e.done === null && e.total === null ? '-' : `${e.done ?? '?'}/${e.total ?? '?'}`;
    ctx.log.info(`  ${e.run_id}  ${e.created}  ${combo}  ${models}  ${e.state}  ${progress}  attempt ${e.attempt ?? '-'}`);
  }
  core.setOutput(Outputs.RunsJson, JSON.stringify(entries));
  const parts = [runsSummary(settings.gcsBucket, entries, { committed: index.runs.length, uncommitted: index.uncommitted.length })];
  const trendRuns = settings.report.trendRuns;
  if (trendRuns > 0) {
    try {
      for (const t of await listTrends(store, index, heads, trendRuns, ctx.log)) parts.push(trendSection(t));
    } catch (e) {
      ctx.log.warning(`bird-cloud-action: trend-runs: no trend, the runs could not be read: ${errorMessage(e)}`);
    }
  }
  ctx.summary.listing(parts.join('\n'));
}

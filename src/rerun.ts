// The rerun plan (domain §9): everything comes from the stored manifest; only the unfinished
// instances go into the next attempt, and nothing is uploaded.
import { Inputs } from './constants.js';
import { ProblemsError } from './errors.js';
import { parseManifest, setupMismatches } from './gcs/run-state.js';
import { runPaths, type RunStore } from './gcs/store.js';
import type { RunManifest } from './manifest.js';
import { artifactFor, requiredKeys, type Framework, type QueryMode, type SlayerSetup } from './params/combos.js';
import { highestAttempt, latestRows, parseStatus, unfinished } from './rows.js';

export interface RerunPlan {
  kind: 'rerun';
  runId: string;
  attempt: number;
  manifest: RunManifest;
  /** Instances of the manifest without a successful latest row, in manifest order. */
  unfinished: string[];
  done: number;
  requiredKeys: string[];
  artifact: string | null;
}

/** Python's defaults for keys an older manifest lacks (domain §7). */
export function withPythonDefaults(raw: Partial<RunManifest> & Record<string, unknown>): RunManifest {
  const missing = ['framework', 'query_mode', 'mode', 'agent_model', 'user_sim_model'].filter((k) => typeof raw[k] !== 'string' || raw[k] === '');
  const ri = (raw.render_inputs ?? {}) as Partial<RunManifest['render_inputs']>;
  if (typeof ri.workers !== 'number') missing.push('render_inputs.workers');
  if (typeof ri.actors_per_worker !== 'number') missing.push('render_inputs.actors_per_worker');
  if (missing.length > 0) throw new Error(`the stored manifest lacks required keys: ${missing.join(', ')} (fix: it was not written by bird-interact-cloud or this action; start a new run)`);
  return {
    patience: 3,
    max_depth: 3,
    prompt_cache: true,
    strict: false,
    use_audited_gold_sql: false,
    slayer_setup: 'pre-encoded',
    slayer_storage_root: '/data/slayer_models',
    ...raw,
    run_id: typeof raw.run_id === 'string' && raw.run_id ? raw.run_id : '',
    instance_ids: Array.isArray(raw.instance_ids) ? raw.instance_ids.map(String) : String(raw.instance_ids ?? '').split(',').filter(Boolean),
  } as RunManifest;
}

export async function planRerun(store: RunStore, runId: string): Promise<RerunPlan> {
  const bytes = await store.read(runPaths.manifest(runId));
  if (bytes === null) {
    throw new ProblemsError(
      [{ input: Inputs.RerunRunId, message: `run '${runId}' has no manifest at ${store.uri(runPaths.manifest(runId))}: it was never committed`, fix: `check the run id and gcs-bucket; to finish an interrupted upload, submit again with run-id: ${runId}` }],
      'rerun refused',
    );
  }
  const manifest = withPythonDefaults(parseManifest(store, runId, bytes) as RunManifest & Record<string, unknown>);
  if (!manifest.run_id) manifest.run_id = runId;
  if (manifest.run_id !== runId) throw new Error(`the manifest at ${store.uri(runPaths.manifest(runId))} names run ${manifest.run_id}`);
  const { refs, latest } = await latestRows(store, runId);
  const status = parseStatus(await store.read(runPaths.status(runId)));
  // The last dispatched attempt may have written no row at all: status.json remembers it.
  const attempt = Math.max(highestAttempt(refs), typeof status?.attempt === 'number' ? status.attempt : 0) + 1;
  const todo = unfinished(manifest.instance_ids, latest);
  const artifact =
    (manifest.slayer_artifacts?.kind ?? null) ||
    artifactFor(manifest.framework as Framework, manifest.query_mode as QueryMode, manifest.slayer_setup as SlayerSetup);
  return {
    kind: 'rerun',
    runId,
    attempt,
    manifest,
    unfinished: todo,
    done: manifest.instance_ids.length - todo.length,
    requiredKeys: requiredKeys([manifest.agent_model, manifest.user_sim_model], manifest.query_mode),
    artifact,
  };
}

/**
 * Python's bucket policy deletes runs/ objects after 30 days: the setup must still be there,
 * whole. A manifest the action wrote has per-DB digests to compare with; a Python one only
 * allows a check that the prefix is not empty.
 */
export async function checkSetupStillThere(store: RunStore, plan: RerunPlan): Promise<void> {
  if (!plan.artifact) return;
  const dbs = plan.manifest.slayer_artifacts?.dbs;
  if (dbs && Object.keys(dbs).length > 0) {
    const bad = await setupMismatches(store, plan.runId, plan.artifact, dbs);
    if (bad.length > 0) {
      throw new ProblemsError(
        [{ input: Inputs.RerunRunId, message: `the SLayer setup of run '${plan.runId}' is no longer what its manifest recorded (runs/ objects expire after 30 days):\n    ${bad.join('\n    ')}`, fix: 'start a new run instead of a rerun' }],
        'rerun refused',
      );
    }
    return;
  }
  const prefix = runPaths.setupPrefix(plan.runId, plan.artifact);
  const [files] = await store.retry(`list ${store.uri(prefix)}`, () => store.bucket.getFiles({ prefix, maxResults: 1, autoPaginate: false }));
  if (files.length === 0) {
    throw new ProblemsError(
      [{ input: Inputs.RerunRunId, message: `the SLayer setup of run '${plan.runId}' is gone (${store.uri(prefix)} is empty; runs/ objects expire after 30 days)`, fix: 'start a new run instead of a rerun' }],
      'rerun refused',
    );
  }
}

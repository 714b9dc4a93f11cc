// Reading a run for the report: the manifest (with Python's defaults for runs the
// Python tools wrote), the latest attempt row of each instance, status.json, and, when an
// instance's DB is known neither from the manifest nor from its row, the dataset file.

import { formatProblem, ProblemList, ProblemsError } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { highestAttempt, type LatestRow, latestRows, parseStatus, type RowRef, type RunStatus } from '../gcs/rows.js';
import { parseManifest } from '../gcs/run-state.js';
import { type RunStore, runPaths } from '../gcs/store.js';
import { type RunManifest, withPythonDefaults } from '../plan/manifest.js';
import { mapInstances } from '../preflight/dataset.js';
import { aggregate, type RunResults } from './aggregate.js';

export interface RunData {
  runId: string;
  manifest: RunManifest;
  /** The manifest's instance → DB map; {} for runs the Python tools wrote. */
  instanceDbs: Record<string, string>;
  refs: Map<string, RowRef[]>;
  latest: Map<string, LatestRow>;
  /** The highest attempt seen in the rows or in status.json (0 when neither has one). */
  attempt: number;
  status: Partial<RunStatus> | null;
  /**
   * Seconds from the manifest's commit to the last heartbeat, once status.json has a terminal
   * state; null otherwise. For a rerun it spans every attempt.
   */
  elapsedSeconds: number | null;
}

/** Reads what the report needs; a run without a manifest is an error naming `input`. */
export async function readRun(store: RunStore, runId: string, input: string): Promise<RunData> {
  const name = runPaths.manifest(runId);
  const bytes = await store.read(name);
  if (bytes === null) {
    throw new ProblemsError(
      [{ input, message: `run '${runId}' has no manifest at ${store.uri(name)}`, fix: 'check the run id and gcs-bucket (runs/ objects expire after 30 days)' }],
      'report refused',
    );
  }
  const manifest = withPythonDefaults(parseManifest(store, runId, bytes) as RunManifest & Record<string, unknown>);
  const raw = manifest.instance_databases as unknown;
  const instanceDbs: Record<string, string> = {};
  if (typeof raw === 'object' && raw !== null) {
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') instanceDbs[k] = v;
  }
  const [{ refs, latest }, statusBytes, created] = await Promise.all([latestRows(store, runId), store.read(runPaths.status(runId)), store.created(name)]);
  const status = parseStatus(statusBytes);
  const attempt = Math.max(highestAttempt(refs), typeof status?.attempt === 'number' ? status.attempt : 0);
  let elapsedSeconds: number | null = null;
  if (status?.terminal_state && typeof status.last_heartbeat_ts === 'number' && created !== null) {
    const s = status.last_heartbeat_ts - created / 1000;
    if (Number.isFinite(s) && s >= 0) elapsedSeconds = s;
  }
  return { runId, manifest, instanceDbs, refs, latest, attempt, status, elapsedSeconds };
}

/** The instances (manifest ones, then any other with rows) whose DB neither the manifest nor a row names. */
function instancesWithoutDb(data: Pick<RunData, 'manifest' | 'instanceDbs' | 'latest'>): string[] {
  const ids = [...new Set([...data.manifest.instance_ids, ...data.latest.keys()])];
  const rowDb = (iid: string): unknown => data.latest.get(iid)?.row?.database;
  return ids.filter((iid) => !data.instanceDbs[iid] && !(typeof rowDb(iid) === 'string' && rowDb(iid) !== ''));
}

/**
 * instance → DB from the dataset file for the given ids. Problems (no file, ids not in it) are
 * passed to `warn`, not thrown: those instances are reported under the unknown DB.
 */
function datasetDbs(datasetFile: string, ids: readonly string[], log: Log): Record<string, string> {
  if (ids.length === 0) return {};
  const problems = new ProblemList();
  const mapping = mapInstances(datasetFile, ids, problems);
  for (const p of problems.items) log.warning(`the report's DB mapping: ${formatProblem(p)}`);
  return mapping.instanceDbs;
}

export interface CollectOptions {
  /** The input the run id came from, named when the run has no manifest. */
  input: string;
  /** A dataset JSONL, for instances whose DB neither the manifest nor their row names. */
  datasetFile?: string;
  log: Log;
}

/** read → (dataset) → aggregate. */
export async function collectResults(store: RunStore, runId: string, options: CollectOptions): Promise<{ data: RunData; results: RunResults }> {
  const data = await readRun(store, runId, options.input);
  const unknown = instancesWithoutDb(data);
  const fromDataset = options.datasetFile && unknown.length > 0 ? datasetDbs(options.datasetFile, unknown, options.log) : {};
  const results = aggregate({ instanceIds: data.manifest.instance_ids, instanceDbs: data.instanceDbs, datasetDbs: fromDataset, latest: data.latest });
  return { data, results };
}

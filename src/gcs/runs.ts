// The runs of a bucket, for list-runs and the trend (docs/results.md#run-history): which runs
// there are and when each was committed, found without listing any run's objects; the head of a
// run (manifest and status.json); and the report record the action leaves after reporting a run.
import pLimit from 'p-limit';
import { parseStatus, type RunStatus } from './rows.js';
import { listingError } from './run-state.js';
import { isPreconditionFailed, type RunStore, runPaths } from './store.js';

/** Requests at once (manifest stats, run heads). */
const STAT_CONCURRENCY = 16;

export interface RunRef {
  runId: string;
  /** The manifest object's creation time (ms since the epoch): when the run was committed. */
  created: number;
}

export interface RunIndex {
  /** Committed runs (those with a manifest), newest first; equal times by run id, descending. */
  runs: RunRef[];
  /** Run folders without a manifest: uploads that were never committed, or a manifest gone. */
  uncommitted: string[];
}

/**
 * One delimiter listing of `runs/` (the run folders, not their objects), then one metadata
 * request per folder for its manifest's creation time. No row or setup object is listed.
 */
export async function indexRuns(store: RunStore): Promise<RunIndex> {
  let folders: string[];
  try {
    folders = await store.prefixes(runPaths.root);
  } catch (e) {
    throw listingError(store, runPaths.root, e, 'listing the runs failed');
  }
  const ids = folders.map((p) => p.slice(runPaths.root.length).replace(/\/$/, '')).filter((id) => id !== '');
  const limit = pLimit(STAT_CONCURRENCY);
  const created = await Promise.all(ids.map((id) => limit(() => store.created(runPaths.manifest(id)))));
  const runs: RunRef[] = [];
  const uncommitted: string[] = [];
  ids.forEach((runId, i) => {
    const t = created[i];
    if (t === null) uncommitted.push(runId);
    else runs.push({ runId, created: t });
  });
  runs.sort((a, b) => b.created - a.created || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));
  return { runs, uncommitted };
}

export interface RunHead extends RunRef {
  /** The manifest as stored (any JSON), or null when it is gone or not JSON. */
  manifest: unknown;
  /** status.json, or null when there is none (or it is not JSON). */
  status: Partial<RunStatus> | null;
}

function parseJson(bytes: Buffer | null): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

/** A run's manifest and status.json: two reads. */
export async function readRunHead(store: RunStore, ref: RunRef): Promise<RunHead> {
  const [manifest, status] = await Promise.all([store.read(runPaths.manifest(ref.runId)), store.read(runPaths.status(ref.runId))]);
  return { ...ref, manifest: parseJson(manifest), status: parseStatus(status) };
}

/** The heads of some runs, in their order, a bounded number at a time. */
export function readRunHeads(store: RunStore, refs: readonly RunRef[]): Promise<RunHead[]> {
  const limit = pLimit(STAT_CONCURRENCY);
  return Promise.all(refs.map((ref) => limit(() => readRunHead(store, ref))));
}

/** The run's report record as stored (any JSON), or null when there is none. */
export async function readReportRecord(store: RunStore, runId: string): Promise<unknown> {
  return parseJson(await store.read(runPaths.report(runId)));
}

/**
 * Writes the run's report record, creating it or replacing whatever generation is there. The
 * generation precondition makes each try safe to retry; a report written in between by another
 * step is replaced by the next try, so the last report wins.
 */
export async function writeReportRecord(store: RunStore, runId: string, json: string): Promise<void> {
  const name = runPaths.report(runId);
  for (let i = 0; ; i++) {
    const current = await store.metadata(name);
    try {
      await store.write(name, Buffer.from(json), { ifGenerationMatch: current ? current.generation : 0, contentType: 'application/json' });
      return;
    } catch (e) {
      if (!isPreconditionFailed(e) || i >= 2) throw e;
    }
  }
}

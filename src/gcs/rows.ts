// The cluster's result rows and heartbeat (docs/reference/gcs-layout.md#result-rows, docs/reference/reruns-and-progress.md#reruns, docs/reference/reruns-and-progress.md#verdicts): names, latest attempts, and
// what is done. Pure parts first; the two readers at the end do the I/O.
import pLimit from 'p-limit';
import { isPreconditionFailed, type RemoteObject, type RunStore, runPaths } from './store.js';

const ROW_NAME = /^runs\/[^/]+\/rows\/([^/]+)\/attempt-(\d+)\.json$/;

export interface RowRef {
  instanceId: string;
  attempt: number;
  name: string;
}

/** Row objects by instance; `n` is not zero-padded, so "latest" is the numerically highest. */
export function rowRefs(names: Iterable<string>): Map<string, RowRef[]> {
  const out = new Map<string, RowRef[]>();
  for (const name of names) {
    const m = ROW_NAME.exec(name);
    if (!m) continue;
    const ref = { instanceId: m[1], attempt: Number(m[2]), name };
    const list = out.get(ref.instanceId) ?? [];
    list.push(ref);
    out.set(ref.instanceId, list);
  }
  for (const list of out.values()) list.sort((a, b) => a.attempt - b.attempt);
  return out;
}

export function highestAttempt(refs: Map<string, RowRef[]>): number {
  let max = 0;
  for (const list of refs.values()) for (const r of list) max = Math.max(max, r.attempt);
  return max;
}

export interface Row {
  instance_id?: string;
  database?: string;
  phase1_passed?: boolean;
  phase2_passed?: boolean;
  total_reward?: number;
  error?: unknown;
  submission_status?: string;
  [k: string]: unknown;
}

/** A row, or null when it cannot be read as a JSON object (it counts as not done). */
export function parseRow(bytes: Buffer | null): Row | null {
  if (!bytes) return null;
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Row) : null;
  } catch {
    return null;
  }
}

export interface LatestRow {
  ref: RowRef;
  row: Row | null;
}

/** Reads the latest attempt row of each instance that has one. */
export async function latestRows(store: RunStore, runId: string, concurrency = 32): Promise<{ refs: Map<string, RowRef[]>; latest: Map<string, LatestRow> }> {
  const listing: Map<string, RemoteObject> = await store.list(runPaths.rowsPrefix(runId));
  const refs = rowRefs(listing.keys());
  const limit = pLimit(concurrency);
  const latest = new Map<string, LatestRow>();
  await Promise.all(
    [...refs.values()].map((list) =>
      limit(async () => {
        const ref = list[list.length - 1];
        latest.set(ref.instanceId, { ref, row: parseRow(await store.read(ref.name)) });
      }),
    ),
  );
  return { refs, latest };
}

/** docs/reference/reruns-and-progress.md#reruns: done when the latest row has a falsy `error`; the rest, in manifest order. */
export function unfinished(instanceIds: readonly string[], latest: ReadonlyMap<string, LatestRow>): string[] {
  return instanceIds.filter((iid) => {
    const l = latest.get(iid);
    return !l || l.row === null || Boolean(l.row.error);
  });
}

export interface RunStatus {
  ray_job_id: string;
  last_heartbeat_ts: number;
  rows_done: number;
  rows_total: number;
  terminal_state: 'done' | 'error' | null;
  attempt: number;
  /**
   * Set by stop-run-id (epoch seconds), with terminal_state `error`: the Python tools then see a
   * finished run, and this action's reports say it was stopped.
   */
  stopped_at?: number;
}

/** status.json as compact JSON, keys in the documented order (the action's own key last). */
function statusJson(s: RunStatus): string {
  return JSON.stringify({
    ray_job_id: s.ray_job_id,
    last_heartbeat_ts: s.last_heartbeat_ts,
    rows_done: s.rows_done,
    rows_total: s.rows_total,
    terminal_state: s.terminal_state,
    attempt: s.attempt,
    ...(s.stopped_at === undefined ? {} : { stopped_at: s.stopped_at }),
  });
}

/**
 * Records that an attempt was stopped, unless status.json already belongs to a newer attempt: a
 * generation precondition keeps a heartbeat or a rerun that wrote in between.
 */
export async function recordStopped(store: RunStore, runId: string, attempt: number, now: number = Date.now()): Promise<'recorded' | 'newer'> {
  const name = runPaths.status(runId);
  for (let i = 0; i < 3; i++) {
    const current = await store.metadata(name);
    const status = current ? parseStatus(await store.read(name)) : null;
    if (typeof status?.attempt === 'number' && status.attempt > attempt) return 'newer';
    const stopped: RunStatus = {
      ray_job_id: typeof status?.ray_job_id === 'string' ? status.ray_job_id : '',
      last_heartbeat_ts: typeof status?.last_heartbeat_ts === 'number' ? status.last_heartbeat_ts : now / 1000,
      rows_done: typeof status?.rows_done === 'number' ? status.rows_done : 0,
      rows_total: typeof status?.rows_total === 'number' ? status.rows_total : 0,
      terminal_state: 'error',
      attempt,
      stopped_at: now / 1000,
    };
    try {
      await store.write(name, Buffer.from(statusJson(stopped)), { ifGenerationMatch: current ? current.generation : 0, contentType: 'application/json' });
      return 'recorded';
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
    }
  }
  return 'newer';
}

export function parseStatus(bytes: Buffer | null): Partial<RunStatus> | null {
  if (!bytes) return null;
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null ? (v as Partial<RunStatus>) : null;
  } catch {
    return null;
  }
}

/** Writes a fresh status.json for an attempt, replacing whatever generation is there. */
export async function writeFreshStatus(store: RunStore, runId: string, fresh: RunStatus): Promise<void> {
  const name = runPaths.status(runId);
  const current = await store.metadata(name);
  await store.write(name, Buffer.from(statusJson(fresh)), { ifGenerationMatch: current ? current.generation : 0, contentType: 'application/json' });
}

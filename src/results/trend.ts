// The trend of trend-runs (docs/results.md#run-history): the last N reported runs of a group
// (combo, models, instance set), read from their report records; only a finished run without a
// record is counted from its rows. Runs are walked newest first, a few at a time, until every
// group has its N runs.
import { Inputs } from '../common/constants.js';
import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { type RunHead, type RunIndex, type RunRef, readReportRecord, readRunHead } from '../gcs/runs.js';
import type { RunStore } from '../gcs/store.js';
import { groupKey, manifestGroup, parseReportRecord, type RunGroup, type Trend, type TrendRun } from './history.js';
import { collectResults } from './read.js';

/** Runs probed at once (their report records, or manifest and status). */
const WALK_BATCH = 8;
/** list-runs charts the groups of its newest runs, at most this many. */
const MAX_TREND_GROUPS = 5;

type Probe = { runId: string; created: number } & ({ kind: 'record'; key: string; run: TrendRun } | { kind: 'rows'; key: string } | { kind: 'none' });

/** A run's report record; without one (or one of a run reported while it ran), its group if it finished. */
async function probe(store: RunStore, ref: RunRef, heads: ReadonlyMap<string, RunHead>): Promise<Probe> {
  const base = { runId: ref.runId, created: ref.created };
  const record = parseReportRecord(await readReportRecord(store, ref.runId));
  if (record && record.state !== null) {
    return { ...base, kind: 'record', key: groupKey(record), run: { ...base, figures: record, source: 'report.json' } };
  }
  const head = heads.get(ref.runId) ?? (await readRunHead(store, ref));
  const group = manifestGroup(head.manifest);
  const finished = head.status?.terminal_state === 'done' || head.status?.terminal_state === 'error';
  return group && finished ? { ...base, kind: 'rows', key: groupKey(group) } : { ...base, kind: 'none' };
}

interface TrendOptions {
  /** Runs to walk, newest first. */
  runs: readonly RunRef[];
  groups: readonly RunGroup[];
  /** trend-runs: the runs per group, newest kept. */
  count: number;
  /** Runs already counted, per group (the run this step reports), oldest first. */
  seed?: ReadonlyMap<string, TrendRun[]>;
  /** Heads already read (list-runs read its runs' manifests and status). */
  heads?: ReadonlyMap<string, RunHead>;
  log: Log;
}

/** The trend of each group, oldest run first. */
async function collectTrends(store: RunStore, o: TrendOptions): Promise<Trend[]> {
  const found = new Map(o.groups.map((g) => [groupKey(g), [] as Array<TrendRun | null>]));
  const need = (key: string): number => o.count - (o.seed?.get(key)?.length ?? 0);
  const full = (): boolean => [...found].every(([key, list]) => list.length >= need(key));
  for (let i = 0; i < o.runs.length && !full(); i += WALK_BATCH) {
    const probes = await Promise.all(o.runs.slice(i, i + WALK_BATCH).map((ref) => probe(store, ref, o.heads ?? new Map())));
    const counting: Array<Promise<void>> = [];
    for (const p of probes) {
      if (p.kind === 'none') continue;
      const list = found.get(p.key);
      if (!list || list.length >= need(p.key)) continue;
      if (p.kind === 'record') {
        list.push(p.run);
        continue;
      }
      // A slot in walk order, filled once the rows are counted (null when they cannot be).
      const slot = list.length;
      list.push(null);
      counting.push(
        collectResults(store, p.runId, { input: Inputs.TrendRuns, log: o.log }).then(
          ({ results }) => {
            list[slot] = { runId: p.runId, created: p.created, figures: results, source: 'rows' };
          },
          (e: unknown) => o.log.warning(`trend-runs: run '${p.runId}' left out, its rows could not be read: ${errorMessage(e)}`),
        ),
      );
    }
    await Promise.all(counting);
  }
  return o.groups.map((group) => {
    const key = groupKey(group);
    const older = (found.get(key) ?? []).filter((r): r is TrendRun => r !== null).reverse();
    return { group, runs: [...older, ...(o.seed?.get(key) ?? [])], wanted: o.count };
  });
}

/** The trend of a reported run: its group's runs committed before it, then the run itself. */
export async function reportTrend(store: RunStore, index: RunIndex, group: RunGroup, reported: TrendRun, count: number, log: Log): Promise<Trend> {
  const at = index.runs.findIndex((r) => r.runId === reported.runId);
  const [trend] = await collectTrends(store, {
    runs: at === -1 ? index.runs : index.runs.slice(at + 1),
    groups: [group],
    count,
    seed: new Map([[groupKey(group), [reported]]]),
    log,
  });
  return trend;
}

/** list-runs with trend-runs: the groups of the listed runs (newest first, at most MAX_TREND_GROUPS). */
export async function listTrends(store: RunStore, index: RunIndex, heads: readonly RunHead[], count: number, log: Log): Promise<Trend[]> {
  const groups = new Map<string, RunGroup>();
  for (const h of heads) {
    const g = manifestGroup(h.manifest);
    if (g && !groups.has(groupKey(g))) groups.set(groupKey(g), g);
  }
  const shown = [...groups.values()].slice(0, MAX_TREND_GROUPS);
  if (groups.size > shown.length) log.info(`trend-runs: the listed runs are of ${groups.size} groups; the ${shown.length} newest are charted`);
  return collectTrends(store, { runs: index.runs, groups: shown, count, heads: new Map(heads.map((h) => [h.runId, h])), log });
}

// Run history, pure: the state of a listed run, the report record (runs/<id>/report.json), the
// group a trend compares within (combo, models, instance set), and the markdown of the run list
// and of a trend. Definitions: docs/results.md#run-history.
import { createHash } from 'node:crypto';
import type { RunStatus } from '../gcs/rows.js';
import { STALL_AFTER_MS } from '../ray/wait.js';
import type { Figures } from './aggregate.js';
import { code } from './render.js';
import { markdownTable } from './summary.js';
import { mermaidFence, trendLineChart } from './xychart.js';

export type RunState = 'running' | 'done' | 'error' | 'stopped' | 'stalled' | 'unknown';

/**
 * From status.json: none → unknown; a stop (stopped_at) → stopped; a terminal state → done or
 * error; no heartbeat for STALL_AFTER_MS (300 s, as a wait's verdict) → stalled; else running.
 */
export function runState(status: Partial<RunStatus> | null, nowMs: number): RunState {
  if (!status) return 'unknown';
  if (typeof status.stopped_at === 'number') return 'stopped';
  if (status.terminal_state === 'done') return 'done';
  if (status.terminal_state === 'error') return 'error';
  if (typeof status.last_heartbeat_ts !== 'number') return 'unknown';
  return nowMs - status.last_heartbeat_ts * 1000 > STALL_AFTER_MS ? 'stalled' : 'running';
}

interface Combo {
  framework: string;
  query_mode: string;
  mode: string;
  slayer_setup: string;
}

interface Models {
  agent_model: string;
  user_sim_model: string;
}

/** The instance set of a run: how many ids, and the SHA-256 of the sorted distinct ids, one per line. */
export interface InstanceSet {
  count: number;
  sha256: string;
}

/** What a trend compares within: runs with the same combo, models and instance set. */
export interface RunGroup {
  combo: Combo;
  models: Models;
  instances: InstanceSet;
}

export function instanceSet(ids: readonly string[]): InstanceSet {
  const sorted = [...new Set(ids)].sort();
  return { count: sorted.length, sha256: createHash('sha256').update(sorted.join('\n')).digest('hex') };
}

export function groupKey(g: RunGroup): string {
  const c = g.combo;
  return JSON.stringify([c.framework, c.query_mode, c.mode, c.slayer_setup, g.models.agent_model, g.models.user_sim_model, g.instances.sha256]);
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/**
 * The group of a stored manifest, read leniently (the action's, or the Python tools' with their
 * defaults: slayer_setup pre-encoded, instance_ids as a comma list); null when a key is missing.
 */
export function manifestGroup(manifest: unknown): RunGroup | null {
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) return null;
  const m = manifest as Record<string, unknown>;
  const framework = str(m.framework);
  const queryMode = str(m.query_mode);
  const mode = str(m.mode);
  const agent = str(m.agent_model);
  const userSim = str(m.user_sim_model);
  if (!framework || !queryMode || !mode || !agent || !userSim) return null;
  const raw = m.instance_ids;
  const ids = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(',').filter(Boolean) : [];
  return {
    combo: { framework, query_mode: queryMode, mode, slayer_setup: str(m.slayer_setup) ?? 'pre-encoded' },
    models: { agent_model: agent, user_sim_model: userSim },
    instances: instanceSet(ids),
  };
}

/** runs/<id>/report.json: the figures the action reported for a run, and the run's group. */
export interface ReportRecord extends RunGroup {
  schema: 1;
  run_id: string;
  n: number;
  phase1_rate: number;
  phase2_rate: number;
  avg_reward: number;
  errors: number;
  /** ISO 8601, UTC. */
  reported_at: string;
  attempt: number;
  /** The run's state when it was reported: done, error, stopped, or null while it ran. */
  state: string | null;
}

export function reportRecord(runId: string, group: RunGroup, f: Figures, attempt: number, state: string | null, now: Date = new Date()): ReportRecord {
  return {
    schema: 1,
    run_id: runId,
    n: f.n,
    phase1_rate: f.phase1_rate,
    phase2_rate: f.phase2_rate,
    avg_reward: f.avg_reward,
    errors: f.errors,
    reported_at: now.toISOString(),
    attempt,
    state,
    combo: group.combo,
    models: group.models,
    instances: group.instances,
  };
}

export function serializeReportRecord(r: ReportRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

const rate = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;
const count = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** A stored report record, or null when it is not one this action writes (then the rows decide). */
export function parseReportRecord(value: unknown): ReportRecord | null {
  if (typeof value !== 'object' || value === null) return null;
  const r = value as Partial<Record<keyof ReportRecord, unknown>>;
  const c = (r.combo ?? {}) as Partial<Record<keyof Combo, unknown>>;
  const m = (r.models ?? {}) as Partial<Record<keyof Models, unknown>>;
  const i = (r.instances ?? {}) as Partial<Record<keyof InstanceSet, unknown>>;
  const strings = [r.run_id, r.reported_at, c.framework, c.query_mode, c.mode, c.slayer_setup, m.agent_model, m.user_sim_model];
  if (r.schema !== 1 || !strings.every((s) => typeof s === 'string') || typeof i.sha256 !== 'string' || !count(i.count)) return null;
  if (!count(r.n) || !rate(r.phase1_rate) || !rate(r.phase2_rate) || typeof r.avg_reward !== 'number' || !Number.isFinite(r.avg_reward) || !count(r.errors))
    return null;
  if (!(typeof r.state === 'string' || r.state === null) || !count(r.attempt)) return null;
  return value as ReportRecord;
}

/** One run of list-runs; runs-json is an array of these. */
export interface RunListEntry {
  run_id: string;
  /** Null when the manifest cannot be read as one. */
  combo: Combo | null;
  models: Models | null;
  state: RunState;
  /** status.json's rows_done and rows_total (of the latest attempt), or null without them. */
  done: number | null;
  total: number | null;
  attempt: number | null;
  /** The manifest's creation time, ISO 8601 UTC. */
  created: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export function listEntry(head: { runId: string; created: number; manifest: unknown; status: Partial<RunStatus> | null }, nowMs: number): RunListEntry {
  const g = manifestGroup(head.manifest);
  return {
    run_id: head.runId,
    combo: g?.combo ?? null,
    models: g?.models ?? null,
    state: runState(head.status, nowMs),
    done: num(head.status?.rows_done),
    total: num(head.status?.rows_total),
    attempt: num(head.status?.attempt),
    created: new Date(head.created).toISOString(),
  };
}

/** `2026-11-24 09:30` (UTC). */
function minute(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

function comboCell(c: Combo): string {
  return [c.framework, c.query_mode, c.mode, c.slayer_setup].map(code).join(' / ');
}

function modelsCell(m: Models): string {
  return `agent ${code(m.agent_model)}, user-sim ${code(m.user_sim_model)}`;
}

/** The list-runs section of the job summary: a table of the runs, newest first. */
export function runsSummary(bucket: string, entries: readonly RunListEntry[], o: { committed: number; uncommitted: number }): string {
  const rows = entries.map((e) => [
    code(e.run_id),
    minute(e.created),
    e.combo ? comboCell(e.combo) : '(unreadable manifest)',
    e.models ? modelsCell(e.models) : '',
    e.state,
    e.done === null && e.total === null ? '—' : `${e.done ?? '?'}/${e.total ?? '?'}`,
    e.attempt === null ? '—' : String(e.attempt),
  ]);
  const notes = [
    `The ${entries.length} newest of ${o.committed} run(s) in ${code(`gs://${bucket}/runs/`)}, by the time each manifest was committed.`,
    ...(o.uncommitted > 0 ? [`${o.uncommitted} run folder(s) without a manifest (uploads never committed) are not listed.`] : []),
  ];
  return [
    '## BIRD-Interact runs',
    '',
    ...notes,
    '',
    ...(rows.length > 0 ? [markdownTable(['run', 'committed (UTC)', 'combo', 'models', 'state', 'done/total', 'attempt'], rows), ''] : []),
  ].join('\n');
}

/** One run of a trend. */
export interface TrendRun {
  runId: string;
  /** The manifest's creation time (ms since the epoch). */
  created: number;
  figures: Pick<Figures, 'n' | 'phase1_rate' | 'phase2_rate' | 'avg_reward' | 'errors'>;
  /** Where the figures came from: the run's report record, its rows, or the report of this step. */
  source: 'report.json' | 'rows' | 'this report';
}

export interface Trend {
  group: RunGroup;
  /** Oldest first. */
  runs: TrendRun[];
  /** How many runs were asked for (trend-runs). */
  wanted: number;
}

function percent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** x-axis labels: the day (`11-24`), or day and time when two runs share a day. */
function trendLabels(runs: readonly TrendRun[]): string[] {
  const iso = runs.map((r) => new Date(r.created).toISOString());
  const days = iso.map((t) => t.slice(5, 10));
  return new Set(days).size === days.length ? days : iso.map((t) => `${t.slice(5, 10)} ${t.slice(11, 16)}`);
}

/**
 * A trend in the job summary: the group, a line chart of the phase-1 rate (percent, oldest run
 * first) and a table of the runs it draws.
 */
export function trendSection(t: Trend): string {
  const labels = trendLabels(t.runs);
  const chart = trendLineChart(
    t.runs.map((r, i) => ({ label: labels[i], value: r.figures.phase1_rate * 100 })),
    { title: `phase-1 pass rate (%), last ${t.runs.length} run(s)`, yTitle: 'phase-1 (%)', min: 0, max: 100, decimals: 1, maxPoints: t.wanted },
  );
  const rows = t.runs.map((r) => [
    code(r.runId),
    minute(new Date(r.created).toISOString()),
    String(r.figures.n),
    percent(r.figures.phase1_rate),
    percent(r.figures.phase2_rate),
    r.figures.avg_reward.toFixed(3),
    String(r.figures.errors),
    r.source,
  ]);
  const g = t.group;
  return [
    `### Phase-1 trend: ${comboCell(g.combo)}`,
    '',
    `- models: ${modelsCell(g.models)}`,
    `- instance set: ${g.instances.count} instance(s), sha256 ${code(g.instances.sha256.slice(0, 12))}`,
    `- ${t.runs.length} of the ${t.wanted} reported run(s) asked for (trend-runs), oldest first`,
    '',
    ...(chart ? [mermaidFence(chart), ''] : []),
    ...(rows.length > 0 ? [markdownTable(['run', 'committed (UTC)', 'n', 'phase-1', 'phase-2', 'avg reward', 'errors', 'from'], rows), ''] : []),
  ].join('\n');
}

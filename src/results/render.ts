// What people read: the job summary and the PR comment. Pure: data in, markdown out.
// Rates show as percentages with one decimal; the JSON and outputs keep full doubles.

import { formatDuration } from '../common/time.js';
import type { RunManifest } from '../plan/manifest.js';
import { compareDbs, type Failure, type Figures, type RunResults } from './aggregate.js';
import type { GateCheck } from './gate.js';
import { markdownTable } from './summary.js';
import { mermaidFence, phaseBarChart, XYCHART_MAX_BARS } from './xychart.js';

export interface RunHeader {
  runId: string;
  manifest: Pick<RunManifest, 'framework' | 'query_mode' | 'mode' | 'slayer_setup' | 'agent_model' | 'user_sim_model'>;
  attempt: number;
  /** Seconds, or null when unknown. */
  durationSeconds: number | null;
  /** How the duration was measured, when it is not the wait of this step (e.g. from GCS times). */
  durationNote?: string;
  dashboardUrl: string | null;
  /** status.json's terminal_state: `done`, `error`, or null while running. */
  state: string | null;
}

export interface Baseline {
  runId: string;
  results: RunResults;
}

/** Failures listed in the PR comment (the job summary lists up to 1000: step-summary.ts). */
const COMMENT_FAILURES = 50;
const REASON_CHARS = 240;

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)}%`;
}

function rateCell(rate: number, k: number, n: number): string {
  return `${percent(rate)} (${k}/${n})`;
}

function reward(x: number): string {
  return x.toFixed(3);
}

/**
 * Text from rows, job messages and stored manifests as inert markdown: no HTML, links, images,
 * emphasis or code, and no @mention, #ref or autolink that would notify someone or point away
 * (a zero-width space breaks what GitHub would link).
 */
export function mdText(text: string): string {
  return text
    .replace(/[\\`*[\]~]/g, (c) => `\\${c}`)
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/@(?=[A-Za-z0-9])/g, '@\u200b')
    .replace(/#(?=[0-9])/g, '#\u200b')
    .replace(/:\/\//g, ':\u200b//')
    .replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}\u200b.`);
}

/** A name (instance id, DB, run id) as a code span that no backtick in it can close. */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

function oneLine(s: string, max: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The run's combo and models, as list items (they appear once in a summary). */
export function comboLines(m: RunHeader['manifest']): string[] {
  return [
    `- combo: ${[m.framework, m.query_mode, m.mode, m.slayer_setup].map(code).join(' / ')}`,
    `- models: agent ${code(m.agent_model)}, user-sim ${code(m.user_sim_model)}`,
  ];
}

/** The attempt, its duration and state, and the dashboard link, as list items. */
export function attemptLines(h: RunHeader): string[] {
  const run = [`attempt ${h.attempt}`];
  if (h.durationSeconds !== null) run.push(`duration ${formatDuration(h.durationSeconds * 1000)}${h.durationNote ? ` (${h.durationNote})` : ''}`);
  run.push(`state ${h.state ? code(h.state) : 'running (no terminal state yet)'}`);
  return [`- ${run.join(', ')}`, ...(h.dashboardUrl ? [`- dashboard: [Ray job](${h.dashboardUrl})`] : [])];
}

/** One line with the overall figures. */
export function headline(figures: Figures): string {
  const parts = [
    `**${figures.n} instance${figures.n === 1 ? '' : 's'}**`,
    `phase-1 ${rateCell(figures.phase1_rate, figures.phase1_passed, figures.n)}`,
    `phase-2 ${rateCell(figures.phase2_rate, figures.phase2_passed, figures.n)}`,
    `avg reward ${reward(figures.avg_reward)}`,
    `${figures.errors} error${figures.errors === 1 ? '' : 's'}`,
  ];
  if (figures.unreadable > 0) parts.push(`${figures.unreadable} unreadable row${figures.unreadable === 1 ? '' : 's'}`);
  if (figures.missing > 0) parts.push(`${figures.missing} without a row`);
  return parts.join(' · ');
}

/** Columns that are shown only when some row has them: an all-zero column says nothing. */
const OPTIONAL_COLUMNS = [
  { head: 'unreadable', cell: (f: Figures) => f.unreadable },
  { head: 'no row', cell: (f: Figures) => f.missing },
] as const;

/** The table per DB (sorted by DB), with a total row; `unreadable` and `no row` only when not all 0. */
function resultsTable(r: RunResults): string {
  const optional = OPTIONAL_COLUMNS.filter((c) => c.cell(r) > 0);
  const cells = (f: Figures): string[] => [
    String(f.n),
    rateCell(f.phase1_rate, f.phase1_passed, f.n),
    rateCell(f.phase2_rate, f.phase2_passed, f.n),
    reward(f.avg_reward),
    String(f.errors),
    ...optional.map((c) => String(c.cell(f))),
  ];
  const rows = r.per_db.map((d) => [code(d.db), ...cells(d)]);
  rows.push(['**all**', ...cells(r)]);
  return markdownTable(['DB', 'n', 'phase-1 pass', 'phase-2 pass', 'avg reward', 'errors', ...optional.map((c) => c.head)], rows);
}

/**
 * The per-DB bar chart of the phase-1 and phase-2 pass rates (src/results/xychart.ts), as a
 * mermaid block; null for fewer than two DBs (the table says it all) or more than a chart takes.
 */
function phaseChart(r: Pick<RunResults, 'per_db'>): string | null {
  if (r.per_db.length < 2 || r.per_db.length > XYCHART_MAX_BARS) return null;
  const chart = phaseBarChart(r.per_db.map((d) => ({ label: d.db, phase1: d.phase1_rate, phase2: d.phase2_rate })));
  return chart === null ? null : mermaidFence(chart);
}

/** The gate's verdict: a line, then each threshold against the measured figure; '' without a gate. */
export function gateBlock(checks: readonly GateCheck[]): string {
  if (checks.length === 0) return '';
  const passed = checks.every((c) => c.passed);
  const rows = checks.map((c) => [code(c.input), c.threshold, c.measured, c.passed ? '✅ passed' : '❌ failed']);
  return [`**Quality gate: ${passed ? '✅ passed' : '❌ failed'}**`, '', markdownTable(['gate', 'threshold', 'measured', 'verdict'], rows)].join('\n');
}

function signed(x: number, digits: number, unit = ''): string {
  const t = x.toFixed(digits);
  if (Number(t) === 0) return `±${(0).toFixed(digits)}${unit}`;
  return `${x > 0 ? '+' : '-'}${Math.abs(x).toFixed(digits)}${unit}`;
}

/** The table per DB with the deltas against a baseline run: DBs of either run, sorted. */
export function deltaTable(results: RunResults, base: RunResults): string {
  const cur = new Map(results.per_db.map((d) => [d.db, d]));
  const old = new Map(base.per_db.map((d) => [d.db, d]));
  const dbs = [...new Set([...cur.keys(), ...old.keys()])].sort(compareDbs);
  const line = (label: string, f: Figures | undefined, b: Figures | undefined): string[] => {
    if (!f) return [label, '—', '—', '—', '—', '—', '—', '—', '—', '—'];
    const d = (cell: (x: Figures) => string): string => (b ? cell(b) : 'new');
    return [
      label,
      String(f.n),
      rateCell(f.phase1_rate, f.phase1_passed, f.n),
      d((x) => signed((f.phase1_rate - x.phase1_rate) * 100, 1, ' pp')),
      rateCell(f.phase2_rate, f.phase2_passed, f.n),
      d((x) => signed((f.phase2_rate - x.phase2_rate) * 100, 1, ' pp')),
      reward(f.avg_reward),
      d((x) => signed(f.avg_reward - x.avg_reward, 3)),
      String(f.errors),
      d((x) => signed(f.errors - x.errors, 0)),
    ];
  };
  const rows = dbs.map((db) => line(cur.has(db) ? code(db) : `${code(db)} (baseline only)`, cur.get(db), old.get(db)));
  rows.push(line('**all**', results, base));
  return markdownTable(['DB', 'n', 'phase-1 pass', 'Δ phase-1', 'phase-2 pass', 'Δ phase-2', 'avg reward', 'Δ reward', 'errors', 'Δ errors'], rows);
}

/** Where a failed instance's log is (a URL), or null when it has none to link. */
export type LogUrl = (f: Failure) => string | null;

/**
 * The browser link of a failed instance's log object, `runs/<id>/logs/<iid>/attempt-<n>.log`
 * (docs/reference/gcs-layout.md): storage.cloud.google.com opens it for anyone signed in to Google
 * with read access to the bucket. An instance without a row has no attempt, so no link.
 */
export function gcsLogUrl(bucket: string, runId: string): LogUrl {
  return (f) =>
    f.attempt === null
      ? null
      : `https://storage.cloud.google.com/${bucket}/${['runs', runId, 'logs', f.instance_id, `attempt-${f.attempt}.log`].map(encodeURIComponent).join('/')}`;
}

/** The collapsible list of failures (at most `max`), or '' when there is none; with `logUrl`, a log column. */
export function failuresDetails(failures: readonly Failure[], max: number, moreHint: string, logUrl?: LogUrl): string {
  if (failures.length === 0) return '';
  const shown = failures.slice(0, max);
  const rows = shown.map((f) => {
    const row = [code(f.instance_id), code(f.db), f.attempt === null ? '—' : String(f.attempt), mdText(oneLine(f.reason, REASON_CHARS))];
    if (!logUrl) return row;
    const url = logUrl(f);
    return [...row, url ? `[log](${url})` : '—'];
  });
  const more = failures.length > shown.length ? [`… and ${failures.length - shown.length} more (${moreHint}).`, ''] : [];
  return [
    '<details>',
    `<summary>${failures.length} instance${failures.length === 1 ? '' : 's'} did not pass</summary>`,
    '',
    markdownTable(['instance', 'DB', 'attempt', 'reason', ...(logUrl ? ['log'] : [])], rows),
    '',
    ...more,
    '</details>',
  ].join('\n');
}

function unreadableLine(r: RunResults): string[] {
  return r.unreadable_ids.length > 0 ? [`Unreadable rows (counted in n as failures): ${r.unreadable_ids.map(code).join(', ')}`, ''] : [];
}

export interface ResultsBlockOptions {
  /** Failures listed at most; 0: a line that says how many and where they are. */
  maxFailures: number;
  /** Where the failures beyond maxFailures are. */
  moreHint: string;
  /** The comment shows the deltas instead of the plain table; the summary shows both. */
  deltas: 'instead' | 'beside';
  /** Links each failure's log (gcsLogUrl). */
  logUrl?: LogUrl;
}

/** Blank-line-separated blocks as one markdown text. */
function blocks(parts: ReadonlyArray<string | null>): string {
  return parts.filter((p): p is string => p !== null && p !== '').join('\n\n');
}

/** The results: the headline, the table per DB (and the deltas), the chart, then what did not pass. */
export function resultsBlock(r: RunResults, baseline: Baseline | null, o: ResultsBlockOptions): string {
  const deltas = baseline
    ? `${o.deltas === 'instead' ? 'Deltas against' : 'Against'} baseline run ${code(baseline.runId)} (${headline(baseline.results)}):\n\n${deltaTable(r, baseline.results)}`
    : null;
  const failures =
    r.failures.length === 0
      ? null
      : o.maxFailures > 0
        ? failuresDetails(r.failures, o.maxFailures, o.moreHint, o.logUrl)
        : `${r.failures.length} instance${r.failures.length === 1 ? '' : 's'} did not pass: ${o.moreHint}.`;
  return blocks([
    headline(r),
    baseline && o.deltas === 'instead' ? null : resultsTable(r),
    deltas,
    phaseChart(r),
    unreadableLine(r).join('\n').trim(),
    failures,
  ]);
}

/**
 * What names a PR comment: `comment-key` when set, else the workflow, the combo and the models, so
 * that the legs of a matrix (framework × model) keep one comment each.
 */
export function commentKey(input: string | undefined, workflow: string, m: RunHeader['manifest']): string {
  if (input?.trim()) return input.trim();
  return `${workflow || 'bird-cloud-action'} · ${m.framework}/${m.query_mode}/${m.mode}/${m.slayer_setup} · ${m.agent_model} + ${m.user_sim_model}`;
}

/** The hidden marker that finds our comment again: one per key (commentKey). */
export function commentMarker(key: string): string {
  return `<!-- bird-cloud-action:results:${encodeURIComponent(key).replace(/-/g, '%2D')} -->`;
}

export interface CommentInput {
  marker: string;
  header: RunHeader;
  results: RunResults;
  baseline: Baseline | null;
  /** The gate's checks (gate.ts gateChecks); shown at the top when any threshold is set. */
  gate?: readonly GateCheck[];
  /** The workflow run, linked at the bottom. */
  workflowRunUrl?: string;
  /** Links each failure's log (gcsLogUrl). */
  logUrl?: LogUrl;
}

/** GitHub refuses comment bodies over 65,536 characters. */
export const COMMENT_MAX_CHARS = 65_536;

/**
 * The PR comment: the marker, the gate's verdict, the results (deltas instead of the plain table
 * when there is a baseline), then the run's facts.
 */
export function renderComment(content: CommentInput): string {
  const full = commentBody(content, COMMENT_FAILURES);
  return full.length <= COMMENT_MAX_CHARS ? full : commentBody(content, 0);
}

function commentBody(c: CommentInput, maxFailures: number): string {
  return [
    c.marker,
    blocks([
      `### BIRD-Interact results: ${code(c.header.runId)}`,
      gateBlock(c.gate ?? []),
      resultsBlock(c.results, c.baseline, { maxFailures, moreHint: 'see the job summary', deltas: 'instead', logUrl: c.logUrl }),
      [...comboLines(c.header.manifest), ...attemptLines(c.header)].join('\n'),
      `<sub>${c.workflowRunUrl ? `[workflow run](${c.workflowRunUrl}) · ` : ''}posted by bird-cloud-action; updated in place on reruns</sub>`,
    ]),
    '',
  ].join('\n');
}

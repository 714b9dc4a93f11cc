// Mermaid `xychart-beta` blocks for the job summary and the PR comment. Pure: data in, text out;
// it imports nothing. Why each rule holds, and how it was checked, is in docs/rendering.md.

/** One DB's pass rates, as fractions from 0 to 1 (RunResults.per_db). */
export interface PhaseRates {
  label: string;
  phase1: number;
  phase2: number;
}

/** One point of a trend: a run (or a date) and its value. */
export interface TrendPoint {
  label: string;
  value: number;
}

/** Bars drawn at most (one row per DB, the chart grows with them): more, and no chart. */
export const XYCHART_MAX_BARS = 30;
/** Points drawn at most on a trend (the newest); their labels share the 700 px width. */
export const XYCHART_MAX_POINTS = 12;
/** Labels are cut to this many characters (with `…`). */
export const XYCHART_LABEL_CHARS = 20;

/** Which end of a long label to keep. */
export type LabelKeep = 'start' | 'end';

// The default theme draws the first series in a pale lavender that hardly shows on white; a
// palette of GitHub blues reads in light and dark mode. Set through the frontmatter `config:`.
const BAR_PALETTE = '#8cb4e8, #0b5cad';
const LINE_PALETTE = '#0b5cad';
// Mermaid's default chart is 700 x 500 px; a horizontal bar chart gets this much per bar, and
// a trend is kept lower.
const BAR_ROW_PX = 22;
const BAR_CHART_EXTRA_PX = 100;
const LINE_CHART_PX = 300;
// Width of the x axis of a 700 px chart, and of one label character at its 14 px font.
const PLOT_PX = 640;
const CHAR_PX = 7.2;

// Inside `"…"` mermaid's lexer takes every character but `"`; `%%` starts a comment anywhere
// on a line, and a string that starts with a backtick is a markdown string. Mermaid decodes
// `#name;` and `#123;` in the text, so these become entities, and `#` itself too, so that a
// `#…;` already in the text shows as it is.
const ENTITY: Readonly<Record<string, string>> = { '"': '#quot;', '#': '#35;', '%': '#37;', '`': '#96;' };

/** Whitespace folded to one space, cut to `max` characters with `…` (at the end, or at the start to keep the end). */
function cut(text: string, max: number, keep: LabelKeep = 'start'): string {
  const t = text.replace(/\s+/g, ' ').trim();
  const chars = [...t];
  if (chars.length <= max) return t;
  const n = Math.max(1, max - 1);
  return keep === 'start' ? `${chars.slice(0, n).join('')}…` : `…${chars.slice(-n).join('')}`;
}

/** Quotes a text already cut; `""` is rejected by the lexer, so empty becomes one space. */
function quote(t: string): string {
  return `"${(t === '' ? ' ' : t).replace(/["#%`]/g, (c) => ENTITY[c] ?? c)}"`;
}

/**
 * A text as a quoted xychart string: whitespace folded to one space, cut to `max` characters,
 * `"`, `#`, `%` and the backtick as mermaid entities. An empty text becomes one space.
 */
export function xychartString(text: string, max = Number.POSITIVE_INFINITY): string {
  return quote(cut(text, max));
}

/**
 * Axis labels, cut and then made distinct: mermaid puts equal labels on one band, so bars or
 * points with the same (cut) label would be drawn on top of each other. A repeat gets `~2`,
 * `~3`, … within the same length. `keep: 'end'` cuts the start away (run ids, dates).
 */
export function xychartLabels(labels: readonly string[], max: number, keep: LabelKeep = 'start'): string[] {
  const seen = new Set<string>();
  return labels.map((l) => {
    let t = cut(l, max, keep);
    for (let k = 2; seen.has(t); k++) t = `${cut(l, Math.max(1, max - String(k).length - 1), keep)}~${k}`;
    seen.add(t);
    return quote(t);
  });
}

/** A number as the grammar takes it: plain decimal, no exponent, `-0` as `0`. */
function num(x: number, decimals: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`xychart: not a finite number: ${x}`);
  const t = x
    .toFixed(decimals)
    .replace(/(\.\d*?)0+$/, '$1')
    .replace(/\.$/, '');
  return t === '-0' ? '0' : t;
}

function rateToPercent(rate: number, what: string): string {
  if (!Number.isFinite(rate) || rate < 0 || rate > 1) throw new RangeError(`xychart: ${what} must be a fraction from 0 to 1, got ${rate}`);
  return num(rate * 100, 1);
}

function axis(labels: readonly string[], maxChars: number, keep: LabelKeep = 'start'): string {
  return `[${xychartLabels(labels, maxChars, keep).join(', ')}]`;
}

/** The frontmatter that sizes the chart and sets its colours (ignored where unsupported). */
function frontmatter(palette: string, height?: number): string[] {
  return [
    '---',
    'config:',
    ...(height === undefined ? [] : ['  xyChart:', `    height: ${height}`]),
    '  themeVariables:',
    '    xyChart:',
    `      plotColorPalette: "${palette}"`,
    '---',
  ];
}

export interface PhaseChartOptions {
  /** Default: what the colours mean. */
  title?: string;
  /** Default XYCHART_MAX_BARS. */
  maxBars?: number;
}

/**
 * The per-DB bar chart of the phase-1 and phase-2 pass rates in percent (0 to 100), one
 * horizontal bar per DB in the given order, or null when there is no DB or more than `maxBars`.
 * Mermaid draws both series at the same place, the second over the first, so phase-1 (the
 * longer: phase 2 follows a passed phase 1) goes first, in light blue, and phase-2 in front of
 * it in dark blue. Horizontal, because DB names are long: each gets its own row.
 */
export function phaseBarChart(rows: readonly PhaseRates[], o: PhaseChartOptions = {}): string | null {
  if (rows.length === 0 || rows.length > (o.maxBars ?? XYCHART_MAX_BARS)) return null;
  const p1 = rows.map((r) => rateToPercent(r.phase1, `phase-1 rate of ${r.label}`));
  const p2 = rows.map((r) => rateToPercent(r.phase2, `phase-2 rate of ${r.label}`));
  return [
    ...frontmatter(BAR_PALETTE, BAR_CHART_EXTRA_PX + BAR_ROW_PX * rows.length),
    'xychart-beta horizontal',
    `  title ${xychartString(o.title ?? 'Pass rate per DB (%): phase-1 light, phase-2 dark')}`,
    `  x-axis ${axis(
      rows.map((r) => r.label),
      XYCHART_LABEL_CHARS,
    )}`,
    '  y-axis "pass rate (%)" 0 --> 100',
    `  bar [${p1.join(', ')}]`,
    `  bar [${p2.join(', ')}]`,
  ].join('\n');
}

export interface TrendChartOptions {
  title: string;
  yTitle: string;
  /** The y range; default 0 to the largest value (0 to 1 when every value is 0). */
  min?: number;
  max?: number;
  /** Decimals kept of each value; default 3. */
  decimals?: number;
  /** Default XYCHART_MAX_POINTS: the newest points are kept. */
  maxPoints?: number;
}

/**
 * A line chart of a trend, oldest point first, or null without a point. Keeps the newest
 * `maxPoints`; labels are cut from the start so that they fit side by side (12 points: 6
 * characters, `nightly-2026-11-24` → `…11-24`), so give short ones (`11-24`, `#57`).
 */
export function trendLineChart(points: readonly TrendPoint[], o: TrendChartOptions): string | null {
  const shown = points.slice(-(o.maxPoints ?? XYCHART_MAX_POINTS));
  if (shown.length === 0) return null;
  const decimals = o.decimals ?? 3;
  const values = shown.map((p) => num(p.value, decimals));
  const min = o.min ?? 0;
  const top = Math.max(...shown.map((p) => p.value));
  const max = o.max ?? (top > min ? top : min + 1);
  const labelChars = Math.max(3, Math.min(XYCHART_LABEL_CHARS, Math.floor(PLOT_PX / shown.length / CHAR_PX) - 1));
  return [
    ...frontmatter(LINE_PALETTE, LINE_CHART_PX),
    'xychart-beta',
    `  title ${xychartString(o.title)}`,
    `  x-axis ${axis(
      shown.map((p) => p.label),
      labelChars,
      'end',
    )}`,
    `  y-axis ${xychartString(o.yTitle)} ${num(min, decimals)} --> ${num(max, decimals)}`,
    `  line [${values.join(', ')}]`,
  ].join('\n');
}

/** A diagram as a fenced ```mermaid block; the fence is longer than any backtick run inside. */
export function mermaidFence(diagram: string): string {
  const longest = Math.max(0, ...[...diagram.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}mermaid\n${diagram}\n${fence}`;
}

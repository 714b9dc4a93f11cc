// The figures of a run (docs/reference/reruns-and-progress.md#results): pure, from the instance list, the DB map and the
// latest attempt row of each instance. No I/O; read.ts collects the inputs.
//
// Definitions (the report, the outputs, results-json and the gate all use these):
// - The instances are the manifest's `instance_ids`, in manifest order, then any instance that
//   has rows but is not in the manifest (sorted): a row is never dropped.
// - Only the latest attempt of each instance counts (rows.ts `latestRows`).
// - Each instance has exactly one outcome:
//     missing    no row at all (not run yet, or lost)              → in n, a failure, reason "no row"
//     unreadable the latest row is not a JSON object               → in n, a failure, named
//     error      the latest row has a truthy `error`               → in n, a failure, counted in `errors`
//     pass       phase1_passed === true and phase2_passed === true
//     phase1     phase1_passed === true, phase2 not passed         → a failure ("phase 2 failed")
//     fail       anything else                                     → a failure ("phase 1 failed")
// - n counts every instance, whatever its outcome.
// - phase1_rate / phase2_rate: instances whose latest row has `phase1_passed === true` /
//   `phase2_passed === true`, divided by n (flags are taken as the row gives them; missing and
//   unreadable rows count as not passed). 0 when n is 0.
// - avg_reward: the sum of `total_reward` over n (a missing or unreadable row, or a reward that
//   is not a finite number, adds 0), divided by n. 0 when n is 0.
// - errors: the instances whose latest row is readable and has a truthy `error`. Unreadable and
//   missing rows are counted apart (`unreadable`, `missing`), never as errors.
// - No rounding here: the JSON and the outputs carry full doubles; only the markdown rounds.
// - The DB of an instance: the manifest's instance → DB map; else the row's non-empty `database`
//   (runs written by the Python tools); else the dataset file's mapping; else UNKNOWN_DB.
import type { LatestRow } from '../gcs/rows.js';

export const UNKNOWN_DB = '(unknown DB)';

type Outcome = 'pass' | 'phase1' | 'fail' | 'error' | 'unreadable' | 'missing';

/** The counts and figures of a set of instances (the whole run, or one DB). */
export interface Figures {
  n: number;
  phase1_rate: number;
  phase2_rate: number;
  avg_reward: number;
  errors: number;
  phase1_passed: number;
  phase2_passed: number;
  unreadable: number;
  missing: number;
}

interface DbResults extends Figures {
  db: string;
}

interface InstanceResult {
  instance_id: string;
  db: string;
  /** The attempt of the latest row, or null when there is none. */
  attempt: number | null;
  outcome: Outcome;
  phase1_passed: boolean;
  phase2_passed: boolean;
  total_reward: number;
  /** The row's `error` as text, or null when falsy. */
  error: string | null;
  submission_status: string | null;
}

export interface Failure {
  instance_id: string;
  db: string;
  attempt: number | null;
  outcome: Exclude<Outcome, 'pass'>;
  /** "phase 1 failed", "phase 2 failed", "error: <its first line>", "no row" or "unreadable row …". */
  reason: string;
}

export interface RunResults extends Figures {
  /** Instances whose latest row could not be read, in instance order. */
  unreadable_ids: string[];
  /** Instances with no row at all, in instance order. */
  missing_ids: string[];
  /** Sorted by DB name; UNKNOWN_DB last. */
  per_db: DbResults[];
  /** Every instance that did not pass, in instance order. */
  failures: Failure[];
  instances: InstanceResult[];
}

export interface AggregateInput {
  /** The manifest's instance ids, in order. */
  instanceIds: readonly string[];
  /** The manifest's instance → DB map (absent or empty for runs the Python tools wrote). */
  instanceDbs?: Readonly<Record<string, string>>;
  /** instance → DB from the dataset file, when one is given. */
  datasetDbs?: Readonly<Record<string, string>>;
  latest: ReadonlyMap<string, LatestRow>;
}

function nonEmpty(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

/** A row's `error` as one line of text, or null when falsy. */
function errorText(e: unknown): string | null {
  if (!e) return null;
  if (typeof e === 'string') return e;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

/** Which DB an instance belongs to (see the definitions above). */
function instanceDb(iid: string, input: Pick<AggregateInput, 'instanceDbs' | 'datasetDbs' | 'latest'>): string {
  return nonEmpty(input.instanceDbs?.[iid]) ?? nonEmpty(input.latest.get(iid)?.row?.database) ?? nonEmpty(input.datasetDbs?.[iid]) ?? UNKNOWN_DB;
}

function classify(iid: string, db: string, latest: LatestRow | undefined): InstanceResult {
  const base = {
    instance_id: iid,
    db,
    attempt: latest ? latest.ref.attempt : null,
    phase1_passed: false,
    phase2_passed: false,
    total_reward: 0,
    error: null,
    submission_status: null,
  };
  if (!latest) return { ...base, outcome: 'missing' };
  const row = latest.row;
  if (row === null) return { ...base, outcome: 'unreadable' };
  const p1 = row.phase1_passed === true;
  const p2 = row.phase2_passed === true;
  const reward = typeof row.total_reward === 'number' && Number.isFinite(row.total_reward) ? row.total_reward : 0;
  const error = errorText(row.error);
  const outcome: Outcome = error !== null ? 'error' : p1 && p2 ? 'pass' : p1 ? 'phase1' : 'fail';
  return { ...base, outcome, phase1_passed: p1, phase2_passed: p2, total_reward: reward, error, submission_status: nonEmpty(row.submission_status) };
}

/** How long an error's text may be in a failure reason; the whole error stays in `instances`. */
const ERROR_REASON_CHARS = 200;

/** The line of an error that says what went wrong: a traceback's last line, else the first line, cut. */
function shortError(error: string): string {
  const lines = error
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const line = (lines[0]?.startsWith('Traceback') ? lines[lines.length - 1] : lines[0]) ?? '';
  const chars = [...line];
  return chars.length > ERROR_REASON_CHARS ? `${chars.slice(0, ERROR_REASON_CHARS - 1).join('')}…` : line;
}

/**
 * Why an instance did not pass, in plain words. The submission status is said only when it adds
 * something: a failed phase whose answer was not submitted (an error row says its error instead).
 */
function failureReason(r: InstanceResult): string {
  const status = r.submission_status !== null && r.submission_status !== 'submitted' ? ` (submission: ${r.submission_status})` : '';
  switch (r.outcome) {
    case 'missing':
      return 'no row';
    case 'unreadable':
      return `unreadable row attempt-${r.attempt ?? '?'}.json`;
    case 'error':
      return `error: ${shortError(r.error ?? '')}`;
    case 'phase1':
      return `phase 2 failed${status}`;
    default:
      return `phase 1 failed${status}`;
  }
}

/** The figures of a list of instance results. */
function figures(list: readonly InstanceResult[]): Figures {
  const n = list.length;
  const count = (f: (r: InstanceResult) => boolean): number => list.reduce((k, r) => k + (f(r) ? 1 : 0), 0);
  const phase1 = count((r) => r.phase1_passed);
  const phase2 = count((r) => r.phase2_passed);
  const reward = list.reduce((s, r) => s + r.total_reward, 0);
  return {
    n,
    phase1_rate: n === 0 ? 0 : phase1 / n,
    phase2_rate: n === 0 ? 0 : phase2 / n,
    avg_reward: n === 0 ? 0 : reward / n,
    errors: count((r) => r.outcome === 'error'),
    phase1_passed: phase1,
    phase2_passed: phase2,
    unreadable: count((r) => r.outcome === 'unreadable'),
    missing: count((r) => r.outcome === 'missing'),
  };
}

/** DB names in report order: plain code-unit order, UNKNOWN_DB last. */
export function compareDbs(left: string, right: string): number {
  if (left === right) return 0;
  if (left === UNKNOWN_DB) return 1;
  if (right === UNKNOWN_DB) return -1;
  return left < right ? -1 : 1;
}

export function aggregate(input: AggregateInput): RunResults {
  const inManifest = new Set(input.instanceIds);
  const extra = [...input.latest.keys()].filter((iid) => !inManifest.has(iid)).sort();
  const ids = [...new Set(input.instanceIds), ...extra];
  const instances = ids.map((iid) => classify(iid, instanceDb(iid, input), input.latest.get(iid)));
  const byDb = new Map<string, InstanceResult[]>();
  for (const r of instances) byDb.set(r.db, [...(byDb.get(r.db) ?? []), r]);
  const per_db = [...byDb.keys()].sort(compareDbs).map((db) => ({ db, ...figures(byDb.get(db) ?? []) }));
  return {
    ...figures(instances),
    unreadable_ids: instances.filter((r) => r.outcome === 'unreadable').map((r) => r.instance_id),
    missing_ids: instances.filter((r) => r.outcome === 'missing').map((r) => r.instance_id),
    per_db,
    failures: instances.flatMap((r) =>
      r.outcome === 'pass' ? [] : [{ instance_id: r.instance_id, db: r.db, attempt: r.attempt, outcome: r.outcome, reason: failureReason(r) }],
    ),
    instances,
  };
}

/** Replaces every secret value in every text of the results (errors and failure reasons). */
export function redactResults(results: RunResults, redact: (s: string) => string): RunResults {
  return {
    ...results,
    failures: results.failures.map((f) => ({ ...f, reason: redact(f.reason) })),
    instances: results.instances.map((i) => ({
      ...i,
      error: i.error === null ? null : redact(i.error),
      submission_status: i.submission_status === null ? null : redact(i.submission_status),
    })),
  };
}

/**
 * The shapes of provider keys and tokens: a row's text can carry a key this step never saw (the
 * report job of a workflow has none in its env, and a provider may echo a key in an error).
 */
const KEY_SHAPES: readonly RegExp[] = [
  /sk-[A-Za-z0-9_-]{16,}/g, // OpenAI, Anthropic (sk-ant-), OpenRouter (sk-or-), DeepSeek
  /AIza[0-9A-Za-z_-]{30,}/g, // Google / Gemini
  /csk-[A-Za-z0-9]{20,}/g, // Cerebras
  /fw_[A-Za-z0-9]{20,}/g, // Fireworks
  /gh[pousr]_[A-Za-z0-9]{30,}/g, // GitHub tokens
  /github_pat_[A-Za-z0-9_]{30,}/g,
];

/**
 * A redactor for the given secret values, raw and trimmed (a secret pasted with a newline reaches
 * the cluster trimmed), longest first so overlapping values go whole, then for every known key shape.
 */
export function redactor(secrets: Iterable<string>): (s: string) => string {
  const all = [...secrets].flatMap((v) => [v, v.trim()]).filter((v) => v.trim().length >= 4);
  const values = [...new Set(all)].sort((a, b) => b.length - a.length);
  return (s) =>
    KEY_SHAPES.reduce(
      (t, shape) => t.replace(shape, '***'),
      values.reduce((t, v) => t.split(v).join('***'), s),
    );
}

// The job summary of one step, assembled once: the step adds its sections as it goes (the plan,
// the upload, the dispatch, the per-run cluster, the results, a failure) and the summary is
// written once at the end, in the order people read it, also when the step fails or is
// cancelled. Results (or the failure) lead; what led to them follows, folded.
//
// Order: title · failure · gate · results · trend · note · facts (combo, models, attempt, time,
// cluster cost) · plan · upload · dispatch · per-run cluster phases.

import type { PhaseRecord } from '../cluster/phases.js';
import { errorMessage, ProblemsError } from '../common/errors.js';
import { formatDuration } from '../common/time.js';
import type { RunResults } from './aggregate.js';
import { type GateCheck, GateFailedError } from './gate.js';
import { attemptLines, type Baseline, code, comboLines, gateBlock, type LogUrl, mdText, type RunHeader, resultsBlock } from './render.js';
import { markdownTable, writeSummary } from './summary.js';

/** The stages of a step, as its clock and its failure block name them. */
export type Stage = 'preflight' | 'upload' | 'dispatch' | 'wait' | 'teardown' | 'report' | 'stop';

/** What the step does: the title and what a failure leaves behind depend on it. */
export type StepKind = 'submit' | 'rerun' | 'report' | 'stop';

/** A section that is folded under its one line, unless it leads the summary. */
export interface DetailSection {
  /** What it holds, in one line of plain text (shown folded). */
  line: string;
  /** Markdown; untrusted text in it already escaped (render.ts mdText / code). */
  body: string;
}

export interface ResultsSection {
  header: RunHeader;
  results: RunResults;
  baseline: Baseline | null;
  /** gate.ts gateChecks: [] when no threshold is set. */
  gate: readonly GateCheck[];
  /** Replaces secret values (and key shapes) in the results' text, as the report does everywhere. */
  redact?: (s: string) => string;
  /** Links each failure's log (render.ts gcsLogUrl). */
  logUrl?: LogUrl;
}

/** A per-run cluster: its phase clock and its size, for the phases table and the VM-hours. */
export interface ClusterSection {
  phases: { list(): PhaseRecord[]; clusterMs(): number; summaryTable(): string };
  workers: number;
  workerType: string;
}

/** What a job of this step became, for the "left behind" line of a failure. */
type JobState = 'submitted' | 'finished' | 'stopped' | 'left running';

export interface StepSummaryOptions {
  /** Milliseconds since the epoch; injectable for tests. */
  now?: () => number;
  /** Where the markdown goes; default GITHUB_STEP_SUMMARY (nothing when unset). */
  write?: (markdown: string) => Promise<void>;
}

/** GitHub refuses a step summary over 1 MiB: then the failure list is shortened. */
const SUMMARY_MAX_BYTES = 1024 * 1024;
const SUMMARY_FAILURES = 1000;
const SHORT_FAILURES = 100;
/** The longest error text a failure block quotes. */
const ERROR_CHARS = 4000;

interface StageTime {
  stage: Stage;
  start: number;
  end: number | null;
}

interface Failure {
  stage: Stage;
  error: unknown;
}

export class StepSummary {
  private readonly now: () => number;
  private readonly sink: (markdown: string) => Promise<void>;
  private runId: string | null = null;
  private kind: StepKind = 'submit';
  private dryRun = false;
  private manifest: RunHeader['manifest'] | null = null;
  private readonly stages: StageTime[] = [];
  private readonly details: { plan?: DetailSection; upload?: DetailSection; dispatch?: DetailSection } = {};
  private clusterSection: ClusterSection | null = null;
  private resultsSection: ResultsSection | null = null;
  private trendMarkdown: string | null = null;
  private noteMarkdown: string | null = null;
  private listingMarkdown: string | null = null;
  private failure: Failure | null = null;
  private manifestState: 'none' | 'committed' = 'none';
  private job: { sid: string; state: JobState } | null = null;
  private teardown: string | null = null;
  private written = false;

  constructor(options: StepSummaryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sink = options.write ?? writeSummary;
  }

  /** The run the step is about, once known; `manifest` gives the combo and the models. */
  run(info: { runId: string; kind: StepKind; dryRun?: boolean; manifest?: RunHeader['manifest'] }): void {
    this.runId = info.runId;
    this.kind = info.kind;
    this.dryRun = info.dryRun ?? false;
    if (info.manifest) this.manifest = info.manifest;
  }

  /** Starts a stage of the step's clock (ending the one before); a failure is placed in it. */
  stage(name: Stage): void {
    const t = this.now();
    this.closeStage(t);
    this.stages.push({ stage: name, start: t, end: null });
  }

  /** The stage the step is in, or null before the first. */
  get currentStage(): Stage | null {
    return this.stages.at(-1)?.stage ?? null;
  }

  plan(section: DetailSection): void {
    this.details.plan = section;
  }

  upload(section: DetailSection): void {
    this.details.upload = section;
  }

  dispatch(section: DetailSection): void {
    this.details.dispatch = section;
  }

  /** A per-run cluster: its phases are read when the summary is written, so a cancelled step shows them too. */
  cluster(section: ClusterSection): void {
    this.clusterSection = section;
  }

  /** The reported results (report.ts reportRun adds them). */
  results(section: ResultsSection): void {
    this.resultsSection = section;
    this.manifest = section.header.manifest;
    this.runId ??= section.header.runId;
  }

  /** A trend of earlier runs, shown right after the results; markdown with untrusted text escaped. */
  trend(markdown: string): void {
    this.trendMarkdown = markdown;
  }

  /** What a step without results has to say first (a stop, nothing to rerun); markdown. */
  note(markdown: string): void {
    this.noteMarkdown = markdown;
  }

  /** list-runs: the listing (and its trends) is the whole summary, under its own title. */
  listing(markdown: string): void {
    this.listingMarkdown = markdown;
  }

  /** The manifest of the run is in the bucket (committed by this step, or before it). */
  manifestCommitted(): void {
    this.manifestState = 'committed';
  }

  /** The job of this step's attempt, as it was submitted and as it ended. */
  jobState(sid: string, state: JobState): void {
    this.job = { sid, state };
  }

  /** How the per-run cluster's teardown went (teardown.ts outcome). */
  clusterTeardown(outcome: string): void {
    this.teardown = outcome;
  }

  /**
   * The step failed in `stage` (default: the current one). The first failure stands: main's catch
   * sees again an error that a mode recorded with its own stage. A failed gate is shown by the
   * gate's own block.
   */
  fail(error: unknown, stage?: Stage): void {
    if (this.failure || error instanceof GateFailedError) return;
    this.failure = { stage: stage ?? this.currentStage ?? 'preflight', error };
  }

  /** The whole summary as markdown. */
  render(): string {
    const full = this.compose(SUMMARY_FAILURES);
    return Buffer.byteLength(full) <= SUMMARY_MAX_BYTES ? full : this.compose(SHORT_FAILURES);
  }

  /** Writes the summary, once: a second call (the cancel path, then main's finally) does nothing. */
  async write(): Promise<void> {
    if (this.written) return;
    this.written = true;
    await this.sink(this.render());
  }

  private closeStage(t: number): void {
    const last = this.stages.at(-1);
    if (last && last.end === null) last.end = t;
  }

  private title(): string {
    const id = this.runId === null ? '' : ` ${code(this.runId)}`;
    if (this.resultsSection) return `## BIRD-Interact results:${id}`;
    if (this.runId === null) return '## BIRD-Interact';
    if (this.kind === 'rerun') return `## BIRD-Interact rerun of${id}${this.dryRun ? ' (dry run)' : ''}`;
    if (this.kind === 'report') return `## BIRD-Interact report of${id}`;
    if (this.kind === 'stop') return `## BIRD-Interact stop of${id}`;
    return `## BIRD-Interact run${id}${this.dryRun ? ' (dry run)' : ''}`;
  }

  private compose(maxFailures: number): string {
    if (this.listingMarkdown !== null && this.failure === null) return this.listingMarkdown;
    const now = this.now();
    const r = this.resultsSection;
    const redact = r?.redact ?? ((t: string) => t);
    const lead = this.failure !== null || r !== null || this.noteMarkdown !== null;
    const parts = [
      this.title(),
      this.failureBlock(),
      r ? redact(gateBlock(r.gate)) : '',
      r ? redact(resultsBlock(r.results, r.baseline, { maxFailures, moreHint: 'see results-json', deltas: 'beside', logUrl: r.logUrl })) : '',
      this.trendMarkdown ?? '',
      this.noteMarkdown ?? '',
      redact(this.facts(now).join('\n')),
      ...this.detailBlocks(lead),
    ];
    return `${parts.filter((p) => p !== '').join('\n\n')}\n`;
  }

  /** Combo and models once, the attempt, the time of each stage, and what a per-run cluster used. */
  private facts(now: number): string[] {
    const out = [...(this.manifest ? comboLines(this.manifest) : []), ...(this.resultsSection ? attemptLines(this.resultsSection.header) : [])];
    const times = this.stages.map((s) => `${s.stage} ${formatDuration((s.end ?? now) - s.start)}`);
    if (times.length > 1) out.push(`- time: ${times.join(' · ')} (step ${formatDuration(now - this.stages[0].start)})`);
    else if (times.length === 1) out.push(`- time: ${times[0]}`);
    const c = this.clusterSection;
    if (c?.phases.list().some((p) => p.phase === 'up')) {
      const nodes = 1 + c.workers;
      const ms = c.phases.clusterMs();
      const down = c.phases.list().find((p) => p.phase === 'down');
      const span =
        down?.status === 'ok' ? `from \`ray up\` to \`ray down\` ${formatDuration(ms)}` : `up ${formatDuration(ms)} so far (not torn down by this step)`;
      out.push(
        `- per-run cluster: ${nodes} nodes (1 head + ${c.workers} × ${code(c.workerType)}), ${span}: about ${((ms / 3_600_000) * nodes).toFixed(2)} VM-hours`,
      );
    }
    return out;
  }

  /** Plan, upload, dispatch and cluster phases: folded under a lead; without one, the furthest stage is open. */
  private detailBlocks(lead: boolean): string[] {
    const d = this.details;
    const open = lead ? null : d.dispatch ? 'dispatch' : d.upload ? 'upload' : d.plan ? 'plan' : null;
    const phases = this.clusterSection?.phases;
    const list = phases?.list() ?? [];
    const cluster: DetailSection | null =
      phases && list.length > 0
        ? {
            line: `Per-run cluster: ${list.map((p) => p.phase).join(', ')} (${formatDuration(list.reduce((a, p) => a + p.ms, 0))})`,
            body: phases.summaryTable(),
          }
        : null;
    const named: Array<[string, DetailSection | undefined | null]> = [
      ['plan', d.plan],
      ['upload', d.upload],
      ['dispatch', d.dispatch],
      ['cluster', cluster],
    ];
    return named.flatMap(([name, s]) => {
      if (!s) return [];
      if (name === open) return [`### ${s.line}\n\n${s.body}`];
      return [`<details>\n<summary>${s.line}</summary>\n\n${s.body}\n\n</details>`];
    });
  }

  /** Where it stopped, the error, the fix, what is left; paragraphs, so that no list runs into the facts below. */
  private failureBlock(): string {
    const f = this.failure;
    if (!f) return '';
    const e = f.error;
    const head = `### ❌ Stopped at ${f.stage}`;
    const left = `**Left behind:** ${this.leftBehind(f.stage)}`;
    if (e instanceof ProblemsError) {
      const rows = e.problems.map((p) => [code(p.input), mdText(oneLine(p.message)), p.fix ? mdText(oneLine(p.fix)) : '']);
      return [head, markdownTable(['input', 'problem', 'fix'], rows), left].join('\n\n');
    }
    return [head, errorText(errorMessage(e)), `**Fix:** ${this.fix(f.stage)}`, left].join('\n\n');
  }

  /** What to do after a failure that is not an input problem. */
  private fix(stage: Stage): string {
    const id = this.runId;
    const rerun = id ? `rerun the unfinished instances with \`rerun-run-id: ${id}\`` : 'rerun the unfinished instances with rerun-run-id';
    const report = id ? `report on it with \`report-run-id: ${id}\`` : 'report on it with report-run-id';
    switch (stage) {
      case 'preflight':
        return 'fix what the error names, then run the step again';
      case 'upload':
        return id
          ? `run the step again with \`run-id: ${id}\`: files already in the bucket with the same md5 are skipped`
          : 'run the step again with the same run-id: files already in the bucket with the same md5 are skipped';
      case 'dispatch':
        if (this.manifestState !== 'committed') return 'check the cluster (the error above), then run the step again';
        return id
          ? `check the cluster (the error above), then dispatch the committed run with \`rerun-run-id: ${id}\` (nothing is uploaded again)`
          : 'check the cluster (the error above), then dispatch the committed run with rerun-run-id';
      case 'wait':
        if (this.kind === 'report') return `${report} again later (with wait: true to wait for it)`;
        return this.job?.state === 'left running' ? `${report} when it ends` : rerun;
      case 'teardown':
        return id ? `delete what is left: \`stop-run-id: ${id}\` with cluster: ephemeral tears the cluster down` : 'delete what is left of the cluster';
      case 'report':
        return `${report} again`;
      default:
        return 'check the cluster, then run the stop again';
    }
  }

  /** What the step leaves behind after a failure in `stage`. */
  private leftBehind(stage: Stage): string {
    const parts: string[] = [];
    const j = this.job;
    if (this.kind === 'report')
      parts.push(stage === 'wait' ? 'the job was left as it is (report-run-id never stops it)' : 'nothing in the bucket changed (a report only reads the run)');
    else if (this.kind === 'stop') parts.push('see the log for what was stopped');
    else if (j === null) {
      if (this.kind === 'rerun') parts.push('nothing dispatched; the run is as it was');
      else if (this.manifestState === 'committed') parts.push('manifest committed, job not dispatched');
      else if (stage === 'upload') parts.push('manifest not written, nothing dispatched (the files uploaded so far stay in the bucket)');
      else parts.push('nothing: no upload, no manifest, nothing dispatched');
    } else if (j.state === 'submitted')
      parts.push(stage === 'dispatch' ? `job ${code(j.sid)} submitted` : `job ${code(j.sid)} not stopped by this step (the post step stops it)`);
    else if (j.state === 'left running') parts.push(`job ${code(j.sid)} left running`);
    else parts.push(`job ${code(j.sid)} ${j.state}; its rows so far are in the bucket`);
    // A failed bring-up tears down by itself: its `down` phase says how that went.
    const down = this.clusterSection?.phases.list().find((p) => p.phase === 'down');
    const teardown = this.teardown ?? (down?.status === 'ok' ? 'ray-down' : down?.status === 'failed' ? 'failed' : null);
    if (teardown !== null) parts.push(`per-run cluster: ${TEARDOWN_WORDS[teardown] ?? teardown}`);
    return parts.join('; ');
  }
}

const TEARDOWN_WORDS: Readonly<Record<string, string>> = {
  'ray-down': 'torn down (ray down)',
  'deleted-by-label': 'deleted (by label)',
  'already-done': 'already torn down',
  detached: 'left running to its self-delete timer',
  failed: 'teardown failed: VMs may be left, see the log',
};

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** An error's text as inert markdown: one line escaped, several in a fence no backtick in them can close. */
function errorText(message: string): string {
  const t = message.length > ERROR_CHARS ? `${message.slice(0, ERROR_CHARS - 1)}…` : message;
  if (!t.includes('\n')) return mdText(t);
  const longest = Math.max(0, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}text\n${t}\n${fence}`;
}

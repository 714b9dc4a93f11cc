// Progress of a per-run cluster: one line per phase (image, up, submit, wait, down) as it starts
// and ends, and the timings as a job-summary table.

import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { formatDuration } from '../common/time.js';
import { markdownTable } from '../results/summary.js';

const PHASES = ['image', 'up', 'submit', 'wait', 'down'] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseRecord {
  phase: Phase;
  status: 'running' | 'ok' | 'failed' | 'skipped';
  ms: number;
  note: string;
}

export class PhaseClock {
  private readonly records = new Map<Phase, PhaseRecord>();

  constructor(
    private readonly log: Log,
    private readonly now: () => number = Date.now,
  ) {}

  private label(phase: Phase): string {
    return `[${PHASES.indexOf(phase) + 1}/${PHASES.length}] ${phase}`;
  }

  /** Runs one phase: a line when it starts, one when it ends (with its time), rethrowing failures. */
  async run<T>(phase: Phase, fn: () => Promise<T>, note = ''): Promise<T> {
    const start = this.now();
    const rec: PhaseRecord = { phase, status: 'running', ms: 0, note };
    this.records.set(phase, rec);
    this.log.info(`${this.label(phase)}: started${note ? ` (${note})` : ''}`);
    try {
      const v = await fn();
      rec.status = 'ok';
      rec.ms = this.now() - start;
      this.log.info(`${this.label(phase)}: done in ${formatDuration(rec.ms)}`);
      return v;
    } catch (e) {
      rec.status = 'failed';
      rec.ms = this.now() - start;
      rec.note = rec.note ? `${rec.note}; ${firstLine(errorMessage(e))}` : firstLine(errorMessage(e));
      this.log.info(`${this.label(phase)}: failed after ${formatDuration(rec.ms)}: ${firstLine(errorMessage(e))}`);
      throw e;
    }
  }

  /** A phase that did not run (e.g. down after a detached submit), with the reason. */
  skip(phase: Phase, note: string): void {
    this.records.set(phase, { phase, status: 'skipped', ms: 0, note });
    this.log.info(`${this.label(phase)}: skipped (${note})`);
  }

  /** Adds a note to a recorded phase (e.g. `image exists`). */
  note(phase: Phase, note: string): void {
    const r = this.records.get(phase);
    if (r) r.note = r.note ? `${r.note}; ${note}` : note;
  }

  list(): PhaseRecord[] {
    return PHASES.flatMap((p) => {
      const r = this.records.get(p);
      return r ? [{ ...r }] : [];
    });
  }

  /** `### Per-run cluster` and a table: phase, status, time, note. */
  summaryMarkdown(title = 'Per-run cluster'): string {
    const rows = this.list().map((r) => [r.phase, r.status, r.status === 'skipped' ? '' : formatDuration(r.ms), r.note]);
    const total = this.list().reduce((a, r) => a + r.ms, 0);
    rows.push(['total', '', formatDuration(total), '']);
    return [`### ${title}`, '', markdownTable(['phase', 'status', 'time', 'note'], rows), ''].join('\n');
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

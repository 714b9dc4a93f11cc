// Progress of a per-run cluster: one line per phase (image, up, submit, wait, down) as it starts
// and ends, the timings as a job-summary table, and the time the cluster's VMs were up.

import { errorMessage } from '../common/errors.js';
import type { Log } from '../common/log.js';
import { formatDuration } from '../common/time.js';
import { mdText } from '../results/render.js';
import { markdownTable } from '../results/summary.js';

const PHASES = ['image', 'up', 'submit', 'wait', 'down'] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseRecord {
  phase: Phase;
  status: 'running' | 'ok' | 'failed' | 'skipped';
  /** How long it took; for a phase still running, how long it has run so far. */
  ms: number;
  /** When it started (ms since the epoch); 0 for a skipped phase. */
  startedAt: number;
  note: string;
}

/** The phases during which the cluster's VMs exist: from `ray up` to `ray down`. */
const VM_PHASES: readonly Phase[] = ['up', 'submit', 'wait', 'down'];

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
    const rec: PhaseRecord = { phase, status: 'running', ms: 0, startedAt: start, note };
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
    this.records.set(phase, { phase, status: 'skipped', ms: 0, startedAt: 0, note });
    this.log.info(`${this.label(phase)}: skipped (${note})`);
  }

  /** Adds a note to a recorded phase (e.g. `image exists`). */
  note(phase: Phase, note: string): void {
    const r = this.records.get(phase);
    if (r) r.note = r.note ? `${r.note}; ${note}` : note;
  }

  /** The phases so far, in their order; a running one with its time so far. */
  list(): PhaseRecord[] {
    const now = this.now();
    return PHASES.flatMap((p) => {
      const r = this.records.get(p);
      if (!r) return [];
      return [{ ...r, ms: r.status === 'running' ? now - r.startedAt : r.ms }];
    });
  }

  /** The time from `ray up` to `ray down` (each phase's time, so far when one still runs): the VMs' time. */
  clusterMs(): number {
    return this.list()
      .filter((r) => VM_PHASES.includes(r.phase))
      .reduce((a, r) => a + r.ms, 0);
  }

  /** The phases as a table: phase, status, time, note (the note may quote a CLI's error: untrusted). */
  summaryTable(): string {
    const list = this.list();
    const rows = list.map((r) => [r.phase, r.status, r.status === 'skipped' ? '' : formatDuration(r.ms), mdText(r.note)]);
    rows.push(['total', '', formatDuration(list.reduce((a, r) => a + r.ms, 0)), '']);
    return markdownTable(['phase', 'status', 'time', 'note'], rows);
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

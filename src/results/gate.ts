// The quality gate: pure. min-phase1-rate and max-errors; equality passes.

import { Inputs } from '../common/constants.js';
import type { Problem } from '../common/errors.js';
import type { Figures } from './aggregate.js';

export interface GateThresholds {
  /** A fraction from 0 to 1; null: no phase-1 gate. */
  minPhase1Rate: number | null;
  /** A non-negative integer; null: no errors gate. */
  maxErrors: number | null;
}

export const NO_GATE: GateThresholds = { minPhase1Rate: null, maxErrors: null };

/** Parses the two inputs ('' means no gate); every bad value is a problem naming the input. */
export function parseGateInputs(minPhase1Rate: string, maxErrors: string): { thresholds: GateThresholds; problems: Problem[] } {
  const problems: Problem[] = [];
  let min: number | null = null;
  let max: number | null = null;
  const rate = minPhase1Rate.trim();
  if (rate !== '') {
    const v = /^(?:\d+(?:\.\d*)?|\.\d+)$/.test(rate) ? Number(rate) : NaN;
    if (!(v >= 0 && v <= 1))
      problems.push({
        input: Inputs.MinPhase1Rate,
        message: `'${minPhase1Rate}' is not a fraction from 0 to 1`,
        fix: 'give a number such as 0.5 (50 %), or leave it empty for no gate',
      });
    else min = v;
  }
  const errs = maxErrors.trim();
  if (errs !== '') {
    if (!/^\d+$/.test(errs) || !Number.isSafeInteger(Number(errs)))
      problems.push({
        input: Inputs.MaxErrors,
        message: `'${maxErrors}' is not a whole number of 0 or more`,
        fix: 'give a count such as 0, or leave it empty for no gate',
      });
    else max = Number(errs);
  }
  return { thresholds: { minPhase1Rate: min, maxErrors: max }, problems };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/**
 * A rate with 4 significant digits, unless that would print it on the other side of the threshold
 * (equal to a threshold it is below, or below a threshold it meets).
 */
function shortRate(x: number, threshold: number): string {
  const short = Number(x.toPrecision(4));
  return short < threshold === x < threshold ? String(short) : String(x);
}

type GateFigures = Pick<Figures, 'n' | 'phase1_rate' | 'phase1_passed' | 'errors'>;

/** One threshold of the gate against the run's figure: what the summary and the PR comment show. */
export interface GateCheck {
  input: Inputs.MinPhase1Rate | Inputs.MaxErrors;
  /** The threshold as the input gave it (parsed). */
  threshold: string;
  /** The measured figure, with what it is made of. */
  measured: string;
  passed: boolean;
  /** Why it failed, naming the figure and the threshold; null when it passed. */
  failure: string | null;
}

/** Every threshold that is set, checked; [] when there is no gate. */
export function gateChecks(figures: GateFigures, thresholds: GateThresholds): GateCheck[] {
  const out: GateCheck[] = [];
  // Compared on the rate itself (k / n is correctly rounded, like the parsed threshold), never on
  // k against min × n, whose rounding could fail a run that sits exactly on the threshold.
  const min = thresholds.minPhase1Rate;
  if (min !== null) {
    const measured = `${shortRate(figures.phase1_rate, min)} (${figures.phase1_passed}/${figures.n} = ${pct(figures.phase1_rate)})`;
    const passed = figures.phase1_rate >= min;
    out.push({
      input: Inputs.MinPhase1Rate,
      threshold: String(min),
      measured,
      passed,
      failure: passed ? null : `phase-1 rate ${measured} is below ${Inputs.MinPhase1Rate} ${min}`,
    });
  }
  const max = thresholds.maxErrors;
  if (max !== null) {
    const passed = figures.errors <= max;
    out.push({
      input: Inputs.MaxErrors,
      threshold: String(max),
      measured: `${figures.errors} (of ${figures.n} instances)`,
      passed,
      failure: passed ? null : `errors ${figures.errors} (of ${figures.n} instances) exceed ${Inputs.MaxErrors} ${max}`,
    });
  }
  return out;
}

/** Every threshold the figures fall short of, as messages naming the figure and the threshold; [] when they pass. */
export function gateFailures(figures: GateFigures, thresholds: GateThresholds): string[] {
  return gateChecks(figures, thresholds).flatMap((c) => (c.failure === null ? [] : [c.failure]));
}

/** One message for all failed thresholds, or null when the gate passes. */
export function gateMessage(figures: GateFigures, thresholds: GateThresholds): string | null {
  const list = gateFailures(figures, thresholds);
  return list.length === 0 ? null : `quality gate failed: ${list.join('; ')}`;
}

/** Thrown by reportRun after everything was reported, so that the step fails with the gate's message. */
export class GateFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateFailedError';
  }
}

// The quality gate: the message names the figure and the threshold; equality passes.
import { describe, expect, it } from 'vitest';
import { gateChecks, gateFailures, gateMessage, NO_GATE, parseGateInputs } from '../../src/results/gate.js';

const fig = (phase1_passed: number, n: number, errors: number) => ({ n, phase1_passed, phase1_rate: n === 0 ? 0 : phase1_passed / n, errors });

describe('gate', () => {
  it('passes with no thresholds, whatever the figures', () => {
    expect(gateMessage(fig(0, 10, 10), NO_GATE)).toBeNull();
  });

  it('passes exactly at the phase-1 boundary, also where min × n would round up', () => {
    // 0.3 × 10 is 3.0000000000000004 in doubles: a count comparison would fail this run.
    expect(gateMessage(fig(3, 10, 0), { minPhase1Rate: 0.3, maxErrors: null })).toBeNull();
    expect(gateMessage(fig(1, 2, 0), { minPhase1Rate: 0.5, maxErrors: null })).toBeNull();
    expect(gateMessage(fig(7, 10, 0), { minPhase1Rate: 0.7, maxErrors: null })).toBeNull();
  });

  it('fails below the phase-1 threshold, naming the figure and the threshold', () => {
    expect(gateMessage(fig(2, 5, 0), { minPhase1Rate: 0.5, maxErrors: null })).toBe(
      'quality gate failed: phase-1 rate 0.4 (2/5 = 40.0%) is below min-phase1-rate 0.5',
    );
    expect(gateFailures(fig(4, 7, 0), { minPhase1Rate: 0.6, maxErrors: null })).toEqual(['phase-1 rate 0.5714 (4/7 = 57.1%) is below min-phase1-rate 0.6']);
  });

  it('never prints a failing rate equal to its threshold', () => {
    // 49999/100000 rounds to 0.5 at 4 digits: the full value is printed instead.
    expect(gateFailures(fig(49_999, 100_000, 0), { minPhase1Rate: 0.5, maxErrors: null })).toEqual([
      'phase-1 rate 0.49999 (49999/100000 = 50.0%) is below min-phase1-rate 0.5',
    ]);
  });

  it('passes at max-errors and fails above it', () => {
    expect(gateMessage(fig(5, 5, 2), { minPhase1Rate: null, maxErrors: 2 })).toBeNull();
    expect(gateMessage(fig(5, 5, 0), { minPhase1Rate: null, maxErrors: 0 })).toBeNull();
    expect(gateMessage(fig(5, 5, 3), { minPhase1Rate: null, maxErrors: 2 })).toBe('quality gate failed: errors 3 (of 5 instances) exceed max-errors 2');
  });

  it('names every threshold that fails, in one message', () => {
    expect(gateMessage(fig(0, 4, 4), { minPhase1Rate: 0.25, maxErrors: 1 })).toBe(
      'quality gate failed: phase-1 rate 0 (0/4 = 0.0%) is below min-phase1-rate 0.25; errors 4 (of 4 instances) exceed max-errors 1',
    );
  });

  it('fails an empty run against a positive phase-1 threshold, and passes it against 0', () => {
    expect(gateMessage(fig(0, 0, 0), { minPhase1Rate: 0.1, maxErrors: 0 })).toBe(
      'quality gate failed: phase-1 rate 0 (0/0 = 0.0%) is below min-phase1-rate 0.1',
    );
    expect(gateMessage(fig(0, 0, 0), { minPhase1Rate: 0, maxErrors: 0 })).toBeNull();
  });

  it('checks each threshold that is set: the threshold, the measured figure, pass or fail', () => {
    expect(gateChecks(fig(4, 8, 1), NO_GATE)).toEqual([]);
    expect(gateChecks(fig(4, 8, 1), { minPhase1Rate: 0.5, maxErrors: 0 })).toEqual([
      { input: 'min-phase1-rate', threshold: '0.5', measured: '0.5 (4/8 = 50.0%)', passed: true, failure: null },
      { input: 'max-errors', threshold: '0', measured: '1 (of 8 instances)', passed: false, failure: 'errors 1 (of 8 instances) exceed max-errors 0' },
    ]);
    // A passing rate is never printed below its threshold: 0.12344 at 4 digits is 0.1234.
    expect(gateChecks({ n: 100_000, phase1_passed: 12_344, phase1_rate: 0.12344, errors: 0 }, { minPhase1Rate: 0.12344, maxErrors: null })[0]).toMatchObject({
      measured: '0.12344 (12344/100000 = 12.3%)',
      passed: true,
    });
  });

  it('parses the inputs: empty means no gate, bad values are problems naming the input', () => {
    expect(parseGateInputs('', '')).toEqual({ thresholds: NO_GATE, problems: [] });
    expect(parseGateInputs(' 0.5 ', '3')).toEqual({ thresholds: { minPhase1Rate: 0.5, maxErrors: 3 }, problems: [] });
    expect(parseGateInputs('1', '0').thresholds).toEqual({ minPhase1Rate: 1, maxErrors: 0 });
    expect(parseGateInputs('.25', '').thresholds.minPhase1Rate).toBe(0.25);
    for (const bad of ['50%', '1.5', '-0.1', 'abc', '0x1', '1e-1']) {
      const { problems } = parseGateInputs(bad, '');
      expect(problems.map((p) => p.input)).toEqual(['min-phase1-rate']);
      expect(problems[0].message).toContain(`'${bad}'`);
    }
    for (const bad of ['-1', '1.5', 'two', '1e3']) {
      expect(parseGateInputs('', bad).problems.map((p) => p.input)).toEqual(['max-errors']);
    }
  });
});

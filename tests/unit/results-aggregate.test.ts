// The figures of a run, from hand-made latest rows: every outcome, the DB precedence,
// and the definitions of n, the rates, avg_reward and errors.
import { describe, expect, it } from 'vitest';
import { type LatestRow, parseRow, type Row } from '../../src/gcs/rows.js';
import { aggregate, redactor, redactResults, UNKNOWN_DB } from '../../src/results/aggregate.js';

function latest(entries: Array<[iid: string, attempt: number, row: Row | null]>): Map<string, LatestRow> {
  return new Map(entries.map(([iid, attempt, row]) => [iid, { ref: { instanceId: iid, attempt, name: `runs/r/rows/${iid}/attempt-${attempt}.json` }, row }]));
}

const pass = (iid: string, database: string): Row => ({
  instance_id: iid,
  database,
  phase1_passed: true,
  phase2_passed: true,
  total_reward: 1,
  error: null,
  submission_status: 'submitted',
});
const phase1 = (iid: string, database: string): Row => ({
  instance_id: iid,
  database,
  phase1_passed: true,
  phase2_passed: false,
  total_reward: 0.7,
  error: null,
  submission_status: 'submitted',
});
const fail = (iid: string, database: string): Row => ({
  instance_id: iid,
  database,
  phase1_passed: false,
  phase2_passed: false,
  total_reward: 0,
  error: null,
  submission_status: 'submitted',
});
const synthetic = (iid: string, error: string): Row => ({
  instance_id: iid,
  database: '',
  phase1_passed: false,
  phase2_passed: false,
  total_reward: 0,
  error,
  submission_status: 'never_submitted',
});

const IDS = ['alien_1', 'alien_2', 'alien_3', 'credit_1', 'credit_2', 'credit_3', 'cybermarket_1', 'cybermarket_2'];
const MAP = {
  alien_1: 'alien',
  alien_2: 'alien',
  alien_3: 'alien',
  credit_1: 'credit',
  credit_2: 'credit',
  credit_3: 'credit',
  cybermarket_1: 'cybermarket',
  cybermarket_2: 'cybermarket',
};
const MIXED = latest([
  ['alien_1', 1, pass('alien_1', 'alien')],
  ['alien_2', 1, phase1('alien_2', 'alien')],
  ['alien_3', 2, pass('alien_3', 'alien')],
  ['credit_1', 1, fail('credit_1', 'credit')],
  ['credit_2', 1, synthetic('credit_2', 'actor-lost')],
  ['credit_3', 1, null],
  ['cybermarket_1', 1, pass('cybermarket_1', 'cybermarket')],
]);

describe('aggregate', () => {
  it('counts a mixed run exactly (figures computed by hand)', () => {
    const r = aggregate({ instanceIds: IDS, instanceDbs: MAP, latest: MIXED });
    // n 8; phase-1: alien_1, alien_2, alien_3, cybermarket_1; phase-2: alien_1, alien_3, cybermarket_1;
    // rewards 1 + 0.7 + 1 + 1 = 3.7 over 8; one error row (credit_2); credit_3 unreadable; cybermarket_2 has no row.
    expect({ n: r.n, p1: r.phase1_rate, p2: r.phase2_rate, avg: r.avg_reward, errors: r.errors }).toEqual({ n: 8, p1: 0.5, p2: 0.375, avg: 0.4625, errors: 1 });
    expect({ p1: r.phase1_passed, p2: r.phase2_passed, unreadable: r.unreadable, missing: r.missing }).toEqual({ p1: 4, p2: 3, unreadable: 1, missing: 1 });
    expect(r.unreadable_ids).toEqual(['credit_3']);
    expect(r.missing_ids).toEqual(['cybermarket_2']);
    expect(r.per_db).toEqual([
      { db: 'alien', n: 3, phase1_rate: 1, phase2_rate: 2 / 3, avg_reward: 0.9, errors: 0, phase1_passed: 3, phase2_passed: 2, unreadable: 0, missing: 0 },
      { db: 'credit', n: 3, phase1_rate: 0, phase2_rate: 0, avg_reward: 0, errors: 1, phase1_passed: 0, phase2_passed: 0, unreadable: 1, missing: 0 },
      {
        db: 'cybermarket',
        n: 2,
        phase1_rate: 0.5,
        phase2_rate: 0.5,
        avg_reward: 0.5,
        errors: 0,
        phase1_passed: 1,
        phase2_passed: 1,
        unreadable: 0,
        missing: 1,
      },
    ]);
    expect(r.failures).toEqual([
      { instance_id: 'alien_2', db: 'alien', attempt: 1, outcome: 'phase1', reason: 'phase 2 failed' },
      { instance_id: 'credit_1', db: 'credit', attempt: 1, outcome: 'fail', reason: 'phase 1 failed' },
      { instance_id: 'credit_2', db: 'credit', attempt: 1, outcome: 'error', reason: 'error: actor-lost' },
      { instance_id: 'credit_3', db: 'credit', attempt: 1, outcome: 'unreadable', reason: 'unreadable row attempt-1.json' },
      { instance_id: 'cybermarket_2', db: 'cybermarket', attempt: null, outcome: 'missing', reason: 'no row' },
    ]);
    expect(r.instances.map((i) => i.outcome)).toEqual(['pass', 'phase1', 'pass', 'fail', 'error', 'unreadable', 'pass', 'missing']);
    expect(r.instances[2]).toMatchObject({ instance_id: 'alien_3', attempt: 2 });
  });

  it('takes the DB from the manifest map, else the row, else the dataset, else the unknown DB', () => {
    const rows = latest([
      ['a', 1, pass('a', 'row_db')],
      ['b', 1, pass('b', 'row_db')],
      ['c', 1, synthetic('c', 'actor-lost')],
      ['d', 1, synthetic('d', 'actor-lost')],
      ['e', 1, null],
    ]);
    const r = aggregate({
      instanceIds: ['a', 'b', 'c', 'd', 'e', 'f'],
      instanceDbs: { a: 'map_db' },
      datasetDbs: { b: 'data_db', c: 'data_db', f: 'data_db' },
      latest: rows,
    });
    expect(r.instances.map((i) => [i.instance_id, i.db])).toEqual([
      ['a', 'map_db'],
      ['b', 'row_db'],
      ['c', 'data_db'],
      ['d', UNKNOWN_DB],
      ['e', UNKNOWN_DB],
      ['f', 'data_db'],
    ]);
    // Sorted by name, the unknown DB last.
    expect(r.per_db.map((d) => [d.db, d.n])).toEqual([
      ['data_db', 2],
      ['map_db', 1],
      ['row_db', 1],
      [UNKNOWN_DB, 2],
    ]);
  });

  it('never drops a row of an instance the manifest does not list', () => {
    const r = aggregate({
      instanceIds: ['b'],
      latest: latest([
        ['z', 1, pass('z', 'x')],
        ['b', 1, fail('b', 'x')],
        ['a', 3, null],
      ]),
    });
    expect(r.instances.map((i) => i.instance_id)).toEqual(['b', 'a', 'z']);
    expect(r.n).toBe(3);
    expect(r.unreadable_ids).toEqual(['a']);
  });

  it('reads odd rows conservatively: non-numeric rewards are 0, non-boolean flags fail, error objects become text', () => {
    const rows = latest([
      // As JSON.parse gives them: the Row type cannot promise what the cluster wrote.
      ['a', 1, parseRow(Buffer.from(JSON.stringify({ phase1_passed: 'true', phase2_passed: 1, total_reward: '1' })))],
      ['b', 1, { phase1_passed: true, phase2_passed: true, total_reward: Number.NaN, error: { type: 'Timeout', after: 30 } }],
      ['c', 1, { phase1_passed: true, phase2_passed: true, total_reward: 0.25, error: '' }],
    ]);
    const r = aggregate({ instanceIds: ['a', 'b', 'c'], latest: rows });
    expect(r.instances.map((i) => [i.outcome, i.total_reward, i.error])).toEqual([
      ['fail', 0, null],
      ['error', 0, '{"type":"Timeout","after":30}'],
      ['pass', 0.25, null],
    ]);
    // Flags as given, also on an error row; the error counts once.
    expect({ p1: r.phase1_passed, p2: r.phase2_passed, errors: r.errors, avg: r.avg_reward }).toEqual({ p1: 2, p2: 2, errors: 1, avg: 0.25 / 3 });
    expect(r.failures.map((f) => f.reason)).toEqual(['phase 1 failed', 'error: {"type":"Timeout","after":30}']);
  });

  it('gives zeros, not NaN, for a run with no instances', () => {
    const r = aggregate({ instanceIds: [], latest: new Map() });
    expect(r).toMatchObject({ n: 0, phase1_rate: 0, phase2_rate: 0, avg_reward: 0, errors: 0, per_db: [], failures: [] });
  });

  it('redacts secret values from every error and reason', () => {
    const rows = latest([['a', 1, synthetic('a', 'dispatch-failure: bad key sk-SECRET-123456 (sk-SECRET-123456)')]]);
    const r = redactResults(aggregate({ instanceIds: ['a'], latest: rows }), redactor(['sk-SECRET-123456', '', '  ']));
    expect(JSON.stringify(r)).not.toContain('sk-SECRET-123456');
    expect(r.failures[0].reason).toBe('error: dispatch-failure: bad key *** (***)');
  });

  it('says why in plain words: the failed phase, an error by its telling line, the submission only when it was not submitted', () => {
    const traceback = 'Traceback (most recent call last):\n  File "agent.py", line 3, in run\n    ask()\nTimeoutError: the model did not answer in 60 s\n';
    const rows = latest([
      ['p1', 1, { phase1_passed: false, phase2_passed: false, total_reward: 0, error: null, submission_status: 'submitted' }],
      ['p2', 1, { phase1_passed: true, phase2_passed: false, total_reward: 0.5, error: null, submission_status: 'submitted' }],
      ['late', 1, { phase1_passed: false, phase2_passed: false, total_reward: 0, error: null, submission_status: 'timeout' }],
      ['tb', 1, { phase1_passed: false, phase2_passed: false, total_reward: 0, error: traceback, submission_status: 'error' }],
      [
        'multi',
        1,
        { phase1_passed: false, phase2_passed: false, total_reward: 0, error: 'actor died\nsee the raylet log', submission_status: 'never_submitted' },
      ],
      ['long', 1, { phase1_passed: false, phase2_passed: false, total_reward: 0, error: 'x'.repeat(500) }],
    ]);
    const r = aggregate({ instanceIds: ['p1', 'p2', 'late', 'tb', 'multi', 'long', 'gone'], latest: rows });
    expect(r.failures.map((f) => f.reason)).toEqual([
      'phase 1 failed',
      'phase 2 failed',
      'phase 1 failed (submission: timeout)',
      'error: TimeoutError: the model did not answer in 60 s',
      'error: actor died',
      `error: ${'x'.repeat(199)}…`,
      'no row',
    ]);
    // The whole error stays in the instance record (results-json).
    expect(r.instances.find((i) => i.instance_id === 'tb')?.error).toBe(traceback);
  });
});

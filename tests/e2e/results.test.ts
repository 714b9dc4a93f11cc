// reportRun on rows written to the GCS emulator, with a real RunStore and the real
// @actions/core writing GITHUB_OUTPUT and GITHUB_STEP_SUMMARY. Expected figures are by hand.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProblemsError } from '../../src/common/errors.js';
import { type Log, memoryLog } from '../../src/common/log.js';
import { RunStore } from '../../src/gcs/store.js';
import { GateFailedError, type GateThresholds, NO_GATE, type ReportOptions, reportRun } from '../../src/results/report.js';
import { createBucket, makeStorage, TEST_PROJECT_ID, uniqueBucketName } from '../helpers/gcs.js';
import { MIXED_DBS, prContext, writeRun } from '../helpers/results.js';
import { parseCommandFile } from '../helpers/step-files.js';

const storage = makeStorage();
let bucket: string;
let dir: string;
let outputFile: string;
let summaryFile: string;
let warnings: string[];

const outputs = (): Record<string, string> => parseCommandFile(readFileSync(outputFile, 'utf8'));
const summary = (): string => readFileSync(summaryFile, 'utf8');
// Outputs and the summary through the real @actions/core; log lines and warnings recorded.
const log = (): Log => ({ ...memoryLog(), warning: (m: string) => void warnings.push(m) });

function options(runId: string, extra: Partial<ReportOptions> = {}): ReportOptions {
  return {
    store: new RunStore(bucket, TEST_PROJECT_ID),
    runId,
    github: prContext(null),
    token: '',
    commentOnPr: false,
    thresholds: NO_GATE,
    runnerTemp: dir,
    log: log(),
    ...extra,
  };
}

beforeAll(async () => {
  bucket = uniqueBucketName('results');
  await createBucket(bucket);
  dir = mkdtempSync(join(tmpdir(), 'bird-results-'));
  outputFile = join(dir, 'github_output');
  // @actions/core caches the summary path on first use: one file for the whole suite.
  summaryFile = join(dir, 'step_summary');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  vi.stubEnv('GITHUB_OUTPUT', outputFile);
  vi.stubEnv('GITHUB_STEP_SUMMARY', summaryFile);
  warnings = [];
});
afterEach(() => {
  vi.unstubAllEnvs();
  process.exitCode = undefined;
});

// The mixed run (tests/helpers/results.ts), counted by hand:
//   alien_1 pass (1.0) · alien_2 phase-1 only (0.7) · alien_3 attempt 1 error, attempt 2 pass (1.0)
//   credit_1 fail (0) · credit_2 error row "actor-lost" (0) · credit_3 unreadable · cybermarket_1 pass (1.0)
//   cybermarket_2 no row
// n 8; phase-1 4/8 = 0.5; phase-2 3/8 = 0.375; reward 3.7/8 = 0.4625; errors 1 (alien_3's error is not its latest).
describe('reportRun on a mixed run', () => {
  it('reports the exact figures in the outputs, the summary and results-json', async () => {
    await writeRun(bucket, 'mixed-run');
    const stepLog = memoryLog();
    const r = await reportRun(
      options('mixed-run', { attempt: 2, durationSeconds: 3723, dashboardUrl: 'http://ray-head:8265/#/jobs/bird-mixed-run-a2', log: stepLog }),
    );
    // The step log: the headline in sight, the per-DB lines and the failures each folded in a group.
    const at = stepLog.lines.findIndex((l) => l.startsWith('results of mixed-run (attempt 2): '));
    expect(stepLog.lines.slice(at + 1, at + 6)).toEqual([
      '[group] per DB: 3 DB(s)',
      expect.stringMatching(/^alien: /),
      expect.stringMatching(/^credit: /),
      expect.stringMatching(/^cybermarket: /),
      '[endgroup]',
    ]);
    expect(stepLog.lines.slice(at + 6, at + 13)).toEqual([
      '[group] did not pass: 5 instance(s)',
      'alien_2 (alien, attempt 1): phase 2 failed',
      'credit_1 (credit, attempt 1): phase 1 failed',
      'credit_2 (credit, attempt 1): error: actor-lost',
      expect.stringMatching(/^credit_3 \(credit, attempt 1\): unreadable row/),
      'cybermarket_2 (cybermarket, attempt -): no row',
      '[endgroup]',
    ]);

    const resultsJson = join(dir, 'bird-cloud-action', 'results-mixed-run.json');
    expect(outputs()).toEqual({ n: '8', 'phase1-rate': '0.5', 'phase2-rate': '0.375', 'avg-reward': '0.4625', errors: '1', 'results-json': resultsJson });
    expect(r.resultsJson).toBe(resultsJson);
    expect(warnings).toEqual([]);
    expect(r.comment).toEqual({ kind: 'skipped', reason: 'comment-on-pr is false' });

    // Each failure links its log object; the bucket's name differs from run to run.
    expect(summary()).toContain(`[log](https://storage.cloud.google.com/${bucket}/runs/mixed-run/logs/alien_2/attempt-1.log)`);
    await expect(summary().replaceAll(bucket, 'the-bucket')).toMatchFileSnapshot('./__snapshots__/results-summary.md');
    // core.summary.addRaw(md, true) ends it with a newline.
    expect(summary()).toBe(`${r.summary}\n`);

    const doc = JSON.parse(readFileSync(resultsJson, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(doc).slice(0, 5)).toEqual(['n', 'phase1_rate', 'phase2_rate', 'avg_reward', 'errors']);
    expect(doc).toMatchObject({
      n: 8,
      phase1_rate: 0.5,
      phase2_rate: 0.375,
      avg_reward: 0.4625,
      errors: 1,
      phase1_passed: 4,
      phase2_passed: 3,
      unreadable: 1,
      missing: 1,
      run_id: 'mixed-run',
      attempt: 2,
      state: 'done',
      duration_seconds: 3723,
      unreadable_ids: ['credit_3'],
      missing_ids: ['cybermarket_2'],
      baseline: null,
      gate: { min_phase1_rate: null, max_errors: null, passed: true, message: null },
    });
    expect(doc.per_db).toEqual([
      // alien: 3 of 3 pass phase 1, 2 of 3 phase 2, (1 + 0.7 + 1) / 3 = 0.9
      { db: 'alien', n: 3, phase1_rate: 1, phase2_rate: 2 / 3, avg_reward: 0.9, errors: 0, phase1_passed: 3, phase2_passed: 2, unreadable: 0, missing: 0 },
      // credit: nothing passes; credit_2's error row counts under credit (manifest map), not under ""
      { db: 'credit', n: 3, phase1_rate: 0, phase2_rate: 0, avg_reward: 0, errors: 1, phase1_passed: 0, phase2_passed: 0, unreadable: 1, missing: 0 },
      // cybermarket: 1 of 2 passes; the missing one counts in n
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
    expect((doc.failures as Array<{ instance_id: string; reason: string }>).map((f) => `${f.instance_id}: ${f.reason}`)).toEqual([
      'alien_2: phase 2 failed',
      'credit_1: phase 1 failed',
      'credit_2: error: actor-lost',
      'credit_3: unreadable row attempt-1.json',
      'cybermarket_2: no row',
    ]);
  });

  it('reports a run the Python tools wrote: DBs from the rows, else from the dataset file', async () => {
    await writeRun(bucket, 'py-run', { python: true, status: null });
    // status.json's last heartbeat one hour after the manifest's commit: the derived duration.
    const [md] = await storage.bucket(bucket).file('runs/py-run/manifest.json').getMetadata();
    const created = Date.parse(String(md.timeCreated)) / 1000;
    await storage
      .bucket(bucket)
      .file('runs/py-run/status.json')
      .save(
        JSON.stringify({ ray_job_id: 'raysubmit_py', last_heartbeat_ts: created + 3600, rows_done: 7, rows_total: 8, terminal_state: 'done', attempt: 2 }),
        { resumable: false },
      );

    const without = await reportRun(options('py-run', { rayAddress: 'http://ray-head:8265/' }));
    // credit_2 (error row, database ""), credit_3 (unreadable) and cybermarket_2 (no row) have no DB.
    expect(without.results.per_db.map((d) => [d.db, d.n])).toEqual([
      ['alien', 3],
      ['credit', 1],
      ['cybermarket', 1],
      ['(unknown DB)', 3],
    ]);
    expect(without.header).toMatchObject({
      attempt: 2,
      durationSeconds: 3600,
      durationNote: 'manifest commit → last heartbeat',
      dashboardUrl: 'http://ray-head:8265/#/jobs/raysubmit_py',
      state: 'done',
    });
    expect(without.summary).toContain('- attempt 2, duration 1h 00m 00s (manifest commit → last heartbeat), state `done`');
    expect(without.summary).toContain('- dashboard: [Ray job](http://ray-head:8265/#/jobs/raysubmit_py)');

    const dataset = join(dir, 'mini_interact.jsonl');
    writeFileSync(
      dataset,
      `${Object.entries(MIXED_DBS)
        .map(([instance_id, selected_database]) => JSON.stringify({ instance_id, selected_database, query: 'q' }))
        .join('\n')}\n`,
    );
    const withDataset = await reportRun(options('py-run', { datasetFile: dataset }));
    expect(withDataset.results.per_db.map((d) => [d.db, d.n, d.phase1_passed, d.errors])).toEqual([
      ['alien', 3, 3, 0],
      ['credit', 3, 0, 1],
      ['cybermarket', 2, 1, 0],
    ]);
    expect(outputs().n).toBe('8');
    expect(warnings).toEqual([]);

    // A dataset without the ids is a warning, and those instances stay under the unknown DB.
    const other = join(dir, 'other.jsonl');
    writeFileSync(other, `${JSON.stringify({ instance_id: 'nope_1', selected_database: 'nope' })}\n`);
    const partial = await reportRun(options('py-run', { datasetFile: other }));
    expect(partial.results.per_db.at(-1)).toMatchObject({ db: '(unknown DB)', n: 3 });
    expect(warnings.join('\n')).toContain('3 instance id(s) not in the dataset');
  });

  it('shows the deltas against a baseline run, and warns when the baseline cannot be read', async () => {
    await writeRun(bucket, 'base-run', {
      rows: [
        ['alien_1', 1, JSON.stringify({ database: 'alien', phase1_passed: true, phase2_passed: false, total_reward: 0.7, error: null })],
        ['credit_1', 1, JSON.stringify({ database: 'credit', phase1_passed: true, phase2_passed: true, total_reward: 1, error: null })],
      ],
    });
    await writeRun(bucket, 'head-run');
    const r = await reportRun(options('head-run', { baselineRunId: 'base-run' }));
    expect(r.baseline?.results).toMatchObject({ n: 8, phase1_passed: 2, phase2_passed: 1, missing: 6 });
    // alien: 3/3 against 1/3 → +66.7 pp; credit: 0/3 against 1/3 → -33.3 pp.
    expect(r.summary).toContain('| `alien` | 3 | 100.0% (3/3) | +66.7 pp |');
    expect(r.summary).toContain('| `credit` | 3 | 0.0% (0/3) | -33.3 pp |');

    const missing = await reportRun(options('head-run', { baselineRunId: 'no-such-run' }));
    expect(missing.baseline).toBeNull();
    expect(warnings.join('\n')).toMatch(/baseline-run-id 'no-such-run' could not be read, so no deltas are shown: .*has no manifest/);
  });

  it('refuses a run id with no manifest, naming the input', async () => {
    await expect(reportRun(options('never-written'))).rejects.toThrow(ProblemsError);
    await expect(reportRun(options('never-written'))).rejects.toThrow(
      /report-run-id: run 'never-written' has no manifest at gs:\/\/.*\/runs\/never-written\/manifest\.json/,
    );
  });
});

describe('the quality gate', () => {
  beforeAll(() => writeRun(bucket, 'gate-run'));
  const gate = (thresholds: GateThresholds) => reportRun(options('gate-run', { thresholds }));

  it('passes at the boundary: phase-1 rate 0.5 against 0.5, 1 error against max 1', async () => {
    const r = await gate({ minPhase1Rate: 0.5, maxErrors: 1 });
    expect(r.results.phase1_rate).toBe(0.5);
    expect(process.exitCode).toBeUndefined();
  });

  it('fails the step after reporting, naming the figure and the threshold', async () => {
    // As main does: its one catch turns the error into setFailed.
    const failed = await gate({ minPhase1Rate: 0.51, maxErrors: 0 }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(GateFailedError);
    const message = (failed as GateFailedError).message;
    expect(message).toBe('quality gate failed: phase-1 rate 0.5 (4/8 = 50.0%) is below min-phase1-rate 0.51; errors 1 (of 8 instances) exceed max-errors 0');
    // Captured, so that a CI runner does not take the `::error::` line for an annotation of its own.
    const printed: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      core.setFailed(`bird-cloud-action: ${message}`);
    } finally {
      write.mockRestore();
    }
    expect(process.exitCode).toBe(1);
    expect(printed.join('')).toContain('::error::bird-cloud-action: quality gate failed: phase-1 rate 0.5 (4/8 = 50.0%25) is below min-phase1-rate 0.51');
    // Everything was reported first.
    expect(outputs()).toMatchObject({ n: '8', 'phase1-rate': '0.5', errors: '1' });
    expect(summary()).toContain('## BIRD-Interact results: `gate-run`');
    const doc = JSON.parse(readFileSync(outputs()['results-json'], 'utf8')) as { gate: unknown };
    expect(doc.gate).toEqual({ min_phase1_rate: 0.51, max_errors: 0, passed: false, message });
  });
});

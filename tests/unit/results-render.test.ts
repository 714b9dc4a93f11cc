// The job summary and the PR comment: the comment with deltas against a baseline as a
// snapshot (the summary's snapshot is in tests/e2e/results.test.ts, from the emulator), the deltas,
// and the escaping of text that comes from rows.

import { describe, expect, it } from 'vitest';
import type { LatestRow, Row } from '../../src/gcs/rows.js';
import { aggregate, type RunResults } from '../../src/results/aggregate.js';
import {
  attemptLines,
  COMMENT_MAX_CHARS,
  code,
  commentMarker,
  deltaTable,
  failuresDetails,
  gcsLogUrl,
  mdText,
  type RunHeader,
  renderComment,
} from '../../src/results/render.js';
import { renderMarkdownFragment } from '../../tools/render/markdown.mjs';
import { MIXED_DBS, MIXED_IDS, MIXED_MANIFEST, mixedLatest } from '../helpers/results.js';

const HEADER: RunHeader = {
  runId: 'pr-7-smoke',
  manifest: MIXED_MANIFEST,
  attempt: 2,
  durationSeconds: 3723,
  dashboardUrl: 'http://ray-head:8265/#/jobs/bird-pr-7-smoke-a2',
  state: 'done',
};

const mixed = (): RunResults => aggregate({ instanceIds: MIXED_IDS, instanceDbs: MIXED_DBS, latest: mixedLatest() });

function latestOf(rows: Record<string, Row | null>): Map<string, LatestRow> {
  return new Map(Object.entries(rows).map(([iid, row]) => [iid, { ref: { instanceId: iid, attempt: 1, name: `runs/b/rows/${iid}/attempt-1.json` }, row }]));
}

/** A baseline: alien did worse, credit had two errors, cybermarket did not exist, archeology did. */
function baseline(): RunResults {
  const r = (database: string, p1: boolean, p2: boolean, reward: number, error: string | null = null): Row => ({
    database,
    phase1_passed: p1,
    phase2_passed: p2,
    total_reward: reward,
    error,
    submission_status: 'submitted',
  });
  return aggregate({
    instanceIds: ['alien_1', 'alien_2', 'alien_3', 'credit_1', 'credit_2', 'credit_3', 'archeology_1'],
    latest: latestOf({
      alien_1: r('alien', true, true, 1),
      alien_2: r('alien', true, false, 0.7),
      alien_3: r('alien', false, false, 0),
      credit_1: r('credit', false, false, 0, 'actor-lost'),
      credit_2: r('credit', false, false, 0, 'actor-lost'),
      credit_3: r('credit', true, false, 0.7),
      archeology_1: r('archeology', true, true, 1),
    }),
  });
}

describe('render', () => {
  it('renders the PR comment with the deltas per DB against a baseline', async () => {
    const body = renderComment({
      marker: commentMarker('PR smoke'),
      header: HEADER,
      results: mixed(),
      baseline: { runId: 'main-nightly', results: baseline() },
      workflowRunUrl: 'https://github.com/o/r/actions/runs/1',
    });
    await expect(body).toMatchFileSnapshot('./__snapshots__/results-comment-baseline.md');
    expect(body.startsWith('<!-- bird-cloud-action:results:PR%20smoke -->\n')).toBe(true);
  });

  it('computes the deltas: percentage points, reward, errors; new and baseline-only DBs', () => {
    const t = deltaTable(mixed(), baseline()).split('\n');
    expect(t[0]).toBe('| DB | n | phase-1 pass | Δ phase-1 | phase-2 pass | Δ phase-2 | avg reward | Δ reward | errors | Δ errors |');
    // alien: phase-1 3/3 against 2/3, phase-2 2/3 against 1/3, reward 0.9 against 1.7/3.
    expect(t[2]).toBe('| `alien` | 3 | 100.0% (3/3) | +33.3 pp | 66.7% (2/3) | +33.3 pp | 0.900 | +0.333 | 0 | ±0 |');
    expect(t[3]).toBe('| `archeology` (baseline only) | — | — | — | — | — | — | — | — | — |');
    // credit: phase-1 0/3 against 1/3, reward 0 against 0.7/3, errors 1 against 2.
    expect(t[4]).toBe('| `credit` | 3 | 0.0% (0/3) | -33.3 pp | 0.0% (0/3) | ±0.0 pp | 0.000 | -0.233 | 1 | -1 |');
    expect(t[5]).toBe('| `cybermarket` | 2 | 50.0% (1/2) | new | 50.0% (1/2) | new | 0.500 | new | 0 | new |');
    // all: 4/8 against 4/7, 3/8 against 2/7, 0.4625 against 3.4/7, 1 error against 2.
    expect(t[6]).toBe('| **all** | 8 | 50.0% (4/8) | -7.1 pp | 37.5% (3/8) | +8.9 pp | 0.463 | -0.023 | 1 | -1 |');
  });

  it('keeps text from rows inert: no HTML, no links, no table breaks, one line, bounded', () => {
    expect(mdText('File "<string>", line 1 & [x](http://e) *a* _b_ snake_case `c` \\ ~d~')).toBe(
      'File "&lt;string&gt;", line 1 &amp; \\[x\\](http:\u200b//e) \\*a\\* \\_b\\_ snake_case \\`c\\` \\\\ \\~d\\~',
    );
    expect(code('a`b')).toBe("`a'b`");
    const details = failuresDetails(
      [{ instance_id: 'x|y', db: 'd', attempt: 1, outcome: 'error', reason: `error: boom | pipe\n<script>${'z'.repeat(400)}` }],
      10,
      'more',
    );
    const line = details.split('\n').find((l) => l.startsWith('| `x'));
    expect(line).toBeDefined();
    expect(line).toContain('`x\\|y`');
    expect(line).toContain('boom \\| pipe &lt;script&gt;');
    expect(line).not.toContain('<script>');
    expect(line?.length).toBeLessThan(300);
  });

  it('caps the failure list and says where the rest is', () => {
    const failures = Array.from({ length: 5 }, (_, i) => ({ instance_id: `i${i}`, db: 'd', attempt: null, outcome: 'missing' as const, reason: 'no row' }));
    const d = failuresDetails(failures, 2, 'see the job summary');
    expect(d).toContain('<summary>5 instances did not pass</summary>\n\n|');
    expect(d).toContain('… and 3 more (see the job summary).');
    expect(d.split('\n').filter((l) => l.startsWith('| `i'))).toHaveLength(2);
    expect(failuresDetails([], 2, '')).toBe('');
  });

  it("links each failed instance's log object in the bucket, and none for an instance without a row", () => {
    const d = failuresDetails(
      [
        { instance_id: 'alien_1', db: 'alien', attempt: 2, outcome: 'error', reason: 'error: boom' },
        { instance_id: 'credit_1', db: 'credit', attempt: null, outcome: 'missing', reason: 'no row' },
      ],
      10,
      'more',
      gcsLogUrl('my-bucket', 'pr-7'),
    );
    const lines = d.split('\n');
    expect(lines).toContain('| instance | DB | attempt | reason | log |');
    expect(lines).toContain(
      '| `alien_1` | `alien` | 2 | error: boom | [log](https://storage.cloud.google.com/my-bucket/runs/pr-7/logs/alien_1/attempt-2.log) |',
    );
    expect(lines).toContain('| `credit_1` | `credit` | — | no row | — |');
  });

  it('keeps the comment under the size limit of GitHub by dropping the failure list', () => {
    const r = mixed();
    const many = {
      ...r,
      failures: Array.from({ length: 400 }, (_, i) => ({
        instance_id: `i${i}`,
        db: 'd',
        attempt: 1,
        outcome: 'error' as const,
        reason: `error: ${'x'.repeat(2000)}`,
      })),
    };
    const body = renderComment({ marker: commentMarker('k'), header: HEADER, results: many, baseline: null });
    expect(body.length).toBeLessThanOrEqual(COMMENT_MAX_CHARS);
    // 50 reasons of 240 characters fit; make them not fit by a long per-DB table instead.
    const wide = { ...many, per_db: Array.from({ length: 400 }, (_, i) => ({ ...r.per_db[0], db: `db_${i}_${'y'.repeat(100)}` })) };
    const short = renderComment({ marker: commentMarker('k'), header: HEADER, results: wide, baseline: null });
    expect(short).toContain('400 instances did not pass: see the job summary.');
    expect(short).not.toContain('<details>');
  });

  it('omits what is unknown', () => {
    const md = attemptLines({ ...HEADER, durationSeconds: null, dashboardUrl: null, state: null }).join('\n');
    expect(md).not.toContain('duration');
    expect(md).not.toContain('dashboard');
    expect(md).toContain('- attempt 2, state running (no terminal state yet)');
  });

  it('makes one marker per key, safe inside an HTML comment', () => {
    expect(commentMarker('bird-eval')).toBe('<!-- bird-cloud-action:results:bird%2Deval -->');
    expect(commentMarker('a --> b')).not.toMatch(/-->.*-->/);
    expect(commentMarker('x')).not.toBe(commentMarker('y'));
  });

  it('renders a hostile row error as inert text on GitHub: no link, image, mention, reference or autolink', () => {
    const hostile =
      'error: @octocat see [click](https://evil.example/x) ![i](https://evil.example/i.png) #12 https://evil.example www.evil.example <img src=x onerror=alert(1)>';
    const body = renderComment({
      marker: commentMarker('k'),
      header: HEADER,
      results: { ...mixed(), failures: [{ instance_id: 'a_1', db: 'a', attempt: 1, outcome: 'error', reason: hostile }] },
      baseline: null,
    });
    const html = renderMarkdownFragment(body);
    expect(html).not.toMatch(/<a [^>]*href="https?:\/\/evil/);
    expect(html).not.toMatch(/<img/);
    expect(body).not.toMatch(/(^|[^\w])@octocat/);
    expect(body).not.toMatch(/#12\b/);
    expect(body).toContain('@\u200boctocat');
  });
});

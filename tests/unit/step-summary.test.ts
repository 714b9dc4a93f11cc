// The job summary builder: which section leads and which are folded, the stage clock, the
// per-run cluster's VM-hours, the failure block (stage, error, fix, what is left behind), and
// that it is written once. Whole steps are in tests/e2e/step-summary.test.ts.
import { describe, expect, it } from 'vitest';
import { PhaseClock } from '../../src/cluster/phases.js';
import { ProblemsError } from '../../src/common/errors.js';
import { memoryLog } from '../../src/common/log.js';
import { aggregate } from '../../src/results/aggregate.js';
import { GateFailedError, gateChecks } from '../../src/results/gate.js';
import { StepSummary } from '../../src/results/step-summary.js';
import { renderMarkdownFragment } from '../../tools/render/markdown.mjs';
import { checkMarkdownMermaid } from '../../tools/render/mermaid-check.mjs';
import { MIXED_DBS, MIXED_IDS, MIXED_MANIFEST, mixedLatest } from '../helpers/results.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return {
    now: () => t,
    advance: (ms) => {
      t += ms;
    },
  };
}

const PLAN = { line: 'Plan: 8 instances in 3 DBs', body: '| DB | instances |\n| --- | --- |\n| `alien` | 3 |' };
const UPLOAD = { line: 'Upload of slayer_models: 3 uploaded', body: 'Manifest: `gs://b/runs/r/manifest.json`' };
const DISPATCH = { line: 'Dispatch: bird-r-a1, 8 instances, Ray job RUNNING', body: '- submission: `bird-r-a1`' };

const HEADER = { runId: 'r', manifest: MIXED_MANIFEST, attempt: 1, durationSeconds: 60, dashboardUrl: null, state: 'done' };
const mixed = () => aggregate({ instanceIds: MIXED_IDS, instanceDbs: MIXED_DBS, latest: mixedLatest() });

/** Headings and folds in order. */
function outline(md: string): string[] {
  return md.split('\n').filter((l) => /^#{2,3} |^<summary>|^\*\*\d+ instances|^\*\*Quality gate|^- (combo|time|per-run cluster):/.test(l));
}

describe('the step summary', () => {
  it('a dry run is the plan, open; the combo and the models once', () => {
    const s = new StepSummary({ now: manualClock().now });
    s.run({ runId: 'r', kind: 'submit', dryRun: true, manifest: MIXED_MANIFEST });
    s.stage('preflight');
    s.plan(PLAN);
    const md = s.render();
    expect(outline(md)).toEqual([
      '## BIRD-Interact run `r` (dry run)',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '- time: preflight 0 ms',
      '### Plan: 8 instances in 3 DBs',
    ]);
    expect(md).not.toContain('<details>');
  });

  it('without results, the furthest stage is open (wait: false: the dispatch) and the rest folded', () => {
    const s = new StepSummary({ now: manualClock().now });
    s.run({ runId: 'r', kind: 'submit', manifest: MIXED_MANIFEST });
    s.plan(PLAN);
    s.upload(UPLOAD);
    s.dispatch(DISPATCH);
    expect(outline(s.render())).toEqual([
      '## BIRD-Interact run `r`',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '<summary>Plan: 8 instances in 3 DBs</summary>',
      '<summary>Upload of slayer_models: 3 uploaded</summary>',
      '### Dispatch: bird-r-a1, 8 instances, Ray job RUNNING',
    ]);
  });

  it('results lead, whatever order the sections came in; the rest is folded; the gate is on top', async () => {
    const s = new StepSummary({ now: manualClock().now });
    const results = mixed();
    s.results({ header: HEADER, results, baseline: null, gate: gateChecks(results, { minPhase1Rate: 0.25, maxErrors: null }) });
    s.dispatch(DISPATCH);
    s.plan(PLAN);
    s.upload(UPLOAD);
    s.trend('**Trend**: phase-1 rate of the last runs');
    s.run({ runId: 'r', kind: 'submit', manifest: MIXED_MANIFEST });
    const md = s.render();
    expect(outline(md)).toEqual([
      '## BIRD-Interact results: `r`',
      '**Quality gate: ✅ passed**',
      '**8 instances** · phase-1 50.0% (4/8) · phase-2 37.5% (3/8) · avg reward 0.463 · 1 error · 1 unreadable row · 1 without a row',
      '<summary>5 instances did not pass</summary>',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '<summary>Plan: 8 instances in 3 DBs</summary>',
      '<summary>Upload of slayer_models: 3 uploaded</summary>',
      '<summary>Dispatch: bird-r-a1, 8 instances, Ray job RUNNING</summary>',
    ]);
    // The trend comes right after the results, before the facts.
    expect(md.indexOf('**Trend**')).toBeGreaterThan(md.indexOf('did not pass'));
    expect(md.indexOf('**Trend**')).toBeLessThan(md.indexOf('- combo:'));
    expect(md.match(/- models:/g)).toHaveLength(1);
    expect(await checkMarkdownMermaid(md)).toEqual([]);
  });

  it('times each stage with its clock, the current one up to the writing', () => {
    const c = manualClock();
    const s = new StepSummary({ now: c.now });
    s.stage('preflight');
    c.advance(2_100);
    s.stage('upload');
    c.advance(41_000);
    s.stage('dispatch');
    c.advance(900);
    s.stage('wait');
    c.advance(3_723_000);
    s.stage('report');
    c.advance(1_500);
    expect(s.currentStage).toBe('report');
    expect(s.render()).toContain('- time: preflight 2.1 s · upload 41.0 s · dispatch 900 ms · wait 1h 02m 03s · report 1.5 s (step 1h 02m 49s)');
  });

  it('a per-run cluster: nodes and VM-hours from ray up to ray down, and its phases folded', async () => {
    const c = manualClock();
    const phases = new PhaseClock(memoryLog(), c.now);
    const s = new StepSummary({ now: c.now });
    s.run({ runId: 'r', kind: 'submit' });
    s.cluster({ phases, workers: 4, workerType: 'e2-standard-4' });
    const step = (ms: number) => async () => c.advance(ms);
    await phases.run('image', step(1_000), 'img');
    await phases.run('up', step(300_000));
    // While the cluster runs, the summary says how long so far.
    expect(s.render()).toContain(
      '- per-run cluster: 5 nodes (1 head + 4 × `e2-standard-4`), up 5m 00s so far (not torn down by this step): about 0.42 VM-hours',
    );
    await phases.run('submit', step(2_000));
    await phases.run('wait', step(3_300_000));
    await phases.run('down', step(58_000));
    const md = s.render();
    // (300 + 2 + 3300 + 58) s = 1h 01m 00s on 5 nodes = 5.08 VM-hours.
    expect(md).toContain('- per-run cluster: 5 nodes (1 head + 4 × `e2-standard-4`), from `ray up` to `ray down` 1h 01m 00s: about 5.08 VM-hours');
    expect(md).toContain('<summary>Per-run cluster: image, up, submit, wait, down (1h 01m 01s)</summary>');
    expect(md).toContain('| down | ok | 58.0 s |  |');
  });

  it('a failed upload: the stage, the error, the fix, and that no manifest was written', () => {
    const s = new StepSummary({ now: manualClock().now });
    s.run({ runId: 'r-1', kind: 'submit', manifest: MIXED_MANIFEST });
    s.stage('preflight');
    s.plan(PLAN);
    s.stage('upload');
    s.fail(new Error('upload of runs/r-1/setup/slayer_models/alien/a.yaml failed: HTTP 503: backend error'));
    const md = s.render();
    expect(outline(md)).toEqual([
      '## BIRD-Interact run `r-1`',
      '### ❌ Stopped at upload',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '- time: preflight 0 ms · upload 0 ms (step 0 ms)',
      '<summary>Plan: 8 instances in 3 DBs</summary>',
    ]);
    expect(md).toContain('upload of runs/r-1/setup/slayer_models/alien/a.yaml failed: HTTP 503: backend error');
    expect(md).toContain('**Fix:** run the step again with `run-id: r-1`: files already in the bucket with the same md5 are skipped');
    expect(md).toContain('**Left behind:** manifest not written, nothing dispatched (the files uploaded so far stay in the bucket)');
  });

  it('a failed wait, reported after the results: the job stopped and the cluster torn down', () => {
    const s = new StepSummary({ now: manualClock().now });
    s.run({ runId: 'r', kind: 'submit', manifest: MIXED_MANIFEST });
    s.manifestCommitted();
    s.stage('dispatch');
    s.jobState('bird-r-a1', 'submitted');
    s.stage('wait');
    s.jobState('bird-r-a1', 'stopped');
    const waitFailure = new Error('stalled: job appears stalled: no heartbeat for 301 s; rerun the unfinished instances with `rerun-run-id: r`');
    s.fail(waitFailure, 'wait');
    s.stage('teardown');
    s.clusterTeardown('ray-down');
    s.stage('report');
    s.results({ header: { ...HEADER, state: 'error' }, results: mixed(), baseline: null, gate: [] });
    // main's catch sees the same error again, now in the report stage: the first stands.
    s.fail(waitFailure);
    const md = s.render();
    expect(outline(md).slice(0, 3)).toEqual([
      '## BIRD-Interact results: `r`',
      '### ❌ Stopped at wait',
      '**8 instances** · phase-1 50.0% (4/8) · phase-2 37.5% (3/8) · avg reward 0.463 · 1 error · 1 unreadable row · 1 without a row',
    ]);
    expect(md).toContain('**Fix:** rerun the unfinished instances with `rerun-run-id: r`');
    expect(md).toContain('**Left behind:** job `bird-r-a1` stopped; its rows so far are in the bucket; per-run cluster: torn down (ray down)');
  });

  it('input problems as a table with their fixes; a failed gate has no failure block, its own block says it', () => {
    const s = new StepSummary();
    s.stage('preflight');
    s.fail(
      new ProblemsError(
        [
          { input: 'instance-ids', message: "unknown instance 'x|y' <b>", fix: 'remove it' },
          { input: 'gcs-bucket', message: 'is required' },
        ],
        'preflight failed',
      ),
    );
    const md = s.render();
    expect(md).toContain("| `instance-ids` | unknown instance 'x\\|y' &lt;b&gt; | remove it |");
    expect(md).toContain('| `gcs-bucket` | is required |  |');
    expect(md).toContain('**Left behind:** nothing: no upload, no manifest, nothing dispatched');

    const g = new StepSummary();
    const results = mixed();
    g.results({ header: HEADER, results, baseline: null, gate: gateChecks(results, { minPhase1Rate: 0.9, maxErrors: null }) });
    g.fail(new GateFailedError('quality gate failed: phase-1 rate 0.5 (4/8 = 50.0%) is below min-phase1-rate 0.9'));
    expect(g.render()).not.toContain('Stopped at');
    expect(g.render()).toContain('| `min-phase1-rate` | 0.9 | 0.5 (4/8 = 50.0%) | ❌ failed |');
  });

  it('shows an error as inert text: one line escaped, several lines in a fence it cannot close', () => {
    const one = new StepSummary();
    one.fail(new Error('Ray said: @octocat see [x](https://evil.example) <img src=x>'));
    const html = renderMarkdownFragment(one.render());
    expect(html).not.toMatch(/<a [^>]*href="https?:\/\/evil/);
    expect(html).not.toContain('<img');
    expect(one.render()).toContain('@\u200boctocat');

    const many = new StepSummary();
    many.fail(new Error('the uploaded setup does not match the plan:\n  - ```a``` differs\n  - b is missing'));
    const md = many.render();
    expect(md).toContain('````text\nthe uploaded setup does not match the plan:\n  - ```a``` differs\n  - b is missing\n````');
  });

  it('a cancelled step says where it stopped and what the cleanup left', () => {
    const s = new StepSummary();
    s.run({ runId: 'r', kind: 'rerun' });
    s.stage('wait');
    s.jobState('bird-r-a2', 'stopped');
    s.clusterTeardown('ray-down');
    s.fail(new Error('cancelled (SIGTERM)'));
    const md = s.render();
    expect(md).toContain('### ❌ Stopped at wait\n\ncancelled (SIGTERM)');
    expect(md).toContain('**Left behind:** job `bird-r-a2` stopped; its rows so far are in the bucket; per-run cluster: torn down (ray down)');
  });

  it('is written once, however often it is asked to', async () => {
    const written: string[] = [];
    const s = new StepSummary({ write: async (md) => void written.push(md) });
    s.note('- nothing was running');
    await s.write();
    await s.write();
    expect(written).toEqual(['## BIRD-Interact\n\n- nothing was running\n']);
  });

  it('stays under GitHub 1 MiB by listing fewer failures', () => {
    const r = mixed();
    // Reasons are cut to 240 characters, instance ids are not: 1000 ids of 1200 characters.
    const failures = Array.from({ length: 1000 }, (_, i) => ({
      instance_id: `i${i}${'x'.repeat(1200)}`,
      db: 'd',
      attempt: 1,
      outcome: 'error' as const,
      reason: 'error: boom',
    }));
    const s = new StepSummary();
    s.results({ header: HEADER, results: { ...r, failures }, baseline: null, gate: [] });
    const md = s.render();
    expect(Buffer.byteLength(md)).toBeLessThanOrEqual(1024 * 1024);
    expect(md).toContain('… and 900 more (see results-json).');
  });
});

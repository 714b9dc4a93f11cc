// What people see: the job summary and the PR comment of whole steps, run in-process (main's
// runMode with the real modes) against the GCS emulator, the Ray Jobs API double and the GitHub
// REST double. Snapshots of a reported run, a failed gate, a failed preflight, a failed dispatch,
// a stopped run and a run with unreadable rows; in each, the results (or the failure) come first
// and every Mermaid block parses with Mermaid's own parser.
//
// The summary's clock is a fake one (each reading 1.25 s later), so its stage times are fixed.
// What the real clock, the emulator and the double make differ from run to run is replaced in
// the snapshot by a fixed stand-in: the bucket name, the double's address, the demo repository's
// path, the measured wait (9.9 s), and the wait's verdict (rows and terminal state race by design).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Cancellation } from '../../src/common/cancel.js';
import { memoryLog } from '../../src/common/log.js';
import { ActionState } from '../../src/common/state.js';
import { systemClock } from '../../src/common/time.js';
import { parseSettings } from '../../src/inputs/settings.js';
import { runMode } from '../../src/main.js';
import { StepSummary } from '../../src/results/step-summary.js';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { checkMarkdownMermaid } from '../../tools/render/mermaid-check.mjs';
import { demoRepo, removeDir, TEST_KEYS, validInputs } from '../helpers/action.js';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.js';
import { createBucket, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster } from '../helpers/ray.js';
import { prContext, writeRun } from '../helpers/results.js';
import { stepFiles } from '../helpers/step-files.js';

const DBS = ['alien', 'credit', 'news'];
const PR = 7;
const TOKEN = 'ghs_TESTTOKEN_summary0123456789';
const files = stepFiles('step-summary');
const cleanups: Array<() => Promise<void> | void> = [];
let gh: FakeGitHub;
let bucket: string;

beforeAll(async () => {
  gh = await startFakeGitHub('octo-org', 'bird-evals');
  bucket = uniqueBucketName('summary');
  await createBucket(bucket);
});
afterAll(async () => {
  await gh.close();
  files.remove();
});
beforeEach(() => {
  files.reset();
  vi.stubEnv('GITHUB_API_URL', gh.url);
  vi.stubEnv('GITHUB_WORKFLOW', 'PR smoke');
  for (const [k, v] of Object.entries(TEST_KEYS)) vi.stubEnv(k, v);
  gh.comments.set(PR, []);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  vi.unstubAllEnvs();
  process.exitCode = undefined;
});

interface Step {
  summary: string;
  /** The PR comment the step posted, or null. */
  comment: string | null;
  error: unknown;
}

/** A clock that moves 1.25 s at every reading. */
function fakeClock(): () => number {
  let t = Date.UTC(2026, 10, 25, 9, 7);
  return () => {
    t += 1250;
    return t;
  };
}

/** One step as main runs it: the preflight stage, the mode, the one catch, the summary written once. */
async function step(inputs: Record<string, string>, workspace: string): Promise<Step> {
  const summary = new StepSummary({ now: fakeClock() });
  const log = memoryLog();
  const saved = new Map<string, string>();
  summary.stage('preflight');
  let error: unknown = null;
  // The preflight masks the keys with core.setSecret: kept from the test's own output, where a CI
  // runner would take the `::add-mask::` lines as commands.
  const write = process.stdout.write.bind(process.stdout);
  const quiet = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => String(chunk).startsWith('::') || write(chunk));
  try {
    const settings = parseSettings(
      (name) => inputs[name] ?? '',
      { ...process.env, GITHUB_WORKSPACE: workspace, RUNNER_TEMP: files.dir },
      () => undefined,
    );
    await runMode(
      {
        log,
        state: new ActionState({ save: (k, v) => saved.set(k, v), load: (k) => saved.get(k) ?? '' }),
        cancel: new Cancellation({ log, fail: () => undefined, exit: () => undefined }),
        github: prContext(PR),
        clock: systemClock,
        summary,
      },
      settings,
    );
  } catch (e) {
    summary.fail(e);
    error = e;
  } finally {
    quiet.mockRestore();
  }
  await summary.write();
  const ours = (gh.comments.get(PR) ?? []).filter((c) => c.body.startsWith('<!-- bird-cloud-action:results:'));
  return { summary: files.summary(), comment: ours.at(-1)?.body ?? null, error };
}

/** Replaces what differs from run to run (see the top of the file). */
function stable(md: string, sim?: RaySim): string {
  let t = md.replaceAll(bucket, 'the-bucket');
  if (sim) t = t.replaceAll(sim.url, 'http://ray-sim');
  return t
    .replace(/\/tmp\/bird-demo-[A-Za-z0-9]+/g, '/tmp/bird-demo-XXXXXX')
    .replace(/duration [^,]+, state/g, 'duration 9.9 s, state')
    .replace(/- verdict: finished: .*/g, '- verdict: finished: (every row, or terminal_state done)');
}

/** The headings and folds of a summary, in order: what a reader meets going down. */
function outline(md: string): string[] {
  return md
    .split('\n')
    .filter((l) => /^#{2,3} |^<summary>|^\*\*\d+ instances?\*\*|^\*\*Quality gate|^\| DB \| n \||^```mermaid|^- combo:/.test(l))
    .map((l) => l.replace(/\*\*(\d+) instances?\*\*.*/, 'headline').replace(/^\| DB \| n \|.*/, 'per-DB table'));
}

async function expectMermaidParses(md: string | null): Promise<void> {
  expect(md).not.toBeNull();
  expect(await checkMarkdownMermaid(md ?? '')).toEqual([]);
}

async function cluster(outcomes: Parameters<typeof startCluster>[0]['outcomes']) {
  const repo = demoRepo(DBS);
  cleanups.push(() => removeDir(repo.root));
  const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, outcomes });
  cleanups.push(() => sim.close());
  return { repo, sim };
}

function submitInputs(repo: ReturnType<typeof demoRepo>, sim: RaySim, runId: string, extra: Record<string, string> = {}): Record<string, string> {
  return validInputs(repo, {
    'run-id': runId,
    'dry-run': 'false',
    'gcs-bucket': bucket,
    wait: 'true',
    'github-token': TOKEN,
    'comment-on-pr': 'true',
    ...clusterInputs(sim),
    ...extra,
  });
}

describe('the job summary and the PR comment of a step', () => {
  it('a reported run: results first, then the plan, the upload and the dispatch, folded', async () => {
    const { repo, sim } = await cluster({ alien_1: 'pass', alien_2: 'phase1', credit_1: 'pass', credit_2: 'fail', news_1: 'pass', news_2: 'pass' });
    const r = await step(submitInputs(repo, sim, 'summary-reported'), repo.workspace);
    expect(r.error).toBeNull();
    expect(outline(r.summary)).toEqual([
      '## BIRD-Interact results: `summary-reported`',
      'headline',
      'per-DB table',
      '```mermaid',
      '<summary>2 instances did not pass</summary>',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '<summary>Plan: 6 instances in 3 DBs; slayer_models: 52 files, 221.0 KiB</summary>',
      '<summary>Upload of slayer_models: 52 uploaded, 0 already there, 221.0 KiB; manifest committed</summary>',
      '<summary>Dispatch: bird-summary-reported-a1, 6 instances, Ray job SUCCEEDED</summary>',
    ]);
    // No unreadable or missing row: no such columns.
    expect(r.summary).toContain('| DB | n | phase-1 pass | phase-2 pass | avg reward | errors |\n');
    expect(r.summary.match(/- combo:/g)).toHaveLength(1);
    await expect(stable(r.summary, sim)).toMatchFileSnapshot('./__snapshots__/summary-reported.md');
    await expect(stable(r.comment ?? '', sim)).toMatchFileSnapshot('./__snapshots__/comment-reported.md');
    await expectMermaidParses(r.summary);
    await expectMermaidParses(r.comment);
  });

  it('a failed gate: each threshold, the measured value and the verdict at the top of both', async () => {
    const { repo, sim } = await cluster({ alien_1: 'pass', alien_2: 'error', credit_1: 'fail', credit_2: 'fail', news_1: 'pass', news_2: 'phase1' });
    const r = await step(submitInputs(repo, sim, 'summary-gate', { 'min-phase1-rate': '0.6', 'max-errors': '0' }), repo.workspace);
    expect(String(r.error)).toContain('quality gate failed');
    const top = outline(r.summary).slice(0, 3);
    expect(top).toEqual(['## BIRD-Interact results: `summary-gate`', '**Quality gate: ❌ failed**', 'headline']);
    // The gate's own block says it: no failure block besides.
    expect(r.summary).not.toContain('### ❌ Stopped at');
    expect(r.summary).toContain('| `min-phase1-rate` | 0.6 | 0.5 (3/6 = 50.0%) | ❌ failed |');
    expect(r.summary).toContain('| `max-errors` | 0 | 1 (of 6 instances) | ❌ failed |');
    expect(outline(r.comment ?? '').slice(0, 3)).toEqual(['### BIRD-Interact results: `summary-gate`', '**Quality gate: ❌ failed**', 'headline']);
    await expect(stable(r.summary, sim)).toMatchFileSnapshot('./__snapshots__/summary-gate-failed.md');
    await expect(stable(r.comment ?? '', sim)).toMatchFileSnapshot('./__snapshots__/comment-gate-failed.md');
    await expectMermaidParses(r.summary);
    await expectMermaidParses(r.comment);
  });

  it('a failed preflight: where it stopped, each problem with its fix, and that nothing was left behind', async () => {
    const repo = demoRepo(DBS);
    cleanups.push(() => removeDir(repo.root));
    vi.stubEnv('ANTHROPIC_API_KEY', '');
    const r = await step(
      validInputs(repo, { 'run-id': 'summary-preflight', 'dry-run': 'false', 'gcs-bucket': bucket, 'instance-ids': `${repo.allIds[0]},nowhere_1` }),
      repo.workspace,
    );
    expect(r.error).not.toBeNull();
    expect(r.comment).toBeNull();
    expect(outline(r.summary)).toEqual(['## BIRD-Interact run `summary-preflight`', '### ❌ Stopped at preflight']);
    expect(r.summary).toContain('**Left behind:** nothing: no upload, no manifest, nothing dispatched');
    await expect(stable(r.summary)).toMatchFileSnapshot('./__snapshots__/summary-preflight-failed.md');
  });

  it('a failed dispatch: the manifest is committed, the job is not: rerun-run-id', async () => {
    const { repo, sim } = await cluster({});
    // Another job already holds the attempt's submission id.
    const held = await fetch(`${sim.url}/api/jobs/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entrypoint: 'true', submission_id: 'bird-summary-dispatch-a1', metadata: { run_id: 'someone-else' } }),
    });
    expect(held.status).toBe(200);
    const r = await step(submitInputs(repo, sim, 'summary-dispatch'), repo.workspace);
    expect(String(r.error)).toContain('already exists and is not this run');
    expect(outline(r.summary)).toEqual([
      '## BIRD-Interact run `summary-dispatch`',
      '### ❌ Stopped at dispatch',
      '- combo: `pydantic_ai` / `slayer` / `a-interact` / `pre-encoded`',
      '<summary>Plan: 6 instances in 3 DBs; slayer_models: 52 files, 221.0 KiB</summary>',
      '<summary>Upload of slayer_models: 52 uploaded, 0 already there, 221.0 KiB; manifest committed</summary>',
    ]);
    expect(r.summary).toContain(
      '**Fix:** check the cluster (the error above), then dispatch the committed run with `rerun-run-id: summary-dispatch` (nothing is uploaded again)',
    );
    expect(r.summary).toContain('**Left behind:** manifest committed, job not dispatched');
    await expect(stable(r.summary, sim)).toMatchFileSnapshot('./__snapshots__/summary-dispatch-failed.md');
  });

  it('a stopped run (status.json with stopped_at): state stopped, in both', async () => {
    await writeRun(bucket, 'summary-stopped', {
      rows: [
        ['alien_1', 1, JSON.stringify({ database: 'alien', phase1_passed: true, phase2_passed: true, total_reward: 1, error: null })],
        ['credit_1', 1, JSON.stringify({ database: 'credit', phase1_passed: true, phase2_passed: false, total_reward: 0.5, error: null })],
      ],
      status: {
        ray_job_id: 'bird-summary-stopped-a1',
        last_heartbeat_ts: 1_700_000_000,
        rows_done: 2,
        rows_total: 8,
        terminal_state: 'error',
        attempt: 1,
        stopped_at: 1_700_000_001,
      },
    });
    const r = await step({ 'report-run-id': 'summary-stopped', 'gcs-bucket': bucket, 'github-token': TOKEN, 'comment-on-pr': 'true' }, files.dir);
    expect(r.error).toBeNull();
    expect(outline(r.summary).slice(0, 3)).toEqual(['## BIRD-Interact results: `summary-stopped`', 'headline', 'per-DB table']);
    expect(r.summary).toContain('state `stopped`');
    expect(r.comment).toContain('state `stopped`');
    // 6 of 8 instances have no row: the column is there.
    expect(r.summary).toContain('| DB | n | phase-1 pass | phase-2 pass | avg reward | errors | no row |');
    await expect(stable(r.summary)).toMatchFileSnapshot('./__snapshots__/summary-stopped.md');
    await expect(stable(r.comment ?? '')).toMatchFileSnapshot('./__snapshots__/comment-stopped.md');
    await expectMermaidParses(r.summary);
    await expectMermaidParses(r.comment);
  });

  it('a run with unreadable rows: the unreadable and no-row columns, the rows named', async () => {
    await writeRun(bucket, 'summary-unreadable');
    const r = await step({ 'report-run-id': 'summary-unreadable', 'gcs-bucket': bucket, 'github-token': TOKEN, 'comment-on-pr': 'true' }, files.dir);
    expect(r.error).toBeNull();
    expect(outline(r.summary).slice(0, 3)).toEqual(['## BIRD-Interact results: `summary-unreadable`', 'headline', 'per-DB table']);
    expect(r.summary).toContain('| DB | n | phase-1 pass | phase-2 pass | avg reward | errors | unreadable | no row |');
    expect(r.summary).toContain('Unreadable rows (counted in n as failures): `credit_3`');
    await expect(stable(r.summary)).toMatchFileSnapshot('./__snapshots__/summary-unreadable.md');
    await expect(stable(r.comment ?? '')).toMatchFileSnapshot('./__snapshots__/comment-unreadable.md');
    await expectMermaidParses(r.summary);
    await expectMermaidParses(r.comment);
  });
});

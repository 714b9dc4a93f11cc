// The PR comment while a step waits and per leg of a matrix, against the local GitHub REST double
// (GITHUB_API_URL points at it): the built action posts the comment as soon as the job is
// dispatched and the final report replaces that same comment; in-process on a virtual clock, a
// wait of many minutes updates it in place at most every five minutes; report-run-id with wait
// posts it when it begins to wait; two legs of one workflow (other models) keep two comments, and
// comment-key joins them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LIVE_UPDATE_MS } from '../../src/results/live-comment.js';
import { demoRepo, errors, removeDir, runAction, startUntil, TEST_KEYS, tempDir, validInputs, warnings } from '../helpers/action.js';
import { virtualClock } from '../helpers/clock.js';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.js';
import { createBucket, emulatorHost, uniqueBucketName } from '../helpers/gcs.js';
import { runInProcess } from '../helpers/in-process.js';
import { clusterInputs, startCluster } from '../helpers/ray.js';
import { writeRun } from '../helpers/results.js';
import { stepFiles } from '../helpers/step-files.js';

const OWNER = 'octo';
const REPO = 'eval-repo';
const PR = 7;
const TOKEN = 'ghs_TESTTOKEN_0123456789abcdef';
const EVENT = { pull_request: { number: PR } };

let gh: FakeGitHub;
const files = stepFiles('live-comment');
const dirs: string[] = [];

beforeAll(async () => {
  gh = await startFakeGitHub(OWNER, REPO);
});
afterAll(async () => {
  await gh.close();
  files.remove();
});
beforeEach(() => {
  gh.calls.length = 0;
  gh.comments.clear();
  files.reset();
});
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

/** The environment of a pull_request step of the workflow 'PR smoke' that comments on the double. */
function prEnv(): Record<string, string> {
  return {
    ...TEST_KEYS,
    STORAGE_EMULATOR_HOST: emulatorHost(),
    GITHUB_API_URL: gh.url,
    GITHUB_REPOSITORY: `${OWNER}/${REPO}`,
    GITHUB_WORKFLOW: 'PR smoke',
    GITHUB_EVENT_NAME: 'pull_request',
  };
}

const ours = () => (gh.comments.get(PR) ?? []).filter((c) => c.body.startsWith('<!-- bird-cloud-action:results:'));
const writes = () =>
  gh.calls.filter((c) => c.method !== 'GET').map((c) => ({ method: c.method, path: c.path, body: String((c.body as { body?: unknown }).body) }));
const commentPath = (id: number) => `/repos/${OWNER}/${REPO}/issues/comments/${id}`;

describe('the live PR comment of a step that waits', () => {
  it('appears at the dispatch and is replaced in place by the results (built action)', async () => {
    const repo = demoRepo(['alien', 'credit', 'news']);
    dirs.push(repo.root);
    const bucket = uniqueBucketName('live');
    await createBucket(bucket);
    const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, rowDelayMs: 100 });
    try {
      const r = await runAction({
        workspace: repo.workspace,
        inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true', 'github-token': TOKEN }),
        env: prEnv(),
        event: EVENT,
        eventName: 'pull_request',
      });
      expect(errors(r)).toBe('');
      expect(warnings(r)).toBe('');
      const w = writes();
      // One comment: created at the dispatch (nothing done yet), then the results in its place.
      expect(w.map((c) => c.method)).toEqual(['POST', 'PATCH']);
      expect(w[0].path).toBe(`/repos/${OWNER}/${REPO}/issues/${PR}/comments`);
      expect(w[0].body).toContain('### ⏳ BIRD-Interact run `test-run-0001`: in progress');
      expect(w[0].body).toMatch(/\*\*0\/6 instances done\*\* \(attempt 1\) · Ray job `(PENDING|RUNNING)`/);
      expect(w[0].body).toContain(`[Ray job](${sim.url}/#/jobs/bird-test-run-0001-a1)`);
      const [comment] = ours();
      expect(ours()).toHaveLength(1);
      expect(w[1].path).toBe(commentPath(comment.id));
      expect(comment.body.split('\n')[0]).toBe(w[0].body.split('\n')[0]);
      expect(comment.body).toContain('### BIRD-Interact results: `test-run-0001`');
      expect(comment.body).not.toContain('in progress');
      for (const v of [...Object.values(TEST_KEYS), TOKEN]) for (const c of w) expect(c.body).not.toContain(v);
    } finally {
      await sim.close();
    }
  });

  it('says the step was cancelled after the stop, on SIGTERM during the wait (built action)', async () => {
    const repo = demoRepo(['alien', 'credit', 'news']);
    dirs.push(repo.root);
    const bucket = uniqueBucketName('live-cancel');
    await createBucket(bucket);
    const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, outcomes: { alien_1: 'hang' } });
    try {
      const step = await startUntil(
        {
          workspace: repo.workspace,
          inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true', 'github-token': TOKEN }),
          env: prEnv(),
          event: EVENT,
          eventName: 'pull_request',
        },
        /progress: 5\/6 instances have a row/,
      );
      step.child.kill('SIGTERM');
      const r = await step.result;
      expect(r.exitCode).toBe(1);
      expect(writes().map((c) => c.method)).toEqual(['POST', 'PATCH']);
      const [comment] = ours();
      expect(ours()).toHaveLength(1);
      expect(comment.body).toContain('### ⏹ BIRD-Interact run `test-run-0001`: cancelled');
      expect(comment.body).toContain(
        'The workflow was cancelled (SIGTERM); the job `bird-test-run-0001-a1` was asked to stop. Then rerun the unfinished instances with `rerun-run-id: test-run-0001`',
      );
      expect(comment.body).toContain('<sub>[workflow run]');
      expect(comment.body).toContain('as it stood when the step was cancelled</sub>');
    } finally {
      await sim.close();
    }
  });

  it('is updated in place at most every five minutes of a long wait (in-process, virtual clock)', async () => {
    const repo = demoRepo(['alien', 'credit', 'news']);
    dirs.push(repo.root);
    const bucket = uniqueBucketName('live-clock');
    await createBucket(bucket);
    // Rows come slowly in real time, while each poll moves the clock a minute.
    const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, rowDelayMs: 800 });
    const eventDir = tempDir('live-event');
    dirs.push(eventDir);
    const eventPath = join(eventDir, 'event.json');
    writeFileSync(eventPath, JSON.stringify(EVENT));
    try {
      // The clock starts an hour back: the worker's heartbeats (real time) never look stale to a
      // wait whose minutes pass in milliseconds.
      const clock = virtualClock({ startMs: Date.now() - 3_600_000, realMs: 100 });
      const r = await runInProcess({
        inputs: validInputs(repo, {
          'dry-run': 'false',
          'gcs-bucket': bucket,
          ...clusterInputs(sim),
          'poll-interval-seconds': '60',
          'no-progress-minutes': '600',
          'wait-timeout-minutes': '600',
          wait: 'true',
          'github-token': TOKEN,
        }),
        env: { ...prEnv(), GITHUB_EVENT_PATH: eventPath },
        workspace: repo.workspace,
        clock,
        files,
      });
      expect(r.errors).toBe('');
      const w = writes();
      const [comment] = ours();
      expect(ours()).toHaveLength(1);
      expect(w[0].method).toBe('POST');
      expect(w.slice(1).every((c) => c.method === 'PATCH' && c.path === commentPath(comment.id))).toBe(true);
      // Progress updates between the dispatch and the results, each saying how far the run got.
      const live = w.filter((c) => c.body.includes(': in progress'));
      expect(live.length).toBeGreaterThanOrEqual(2);
      expect(w.at(-1)?.body).toContain('### BIRD-Interact results: `test-run-0001`');
      const done = live.map((c) => Number(/\*\*(\d)\/6 instances done\*\*/.exec(c.body)?.[1]));
      expect(done[0]).toBe(0);
      expect(done.every((d, i) => d <= 6 && (i === 0 || d >= done[i - 1]))).toBe(true);
      // The throttle, read from each update's own clock: at least five minutes apart.
      const elapsed = live.map((c) => {
        const m = /· (?:(\d+)m (\d\d)s|(\d+) ms) since the dispatch/.exec(c.body);
        return m ? (m[3] !== undefined ? Number(m[3]) : (Number(m[1]) * 60 + Number(m[2])) * 1000) : Number.NaN;
      });
      expect(elapsed[0]).toBe(0);
      for (let i = 1; i < elapsed.length; i++) expect(elapsed[i] - elapsed[i - 1]).toBeGreaterThanOrEqual(LIVE_UPDATE_MS);
      // The wait polled every minute: five polls or more between two updates.
      const polls = clock.sleeps.filter((ms) => ms === 60_000).length;
      expect(polls).toBeGreaterThanOrEqual(5 * (live.length - 1));
    } finally {
      await sim.close();
    }
  });
});

describe('report-run-id with wait: true', () => {
  it('posts the live comment when it begins to wait, and the results replace it (built action)', async () => {
    const bucket = uniqueBucketName('live-report');
    await createBucket(bucket);
    await writeRun(bucket, 'waited-run');
    const workspace = tempDir('live-report');
    dirs.push(workspace);
    const r = await runAction({
      workspace,
      inputs: { 'report-run-id': 'waited-run', 'gcs-bucket': bucket, wait: 'true', 'github-token': TOKEN },
      env: prEnv(),
      event: EVENT,
      eventName: 'pull_request',
    });
    expect(errors(r)).toBe('');
    const w = writes();
    expect(w.map((c) => c.method)).toEqual(['POST', 'PATCH']);
    expect(w[0].body).toContain('### ⏳ BIRD-Interact run `waited-run`: in progress');
    expect(w[0].body).toMatch(/instances done\*\* \(attempt 2\) · Ray job status unknown · \d+ ms since this step began to wait/);
    expect(ours()).toHaveLength(1);
    expect(ours()[0].body).toContain('### BIRD-Interact results: `waited-run`');
  });
});

describe('one comment per leg', () => {
  it('two legs of one workflow (other models) keep two comments; comment-key joins them (built action)', async () => {
    const bucket = uniqueBucketName('legs');
    await createBucket(bucket);
    await writeRun(bucket, 'leg-sonnet');
    await writeRun(bucket, 'leg-gpt', { combo: { agent_model: 'openai/gpt-5', framework: 'openai_agents' } });
    const workspace = tempDir('legs');
    dirs.push(workspace);
    const report = (runId: string, extra: Record<string, string> = {}) =>
      runAction({
        workspace,
        inputs: { 'report-run-id': runId, 'gcs-bucket': bucket, 'github-token': TOKEN, ...extra },
        env: prEnv(),
        event: EVENT,
        eventName: 'pull_request',
      });
    for (const id of ['leg-sonnet', 'leg-gpt', 'leg-sonnet']) expect(errors(await report(id))).toBe('');
    expect(writes().map((c) => c.method)).toEqual(['POST', 'POST', 'PATCH']);
    expect(ours()).toHaveLength(2);
    expect(ours()[0].body).toContain('`leg-sonnet`');
    expect(ours()[1].body).toContain('`leg-gpt`');
    expect(ours()[1].body.split('\n')[0]).toContain('openai_agents%2Fslayer%2Fa%2Dinteract%2Fpre%2Dencoded%20%C2%B7%20openai%2Fgpt%2D5');

    // comment-key: both legs write the one comment of that key.
    gh.calls.length = 0;
    for (const id of ['leg-sonnet', 'leg-gpt']) expect(errors(await report(id, { 'comment-key': 'smoke' }))).toBe('');
    expect(writes().map((c) => c.method)).toEqual(['POST', 'PATCH']);
    const keyed = ours().filter((c) => c.body.startsWith('<!-- bird-cloud-action:results:smoke -->'));
    expect(keyed).toHaveLength(1);
    expect(keyed[0].body).toContain('`leg-gpt`');
  });
});

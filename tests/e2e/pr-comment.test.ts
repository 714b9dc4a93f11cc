// The PR comment goes to a local GitHub REST double (GITHUB_API_URL points at it). The
// first report creates the comment, the next updates the same one; a 403 is a warning naming
// the permission; no secret reaches the comment.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type MemoryLog, memoryLog } from '../../src/common/log.js';
import { RunStore } from '../../src/gcs/store.js';
import { commentKey, commentMarker } from '../../src/results/render.js';
import { NO_GATE, type ReportOptions, reportRun } from '../../src/results/report.js';
import { TEST_KEYS } from '../helpers/action.js';
import { type FakeGitHub, startFakeGitHub } from '../helpers/fake-github.js';
import { createBucket, TEST_PROJECT_ID, uniqueBucketName } from '../helpers/gcs.js';
import { MIXED_MANIFEST, prContext, writeRun } from '../helpers/results.js';
import { stepFiles } from '../helpers/step-files.js';

const OWNER = 'octo-org';
const REPO = 'bird-evals';
const PR = 7;
const TOKEN = 'ghs_TESTTOKEN_0123456789abcdef';
/** The marker of the runs' comment in the workflow 'PR smoke': the workflow, the combo and the models. */
const MARKER = commentMarker(commentKey('', 'PR smoke', MIXED_MANIFEST));
const SECRETS = [...Object.values(TEST_KEYS), TOKEN];

let gh: FakeGitHub;
let bucket: string;
let dir: string;
let log: ReturnType<typeof record>;

const files = stepFiles('comment-step');

/** What the report wrote: its log lines, warnings, outputs and summary. */
function record(): { info: string[]; warnings: string[]; outputs: Map<string, string>; summaries: string[]; log: MemoryLog } {
  const mem = memoryLog();
  return {
    log: mem,
    get info() {
      return mem.lines;
    },
    warnings: mem.warnings,
    get outputs() {
      return new Map(Object.entries(files.outputs()));
    },
    get summaries() {
      const s = files.summary();
      return s ? [s] : [];
    },
  };
}

function options(runId: string, extra: Partial<ReportOptions> = {}): ReportOptions {
  return {
    store: new RunStore(bucket, TEST_PROJECT_ID),
    runId,
    github: prContext(PR),
    token: TOKEN,
    commentOnPr: 'auto',
    thresholds: NO_GATE,
    runnerTemp: dir,
    log: log.log,
    ...extra,
  };
}

const ourComments = () => (gh.comments.get(PR) ?? []).filter((c) => c.body.startsWith('<!-- bird-cloud-action:results:'));
const writes = () => gh.calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`);

beforeAll(async () => {
  gh = await startFakeGitHub(OWNER, REPO);
  bucket = uniqueBucketName('comment');
  await createBucket(bucket);
  dir = mkdtempSync(join(tmpdir(), 'bird-comment-'));
  // An error row that carries a key value: it must never reach the comment.
  await writeRun(bucket, 'pr-7-smoke', { errorText: `dispatch-failure: provider rejected key ${TEST_KEYS.ANTHROPIC_API_KEY}` });
  await writeRun(bucket, 'main-nightly');
});
afterAll(async () => {
  files.remove();
  await gh.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  vi.stubEnv('GITHUB_API_URL', gh.url);
  vi.stubEnv('GITHUB_WORKFLOW', 'PR smoke');
  for (const [k, v] of Object.entries(TEST_KEYS)) vi.stubEnv(k, v);
  gh.calls.length = 0;
  gh.fault = null;
  gh.user = null;
  gh.author = { login: 'github-actions[bot]', type: 'Bot' };
  files.reset();
  log = record();
});
afterEach(() => {
  vi.unstubAllEnvs();
  process.exitCode = undefined;
});

describe('the PR comment', () => {
  it('is created by the first report and updated in place by the next, found by its marker across pages', async () => {
    // 120 comments of others first (two pages of 100), one of another tool quoting our marker mid-body.
    gh.comments.set(
      PR,
      Array.from({ length: 120 }, (_, i) => ({
        id: i + 1,
        body: i === 50 ? `see ${MARKER} above` : `comment ${i}`,
        user: { login: 'someone', type: 'User' },
        html_url: `https://github.com/${OWNER}/${REPO}/pull/${PR}#issuecomment-${i + 1}`,
      })),
    );

    const first = await reportRun(options('pr-7-smoke'));
    expect(first.comment.kind).toBe('created');
    expect(writes()).toEqual([`POST /repos/${OWNER}/${REPO}/issues/${PR}/comments`]);
    const lists = gh.calls.filter((c) => c.method === 'GET' && c.path.endsWith('/comments'));
    expect(lists.map((c) => [c.path, c.query.page ?? '1'])).toEqual([
      [`/repos/${OWNER}/${REPO}/issues/${PR}/comments`, '1'],
      [`/repos/${OWNER}/${REPO}/issues/${PR}/comments`, '2'],
    ]);
    expect(gh.calls.every((c) => c.authorization === `token ${TOKEN}`)).toBe(true);
    expect(ourComments()).toHaveLength(1);
    const created = ourComments()[0];
    expect(first.comment).toEqual({ kind: 'created', id: created.id, url: created.html_url });
    expect(created.body.split('\n')[0]).toBe(
      '<!-- bird-cloud-action:results:PR%20smoke%20%C2%B7%20pydantic_ai%2Fslayer%2Fa%2Dinteract%2Fpre%2Dencoded%20%C2%B7%20anthropic%2Fclaude%2Dsonnet%2D4%2D5%20%2B%20anthropic%2Fclaude%2Dhaiku%2D4%2D5%2D20251001 -->',
    );
    expect(created.body).toContain('| **all** | 8 | 50.0% (4/8) | 37.5% (3/8) | 0.463 | 1 | 1 | 1 |');
    expect(created.body).toContain('[workflow run](https://github.com/octo-org/bird-evals/actions/runs/42)');
    expect(log.warnings).toEqual([]);

    gh.calls.length = 0;
    const second = await reportRun(options('pr-7-smoke', { baselineRunId: 'main-nightly' }));
    expect(second.comment).toEqual({ kind: 'updated', id: created.id, url: created.html_url });
    expect(writes()).toEqual([`PATCH /repos/${OWNER}/${REPO}/issues/comments/${created.id}`]);
    expect(ourComments()).toHaveLength(1);
    expect(gh.comments.get(PR)).toHaveLength(121);
    // The update carries the deltas against the baseline, per DB.
    expect(ourComments()[0].body).toContain('Deltas against baseline run `main-nightly`');
    expect(ourComments()[0].body).toContain('| `alien` | 3 | 100.0% (3/3) | ±0.0 pp |');

    // Another workflow gets its own comment.
    vi.stubEnv('GITHUB_WORKFLOW', 'nightly');
    const third = await reportRun(options('pr-7-smoke'));
    expect(third.comment.kind).toBe('created');
    expect(ourComments()).toHaveLength(2);
  });

  it('contains no secret, although a row and the environment hold them', async () => {
    gh.comments.set(PR, []);
    await reportRun(options('pr-7-smoke'));
    const sent = gh.calls.filter((c) => c.method === 'POST').map((c) => JSON.stringify(c.body));
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain('dispatch-failure: provider rejected key \\\\*\\\\*\\\\*');
    const everything = [
      ...sent,
      ...log.summaries,
      ...log.info,
      ...log.warnings,
      ...log.outputs.values(),
      readFileSync(String(log.outputs.get('results-json')), 'utf8'),
    ].join('\n');
    for (const s of SECRETS) expect(everything).not.toContain(s);
  });

  it('answers a 403 with a warning that names the missing permission, and the report completes', async () => {
    gh.comments.set(PR, []);
    gh.fault = { method: 'POST', status: 403, message: 'Resource not accessible by integration' };
    const r = await reportRun(options('pr-7-smoke'));
    expect(r.comment).toMatchObject({ kind: 'failed', status: 403 });
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toContain(`could not create the results comment on PR #${PR}: GitHub answered 403 (Resource not accessible by integration`);
    expect(log.warnings[0]).toContain('`pull-requests: write`');
    expect(log.warnings[0]).not.toContain(TOKEN);
    expect(log.outputs.get('n')).toBe('8');
    expect(log.summaries).toHaveLength(1);
    expect(process.exitCode).toBeUndefined();
  });

  it('turns any other GitHub failure into a warning too', async () => {
    gh.fault = { method: 'GET', status: 500, message: 'boom' };
    const r = await reportRun(options('pr-7-smoke'));
    expect(r.comment).toMatchObject({ kind: 'failed', status: 500 });
    expect(log.warnings[0]).toMatch(/could not list the comments to find the results comment on PR #7: HTTP 500: boom.*The report itself is complete/);
  });

  it('is skipped off pull requests: quietly by default, with a warning when asked for', async () => {
    const quiet = await reportRun(options('pr-7-smoke', { github: prContext(null) }));
    expect(quiet.comment).toEqual({ kind: 'skipped', reason: "the event 'push' has no pull request" });
    expect(log.warnings).toEqual([]);
    const asked = await reportRun(options('pr-7-smoke', { github: prContext(null), commentOnPr: true }));
    expect(asked.comment.kind).toBe('skipped');
    expect(log.warnings).toEqual(["bird-cloud-action: no PR comment: comment-on-pr is true, but the event 'push' has no pull request"]);
    const off = await reportRun(options('pr-7-smoke', { commentOnPr: false }));
    expect(off.comment).toEqual({ kind: 'skipped', reason: 'comment-on-pr is false' });
    const noToken = await reportRun(options('pr-7-smoke', { token: '' }));
    expect(noToken.comment.kind).toBe('skipped');
    expect(log.warnings.at(-1)).toContain('github-token is empty');
    expect(gh.calls).toEqual([]);
  });

  it('never updates a comment with the marker that someone else wrote', async () => {
    const marker = MARKER;
    gh.comments.set(PR, [{ id: 1, body: `${marker}\nplanted by someone else`, user: { login: 'mallory', type: 'User' }, html_url: 'https://github.com/x' }]);
    const r = await reportRun(options('pr-7-smoke'));
    expect(r.comment.kind).toBe('created');
    expect(gh.comments.get(PR)?.[0].body).toBe(`${marker}\nplanted by someone else`);
    expect(writes()).toEqual([`POST /repos/${OWNER}/${REPO}/issues/${PR}/comments`]);
  });

  it('a personal token updates only the comment of its own user', async () => {
    const marker = MARKER;
    gh.user = { login: 'octocat', type: 'User' };
    gh.author = gh.user;
    gh.comments.set(PR, [
      { id: 1, body: `${marker}\nby the workflow token`, user: { login: 'github-actions[bot]', type: 'Bot' }, html_url: 'https://github.com/x' },
      { id: 2, body: `${marker}\nby octocat`, user: { login: 'octocat', type: 'User' }, html_url: 'https://github.com/y' },
    ]);
    const r = await reportRun(options('pr-7-smoke', { token: 'ghp_PERSONALTOKEN0123456789abcdefghij' }));
    expect(r.comment).toMatchObject({ kind: 'updated', id: 2 });
    expect(gh.comments.get(PR)?.[0].body).toBe(`${marker}\nby the workflow token`);
  });

  it('posts a new comment when the token says nothing of who it is', async () => {
    const marker = MARKER;
    gh.comments.set(PR, [{ id: 1, body: `${marker}\nours?`, user: { login: 'github-actions[bot]', type: 'Bot' }, html_url: 'https://github.com/x' }]);
    const r = await reportRun(options('pr-7-smoke', { token: 'opaque-token-of-unknown-kind' }));
    expect(r.comment.kind).toBe('created');
    expect(gh.comments.get(PR)?.[0].body).toBe(`${marker}\nours?`);
  });

  it('redacts key values given raw or with a newline, and key shapes it never saw', async () => {
    const stranger = 'sk-ant-api03-STRANGERKEYabcdefghijklmnopqrstuvwxyz0123';
    const google = `AIza${'x'.repeat(35)}`;
    vi.stubEnv('ANTHROPIC_API_KEY', `${TEST_KEYS.ANTHROPIC_API_KEY}\n`);
    await writeRun(bucket, 'pr-7-keys', { errorText: `provider said: bad key ${stranger} (also ${google}); retried with ${TEST_KEYS.ANTHROPIC_API_KEY}` });
    gh.comments.delete(PR);
    const r = await reportRun(options('pr-7-keys'));
    expect(r.comment.kind).toBe('created');
    const written = [...ourComments().map((c) => c.body), files.summary(), ...log.info, JSON.stringify(files.outputs())].join('\n');
    for (const v of [stranger, google, TEST_KEYS.ANTHROPIC_API_KEY]) expect(written).not.toContain(v);
    expect(written).toContain('provider said: bad key ***');
  });
});

// The live PR comment's throttle on a virtual clock: the first post at dispatch, then at most one
// update per five minutes of the wait, whatever the poll interval; a failed post ends the updates.
import { describe, expect, it } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import type { Figures } from '../../src/results/aggregate.js';
import type { CommentOutcome } from '../../src/results/comment.js';
import { LIVE_UPDATE_MS, LiveComment, renderLiveComment } from '../../src/results/live-comment.js';
import { commentKey, commentMarker } from '../../src/results/render.js';
import { virtualClock } from '../helpers/clock.js';
import { MIXED_MANIFEST } from '../helpers/results.js';

const MIN = 60_000;

function harness(outcomes: CommentOutcome['kind'][] = []) {
  const clock = virtualClock({ startMs: Date.UTC(2026, 11, 3, 9, 0) });
  const posts: Array<{ at: number; body: string }> = [];
  const log = memoryLog();
  const live = new LiveComment({
    clock,
    marker: commentMarker('PR smoke'),
    runId: 'pr-7-smoke',
    attempt: 1,
    manifest: MIXED_MANIFEST,
    workflowRunUrl: 'https://github.com/o/r/actions/runs/42',
    post: async (body) => {
      posts.push({ at: clock.now(), body });
      const kind = outcomes.shift() ?? (posts.length === 1 ? 'created' : 'updated');
      return kind === 'failed' ? { kind, status: 403, message: 'no' } : kind === 'skipped' ? { kind, reason: 'x' } : { kind, id: 1, url: 'u' };
    },
    figures: async (): Promise<Figures> => ({
      n: 10,
      missing: 6,
      unreadable: 0,
      phase1_passed: 3,
      phase2_passed: 1,
      phase1_rate: 0.3,
      phase2_rate: 0.1,
      avg_reward: 0.2,
      errors: 1,
    }),
    log,
  });
  return { clock, posts, live, log };
}

describe('the live PR comment', () => {
  it('posts at dispatch, then at most once per five minutes of polls', async () => {
    const { clock, posts, live } = harness();
    const t0 = clock.now();
    await live.dispatched({ rowsDone: 0, rowsTotal: 10, jobStatus: 'PENDING' }, 'http://ray:8265/#/jobs/bird-pr-7-smoke-a1');
    expect(posts.map((p) => p.at)).toEqual([t0]);
    // Polls every 40 s for 17 minutes.
    for (let i = 1; i <= 25; i++) {
      await clock.sleep(40_000);
      await live.progress({ rowsDone: Math.min(10, i), rowsTotal: 10, jobStatus: 'RUNNING' });
    }
    const times = posts.map((p) => p.at - t0);
    expect(times.length).toBe(4);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(LIVE_UPDATE_MS);
    expect(times[1]).toBeLessThan(LIVE_UPDATE_MS + 40_000);
    // Each update says how far it got, the rates so far and the time since the dispatch.
    expect(posts[0].body).toContain('**0/10 instances done** (attempt 1) · Ray job `PENDING` · 0 ms since the dispatch');
    expect(posts[0].body).not.toContain('so far');
    expect(posts[1].body.split('\n')[0]).toBe('<!-- bird-cloud-action:results:PR%20smoke -->');
    expect(posts[1].body).toContain(`**8/10 instances done** (attempt 1) · Ray job \`RUNNING\` · 5m 20s since the dispatch`);
    expect(posts[1].body).toContain('- so far, of 4 with a row: phase-1 75.0% (3/4), phase-2 25.0% (1/4), errors 1');
    expect(posts[1].body).toContain('[workflow run](https://github.com/o/r/actions/runs/42) · [Ray job](http://ray:8265/#/jobs/bird-pr-7-smoke-a1)');
  });

  it('polls before the dispatch post change nothing, and a failed post ends the updates', async () => {
    const { clock, posts, live, log } = harness(['created', 'failed']);
    await live.progress({ rowsDone: 0, rowsTotal: 10, jobStatus: 'PENDING' });
    expect(posts).toHaveLength(0);
    await live.dispatched({ rowsDone: 0, rowsTotal: 10, jobStatus: 'PENDING' }, null);
    for (let i = 0; i < 30; i++) {
      await clock.sleep(MIN);
      await live.progress({ rowsDone: 1, rowsTotal: 10, jobStatus: 'RUNNING' });
    }
    expect(posts).toHaveLength(2);
    expect(log.lines).toContain('live comment: no more progress updates after that failure; the report tries once more');
  });

  it('renders without links or rates when there are none', () => {
    const body = renderLiveComment({
      marker: commentMarker('k'),
      runId: 'r1',
      attempt: 2,
      manifest: MIXED_MANIFEST,
      progress: { rowsDone: 0, rowsTotal: 3, jobStatus: null },
      elapsedMs: 0,
      figures: null,
      dashboardUrl: null,
      workflowRunUrl: null,
      minIntervalMs: LIVE_UPDATE_MS,
    });
    expect(body).toContain('Ray job status unknown');
    expect(body).toContain('<sub>updated at most every 5 min while the step waits; the results replace this comment</sub>');
  });
});

describe('the comment key', () => {
  it('is the workflow, the combo and the models by default, and comment-key when set', () => {
    expect(commentKey('', 'PR smoke', MIXED_MANIFEST)).toBe(
      'PR smoke · pydantic_ai/slayer/a-interact/pre-encoded · anthropic/claude-sonnet-4-5 + anthropic/claude-haiku-4-5-20251001',
    );
    expect(commentKey(undefined, '', MIXED_MANIFEST)).toMatch(/^bird-cloud-action · /);
    const other = { ...MIXED_MANIFEST, agent_model: 'openai/gpt-5' };
    expect(commentKey('', 'PR smoke', other)).not.toBe(commentKey('', 'PR smoke', MIXED_MANIFEST));
    expect(commentKey(' smoke ', 'PR smoke', other)).toBe('smoke');
  });
});

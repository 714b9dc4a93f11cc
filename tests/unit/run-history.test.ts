// Run history, pure (src/results/history.ts): the state of a listed run, the group of a stored
// manifest, the report record, and the markdown of the run list and of a trend, rendered as
// GitHub would and its mermaid checked by mermaid's own parser.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/gcs/rows.js';
import {
  groupKey,
  instanceSet,
  listEntry,
  manifestGroup,
  parseReportRecord,
  type RunGroup,
  reportRecord,
  runState,
  runsSummary,
  serializeReportRecord,
  type TrendRun,
  trendSection,
} from '../../src/results/history.js';
import { renderMarkdownFragment } from '../../tools/render/markdown.mjs';
import { checkMarkdownMermaid, extractMermaidBlocks } from '../../tools/render/mermaid-check.mjs';

const NOW = Date.UTC(2026, 10, 24, 9, 30);
const status = (s: Partial<RunStatus>): Partial<RunStatus> => ({ ray_job_id: 'j', rows_done: 1, rows_total: 2, attempt: 1, terminal_state: null, ...s });

describe('runState', () => {
  it.each([
    ['no status.json', null, 'unknown'],
    ['a stop (terminal error plus stopped_at)', status({ terminal_state: 'error', stopped_at: NOW / 1000, last_heartbeat_ts: NOW / 1000 }), 'stopped'],
    ['terminal done', status({ terminal_state: 'done', last_heartbeat_ts: 0 }), 'done'],
    ['terminal error', status({ terminal_state: 'error', last_heartbeat_ts: 0 }), 'error'],
    ['a heartbeat 299 s ago', status({ last_heartbeat_ts: NOW / 1000 - 299 }), 'running'],
    ['a heartbeat exactly 300 s ago', status({ last_heartbeat_ts: NOW / 1000 - 300 }), 'running'],
    ['a heartbeat 301 s ago', status({ last_heartbeat_ts: NOW / 1000 - 301 }), 'stalled'],
    ['no heartbeat and no terminal state', status({}), 'unknown'],
  ] as const)('%s → %s', (_, s, want) => {
    expect(runState(s, NOW)).toBe(want);
  });
});

const ACTION_MANIFEST = {
  run_id: 'r1',
  framework: 'pydantic_ai',
  query_mode: 'slayer',
  mode: 'a-interact',
  slayer_setup: 'pre-encoded',
  agent_model: 'anthropic/claude-sonnet-4-5',
  user_sim_model: 'anthropic/claude-haiku-4-5-20251001',
  instance_ids: ['credit_1', 'alien_1', 'alien_1'],
};

describe('manifestGroup and instanceSet', () => {
  it("reads the action's manifest and a Python one (comma list, no slayer_setup) into the same group", () => {
    const ours = manifestGroup(ACTION_MANIFEST);
    const { slayer_setup: _, ...rest } = ACTION_MANIFEST;
    const python = manifestGroup({ ...rest, instance_ids: 'alien_1,credit_1' });
    expect(ours).toEqual({
      combo: { framework: 'pydantic_ai', query_mode: 'slayer', mode: 'a-interact', slayer_setup: 'pre-encoded' },
      models: { agent_model: 'anthropic/claude-sonnet-4-5', user_sim_model: 'anthropic/claude-haiku-4-5-20251001' },
      instances: { count: 2, sha256: createHash('sha256').update('alien_1\ncredit_1').digest('hex') },
    });
    expect(python).toEqual(ours);
    expect(groupKey(python as RunGroup)).toBe(groupKey(ours as RunGroup));
  });

  it('tells groups apart by each key and by the instance set', () => {
    const base = manifestGroup(ACTION_MANIFEST) as RunGroup;
    for (const change of [{ mode: 'c-interact' }, { agent_model: 'openai/gpt-5' }, { slayer_setup: 'otf' }, { instance_ids: ['alien_1'] }]) {
      expect(groupKey(manifestGroup({ ...ACTION_MANIFEST, ...change }) as RunGroup)).not.toBe(groupKey(base));
    }
    expect(instanceSet(['b', 'a', 'b'])).toEqual(instanceSet(['a', 'b']));
  });

  it('gives no group for a manifest without its keys, or one that is not an object', () => {
    expect(manifestGroup({ ...ACTION_MANIFEST, agent_model: '' })).toBeNull();
    expect(manifestGroup({ ...ACTION_MANIFEST, framework: 3 })).toBeNull();
    for (const m of [null, 'x', [ACTION_MANIFEST]]) expect(manifestGroup(m)).toBeNull();
  });
});

describe('the report record', () => {
  const group = manifestGroup(ACTION_MANIFEST) as RunGroup;
  const figures = { n: 2, phase1_rate: 0.5, phase2_rate: 0, avg_reward: 0.35, errors: 1, phase1_passed: 1, phase2_passed: 0, unreadable: 0, missing: 0 };
  const record = reportRecord('r1', group, figures, 2, 'done', new Date(NOW));

  it('holds the figures, the time, the attempt and state, and the group; it reads back as written', () => {
    expect(JSON.parse(serializeReportRecord(record))).toEqual({
      schema: 1,
      run_id: 'r1',
      n: 2,
      phase1_rate: 0.5,
      phase2_rate: 0,
      avg_reward: 0.35,
      errors: 1,
      reported_at: '2026-11-24T09:30:00.000Z',
      attempt: 2,
      state: 'done',
      ...group,
    });
    expect(parseReportRecord(JSON.parse(serializeReportRecord(record)))).toEqual(record);
    expect(groupKey(record)).toBe(groupKey(group));
  });

  it('is not taken when a value is out of range or a key is missing (the rows decide then)', () => {
    for (const bad of [
      { ...record, schema: 2 },
      { ...record, phase1_rate: 1.5 },
      { ...record, n: -1 },
      { ...record, errors: 0.5 },
      { ...record, avg_reward: null },
      { ...record, state: 3 },
      { ...record, combo: { ...record.combo, mode: undefined } },
      { ...record, instances: { count: 2 } },
      null,
      'record',
    ]) {
      expect(parseReportRecord(bad)).toBeNull();
    }
  });
});

/** A run id, model or combo value that would break a table, link, mention or notify if rendered raw. */
const HOSTILE = 'x|y`z @octo-team #12 <img src=x> [a](https://evil.example) **b**';

describe('runsSummary', () => {
  it('renders one table row per run with seven cells, the manifest text inert', () => {
    const entries = [
      listEntry(
        { runId: 'r2', created: NOW, manifest: { ...ACTION_MANIFEST, agent_model: HOSTILE, mode: HOSTILE }, status: status({ last_heartbeat_ts: NOW / 1000 }) },
        NOW,
      ),
      listEntry({ runId: 'r1', created: NOW - 86_400_000, manifest: 'not a manifest', status: null }, NOW),
    ];
    expect(entries[0]).toMatchObject({ run_id: 'r2', state: 'running', done: 1, total: 2, attempt: 1, created: '2026-11-24T09:30:00.000Z' });
    expect(entries[1]).toEqual({
      run_id: 'r1',
      combo: null,
      models: null,
      state: 'unknown',
      done: null,
      total: null,
      attempt: null,
      created: '2026-11-23T09:30:00.000Z',
    });
    const md = runsSummary('bucket-1', entries, { committed: 7, uncommitted: 0 });
    expect(md).toContain('The 2 newest of 7 run(s) in `gs://bucket-1/runs/`');
    expect(md).not.toContain('without a manifest');
    const html = renderMarkdownFragment(md);
    const rows = [...html.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => [...m[1].matchAll(/<t[dh]>/g)].length);
    expect(rows).toEqual([7, 7, 7]);
    expect(html).not.toMatch(/<a |<img|<strong>b/);
    expect(html).toContain('<td>(unreadable manifest)</td>');
    expect(html).toContain('<td>2026-11-24 09:30</td>');
  });
});

describe('trendSection', () => {
  const group = manifestGroup({ ...ACTION_MANIFEST, agent_model: HOSTILE }) as RunGroup;
  const run = (i: number, rate: number, source: TrendRun['source'] = 'report.json'): TrendRun => ({
    runId: `nightly-${i}`,
    created: NOW + i * 86_400_000,
    figures: { n: 10, phase1_rate: rate, phase2_rate: rate / 2, avg_reward: rate, errors: 0 },
    source,
  });

  it('charts the phase-1 rate in percent, oldest first, labelled by day, and lists the runs', async () => {
    const md = trendSection({ group, runs: [run(0, 0.4), run(1, 0.55, 'rows'), run(2, 2 / 3, 'this report')], wanted: 14 });
    const [chart] = extractMermaidBlocks(md);
    expect(chart.text).toContain('x-axis ["11-24", "11-25", "11-26"]');
    expect(chart.text).toContain('y-axis "phase-1 (#37;)" 0 --> 100');
    expect(chart.text).toContain('line [40, 55, 66.7]');
    expect(await checkMarkdownMermaid(md)).toEqual([]);
    expect(md).toContain('- 3 of the 14 reported run(s) asked for (trend-runs), oldest first');
    expect(md).toContain('| `nightly-1` | 2026-11-25 09:30 | 10 | 55.0% | 27.5% | 0.550 | 0 | rows |');
    expect(renderMarkdownFragment(md)).not.toMatch(/<a |<img/);
  });

  it('labels by day and time when runs share a day, and draws every run asked for', async () => {
    const runs = Array.from({ length: 20 }, (_, i) => ({ ...run(0, i / 20), runId: `r${i}`, created: NOW + i * 60_000 }));
    const md = trendSection({ group, runs, wanted: 20 });
    const [chart] = extractMermaidBlocks(md);
    expect(/line \[([^\]]*)\]/.exec(chart.text)?.[1].split(', ')).toHaveLength(20);
    expect(chart.text).toContain('x-axis ["…30", "…31", "…32"');
    expect(await checkMarkdownMermaid(md)).toEqual([]);
  });

  it('says so when the group has no reported run, without a chart', () => {
    const md = trendSection({ group, runs: [], wanted: 5 });
    expect(md).toContain('- 0 of the 5 reported run(s) asked for');
    expect(extractMermaidBlocks(md)).toEqual([]);
  });
});

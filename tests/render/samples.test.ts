// The sample pages in tools/render/samples/ that `npm run screenshots` shoots: built here with the
// xychart helper (so they show what it emits today) and kept as file snapshots; every mermaid
// block in them, and in today's summary and comment snapshots, must parse. After a change to the
// helper: `npx vitest run tests/render/samples.test.ts -u`, then `npm run screenshots`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mermaidFence, type PhaseRates, phaseBarChart, trendLineChart, XYCHART_MAX_BARS } from '../../src/results/xychart.js';
import { checkMarkdownMermaid, extractMermaidBlocks } from '../../tools/render/mermaid-check.mjs';
import { defaultInputs } from '../../tools/render/screenshots.mjs';

const ROOT = join(import.meta.dirname, '..', '..');

function chart(diagram: string | null): string {
  if (diagram === null) throw new Error('the sample needs a chart');
  return mermaidFence(diagram);
}

const TWELVE_DBS = [
  'alien',
  'archeology',
  'credit',
  'cybermarket',
  'households',
  'solar_panel',
  'polar_equipment',
  'museum_artifact',
  'fake_account',
  'crypto_exchange',
  'disaster_relief',
  'labor_certification_applications',
];
const rates = (names: readonly string[]): PhaseRates[] => names.map((label, i) => ({ label, phase1: ((i * 37) % 100) / 100, phase2: ((i * 37) % 100) / 200 }));

/** A summary laid out the way the next version is planned: results first, the gate, charts, folds. */
function resultsWithCharts(): string {
  const trend = Array.from({ length: 14 }, (_, i) => ({
    label: `#${101 + i}`,
    value: [0.42, 0.45, 0.44, 0.5, 0.48, 0.52, 0.55, 0.53, 0.58, 0.6, 0.57, 0.61, 0.63, 0.62][i] ?? 0,
  }));
  return [
    '## BIRD-Interact results: `nightly-114`',
    '',
    '**120 instances** · phase-1 47.5% (57/120) · phase-2 23.8% (28/120) · avg reward 0.412 · 3 errors',
    '',
    '| gate | threshold | value | verdict |',
    '| --- | --- | --- | --- |',
    '| min-phase1-rate | 0.45 | 0.475 (57/120) | ✅ passed |',
    '| max-errors | 2 | 3 | ❌ failed |',
    '',
    chart(phaseBarChart(rates(TWELVE_DBS))),
    '',
    '<details>',
    '<summary>phase-1 rate of the last 12 nightly runs</summary>',
    '',
    chart(trendLineChart(trend, { title: 'phase-1 rate, nightly', yTitle: 'rate', max: 1 })),
    '',
    '</details>',
    '',
    '<details>',
    '<summary>3 instances did not pass</summary>',
    '',
    '| instance | DB | attempt | reason |',
    '| --- | --- | --- | --- |',
    '| `alien_2` | `alien` | 1 | phase-2 failed (submission_status: submitted) |',
    '| `credit_2` | `credit` | 1 | error: actor-lost &lt;ray&gt; \\| retried (submission_status: never_submitted) |',
    '| `cybermarket_2` | `cybermarket` | — | no row |',
    '',
    '</details>',
    '',
  ].join('\n');
}

/** The limits: labels that need escaping, and the most DBs a chart takes. */
function xychartLimits(): string {
  const nasty = ['a"b', 'x#quot;y', '%%credit', '`tick`', '<b>x</b>', 'a&b', 'a[b], c', 'semi;colon', '', 'labor_certification_applications'];
  const many = [
    'alien',
    'archeology',
    'credit',
    'cybermarket',
    'households',
    'solar_panel',
    'polar_equipment',
    'museum_artifact',
    'fake_account',
    'crypto_exchange',
    'disaster_relief',
    'labor_certification_applications',
    'virtual_idol',
    'vaccine',
    'reverse_logistics',
    'robot_fault_prediction',
    'insider_trading',
    'news_articles',
    'organ_transplant',
    'mental_health',
    'gaming_device',
    'planets_data',
    'mining',
    'exchange_traded_funds',
    'cold_chain_pharma',
    'sports_events',
    'hulushows',
    'water_quality',
    'wine',
    'fire_station',
  ];
  return [
    '## Labels that need escaping (each shown as written)',
    '',
    '`a"b` · `x#quot;y` · `%%credit` · `` `tick` `` · `<b>x</b>` · `a&b` · `a[b], c` · `semi;colon` · (empty) · a 32-character name',
    '',
    chart(
      phaseBarChart(
        nasty.map((label, i) => ({ label, phase1: 0.9, phase2: i / 10 })),
        { title: 'Escaped labels' },
      ),
    ),
    '',
    `## ${XYCHART_MAX_BARS} DBs, the most a chart takes`,
    '',
    chart(phaseBarChart(rates(many))),
    '',
    '## Trend labels cut from the start to fit (12 points: 6 characters), and kept distinct',
    '',
    chart(
      trendLineChart(
        Array.from({ length: 12 }, (_, i) => ({ label: i < 10 ? `nightly-2026-11-${14 + i}` : 'rerun-2026-11-23', value: i % 4 })),
        { title: 'errors per run', yTitle: 'errors', decimals: 0 },
      ),
    ),
    '',
  ].join('\n');
}

describe('samples', () => {
  it('results-with-charts.md is what the helper builds', async () => {
    await expect(resultsWithCharts()).toMatchFileSnapshot('../../tools/render/samples/results-with-charts.md');
  });

  it('xychart-limits.md is what the helper builds', async () => {
    await expect(xychartLimits()).toMatchFileSnapshot('../../tools/render/samples/xychart-limits.md');
  });

  it('every mermaid block of every page that screenshots take parses', async () => {
    const inputs = defaultInputs();
    expect(inputs.map((f) => f.slice(ROOT.length + 1))).toEqual([
      'tests/e2e/__snapshots__/results-summary.md',
      'tests/unit/__snapshots__/results-comment-baseline.md',
      'tests/e2e/__snapshots__/summary-reported.md',
      'tests/e2e/__snapshots__/summary-gate-failed.md',
      'tests/e2e/__snapshots__/comment-gate-failed.md',
      'tests/e2e/__snapshots__/summary-dispatch-failed.md',
      'tools/render/samples/results-with-charts.md',
      'tools/render/samples/xychart-limits.md',
    ]);
    let sampleBlocks = 0;
    for (const file of inputs) {
      const md = readFileSync(file, 'utf8');
      if (file.includes('/samples/')) sampleBlocks += extractMermaidBlocks(md).length;
      expect(await checkMarkdownMermaid(md), file).toEqual([]);
    }
    expect(sampleBlocks).toBe(5);
  });
});

// The xychart blocks the summary and the comment carry (src/results/xychart.ts): the exact text,
// the escaping of labels, the limits, and that mermaid's own parser takes every block built,
// whatever the labels hold.
import { describe, expect, it } from 'vitest';
import {
  mermaidFence,
  type PhaseRates,
  phaseBarChart,
  trendLineChart,
  XYCHART_LABEL_CHARS,
  XYCHART_MAX_BARS,
  XYCHART_MAX_POINTS,
  xychartLabels,
  xychartString,
} from '../../src/results/xychart.js';
import { checkMermaid, extractMermaidBlocks } from '../../tools/render/mermaid-check.mjs';

const THREE: PhaseRates[] = [
  { label: 'alien', phase1: 1, phase2: 2 / 3 },
  { label: 'credit', phase1: 0, phase2: 0 },
  { label: 'cybermarket', phase1: 0.5, phase2: 0.5 },
];

/** Labels that break an unquoted or naively quoted xychart label. */
const NASTY = [
  'a"b',
  '"',
  'x#quot;y',
  '#35;',
  '%%credit',
  '100%',
  '`tick`',
  '[a]',
  'a, b',
  'a:b',
  'a;b',
  '<b>x</b>',
  'a&amp;b',
  '{x}',
  '%%{init: {}}%%',
  'a --> b',
  'back\\slash',
  'line\nbreak',
  '',
  '   ',
  'naïve 漢字 🙂',
];

/** A fixed pseudo-random sequence (no test depends on luck). */
function* lcg(seed: number): Generator<number> {
  let x = seed;
  for (;;) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    yield x;
  }
}

async function expectParses(diagram: string | null): Promise<void> {
  expect(diagram).not.toBeNull();
  expect(await checkMermaid(diagram ?? '')).toEqual({ ok: true });
}

describe('phaseBarChart', () => {
  it('builds the horizontal two-series chart in percent, phase-1 first, sized by the number of DBs', async () => {
    const chart = phaseBarChart(THREE);
    expect(chart).toBe(
      [
        '---',
        'config:',
        '  xyChart:',
        '    height: 166',
        '  themeVariables:',
        '    xyChart:',
        '      plotColorPalette: "#8cb4e8, #0b5cad"',
        '---',
        'xychart-beta horizontal',
        '  title "Pass rate per DB (#37;): phase-1 light, phase-2 dark"',
        '  x-axis ["alien", "credit", "cybermarket"]',
        '  y-axis "pass rate (%)" 0 --> 100',
        '  bar [100, 0, 50]',
        '  bar [66.7, 0, 50]',
      ].join('\n'),
    );
    await expectParses(chart);
  });

  it('quotes and escapes every label so that mermaid parses it', async () => {
    const rows = NASTY.map((label, i) => ({ label, phase1: 0.9, phase2: i / 100 }));
    const chart = phaseBarChart(rows, { title: 'a "title" with 50%% and #35; and `ticks`' });
    await expectParses(chart);
    expect(chart).toContain('title "a #quot;title#quot; with 50#37;#37; and #35;35; and #96;ticks#96;"');
  });

  it('parses for pseudo-random labels from the characters that matter', async () => {
    const chars = ['"', '#', '%', '`', '[', ']', ',', ':', ';', '<', '>', '&', '{', '}', '\\', '-', ' ', '\n', 'a', 'Z', '0', '_', '.', '|', 'é'];
    const rnd = lcg(7);
    const next = (): number => rnd.next().value as number;
    for (let round = 0; round < 5; round++) {
      const rows = Array.from({ length: 12 }, () => ({
        label: Array.from({ length: 1 + (next() % 12) }, () => chars[next() % chars.length]).join(''),
        phase1: (next() % 1001) / 1000,
        phase2: (next() % 1001) / 1000,
      }));
      await expectParses(phaseBarChart(rows));
    }
  });

  it('leaves the chart out without a DB or with more than maxBars', () => {
    const rows = (n: number): PhaseRates[] => Array.from({ length: n }, (_, i) => ({ label: `db_${i}`, phase1: 0.5, phase2: 0.25 }));
    expect(phaseBarChart([])).toBeNull();
    expect(phaseBarChart(rows(XYCHART_MAX_BARS))).not.toBeNull();
    expect(phaseBarChart(rows(XYCHART_MAX_BARS + 1))).toBeNull();
    expect(phaseBarChart(rows(5), { maxBars: 4 })).toBeNull();
    expect(phaseBarChart(rows(30))).toContain(`height: ${100 + 22 * 30}`);
  });

  it('refuses a rate that is not a fraction from 0 to 1', () => {
    expect(() => phaseBarChart([{ label: 'a', phase1: Number.NaN, phase2: 0 }])).toThrow(/phase-1 rate of a must be a fraction from 0 to 1, got NaN/);
    expect(() => phaseBarChart([{ label: 'a', phase1: 1, phase2: 1.2 }])).toThrow(/phase-2 rate of a must be a fraction/);
    expect(() => phaseBarChart([{ label: 'a', phase1: -0.1, phase2: 0 }])).toThrow(RangeError);
  });

  it('writes numbers as the grammar takes them: one decimal of a percent, never an exponent', () => {
    const chart = phaseBarChart([{ label: 'a', phase1: 1e-9, phase2: 1 / 3 }]) ?? '';
    expect(chart).toContain('  bar [0]\n  bar [33.3]');
  });
});

describe('labels', () => {
  it('xychartString folds whitespace and writes ", #, % and the backtick as mermaid entities', () => {
    expect(xychartString('a"b')).toBe('"a#quot;b"');
    expect(xychartString('#quot;')).toBe('"#35;quot;"');
    expect(xychartString('50%%')).toBe('"50#37;#37;"');
    expect(xychartString('`x`')).toBe('"#96;x#96;"');
    expect(xychartString('  two\n lines\t ')).toBe('"two lines"');
    expect(xychartString('')).toBe('" "');
    expect(xychartString('[a], b: <c>&d;')).toBe('"[a], b: <c>&d;"');
  });

  it('cuts long labels with an ellipsis, counting characters, not UTF-16 units', () => {
    expect(xychartString('labor_certification_applications', XYCHART_LABEL_CHARS)).toBe('"labor_certification…"');
    expect(xychartString('🙂🙂🙂🙂', 3)).toBe('"🙂🙂…"');
  });

  it('makes labels distinct after cutting (mermaid would draw equal labels on one band)', () => {
    expect(xychartLabels(['nightly #40', 'nightly #41', 'nightly #42'], 6)).toEqual(['"night…"', '"nig…~2"', '"nig…~3"']);
    expect(xychartLabels(['a', 'a', 'a~2'], 20)).toEqual(['"a"', '"a~2"', '"a~2~2"']);
    expect(xychartLabels(['run-101', 'job-101', 'run-102'], 4, 'end')).toEqual(['"…101"', '"…1~2"', '"…102"']);
    const many = xychartLabels(
      Array.from({ length: 30 }, () => 'same'),
      20,
    );
    expect(new Set(many).size).toBe(30);
  });
});

describe('trendLineChart', () => {
  const points = (n: number): Array<{ label: string; value: number }> =>
    Array.from({ length: n }, (_, i) => ({ label: `11-${String(i + 1).padStart(2, '0')}`, value: 0.4 + i / 100 }));

  it('builds a one-series line chart with the y range given', async () => {
    const chart = trendLineChart(points(3), { title: 'phase-1 rate, nightly', yTitle: 'rate', max: 1 });
    expect(chart).toBe(
      [
        '---',
        'config:',
        '  xyChart:',
        '    height: 300',
        '  themeVariables:',
        '    xyChart:',
        '      plotColorPalette: "#0b5cad"',
        '---',
        'xychart-beta',
        '  title "phase-1 rate, nightly"',
        '  x-axis ["11-01", "11-02", "11-03"]',
        '  y-axis "rate" 0 --> 1',
        '  line [0.4, 0.41, 0.42]',
      ].join('\n'),
    );
    await expectParses(chart);
  });

  it('keeps the newest points, and cuts labels from the start to fit side by side', async () => {
    const chart = trendLineChart(
      Array.from({ length: 15 }, (_, i) => ({ label: `nightly-2026-11-${10 + i}`, value: i })),
      { title: 'errors', yTitle: 'errors', decimals: 0 },
    );
    await expectParses(chart);
    const axis = /x-axis \[(.*)\]/.exec(chart ?? '')?.[1] ?? '';
    const labels = axis.split(', ');
    expect(labels).toHaveLength(XYCHART_MAX_POINTS);
    expect(new Set(labels).size).toBe(XYCHART_MAX_POINTS);
    expect(labels.slice(0, 2)).toEqual(['"…11-13"', '"…11-14"']);
    for (const l of labels) expect([...l.slice(1, -1)].length).toBeLessThanOrEqual(6);
    expect(chart).toContain('y-axis "errors" 0 --> 14');
    expect(chart).toContain('line [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]');
  });

  it('gives a flat zero trend a y range, and no chart without a point', () => {
    expect(trendLineChart([{ label: 'a', value: 0 }], { title: 't', yTitle: 'y' })).toContain('y-axis "y" 0 --> 1');
    expect(trendLineChart([], { title: 't', yTitle: 'y' })).toBeNull();
    expect(() => trendLineChart([{ label: 'a', value: Number.POSITIVE_INFINITY }], { title: 't', yTitle: 'y' })).toThrow(/not a finite number/);
  });
});

describe('mermaidFence', () => {
  it('fences a diagram so that the Markdown parser gives back exactly its text', () => {
    const chart = phaseBarChart(THREE) ?? '';
    const md = `# Results\n\n${mermaidFence(chart)}\n\nafter\n`;
    expect(extractMermaidBlocks(md)).toEqual([{ text: chart, line: 3 }]);
  });

  it('uses a longer fence when the diagram holds a backtick run', () => {
    const diagram = 'flowchart LR\n  a["```"] --> b';
    expect(mermaidFence(diagram).startsWith('````mermaid\n')).toBe(true);
    expect(extractMermaidBlocks(mermaidFence(diagram))).toEqual([{ text: diagram, line: 1 }]);
  });
});

// Mermaid's own parser, run in Node (tools/render/mermaid-check.mjs): valid xychart blocks pass,
// broken ones fail with the parser's message, and the blocks of a Markdown text are found the way
// the Markdown renderer sees them.
import { describe, expect, it } from 'vitest';
import { checkMarkdownMermaid, checkMermaid, extractMermaidBlocks, type MermaidCheck } from '../../tools/render/mermaid-check.mjs';

const BARS_PERCENT = `xychart-beta
  title "Pass rate per DB (%)"
  x-axis ["alien", "credit", "cybermarket"]
  y-axis "pass rate (%)" 0 --> 100
  bar [100, 0, 50]
  bar [66.7, 0, 50]`;

const BARS_FRACTION = `xychart-beta
  title "Pass rate per DB"
  x-axis [alien, credit, cybermarket]
  y-axis "pass rate" 0 --> 1
  bar [1, 0, 0.5]
  bar [0.667, 0, 0.5]`;

const LINE = `xychart-beta
  title "phase-1 rate, nightly"
  x-axis ["11-22", "11-23", "11-24", "11-25"]
  y-axis "rate" 0 --> 1
  line [0.5, 0.55, 0.52, 0.61]`;

function failure(r: MermaidCheck): string {
  if (r.ok) throw new Error('expected the parser to reject the diagram');
  return r.error;
}

describe('checkMermaid', () => {
  it('accepts a bar chart with two series (phase-1, phase-2) per DB, y in percent or as a fraction', async () => {
    expect(await checkMermaid(BARS_PERCENT)).toEqual({ ok: true });
    expect(await checkMermaid(BARS_FRACTION)).toEqual({ ok: true });
  });

  it('accepts a line chart, and the horizontal form with frontmatter config', async () => {
    expect(await checkMermaid(LINE)).toEqual({ ok: true });
    const configured = `---\nconfig:\n  xyChart:\n    height: 166\n  themeVariables:\n    xyChart:\n      plotColorPalette: "#8cb4e8, #0b5cad"\n---\n${BARS_PERCENT.replace('xychart-beta', 'xychart-beta horizontal')}`;
    expect(await checkMermaid(configured)).toEqual({ ok: true });
  });

  it('rejects a misspelt keyword with the parser message', async () => {
    const error = failure(await checkMermaid(BARS_PERCENT.replace('  bar [100', '  bars [100')));
    expect(error).toMatch(/^Parse error on line 5:/);
    expect(error).toMatch(/Expecting .*'BAR'.*, got 'ALPHA'/);
  });

  it('rejects an unknown diagram type', async () => {
    // `xychart-beta` needs a word end here, so `xychart` (mermaid 11's name) matches and `-betas` does not parse.
    expect(failure(await checkMermaid('xychart-betas\n  bar [1]'))).toMatch(/^Parse error on line 1:[\s\S]*Expecting 'XYCHART', .*got 'MINUS'/);
    expect(failure(await checkMermaid('barchart\n  bar [1]'))).toMatch(/^No diagram type detected matching given configuration for text: barchart/);
  });

  it('rejects unbalanced brackets', async () => {
    expect(failure(await checkMermaid(BARS_PERCENT.replace('"cybermarket"]', '"cybermarket"')))).toMatch(
      /Parse error on line 3:[\s\S]*Expecting 'SQUARE_BRACES_END', 'COMMA', got 'NEWLINE'/,
    );
    expect(failure(await checkMermaid(BARS_PERCENT.replace('bar [100, 0, 50]', 'bar [100, 0, 50')))).toMatch(/Parse error on line 5:[\s\S]*got 'NEWLINE'/);
  });

  it('rejects a DB name with a quote, bracket or colon that is not escaped', async () => {
    const withName = (name: string): string => BARS_FRACTION.replace('[alien,', `[${name},`);
    expect(failure(await checkMermaid(withName('ali"en')))).toMatch(/Parse error on line 3:[\s\S]*got 'STR'/);
    expect(failure(await checkMermaid(withName('"ali"en"')))).toMatch(/Parse error on line 3:[\s\S]*got 'ALPHA'/);
    expect(failure(await checkMermaid(withName('ali[en]')))).toMatch(/Parse error on line 3:[\s\S]*got 'SQUARE_BRACES_START'/);
    expect(failure(await checkMermaid(withName('ali:en')))).toMatch(/Parse error on line 3:[\s\S]*got 'COLON'/);
    // Quoted, the bracket is fine; the quote needs mermaid's entity.
    expect(await checkMermaid(withName('"ali[en]"'))).toEqual({ ok: true });
    expect(await checkMermaid(withName('"ali#quot;en"'))).toEqual({ ok: true });
  });

  it('rejects `%%` at the start of a quoted label (a comment to the end of the line) and an empty label', async () => {
    expect(failure(await checkMermaid(BARS_PERCENT.replace('"credit"', '"%%credit"')))).toMatch(/Parse error on line 3:[\s\S]*got 'NEWLINE'/);
    expect(failure(await checkMermaid(BARS_PERCENT.replace('"credit"', '""')))).toMatch(/Parse error on line 3:[\s\S]*got 'COMMA'/);
  });

  it('rejects a number in exponent form', async () => {
    expect(failure(await checkMermaid(BARS_FRACTION.replace('[1, 0, 0.5]', '[1, 1e-7, 0.5]')))).toMatch(/Parse error on line 5:/);
  });
});

describe('extractMermaidBlocks', () => {
  it('finds backtick and tilde fences, also inside <details>, with the line of the fence', () => {
    const md = [
      '# Results', // 1
      '', // 2
      '```mermaid', // 3
      LINE, // 4-8
      '```', // 9
      '', // 10
      '<details>', // 11
      '<summary>charts</summary>', // 12
      '', // 13
      '~~~ mermaid', // 14
      'pie', // 15
      '  "a" : 1', // 16
      '~~~', // 17
      '', // 18
      '</details>', // 19
    ].join('\n');
    expect(extractMermaidBlocks(md)).toEqual([
      { text: LINE, line: 3 },
      { text: 'pie\n  "a" : 1', line: 14 },
    ]);
  });

  it('does not take indented code, other languages or a mermaid fence quoted inside a longer fence', () => {
    const md = ['    ```mermaid', '    pie', '    ```', '', '```ts', 'const x = 1;', '```', '', '````markdown', '```mermaid', 'pie', '```', '````', ''].join(
      '\n',
    );
    expect(extractMermaidBlocks(md)).toEqual([]);
  });

  it('checkMarkdownMermaid reports each broken block with its line and message', async () => {
    const md = ['```mermaid', BARS_PERCENT, '```', '', 'text', '', '```mermaid', 'xychart-beta', '  x-axis [a, b', '  bar [1, 2]', '```', ''].join('\n');
    const failures = await checkMarkdownMermaid(md);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.line).toBe(12);
    expect(failures[0]?.error).toMatch(/^Parse error on line 2:[\s\S]*Expecting 'SQUARE_BRACES_END', 'COMMA', got 'NEWLINE'/);
  });
});

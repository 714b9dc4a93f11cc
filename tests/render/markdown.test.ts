// The offline GitHub-like page of a job summary or PR comment (tools/render/markdown.mjs): the
// tables, the folded <details>, the mermaid containers, HTML in table cells treated the way
// GitHub treats it, and the same bytes for the same input.
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MERMAID_VERSION, renderMarkdownFragment, renderMarkdownPage, writeMarkdownPage } from '../../tools/render/markdown.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const SUMMARY = readFileSync(join(ROOT, 'tests', 'e2e', '__snapshots__', 'results-summary.md'), 'utf8');
const COMMENT = readFileSync(join(ROOT, 'tests', 'unit', '__snapshots__', 'results-comment-baseline.md'), 'utf8');

const CHART = [
  'xychart-beta',
  '  title "a < b & c"',
  '  x-axis ["alien", "credit"]',
  '  y-axis "pass rate (%)" 0 --> 100',
  '  bar [100, 0]',
  '  bar [66.7, 0]',
].join('\n');

/** The text of an HTML fragment without tags, entities decoded (enough for these pages). */
function text(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');
}

describe('renderMarkdownPage', () => {
  it("renders today's job summary: header list, tables with a row per DB, failures folded in <details>", () => {
    const html = renderMarkdownPage(SUMMARY, { title: 'summary' });
    expect(html).toContain('<h2>BIRD-Interact results: <code>mixed-run</code></h2>');
    expect(html).toContain('<th>DB</th>\n<th>n</th>\n<th>phase-1 pass</th>');
    expect(html).toContain('<tr>\n<td><code>alien</code></td>\n<td>3</td>\n<td>100.0% (3/3)</td>');
    expect(html).toContain('<td><strong>all</strong></td>');
    const details = /<details>\n<summary>5 instances did not pass<\/summary>\n<table>[\s\S]*?<\/table>\n<\/details>/.exec(html)?.[0] ?? '';
    expect(details).toContain('<td><code>credit_2</code></td>');
    expect(details).toContain('<td>error: actor-lost</td>');
    expect(html.match(/<table>/g)).toHaveLength(2);
  });

  it("renders today's PR comment: the hidden marker is gone, as on GitHub; <sub> and links stay", () => {
    const html = renderMarkdownFragment(COMMENT);
    expect(COMMENT).toContain('<!-- bird-cloud-action:results:');
    expect(html).not.toContain('bird-cloud-action:results');
    expect(html).toContain(
      '<sub><a href="https://github.com/o/r/actions/runs/1">workflow run</a> · posted by bird-cloud-action; updated in place on reruns</sub>',
    );
    expect(html).toContain('<td><code>archeology</code> (baseline only)</td>');
  });

  it('turns a mermaid block into a container holding its text, and loads the bundle beside the page', () => {
    const md = `# charts\n\n\`\`\`mermaid\n${CHART}\n\`\`\`\n\n\`\`\`ts\nconst a = 1 < 2;\n\`\`\`\n`;
    const html = renderMarkdownPage(md, { title: 'charts' });
    const box = /<div class="mermaid-block"><pre class="mermaid-source" lang="mermaid">([\s\S]*?)<\/pre><\/div>/.exec(html);
    expect(box?.[1]).toBe(
      'xychart-beta\n  title "a &lt; b &amp; c"\n  x-axis ["alien", "credit"]\n  y-axis "pass rate (%)" 0 --> 100\n  bar [100, 0]\n  bar [66.7, 0]',
    );
    expect(text(box?.[1] ?? '')).toBe(CHART);
    expect(html).toContain('<pre><code class="language-ts">const a = 1 &lt; 2;\n</code></pre>');
    expect(html).toContain('<script src="mermaid.min.js"></script>');
    expect(renderMarkdownPage(md, { title: 'x', mermaidSrc: '../m.js' })).toContain('<script src="../m.js"></script>');
    expect(renderMarkdownPage('no charts', { title: 'x' })).not.toContain('<script src=');
  });

  it('keeps a mermaid block inside <details> when blank lines set it apart, as GitHub does', () => {
    const md = `<details>\n<summary>chart</summary>\n\n\`\`\`mermaid\n${CHART}\n\`\`\`\n\n</details>\n`;
    expect(renderMarkdownFragment(md)).toMatch(
      /<details>\n<summary>chart<\/summary>\n<div class="mermaid-block"><pre class="mermaid-source" lang="mermaid">xychart-beta\n[\s\S]*<\/pre><\/div>\n<\/details>/,
    );
  });

  it('treats HTML in table cells the way GitHub does: escaped text stays text, allowed tags stay, scripts and handlers go', () => {
    const md = [
      '| reason | note |',
      '| --- | --- |',
      // What render.ts writes for row text: mdText's entities and backslashes, markdownTable's \|.
      '| error: &lt;script&gt;x&lt;/script&gt; \\*not emphasis\\* a \\| b | `a\\|b` |',
      // What GitHub does with raw HTML a row could carry if it were not escaped.
      '| <b>bold</b> <script>alert(1)</script> <img src="x.png" onerror="alert(1)"> | <a href="javascript:alert(1)">link</a> <details open><summary>s</summary>t</details> |',
      '',
    ].join('\n');
    const html = renderMarkdownFragment(md);
    const cells = [...html.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1]);
    expect(cells).toEqual([
      'error: &lt;script>x&lt;/script> *not emphasis* a | b',
      '<code>a|b</code>',
      '<b>bold</b>  <img src="x.png">',
      '<a>link</a> <details open><summary>s</summary>t</details>',
    ]);
    expect(html).not.toMatch(/<script|onerror|javascript:/);
  });

  it('renders the rest of GFM: strikethrough, task lists, autolinks', () => {
    const html = renderMarkdownFragment('~~old~~ see https://example.com/x\n\n- [x] done\n- [ ] open\n');
    expect(html).toContain('<del>old</del> see <a href="https://example.com/x">https://example.com/x</a>');
    expect(html).toContain('<li class="task-list-item"><input type="checkbox" checked disabled> done</li>');
    expect(html).toContain('<li class="task-list-item"><input type="checkbox" disabled> open</li>');
  });

  it('is a standalone page: GitHub CSS inline, the title escaped, nothing fetched from the network', () => {
    const html = renderMarkdownPage(SUMMARY, { title: 'run <1> & "2"' });
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<title>run &lt;1&gt; &amp; &quot;2&quot;</title>');
    expect(html).toContain('.markdown-body {');
    expect(html).toContain('<article class="markdown-body">');
    expect(html).toContain(`default-src 'none'`);
    expect(html).not.toMatch(/<link\b|@import|src="https?:/);
  });

  it('gives the same bytes for the same input', () => {
    const md = `${SUMMARY}\n\`\`\`mermaid\n${CHART}\n\`\`\`\n`;
    const a = renderMarkdownPage(md, { title: 'x' });
    expect(renderMarkdownPage(md, { title: 'x' })).toBe(a);
    expect(renderMarkdownPage(`${md}\n`, { title: 'x' })).toBe(a);
    expect(renderMarkdownPage(md, { title: 'y' })).not.toBe(a);
  });
});

describe('writeMarkdownPage', () => {
  it('writes the page and the mermaid browser bundle beside it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-page-'));
    try {
      const file = writeMarkdownPage(`\`\`\`mermaid\n${CHART}\n\`\`\`\n`, join(dir, 'sub', 'index.html'), { title: 't' });
      expect(file).toBe(join(dir, 'sub', 'index.html'));
      expect(readFileSync(file, 'utf8')).toContain('<script src="mermaid.min.js"></script>');
      const bundle = join(dir, 'sub', 'mermaid.min.js');
      expect(existsSync(bundle)).toBe(true);
      expect(statSync(bundle).size).toBeGreaterThan(1_000_000);
      expect(MERMAID_VERSION).toBe('11.17.2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

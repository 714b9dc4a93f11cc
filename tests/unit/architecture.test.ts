// docs/architecture.md stays true: every path it names exists, every file under src/ is named in
// its table, its pipeline diagram parses, and the paths src/ comments mention exist.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMarkdownMermaid } from '../../tools/render/mermaid-check.mjs';

const ROOT = join(import.meta.dirname, '..', '..');
const PAGE = readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8');

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

/** The table rows of the page: the folder cell (carried down from the row above when empty) and the file names. */
function namedSourceFiles(markdown: string): string[] {
  const named: string[] = [];
  let folder = '';
  for (const line of markdown.split('\n')) {
    const cells = /^\|(.*)\|$/
      .exec(line)?.[1]
      .split('|')
      .map((c) => c.trim());
    if (!cells || cells.length < 3) continue;
    const f = /^`(src\/[^`]*)`$/.exec(cells[0]);
    if (f) folder = f[1];
    else if (cells[0] !== '') {
      folder = '';
      continue;
    }
    if (!folder) continue;
    for (const m of cells[1].matchAll(/`([^`]+\.ts)`/g)) named.push(`${folder}${m[1]}`);
  }
  return named.sort();
}

describe('docs/architecture.md', () => {
  const sources = filesUnder('src').filter((f) => f.endsWith('.ts'));

  it('names every file under src/ in its table, and only files that exist', () => {
    const named = namedSourceFiles(PAGE);
    expect(named.length).toBeGreaterThan(40);
    expect(named.filter((f) => !existsSync(join(ROOT, f)))).toEqual([]);
    expect(sources.filter((f) => !named.includes(f))).toEqual([]);
  });

  it('names in its diagram only modules that exist', () => {
    const diagram = /```mermaid\n([\s\S]*?)```/.exec(PAGE)?.[1] ?? '';
    const mentioned = [...diagram.matchAll(/\b([a-z-]+\/[a-z-]+\.ts|[a-z-]+\.ts)\b/g)].map((m) => m[1]);
    expect(mentioned.length).toBeGreaterThan(10);
    expect(mentioned.filter((m) => !existsSync(join(ROOT, 'src', m)))).toEqual([]);
  });

  it('names only folders that exist, outside src/ too', () => {
    const folders = [...PAGE.matchAll(/`((?:src|tests|tools|scripts|docs|dist)\/[\w./-]*)`/g)].map((m) => m[1]);
    expect(folders.filter((p) => !existsSync(join(ROOT, p)))).toEqual([]);
  });

  it('has a pipeline diagram that Mermaid parses', async () => {
    expect(await checkMarkdownMermaid(PAGE)).toEqual([]);
  });
});

describe('src/ comments', () => {
  it('mention only repository files that exist', () => {
    const missing: string[] = [];
    for (const file of filesUnder('src')) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(/\/\/.*|\/\*[\s\S]*?\*\//g)) {
        for (const p of m[0].matchAll(/\b((?:src|tools|scripts|tests)\/[\w/.-]*\w)/g)) {
          // A .py path is the evaluation repository's (its src/ travels with the job), not ours.
          if (!p[1].endsWith('.py') && !existsSync(join(ROOT, p[1]))) missing.push(`${file}: ${p[1]}`);
        }
        for (const p of m[0].matchAll(/(?<![\w/])(\.\.?\/[\w/.-]+\.ts)\b/g)) {
          if (!existsSync(join(ROOT, file, '..', p[1]))) missing.push(`${file}: ${p[1]}`);
        }
      }
    }
    expect(missing).toEqual([]);
  });
});

describe('the docs', () => {
  it('name in code spans only files of src/ that exist', () => {
    const pages = [
      'README.md',
      ...filesUnder('docs').filter((f) => f.endsWith('.md')),
      ...filesUnder('tools').filter((f) => f.endsWith('README.md') && !f.includes('node_modules')),
    ];
    const missing: string[] = [];
    for (const page of pages) {
      for (const m of readFileSync(join(ROOT, page), 'utf8').matchAll(/`(src\/[\w/.-]*\w)`/g)) {
        if (!existsSync(join(ROOT, m[1]))) missing.push(`${page}: ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });
});

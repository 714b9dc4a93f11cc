// The shared vitest project (isolate: false, vitest.config.ts) holds only files that leave no state
// behind for the next file of their worker: no env stubs or writes, no spies or mocks, no process
// handlers, no @actions/core summary. A file that does any of it belongs in the ISOLATED list.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const CONFIG = readFileSync(join(ROOT, 'vitest.config.ts'), 'utf8');
const LEAVES_STATE =
  /vi\.(stubEnv|spyOn|mock|stubGlobal|useFakeTimers)\b|process\.env(\.\w+|\[[^\]]+\])\s*=[^=]|delete process\.env|process\.(on|once)\(|core\.summary/;

function isolated(): string[] {
  const block = /const ISOLATED = \[([\s\S]*?)\];/.exec(CONFIG);
  if (!block) throw new Error('vitest.config.ts has no ISOLATED list');
  return [...block[1].matchAll(/'([^']+)'/g)].map((m) => m[1]);
}

function testFiles(): string[] {
  return readdirSync(join(ROOT, 'tests'), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.test.ts'))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)).split('\\').join('/'));
}

describe('the shared vitest project', () => {
  it('has only files that leave no env, spy, handler or summary state behind', () => {
    const list = isolated();
    expect(list).toContain('tests/e2e/dispatch.test.ts');
    const inIsolated = (f: string): boolean => list.some((p) => (p.endsWith('/**') ? f.startsWith(p.slice(0, -2)) : f === p));
    const shared = testFiles().filter((f) => !inIsolated(f));
    expect(shared.length).toBeGreaterThan(20);
    const offenders = shared.filter((f) => f !== 'tests/unit/vitest-projects.test.ts' && LEAVES_STATE.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('names only files that exist in the isolated list', () => {
    const files = new Set(testFiles());
    expect(isolated().filter((p) => !p.endsWith('/**') && !files.has(p))).toEqual([]);
  });
});

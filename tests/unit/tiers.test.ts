// Which real-system tiers a vitest command line starts (tests/setup/tiers.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliFilters, REAL_TIERS, selectTiers } from '../setup/tiers.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('cliFilters', () => {
  it('reads the file filters after run, skipping options and their values', () => {
    expect(cliFilters(['node', 'vitest', 'run'])).toEqual([]);
    expect(cliFilters(['node', 'vitest', 'run', 'tests/unit', '--reporter', 'dot', 'tests/real/ray-contract.test.ts:12', '--bail=1'])).toEqual([
      'tests/unit',
      'tests/real/ray-contract.test.ts',
    ]);
    expect(cliFilters(['node', 'vitest', 'run', '-t', 'ray head', 'snippets'])).toEqual(['snippets']);
  });
});

describe('selectTiers', () => {
  const quiet = (): void => undefined;
  it('starts every installed tier for a whole run, and leaves out only the ones not installed', () => {
    const s = selectTiers({}, quiet, []);
    for (const t of REAL_TIERS) {
      const installed = existsSync(join(ROOT, t.marker));
      expect(s.globalSetup.includes(t.globalSetup), t.name).toBe(installed);
      expect(s.exclude.includes(t.include), t.name).toBe(!installed);
    }
  });

  it('starts no tier for a run of files outside every tier, and does not fail under CI for it', () => {
    const s = selectTiers({ CI: 'true' }, quiet, ['tests/unit/time.test.ts']);
    expect(s.globalSetup).toEqual([]);
    expect(s.exclude).toEqual(REAL_TIERS.map((t) => t.include));
  });

  it('starts none with BIRD_REAL_TIERS=0 (npm run test:default)', () => {
    const s = selectTiers({ BIRD_REAL_TIERS: '0', CI: 'true' }, quiet, []);
    expect(s.globalSetup).toEqual([]);
    expect(s.exclude).toEqual(REAL_TIERS.map((t) => t.include));
  });

  it('starts only the tier whose files are named', () => {
    const lines: string[] = [];
    const s = selectTiers({}, (l) => lines.push(l), ['tests/real/ray-contract']);
    const ray = REAL_TIERS.find((t) => t.name === 'real Ray');
    if (s.globalSetup.length > 0) expect(s.globalSetup).toEqual([ray?.globalSetup]);
    else expect(lines.join('\n')).toContain('real Ray tier skipped');
    expect(s.exclude).toContain(REAL_TIERS.find((t) => t.name === 'fake-gcs-server')?.include);
  });
});

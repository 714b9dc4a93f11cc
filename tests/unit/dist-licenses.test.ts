// Each bundle ships the licenses of what it bundles: every production dependency of package.json
// has its entry (name, then license) in each dist folder's licenses.txt (scripts/build.mjs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const deps = Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);

describe.each(['dist', 'dist/post', 'dist/otf-keys'])('%s/licenses.txt', (dir) => {
  it('names every production dependency with its license', () => {
    const text = `\n${readFileSync(join(ROOT, dir, 'licenses.txt'), 'utf8')}`;
    expect(deps.length).toBeGreaterThan(3);
    for (const name of deps) {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { license: string };
      expect(text, name).toContain(`\n${name}\n${pkg.license}\n`);
    }
  });
});

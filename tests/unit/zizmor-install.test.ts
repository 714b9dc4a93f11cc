// tools/zizmor/install.mjs: the exact pin, and what it does without a usable Python (one line and nothing
// installed; an error under CI=true). Installing for real needs PyPI, so that path is proved by `npm run setup`
// and .ci/run, and by lint.sh running the installed zizmor (tests/lint.test.ts).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { installZizmor, pinnedVersion, REQUIREMENTS, zizmorInstalled } from '../../tools/zizmor/install.mjs';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});
function tempVenv(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bird-zizmor-'));
  temps.push(dir);
  return join(dir, '.venv');
}
const NO_PYTHON = [join(tmpdir(), 'no-such-dir', 'python3')];

describe('tools/zizmor/requirements.txt', () => {
  it('pins zizmor 1.32.0 exactly, hash-checked, and nothing else', () => {
    const text = readFileSync(REQUIREMENTS, 'utf8');
    expect(pinnedVersion(text)).toBe('1.32.0');
    const requirements = text
      .replace(/\\\n/g, ' ')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(requirements).toHaveLength(1);
    const hashes = requirements[0].match(/--hash=sha256:[0-9a-f]{64}\b/g) ?? [];
    expect(hashes.length).toBeGreaterThanOrEqual(1);
    expect(new Set(hashes).size).toBe(hashes.length);
  });

  it('refuses a file that pins no exact version', () => {
    expect(() => pinnedVersion('zizmor>=1.32\n')).toThrow(/pins no zizmor==X\.Y\.Z/);
  });
});

describe('installZizmor without a usable Python', () => {
  it('prints one line and installs nothing', () => {
    const venv = tempVenv();
    const lines: string[] = [];
    const r = installZizmor({ venv, python: NO_PYTHON, env: {}, log: (l) => lines.push(l) });
    expect(r.status).toBe('skipped');
    expect(lines).toEqual([r.message]);
    expect(r.message).toMatch(/^zizmor skipped: no Python 3 with the venv module .*scripts\/lint\.sh runs without it$/);
    expect(existsSync(venv)).toBe(false);
    expect(zizmorInstalled(venv)).toBe(false);
  });

  it('is an error under CI=true', () => {
    const venv = tempVenv();
    expect(() => installZizmor({ venv, python: NO_PYTHON, env: { CI: 'true' }, log: () => {} })).toThrow(/CI=true needs zizmor/);
    expect(existsSync(venv)).toBe(false);
  });
});

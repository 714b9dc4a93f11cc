// `npm run screenshots` without a browser (CI has none): it says what to install and fails; its
// arguments. The shots themselves need Debian's chromium and are taken by hand (docs/rendering.md).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, parseArgs } from '../../tools/render/screenshots.mjs';

const ROOT = join(import.meta.dirname, '..', '..');

describe('screenshots', () => {
  it('says how to install chromium when it is missing, and exits 1', () => {
    const r = spawnSync(process.execPath, ['tools/render/screenshots.mjs', 'tests/e2e/__snapshots__/results-summary.md', '--out', '.tmp/no-shots'], {
      cwd: ROOT,
      env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      'screenshots: chromium not found at /nonexistent/chromium: install it with `apt-get install -y chromium` (Debian), or set CHROMIUM_PATH. The tests do not need it.\n',
    );
  });

  it('takes files, --out and --width, and refuses anything else', () => {
    const a = parseArgs(['a.md', '--out', 'shots', '--width', '800', 'b.md']);
    expect(a.files).toEqual([join(process.cwd(), 'a.md'), join(process.cwd(), 'b.md')]);
    expect(a.out).toBe(join(process.cwd(), 'shots'));
    expect(a.width).toBe(800);
    expect(parseArgs([]).width).toBe(1000);
    expect(parseArgs([]).out).toBe(join(ROOT, 'docs', 'screenshots'));
    expect(() => parseArgs(['--width', 'wide'])).toThrow(/--width must be a whole number of pixels/);
    expect(() => parseArgs(['--full'])).toThrow(/unknown option --full/);
  });

  it('launches chromium headless, without sandbox, GPU, QUIC or background traffic', () => {
    expect(CHROMIUM_ARGS).toEqual([
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ]);
  });
});

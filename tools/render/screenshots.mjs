// @ts-check
// `npm run screenshots [-- FILE.md ...] [--out DIR] [--width PX]`: renders Markdown files to
// HTML pages (markdown.mjs) and takes full-page PNGs with headless Chromium (Debian's
// `chromium`, driven by playwright-core), after mermaid has drawn every block: NAME.png as GitHub
// first shows the page, and NAME-open.png with every <details> open. Without files it
// takes the samples: the snapshots of today's summary and comment, and tools/render/samples/.
// Not part of the tests: CI has no browser. Network requests other than file: are refused.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
export const INSTALL_CMD = 'npm ci --prefix tools/render --ignore-scripts --no-audit --no-fund';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Markdown files shot when none is named. */
export function defaultInputs() {
  const samples = join(HERE, 'samples');
  return [
    join(ROOT, 'tests', 'e2e', '__snapshots__', 'results-summary.md'),
    join(ROOT, 'tests', 'unit', '__snapshots__', 'results-comment-baseline.md'),
    // Whole steps (tests/e2e/step-summary.test.ts): a reported run, a failed gate, a failure.
    ...['summary-reported.md', 'summary-gate-failed.md', 'comment-gate-failed.md', 'summary-dispatch-failed.md'].map((f) =>
      join(ROOT, 'tests', 'e2e', '__snapshots__', f),
    ),
    ...readdirSync(samples)
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => join(samples, f)),
  ];
}

/**
 * @param {string[]} argv
 * @returns {{ files: string[], out: string, width: number }}
 */
export function parseArgs(argv) {
  /** @type {string[]} */
  const files = [];
  let out = join(ROOT, 'docs', 'screenshots');
  let width = 1000;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = resolve(argv[++i] ?? '');
    else if (a === '--width') width = Number(argv[++i]);
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else files.push(resolve(a));
  }
  if (!Number.isInteger(width) || width < 320) throw new Error(`--width must be a whole number of pixels, at least 320`);
  return { files: files.length > 0 ? files : defaultInputs(), out, width };
}

/**
 * @param {{ files: string[], out: string, width: number, chromium?: string, log?: (line: string) => void }} o
 * @returns {Promise<{ png: string, failedBlocks: number }[]>}
 */
export async function takeScreenshots(o) {
  const log = o.log ?? console.log;
  const exe = o.chromium ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(exe)) {
    throw new Error(`chromium not found at ${exe}: install it with \`apt-get install -y chromium\` (Debian), or set CHROMIUM_PATH. The tests do not need it.`);
  }
  const { writeMarkdownPage } = await import('./markdown.mjs');
  const { chromium } = await import('playwright-core');
  const work = mkdtempSync(join(tmpdir(), 'bird-render-'));
  const profile = join(work, 'profile');
  mkdirSync(o.out, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: exe,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: o.width, height: 800 },
    deviceScaleFactor: 1,
  });
  /** @type {{ png: string, failedBlocks: number }[]} */
  const shots = [];
  try {
    await context.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    for (const file of o.files) {
      const name = basename(file).replace(/\.md$/i, '');
      const html = writeMarkdownPage(readFileSync(file, 'utf8'), join(work, name, 'index.html'), { title: name });
      const page = await context.newPage();
      /** @type {string[]} */
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(html).href);
      await page.waitForSelector('html[data-mermaid]', { timeout: 60_000 });
      const failedBlocks = Number(await page.getAttribute('html', 'data-mermaid-failed'));
      const note = `${failedBlocks > 0 ? `  (${failedBlocks} mermaid block(s) failed to render)` : ''}${errors.length > 0 ? `  page errors: ${errors.join('; ')}` : ''}`;
      // As GitHub first shows the page (folded), and with every <details> open when there is one.
      const png = join(o.out, `${name}.png`);
      await page.screenshot({ path: png, fullPage: true });
      shots.push({ png, failedBlocks });
      log(`${relative(process.cwd(), png)}${note}`);
      const folds = await page.evaluate(() => {
        const all = document.querySelectorAll('details');
        for (const d of all) d.open = true;
        return all.length;
      });
      if (folds > 0) {
        const open = join(o.out, `${name}-open.png`);
        await page.screenshot({ path: open, fullPage: true });
        shots.push({ png: open, failedBlocks });
        log(`${relative(process.cwd(), open)}${note}`);
      }
      await page.close();
    }
  } finally {
    await context.close();
    rmSync(work, { recursive: true, force: true });
  }
  return shots;
}

async function main() {
  if (!existsSync(join(HERE, 'node_modules', 'playwright-core', 'package.json'))) {
    console.error(`tools/render is not installed. Run from the repository root: ${INSTALL_CMD}`);
    process.exit(1);
  }
  try {
    const shots = await takeScreenshots(parseArgs(process.argv.slice(2)));
    const failed = shots.filter((s) => s.failedBlocks > 0).length;
    if (failed > 0) {
      console.error(`${failed} page(s) have mermaid blocks that did not render`);
      process.exit(1);
    }
  } catch (e) {
    console.error(`screenshots: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();

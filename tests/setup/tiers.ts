// The real-system test tiers: suites that run against a real Ray head and against
// fake-gcs-server. `npm run setup` installs them where Python and Go are present. A tier that is
// not installed is left out of the run with one line saying so, except under CI=true, where a
// missing tier is a failure: CI must prove the doubles against the real systems.
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface RealTier {
  name: string;
  /** What must exist for the tier to run (relative to the repository root). */
  marker: string;
  /** Test files of the tier. */
  include: string;
  /** Its vitest global setup (starts the server once per run). */
  globalSetup: string;
}

export const REAL_TIERS: readonly RealTier[] = [
  { name: 'real Ray', marker: 'tools/python/.venv/bin/ray', include: 'tests/real/ray-*.test.ts', globalSetup: 'tests/setup/ray-global-setup.ts' },
  {
    name: 'fake-gcs-server',
    marker: 'tools/fake-gcs/bin/fake-gcs-server',
    include: 'tests/real/gcs-*.test.ts',
    globalSetup: 'tests/setup/fake-gcs-global-setup.ts',
  },
];

export interface TierSelection {
  include: string[];
  exclude: string[];
  globalSetup: string[];
}

/**
 * The file filters of a `vitest run a b` command line (vitest keeps a file whose path contains one of
 * them); none means every file.
 */
export function cliFilters(argv: readonly string[]): string[] {
  const i = argv.findIndex((a) => a === 'run' || a === 'watch' || a === 'related');
  const args = i >= 0 ? argv.slice(i + 1) : [];
  const out: string[] = [];
  for (let k = 0; k < args.length; k++) {
    const a = args[k];
    if (a === '--') continue;
    // An option's value (`--project x`) is not a filter; `--flag=value` and bare flags take none.
    if (a.startsWith('-')) {
      if (!a.includes('=') && VALUE_OPTIONS.has(a)) k++;
      continue;
    }
    // `file.test.ts:12` filters by line.
    out.push(a.replace(/:\d+$/, ''));
  }
  return out;
}
const VALUE_OPTIONS = new Set([
  '--project',
  '--config',
  '-c',
  '--root',
  '-r',
  '--dir',
  '--reporter',
  '--outputFile',
  '--testNamePattern',
  '-t',
  '--shard',
  '--pool',
  '--maxWorkers',
  '--environment',
  '--mode',
]);

/** The tier's test files, as paths from the repository root. */
function tierFiles(t: RealTier): string[] {
  const dir = dirname(t.include);
  const [prefix, suffix] = t.include.slice(dir.length + 1).split('*');
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs)
    .filter((f) => f.startsWith(prefix) && f.endsWith(suffix))
    .map((f) => `${dir}/${f}`);
}

/**
 * Which tiers run; prints one line per missing tier, and throws under CI=true. A command line that
 * names files of no tier (`vitest run tests/unit/x.test.ts`) starts no tier's server: a quick test
 * should not wait for a Ray head.
 */
export function selectTiers(
  env: NodeJS.ProcessEnv = process.env,
  log: (line: string) => void = console.log,
  filters: readonly string[] = cliFilters(process.argv),
): TierSelection {
  const out: TierSelection = { include: [], exclude: [], globalSetup: [] };
  const missing: string[] = [];
  // `npm run test:default`: the default tier alone, whatever is installed.
  const none = env.BIRD_REAL_TIERS === '0';
  if (none) log('real tiers left out (BIRD_REAL_TIERS=0)');
  for (const t of REAL_TIERS) {
    const named = filters.length === 0 || tierFiles(t).some((f) => filters.some((x) => f.includes(x) || join(ROOT, f).includes(x)));
    const wanted = !none && named;
    if (!wanted) {
      out.exclude.push(t.include);
      continue;
    }
    if (existsSync(join(ROOT, t.marker))) {
      out.include.push(t.include);
      out.globalSetup.push(t.globalSetup);
    } else {
      out.exclude.push(t.include);
      missing.push(t.name);
      log(`${t.name} tier skipped: ${t.marker} is not installed; install it with \`npm run setup\` (needs Python 3 for Ray, Go for fake-gcs-server)`);
    }
  }
  if (missing.length > 0 && env.CI === 'true') {
    throw new Error(`CI=true: the ${missing.join(' and ')} tier(s) must run, but are not installed; .ci/run installs them with \`npm run setup\``);
  }
  return out;
}

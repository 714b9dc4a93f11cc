// The real-system test tiers: suites that run against a real Ray head and against
// fake-gcs-server. `npm run setup` installs them where Python and Go are present. A tier that is
// not installed is left out of the run with one line saying so, except under CI=true, where a
// missing tier is a failure: CI must prove the doubles against the real systems.
import { existsSync } from 'node:fs';
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

/** Which tiers run; prints one line per missing tier, and throws under CI=true. */
export function selectTiers(env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = console.log): TierSelection {
  const out: TierSelection = { include: [], exclude: [], globalSetup: [] };
  const missing: string[] = [];
  for (const t of REAL_TIERS) {
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

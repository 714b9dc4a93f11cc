import { defineConfig } from 'vitest/config';
import { selectTiers } from './tests/setup/tiers.js';

const tiers = selectTiers();

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    exclude: ['**/node_modules/**', ...tiers.exclude],
    globalSetup: ['tests/setup/gcs-global-setup.ts', ...tiers.globalSetup],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores, but the e2e tests spend much of their time waiting on the processes they spawn
    // (the built action, the stand-in CLIs, the jobs) and on 1 s polls: a third worker fills those
    // waits (the whole run took about 10% less wall time than with two, in four paired runs).
    maxWorkers: 3,
  },
});

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
    // The e2e tests spawn the built action; two cores, so keep the fan-out small.
    maxWorkers: 2,
  },
});

import { defineConfig } from 'vitest/config';
import { selectTiers } from './tests/setup/tiers.js';

const tiers = selectTiers();

// Files that change state a later file in the same worker would see: the env (vi.stubEnv,
// process.env writes), module state (@actions/core caches the step summary's path; spies and
// mocks), process handlers. Each runs in a fresh module graph; every other file shares the
// worker's, which spares re-importing the same modules per file (the default tier's CPU time fell
// by about a quarter, its wall time from about 116 s to 86 s on two cores). A file added to the
// shared project must leave no such state behind.
const ISOLATED = [
  'tests/e2e/bad-input.test.ts',
  'tests/e2e/dispatch.test.ts',
  'tests/e2e/dry-run.test.ts',
  'tests/e2e/ephemeral.test.ts',
  'tests/e2e/live-comment.test.ts',
  'tests/e2e/pr-comment.test.ts',
  'tests/e2e/results.test.ts',
  'tests/e2e/step-summary.test.ts',
  'tests/e2e/upload.test.ts',
  'tests/integration/cluster-timeout.test.ts',
  'tests/integration/dispatch-retries.test.ts',
  'tests/integration/dry-run-combos.test.ts',
  'tests/integration/gcs-http.test.ts',
  'tests/integration/store-upload.test.ts',
  'tests/integration/upload-retries.test.ts',
  'tests/integration/upload-streams.test.ts',
  'tests/integration/wait-leave.test.ts',
  'tests/integration/wait-log.test.ts',
  'tests/lint.test.ts',
  'tests/unit/cluster-yaml.test.ts',
  'tests/unit/emulator-endpoint.test.ts',
  'tests/unit/image-tag.test.ts',
  'tests/unit/otf-keys.test.ts',
  'tests/unit/preflight-matrix.test.ts',
  'tests/real/**',
];
const GCS_SETUP = 'tests/setup/gcs-global-setup.ts';
const EXCLUDE = ['**/node_modules/**', ...tiers.exclude];

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores, but the e2e tests spend much of their time waiting on the processes they spawn
    // (the built action, the stand-in CLIs, the jobs) and on 1 s polls: a third worker fills those
    // waits (the whole run took about 10% less wall time than with two, in four paired runs).
    maxWorkers: 3,
    projects: [
      // The real tiers' servers start once, for their files, which are all in this project.
      { extends: true, test: { name: 'isolated', include: ISOLATED, exclude: EXCLUDE, globalSetup: [GCS_SETUP, ...tiers.globalSetup] } },
      {
        extends: true,
        test: { name: 'shared', include: ['tests/**/*.test.ts'], exclude: [...EXCLUDE, ...ISOLATED], isolate: false, globalSetup: [GCS_SETUP] },
      },
    ],
  },
});

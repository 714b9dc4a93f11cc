// The shared Ray Jobs API contract (tests/helpers/ray-jobs-contract.ts) against a real Ray head,
// started once per run by tests/setup/ray-global-setup.ts. The same rows run against the double in
// tests/doubles/ray-contract.test.ts.
import { describe, inject } from 'vitest';
import { jobsContract } from '../helpers/ray-jobs-contract.js';

describe('Ray Jobs API contract: real Ray 2.60.0', () => {
  jobsContract(() => ({ url: inject('rayUrl'), rayVersion: '2.60.0' }));
});

// The shared Ray Jobs API contract (tests/helpers/ray-jobs-contract.ts) against a real Ray head,
// started once per run by tests/setup/ray-global-setup.ts. The same rows run against the double in
// tests/doubles/ray-contract.test.ts.
import { describe, expect, inject, it } from 'vitest';
import { jobsContract } from '../helpers/ray-jobs-contract.js';

describe('Ray Jobs API contract: real Ray 2.60.0', () => {
  jobsContract(() => ({ url: inject('rayUrl'), rayVersion: '2.60.0' }));
});

// A difference that stays (tools/ray-sim/README.md): the double does not model it, the action never meets it.
describe('real Ray 2.60.0 only', () => {
  it("refuses a POST from Node's fetch() as browser traffic (it sends Sec-Fetch-Mode)", async () => {
    const res = await fetch(`${inject('rayUrl')}/api/jobs/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ entrypoint: 'true' }),
    });
    expect(res.status).toBe(405);
    expect(await res.text()).toBe("'POST' method not allowed for browser traffic.");
  });
});

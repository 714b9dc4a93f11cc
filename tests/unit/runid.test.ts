import { describe, expect, it } from 'vitest';
import { FRAMEWORKS, QUERY_MODES } from '../../src/inputs/combos.js';
import { GCE_NAME_PATTERN, mintRunId, RUN_ID_MAX, runIdProblem, workerNodeName } from '../../src/inputs/run-id.js';

describe('run ids (docs/reference/run-ids.md#format)', () => {
  const now = new Date(Date.UTC(2026, 10, 25, 9, 7));

  it('mints <ts>-<slug>-<query_mode>-<token> with a lowercase t', () => {
    expect(mintRunId('pydantic_ai', 'raw', now, 'a1b2c3')).toBe('20261125t0907-pydanticai-raw-a1b2c3');
    expect(mintRunId('pydantic_ai_recursive', 'slayer', now, 'a1b2c3')).toBe('20261125t0907-pydanti-slayer-a1b2c3');
    expect(mintRunId('agno', 'slayer', now, 'a1b2c3')).toBe('20261125t0907-agno-slayer-a1b2c3');
  });

  it('cuts the slug to 10 characters for raw and 7 for slayer', () => {
    expect(mintRunId('smolagents_extra_long', 'raw', now, 'ffffff').split('-')[1]).toHaveLength(10);
    expect(mintRunId('smolagents_extra_long', 'slayer', now, 'ffffff').split('-')[1]).toHaveLength(7);
  });

  it('fits GCE node names for every framework × query mode', () => {
    for (const f of Object.keys(FRAMEWORKS)) {
      for (const q of QUERY_MODES) {
        const id = mintRunId(f, q, new Date(Date.UTC(2099, 11, 31, 23, 59)));
        expect(id.length).toBeLessThanOrEqual(RUN_ID_MAX);
        expect(runIdProblem(id)).toBeNull();
        expect(workerNodeName(id).length).toBeLessThanOrEqual(63);
        expect(workerNodeName(id)).toMatch(GCE_NAME_PATTERN);
      }
    }
  });

  it('validates given ids', () => {
    expect(runIdProblem('a'.repeat(35))).toBeNull();
    expect(runIdProblem('ab')).toBeNull();
    for (const bad of ['a'.repeat(36), 'Abc', 'a_b', '-ab', 'ab-', 'a', 'a b', 'a.b']) expect(runIdProblem(bad)).not.toBeNull();
  });
});

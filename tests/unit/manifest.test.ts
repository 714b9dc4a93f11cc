import { describe, expect, it } from 'vitest';
import { PYTHON_KEYS, planIdentity, RENDER_KEYS, type RunManifest, serializeManifest } from '../../src/plan/manifest.js';
import { dbDigest } from '../../src/preflight/artifacts.js';

const manifest: RunManifest = {
  // Deliberately out of order: serialisation must fix the order.
  instance_databases: { a_1: 'a' },
  dirty: false,
  dispatch: { cluster: 'none' },
  slayer_artifacts: { kind: 'slayer_models', dbs: { a: { files: 1, bytes: 3, digest: 'd' } } },
  github: { repository: 'o/r', sha: 's', ref: 'r', workflow_run_url: 'u', event: 'push', pr_number: null },
  render_inputs: {
    region: 'us-central1',
    project: 'p',
    image_uri: '',
    max_runtime_hours: 8,
    worker_sa: 'sa',
    zone: 'us-central1-a',
    worker_type: 'e2-standard-4',
    actors_per_worker: 4,
    workers: 4,
  },
  slayer_storage_root: '/data/slayer_models',
  slayer_setup: 'pre-encoded',
  prompt_cache: true,
  max_depth: 3,
  use_audited_gold_sql: false,
  strict: false,
  patience: 3,
  instance_ids: ['a_1'],
  user_sim_model: 'u',
  agent_model: 'a',
  query_mode: 'slayer',
  mode: 'a-interact',
  framework: 'pydantic_ai',
  run_id: 'r',
};

describe('manifest (docs/reference/manifest.md)', () => {
  it('has Python keys in Python order, then the additions, indent 2', () => {
    const text = serializeManifest(manifest);
    const parsed = JSON.parse(text) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...PYTHON_KEYS, 'github', 'slayer_artifacts', 'dispatch', 'dirty', 'instance_databases']);
    expect(Object.keys(parsed.render_inputs as object)).toEqual([...RENDER_KEYS]);
    expect(text.split('\n')[1]).toBe('  "run_id": "r",');
  });

  it('identifies a plan by Python keys and artifacts, not by the GitHub context', () => {
    const other = { ...manifest, github: { ...manifest.github, workflow_run_url: 'another run' }, dirty: true };
    expect(planIdentity(other)).toBe(planIdentity(manifest));
    expect(planIdentity({ ...manifest, patience: 4 })).not.toBe(planIdentity(manifest));
    expect(planIdentity({ ...manifest, slayer_artifacts: { kind: 'slayer_models', dbs: { a: { files: 1, bytes: 3, digest: 'e' } } } })).not.toBe(
      planIdentity(manifest),
    );
  });

  it('digests a DB from its sorted relpath/md5 lines', () => {
    const a = dbDigest([
      { path: 'b.yaml', size: 1, md5: 'X' },
      { path: 'a.yaml', size: 1, md5: 'Y' },
    ]);
    expect(a).toBe(
      dbDigest([
        { path: 'a.yaml', size: 1, md5: 'Y' },
        { path: 'b.yaml', size: 1, md5: 'X' },
      ]),
    );
    expect(a).not.toBe(
      dbDigest([
        { path: 'a.yaml', size: 1, md5: 'Z' },
        { path: 'b.yaml', size: 1, md5: 'X' },
      ]),
    );
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

// Ray's own check of the per-run cluster YAML: tools/ray-real/check_cluster_yaml.py runs the
// pinned Ray's config preparation and schema validation (what `ray up` does before it touches
// GCP) on YAMLs rendered by src/cluster/yaml.ts, and must refuse a broken one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { MAX_RUNTIME_HOURS_MAX, renderClusterYaml } from '../../src/cluster/yaml.js';
import { FRAMEWORKS, QUERY_MODES } from '../../src/inputs/combos.js';
import { mintRunId, RUN_ID_MAX } from '../../src/inputs/run-id.js';
import { REPO_ROOT, VENV_PYTHON } from '../../tools/ray-real/launch.mjs';
import { clusterManifest } from '../helpers/cluster.js';

const CHECK = join(REPO_ROOT, 'tools', 'ray-real', 'check_cluster_yaml.py');
const KEY = {
  sshPrivateKeyPath: '/home/runner/work/_temp/bird-cluster-x-AbC123/id_ed25519',
  sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGbAfXvz/wA/jkQxfNeg5X8kqkRhDoyAzz5D9A79J6WJ bird-cloud-action',
};
const dir = mkdtempSync(join(tmpdir(), 'bird-cluster-yaml-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Verdict {
  file: string;
  ok: boolean;
  error?: string;
  cluster_name?: string;
  max_workers?: number;
  node_types?: Record<string, { min_workers: number; max_workers: number }>;
}

/** One Python process for all files: Ray's import is the slow part. */
function rayCheck(files: Record<string, string>): { code: number | null; verdicts: Map<string, Verdict> } {
  const paths = Object.entries(files).map(([name, text]) => {
    const p = join(dir, `${name}.yaml`);
    writeFileSync(p, text);
    return p;
  });
  const r = spawnSync(VENV_PYTHON, [CHECK, ...paths], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  const verdicts = new Map<string, Verdict>();
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const v = JSON.parse(line) as Verdict;
    verdicts.set(v.file.slice(dir.length + 1, -'.yaml'.length), v);
  }
  if (verdicts.size !== paths.length)
    throw new Error(`check_cluster_yaml.py answered for ${verdicts.size} of ${paths.length} files:\n${r.stdout}\n${r.stderr}`);
  return { code: r.status, verdicts };
}

const CASES: Record<string, ReturnType<typeof clusterManifest>> = {
  defaults: clusterManifest(),
  'longest-run-id': clusterManifest({ runId: 'a'.repeat(RUN_ID_MAX) }),
  'digit-run-id': clusterManifest({ runId: `9${'0'.repeat(RUN_ID_MAX - 2)}z` }),
  'one-worker-one-actor': clusterManifest({ render: { workers: 1, actors_per_worker: 1 } }),
  'many-workers': clusterManifest({ render: { workers: 256, actors_per_worker: 32, worker_type: 'n2-highmem-96' } }),
  'max-runtime': clusterManifest({ render: { max_runtime_hours: MAX_RUNTIME_HOURS_MAX } }),
  'fractional-runtime': clusterManifest({ render: { max_runtime_hours: 0.25 } }),
  'other-region': clusterManifest({
    render: { region: 'europe-west4', zone: 'europe-west4-b', project: 'p-0123456789', worker_sa: 'runner@p-0123456789.iam.gserviceaccount.com' },
  }),
  'image-digest': clusterManifest({ render: { image_uri: `europe-docker.pkg.dev/p/r/runner@sha256:${'ab'.repeat(32)}` } }),
};
for (const f of Object.keys(FRAMEWORKS)) {
  for (const q of QUERY_MODES) CASES[`minted-${f}-${q}`] = clusterManifest({ runId: mintRunId(f, q, new Date(Date.UTC(2099, 11, 31, 23, 59)), 'ffffff') });
}

describe("Ray's own check of the rendered cluster YAML (prepare_config + validate_config)", () => {
  it('accepts every rendered manifest, with the worker counts the YAML asked for', () => {
    const { code, verdicts } = rayCheck(Object.fromEntries(Object.entries(CASES).map(([k, m]) => [k, renderClusterYaml(m, KEY)])));
    for (const [name, m] of Object.entries(CASES)) {
      const v = verdicts.get(name);
      expect(v, name).toMatchObject({ ok: true, cluster_name: m.run_id, max_workers: m.render_inputs.workers });
      expect(v?.node_types?.['ray-worker-default'], name).toEqual({ min_workers: m.render_inputs.workers, max_workers: m.render_inputs.workers });
      expect(v?.node_types?.['ray-head-default'], name).toEqual({ min_workers: 0, max_workers: 0 });
    }
    expect(code).toBe(0);
  });

  it('refuses broken configs, so the check can fail', () => {
    const good = parse(renderClusterYaml(clusterManifest(), KEY)) as Record<string, unknown>;
    const types = good.available_node_types as Record<string, Record<string, unknown>>;
    const broken: Record<string, Record<string, unknown>> = {
      'unknown-key': { ...good, not_a_ray_field: 1 },
      'no-head-type': { ...good, head_node_type: 'ray-missing' },
      'min-over-max': { ...good, max_workers: 1 },
      'workers-as-text': { ...good, available_node_types: { ...types, 'ray-worker-default': { ...types['ray-worker-default'], max_workers: 'four' } } },
    };
    const { code, verdicts } = rayCheck({ ...Object.fromEntries(Object.entries(broken).map(([k, v]) => [k, stringify(v)])), fine: stringify(good) });
    expect(verdicts.get('unknown-key')?.error).toMatch(/^ValidationError: Additional properties are not allowed \('not_a_ray_field' was unexpected\)/);
    expect(verdicts.get('no-head-type')?.error).toMatch(/head_node_type|ray-missing/);
    expect(verdicts.get('min-over-max')?.error).toContain('smaller than the sum of `min_workers`');
    expect(verdicts.get('workers-as-text')?.error).toMatch(/^ValidationError: 'four' is not of type 'integer'/);
    expect(verdicts.get('fine')?.ok).toBe(true);
    expect(code).toBe(1);
  });
});

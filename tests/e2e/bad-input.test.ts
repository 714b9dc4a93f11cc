// Bad input writes nothing: one case per kind of failure through the built action, run as the
// runner does on a real git repo, aimed at a real bucket on the GCS emulator and a Ray Jobs API
// double (not a dry run), so "nothing written" means no object, no request, no output, no
// summary but the failure's, and no file outside the step's own file-command files. The full
// matrix of bad inputs runs in-process: tests/unit/preflight-matrix.test.ts.
import { appendFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import {
  copyRepo,
  type demoRepo,
  errors,
  everythingWritten,
  removeDir,
  runAction,
  TEST_KEYS,
  templateRepo,
  treeSnapshot,
  validInputs,
} from '../helpers/action.js';
import { createBucket, emulatorHost, listAll, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster } from '../helpers/ray.js';

type Repo = ReturnType<typeof demoRepo>;

interface Case {
  name: string;
  extra?: Record<string, string>;
  env?: Record<string, string | undefined>;
  /** Changes the repo before the run; such cases get a copy of their own. */
  mutate?: (repo: Repo) => void;
  /** Exact text the error annotations must contain: the input, the bad value and the fix. */
  error: string[];
}

const cases: Case[] = [
  {
    name: 'a bad input value',
    extra: { patience: 'three' },
    error: ["patience: 'three' is not a whole number (fix: use a whole number from 0 up)"],
  },
  {
    name: 'a combination the combo rules reject',
    extra: { framework: 'pydantic_ai_otf_encode' },
    error: [
      'slayer-setup: framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup pre-encoded (fix: see the combo table in the README (SLayer combos))',
    ],
  },
  {
    name: 'a missing API key (an empty secret, as on a fork PR)',
    env: { ANTHROPIC_API_KEY: '' },
    error: [
      'env: missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001)',
      'Pass each one to this step with `env:`',
      'On a pull request from a fork GitHub passes secrets as empty strings',
    ],
  },
  {
    name: 'a dirty worktree',
    mutate: (r) => appendFileSync(join(r.workspace, 'pyproject.toml'), '# edit\n'),
    error: [
      'uncommitted change under a tracked input',
      "tracked-inputs: uncommitted changes under image-input paths: ['pyproject.toml'] (fix: commit or revert those changes, or set allow-dirty: true",
    ],
  },
  {
    name: 'a missing artifact',
    mutate: (r) => rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true }),
    error: [
      'slayer-models-root: cloud slayer: local SLayer setup missing for news (is missing) under ',
      '(fix: commit the DB models under slayer_models/, or set slayer-models-root)',
    ],
  },
];

describe('bad input writes nothing: no object, no request, no output', () => {
  let template: Repo;
  let bucket: string;
  let sim: RaySim;
  beforeAll(async () => {
    template = templateRepo(['alien', 'credit', 'news']);
    bucket = uniqueBucketName('bad-input');
    await createBucket(bucket);
    sim = await startCluster({ bucket, datasetFile: template.datasetFile });
  });
  afterAll(async () => {
    await sim.close();
    removeDir(template.root);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const repo = c.mutate ? copyRepo(template) : template;
    try {
      c.mutate?.(repo);
      const before = treeSnapshot(repo.root);
      const r = await runAction({
        workspace: repo.workspace,
        inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true', ...c.extra }),
        env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost(), ...c.env },
      });
      expect(r.exitCode).toBe(1);
      const err = errors(r);
      for (const e of c.error) expect(err).toContain(e);
      expect(err).toMatch(/^bird-cloud-action: /m);
      expect(await listAll(bucket)).toEqual([]);
      expect(sim.requests).toEqual([]);
      expect(r.outputs).toEqual({});
      // The summary is the failure alone: where it stopped, the problems, nothing left behind.
      expect(r.summary).toMatch(/^## BIRD-Interact( run `test-run-0001`)?\n\n### ❌ Stopped at preflight\n/);
      expect(r.summary).toContain('**Left behind:** nothing: no upload, no manifest, nothing dispatched');
      expect(r.summary).not.toContain('<details>');
      expect(treeSnapshot(repo.root)).toEqual(before);
      expect(readdirSync(r.runnerTemp)).toEqual(['_runner_file_commands']);
      for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
    } finally {
      if (repo !== template) removeDir(repo.root);
    }
  });
});

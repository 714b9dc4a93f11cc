// Every framework × query mode × slayer setup as a dry run on the real fixture tree (27 DBs, 491
// files), in-process (tests/helpers/in-process.ts): the minted run id, the artifact and the plan.
// tests/e2e/dry-run.test.ts runs the dry run through the built action.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/time.js';
import { FRAMEWORKS } from '../../src/inputs/combos.js';
import { GCE_NAME_PATTERN, workerNodeName } from '../../src/inputs/run-id.js';
import type { RunPlan } from '../../src/plan/plan.js';
import { FIXTURE_MODELS, fixtureDbs, git } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, removeDir, TEST_KEYS, validInputs } from '../helpers/action.js';
import { runInProcess } from '../helpers/in-process.js';
import { stepFiles } from '../helpers/step-files.js';

type Repo = ReturnType<typeof demoRepo>;
const files = stepFiles('dry-run-combos');

function readPlan(path: string): RunPlan {
  return JSON.parse(readFileSync(path, 'utf8')) as RunPlan;
}

describe('a dry run of every combo on the real fixture tree', () => {
  let repo: Repo;
  beforeAll(() => {
    repo = demoRepo();
    // Combo 2 and 3 artifacts, built from the same fixture with their completeness markers.
    for (const [root, marker] of [
      ['slayer_otf_cache', '_cache_fp.txt'],
      ['slayer_models_otf', '_reference_fp.txt'],
    ] as const) {
      for (const db of repo.dbs) {
        cpSync(join(FIXTURE_MODELS, db), join(repo.workspace, root, db), { recursive: true });
        writeFileSync(join(repo.workspace, root, db, marker), '0123456789abcdef');
        writeFileSync(join(repo.workspace, root, db, '_kb_rows.json'), '[]');
      }
    }
    writeFileSync(join(repo.workspace, '.gitignore'), 'slayer_otf_cache/\nslayer_models_otf/\n');
    git(repo.workspace, ['commit', '-qam', 'ignore otf dirs']);
  });
  afterAll(() => {
    removeDir(repo.root);
    files.remove();
  });
  beforeEach(() => files.reset());

  const combos: Array<[framework: string, queryMode: string, setup: string, artifact: string]> = Object.keys(FRAMEWORKS).flatMap((f) =>
    f === 'pydantic_ai_otf_encode'
      ? [[f, 'slayer', 'on-the-fly', 'slayer_models_otf'] as [string, string, string, string]]
      : [
          [f, 'raw', 'pre-encoded', 'none'] as [string, string, string, string],
          [f, 'slayer', 'pre-encoded', 'slayer_models'] as [string, string, string, string],
          ...(f === 'pydantic_ai_recursive' ? [[f, 'slayer', 'on-the-fly', 'slayer_otf_cache'] as [string, string, string, string]] : []),
        ],
  );

  it.each(combos)('%s / %s / %s: minted run id fits GCE node names, artifact %s', async (framework, queryMode, setup, artifact) => {
    const inputs = validInputs(repo, { framework, 'query-mode': queryMode, 'slayer-setup': setup, 'run-id': '' });
    const r = await runInProcess({ inputs, env: TEST_KEYS, workspace: repo.workspace, clock: systemClock, files });
    expect(r.errors).toBe('');
    expect(r.exitCode).toBe(0);
    const runId = r.outputs['run-id'];
    expect(runId).toMatch(new RegExp(`^\\d{8}t\\d{4}-[a-z]+-${queryMode}-[0-9a-f]{6}$`));
    expect(runId.length).toBeLessThanOrEqual(35);
    expect(workerNodeName(runId).length).toBeLessThanOrEqual(63);
    expect(workerNodeName(runId)).toMatch(GCE_NAME_PATTERN);
    expect(r.outputs.artifact).toBe(artifact);
    const plan = readPlan(r.outputs['plan-file']);
    expect(plan.dbs).toEqual(fixtureDbs());
    expect(plan.artifacts.reduce((n, a) => n + a.files.length, 0)).toBe(artifact === 'none' ? 0 : artifact === 'slayer_models' ? 491 : 491 + 2 * 27);
  });
});

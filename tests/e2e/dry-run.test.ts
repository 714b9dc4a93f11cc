// The dry run on the real fixture tree: 27 DBs, 491 files, every framework × query mode.
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAMEWORKS } from '../../src/inputs/combos.js';
import { GCE_NAME_PATTERN, workerNodeName } from '../../src/inputs/run-id.js';
import type { RunPlan } from '../../src/plan/plan.js';
import { FIXTURE_MODELS, fixtureDbs, git } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, everythingWritten, maskedValues, NODE24, removeDir, runAction, TEST_KEYS, tempDir, validInputs } from '../helpers/action.js';

type Repo = ReturnType<typeof demoRepo>;

function walkFiles(dir: string, rel = ''): string[] {
  return readdirSync(join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? walkFiles(dir, r) : [r];
  });
}

function readPlan(path: string): RunPlan {
  return JSON.parse(readFileSync(path, 'utf8')) as RunPlan;
}

describe('dry run on the real fixture tree', () => {
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
  afterAll(() => removeDir(repo.root));

  it('finds 27 DBs and 491 files, with _notes/ left out', () => {
    expect(fixtureDbs()).toHaveLength(27);
    expect(fixtureDbs()).not.toContain('_notes');
    expect(fixtureDbs().reduce((n, db) => n + walkFiles(join(FIXTURE_MODELS, db)).length, 0)).toBe(491);
  });

  it('plans all 27 DBs with the exact files, sizes and md5s', async () => {
    const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.outputs.dbs)).toEqual(fixtureDbs());
    expect(r.outputs.artifact).toBe('slayer_models');
    expect(r.outputs['run-id']).toBe('test-run-0001');
    const plan = readPlan(r.outputs['plan-file']);
    expect(plan.artifacts.map((a) => a.db)).toEqual(fixtureDbs());
    expect(plan.artifacts.reduce((n, a) => n + a.files.length, 0)).toBe(491);
    for (const a of plan.artifacts) {
      const local = walkFiles(join(FIXTURE_MODELS, a.db)).sort();
      expect(a.files.map((f) => f.path)).toEqual(local);
      for (const f of a.files) {
        const bytes = readFileSync(join(FIXTURE_MODELS, a.db, f.path));
        expect(f.size).toBe(bytes.length);
        expect(f.md5).toBe(createHash('md5').update(bytes).digest('base64'));
      }
      expect(plan.manifest.slayer_artifacts.dbs[a.db]).toEqual({ files: a.files.length, bytes: a.bytes, digest: a.digest });
    }
    expect(Object.keys(plan.manifest.instance_databases)).toEqual(repo.allIds);
    expect(plan.manifest.instance_ids).toEqual(repo.allIds);
    // The summary has one row per DB plus the total.
    for (const db of fixtureDbs()) expect(r.summary).toContain(`| \`${db}\` | 2 | `);
    expect(r.summary).toContain('| **total** | 54 | 491 |');
    // A dry run's summary is the plan, open.
    expect(r.summary).toMatch(/^## BIRD-Interact run `test-run-0001` \(dry run\)\n/);
    expect(r.summary).toContain('### Plan: 54 instances in 27 DBs; slayer_models: 491 files, ');
    expect(r.summary).not.toContain('<details>');
  });

  it('gives the same plan for the same inputs', async () => {
    const runnerTemp = tempDir('runner-temp');
    try {
      const a = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS, runnerTemp });
      const planA = readFileSync(a.outputs['plan-file'], 'utf8');
      const b = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS, runnerTemp });
      expect(readFileSync(b.outputs['plan-file'], 'utf8')).toBe(planA);
    } finally {
      removeDir(runnerTemp);
    }
  });

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
    const r = await runAction({ workspace: repo.workspace, inputs, env: TEST_KEYS });
    expect(errors(r)).toBe('');
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

  it('never writes a key, a header value or the token anywhere, and masks each one', async () => {
    const header = 'Bearer ray-TESTSECRET-77c1';
    const token = 'ghs_TESTSECRET_token_91';
    const r = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'ray-headers': JSON.stringify({ Authorization: header }) }),
      env: TEST_KEYS,
      githubToken: token,
    });
    expect(r.exitCode).toBe(0);
    expect(maskedValues(r).sort()).toEqual([TEST_KEYS.ANTHROPIC_API_KEY, TEST_KEYS.OPENAI_API_KEY, header, token].sort());
    const files = walkFiles(r.runnerTemp).map((f) => readFileSync(join(r.runnerTemp, f), 'utf8'));
    const written = [everythingWritten(r), ...files].join('\n');
    expect(written).toContain('test-run-0001');
    expect(readPlan(r.outputs['plan-file']).settings.dispatch.rayHeaders).toEqual({ Authorization: '***' });
    for (const v of [...Object.values(TEST_KEYS), header, token]) expect(written).not.toContain(v);
  });

  it('runs the same under Node 24', async () => {
    const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS, node: NODE24 });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(readPlan(r.outputs['plan-file']).artifacts).toHaveLength(27);
  });
});

// The dry run on the real fixture tree through the built action: 27 DBs, 491 files. Every framework ×
// query mode × setup runs in-process: tests/integration/dry-run-combos.test.ts.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunPlan } from '../../src/plan/plan.js';
import { FIXTURE_MODELS, fixtureDbs } from '../../tools/demo/demo-repo.mjs';
import type { StepResult } from '../../tools/harness/run-action.mjs';
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
  // The first dry run's RUNNER_TEMP: a second run there must write the same plan.
  let runnerTemp: string;
  let first: StepResult;
  beforeAll(async () => {
    repo = demoRepo();
    runnerTemp = tempDir('runner-temp');
    first = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS, runnerTemp });
  });
  afterAll(() => {
    removeDir(repo.root);
    removeDir(runnerTemp);
  });

  it('finds 27 DBs and 491 files, with _notes/ left out', () => {
    expect(fixtureDbs()).toHaveLength(27);
    expect(fixtureDbs()).not.toContain('_notes');
    expect(fixtureDbs().reduce((n, db) => n + walkFiles(join(FIXTURE_MODELS, db)).length, 0)).toBe(491);
  });

  it('plans all 27 DBs with the exact files, sizes and md5s', () => {
    const r = first;
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
    // The log: one folded group for the plan with a line per DB, no file names outside debug
    // lines, and the job's command line with its ids abbreviated.
    const plain = r.stdout.split('\n').filter((l) => !l.startsWith('::'));
    expect(r.stdout).toMatch(/^::group::plan: 27 DB\(s\), 491 files, 2\.\d MiB$/m);
    for (const db of fixtureDbs()) expect(plain.filter((l) => l.startsWith(`${db}: 2 instance(s) (${db}_1, ${db}_2), `))).toHaveLength(1);
    expect(r.stdout).toContain('::debug::alien/datasources/alien.yaml  ');
    expect(plain.filter((l) => l.includes('datasources/alien.yaml'))).toEqual([]);
    const args = plain.find((l) => l.startsWith('job arguments: ')) ?? '';
    expect(args).toContain(`--instance-ids ${repo.allIds.slice(0, 5).join(',')},… (54 ids)`);
    expect(args.length).toBeLessThan(1000);
  });

  it('gives the same plan for the same inputs', async () => {
    const planA = readFileSync(first.outputs['plan-file'], 'utf8');
    const b = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS, runnerTemp });
    expect(b.outputs['plan-file']).toBe(first.outputs['plan-file']);
    expect(readFileSync(b.outputs['plan-file'], 'utf8')).toBe(planA);
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

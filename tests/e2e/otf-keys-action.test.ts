// The built otf-keys sub-action (dist/otf-keys/index.js), run as the runner runs it: otf-keys/action.yml
// with `main: ../dist/otf-keys/index.js`, INPUT_* from `with:` plus the defaults, outputs read back
// from GITHUB_OUTPUT. Run under this Node and under Node 24 when tools/node24 is installed.
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbInputFiles } from '../../src/otf/key-material.js';
import { fixtureDbs, REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { readActionYml } from '../../tools/harness/run-action.mjs';
import { errors, NODE24, removeDir, runAction, tempDir, warnings } from '../helpers/action.js';
import { GIT_ENV, gitIn } from '../helpers/git.js';

const OTF_KEYS_DIR = join(REPO_ROOT, 'otf-keys');

interface Tree {
  dir: string;
  workspace: string;
  root: string;
}

/** A checkout of the evaluation repo (git, with the encode code under src/) and a mini-interact root. */
function makeTree(dbs: string[]): Tree {
  const dir = tempDir('otf-keys-e2e');
  const workspace = join(dir, 'eval-repo');
  const root = join(dir, 'mini-interact');
  mkdirSync(join(workspace, 'src', 'bird_interact_agents'), { recursive: true });
  writeFileSync(
    join(workspace, 'uv.lock'),
    'version = 1\n\n[[package]]\nname = "slayer"\nversion = "0.9.0"\nsource = { registry = "https://pypi.org/simple" }\n',
  );
  writeFileSync(join(workspace, 'pyproject.toml'), '[project]\nname = "bird-interact-agents"\n');
  writeFileSync(join(workspace, 'src', 'bird_interact_agents', 'otf.py'), 'def ensure_db_cache(db):\n    return db\n');
  writeFileSync(join(workspace, '.gitignore'), '__pycache__/\n');
  for (const args of [
    ['init', '-q', '-b', 'main'],
    ['add', '-A'],
    ['commit', '-q', '-m', 'fixture'],
  ]) {
    gitIn(workspace, ...args);
  }
  const lines: string[] = [];
  for (const db of dbs) {
    mkdirSync(join(root, db), { recursive: true });
    for (const f of dbInputFiles(db)) writeFileSync(join(root, db, f), `${f} of ${db}\n`);
    lines.push(JSON.stringify({ instance_id: `${db}_1`, selected_database: db }));
  }
  writeFileSync(join(root, 'mini_interact.jsonl'), `${lines.join('\n')}\n`);
  return { dir, workspace, root };
}

const nodes: Array<[string, string | undefined]> = [['this node', undefined]];
if (existsSync(NODE24)) nodes.push(['node 24', NODE24]);

describe('otf-keys sub-action (built)', () => {
  let t: Tree;
  const dbs = fixtureDbs();
  beforeAll(() => {
    t = makeTree(dbs);
  });
  afterAll(() => removeDir(t.dir));

  it('is a node24 action whose main resolves to the built bundle', () => {
    const action = readActionYml(OTF_KEYS_DIR);
    expect(action.runs).toEqual({ using: 'node24', main: '../dist/otf-keys/index.js' });
    expect(existsSync(join(OTF_KEYS_DIR, action.runs.main))).toBe(true);
  });

  for (const [label, node] of nodes) {
    it(`outputs the matrix, keys and paths of all 27 DBs (${label})`, async () => {
      const r = await runAction({
        actionDir: OTF_KEYS_DIR,
        node,
        workspace: t.workspace,
        inputs: { framework: 'pydantic_ai_recursive', dbs: JSON.stringify(dbs) },
        env: { BIRD_DB_PATH: t.root },
      });
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      const matrix = JSON.parse(r.outputs.matrix) as { include: Array<{ db: string; key: string; path: string }> };
      expect(matrix.include.map((m) => m.db)).toEqual(dbs);
      const keys = JSON.parse(r.outputs.keys) as Record<string, string>;
      for (const m of matrix.include) {
        expect(m.key).toBe(keys[m.db]);
        expect(m.key).toMatch(new RegExp(`^bird-otf-v1-slayer_otf_cache-${m.db}-[0-9a-f]{32}$`));
        expect(m.path).toBe(`slayer_otf_cache/${m.db}`);
      }
      expect(JSON.parse(r.outputs.dbs)).toEqual(dbs);
      expect(r.outputs).toMatchObject({
        artifact: 'slayer_otf_cache',
        'artifact-root': 'slayer_otf_cache',
        'otf-cache-root': 'slayer_otf_cache',
        marker: '_cache_fp.txt',
      });
      expect(r.summary).toContain('### OTF cache keys (slayer_otf_cache, 27 DBs)');
      expect(r.stdout).toContain('SLayer slayer 0.9.0');
    });
  }

  it('gives the same key per DB from instance ids, and combo 3 keys from the reference model', async () => {
    const fromDbs = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai_recursive', dbs: 'alien, credit' },
      env: { BIRD_DB_PATH: t.root },
    });
    const fromIds = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai_recursive', 'instance-ids': 'credit_1,alien_1', 'mini-interact-root': t.root },
    });
    expect(errors(fromIds)).toBe('');
    expect(fromIds.outputs.keys).toBe(fromDbs.outputs.keys);

    const combo3 = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai_otf_encode', dbs: 'alien', 'reference-model': 'anthropic/claude-sonnet-4-5', 'models-otf-root': 'refs' },
      env: { BIRD_DB_PATH: t.root },
    });
    expect(errors(combo3)).toBe('');
    expect(combo3.outputs).toMatchObject({ artifact: 'slayer_models_otf', 'artifact-root': 'refs', marker: '_reference_fp.txt' });
    expect(JSON.parse(combo3.outputs.matrix)).toEqual({
      include: [{ db: 'alien', key: expect.stringMatching(/^bird-otf-v1-slayer_models_otf-alien-[0-9a-f]{32}$/), path: 'refs/alien' }],
    });
  });

  it('changes every key, and only the keys, when the encode code changes; an ignored file changes nothing', async () => {
    const run = () =>
      runAction({
        actionDir: OTF_KEYS_DIR,
        workspace: t.workspace,
        inputs: { framework: 'pydantic_ai_recursive', dbs: 'alien, credit' },
        env: { BIRD_DB_PATH: t.root, ...GIT_ENV },
      });
    const before = await run();
    expect(errors(before)).toBe('');
    expect(before.stdout).toMatch(/encoder code [0-9a-f]{12} \(3 files under uv\.lock pyproject\.toml src\/\)/);
    mkdirSync(join(t.workspace, 'src', 'bird_interact_agents', '__pycache__'), { recursive: true });
    writeFileSync(join(t.workspace, 'src', 'bird_interact_agents', '__pycache__', 'otf.cpython-312.pyc'), 'ignored');
    expect((await run()).outputs).toEqual(before.outputs);

    appendFileSync(join(t.workspace, 'src', 'bird_interact_agents', 'otf.py'), '# changed\n');
    const after = await run();
    expect(errors(after)).toBe('');
    const keysBefore = JSON.parse(before.outputs.keys) as Record<string, string>;
    const keysAfter = JSON.parse(after.outputs.keys) as Record<string, string>;
    for (const db of ['alien', 'credit']) expect(keysAfter[db], db).not.toBe(keysBefore[db]);
    const rest = (o: Record<string, string>) => ({ ...o, keys: '', matrix: '' });
    expect(rest(after.outputs)).toEqual(rest(before.outputs));
  });

  it('refuses encoder-paths outside the repository, naming the input, the value and the fix', async () => {
    const r = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai_recursive', dbs: 'alien', 'encoder-paths': 'src/, ../bird-cloud-action' },
      env: { BIRD_DB_PATH: t.root, ...GIT_ENV },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toBe(
      "otf-keys: invalid input: encoder-paths: '../bird-cloud-action' must be a path inside the repository (no absolute path, no ..) (fix: give paths relative to the repository root, separated by spaces or commas, such as the default uv.lock pyproject.toml src/)",
    );
    expect(r.outputs).toEqual({});
  });

  it('warns about an input combo 2 ignores', async () => {
    const r = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai_recursive', dbs: 'alien', 'reference-model': 'openai/gpt-5' },
      env: { BIRD_DB_PATH: t.root },
    });
    expect(r.exitCode).toBe(0);
    expect(warnings(r)).toMatch(/reference-model 'openai\/gpt-5' is ignored for framework pydantic_ai_recursive/);
  });

  it('fails once, listing every problem with its input, and writes no output', async () => {
    const r = await runAction({
      actionDir: OTF_KEYS_DIR,
      workspace: t.workspace,
      inputs: { framework: 'pydantic_ai', dbs: 'alien,no_such_db', 'uv-lock': 'nope.lock' },
      env: { BIRD_DB_PATH: t.root },
    });
    expect(r.exitCode).toBe(1);
    const message = errors(r);
    expect(message).toMatch(/^otf-keys: 3 input problems:/);
    expect(message).toContain(
      "framework: 'pydantic_ai' has no on-the-fly setup to encode (fix: set framework to pydantic_ai_recursive (combo 2) or pydantic_ai_otf_encode (combo 3))",
    );
    expect(message).toContain(`uv-lock: '${join(t.workspace, 'nope.lock')}' does not exist`);
    expect(message).toContain(
      `mini-interact-root: DB 'no_such_db' is missing no_such_db.sqlite, no_such_db_column_meaning_base.json, no_such_db_kb.jsonl under ${join(t.root, 'no_such_db')}`,
    );
    expect(r.outputs).toEqual({});
  });
});

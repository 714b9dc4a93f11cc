// The per-DB OTF cache keys (docs/reference/otf-encode.md#cache-keys): the pure parts, then the real file hashing on a generated
// mini-interact root holding the fixture's 27 DB names (the fixture has no dataset files, so each
// test tree gets small fake <db>.sqlite, <db>_column_meaning_base.json and <db>_kb.jsonl).
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemList, ProblemsError } from '../../src/common/errors.js';
import { computeKeys } from '../../src/otf/compute.js';
import { type OtfSettings, parseOtfSettings, workflowPath } from '../../src/otf/inputs.js';
import {
  cacheKey,
  dbInputFiles,
  encoderHash,
  findLockedPackage,
  KEY_HASH_CHARS,
  type KeyMaterial,
  keyHash,
  keyMaterialText,
  OTF_FRAMEWORKS,
  OtfInputs,
  outputValues,
  parseDbList,
  parseEncoderPaths,
  parseUvLockPackages,
} from '../../src/otf/key-material.js';
import { fixtureDbs } from '../../tools/demo/demo-repo.mjs';
import { removeDir, tempDir } from '../helpers/action.js';
import { gitIn } from '../helpers/git.js';

const UV_LOCK = `version = 1
revision = 2
requires-python = ">=3.11"

[[package]]
name = "anyio"
version = "4.9.0"
source = { registry = "https://pypi.org/simple" }
dependencies = [
    { name = "idna" },
    { name = "slayer", marker = "extra == 'x'" },
]
sdist = { url = "https://example.invalid/anyio-4.9.0.tar.gz", hash = "sha256:00" }

[[package]]
name = "bird-interact-agents"
version = "0.1.0"
source = { editable = "." }
dependencies = [
    { name = "slayer" },
]

[package.optional-dependencies]
dev = [
    { name = "pytest" },
]

[[package]]
name = "slayer"
version = "0.9.0"
source = { registry = "https://pypi.org/simple" }
wheels = [
    { url = "https://example.invalid/slayer-0.9.0-py3-none-any.whl", hash = "sha256:11" },
]
`;

/** Reads inputs from a plain object, as the runner would give them (unset = ''). */
function reader(inputs: Partial<Record<OtfInputs, string>>) {
  return (name: OtfInputs): string => inputs[name] ?? '';
}

interface Tree {
  dir: string;
  workspace: string;
  root: string;
  dbs: string[];
}

const git = gitIn;

/** The evaluation repo's encode code in the fixture workspace (the default encoder-paths). */
const ENCODER_FILES: Record<string, string> = {
  'pyproject.toml': '[project]\nname = "bird-interact-agents"\n',
  'src/bird_interact_agents/otf/encode.py': 'def ensure_db_cache(db):\n    return db\n',
  'src/bird_interact_agents/otf.py': 'VERSION = 1\n',
};

/** A git workspace with uv.lock and the encode code, and a mini-interact root with fake dataset files for every fixture DB. */
function makeTree(dbs = fixtureDbs()): Tree {
  const dir = tempDir('otf-keys');
  const workspace = join(dir, 'eval-repo');
  const root = join(dir, 'mini-interact');
  mkdirSync(join(workspace, 'src', 'bird_interact_agents', 'otf'), { recursive: true });
  writeFileSync(join(workspace, 'uv.lock'), UV_LOCK);
  for (const [rel, text] of Object.entries(ENCODER_FILES)) writeFileSync(join(workspace, ...rel.split('/')), text);
  writeFileSync(join(workspace, '.gitignore'), '__pycache__/\nslayer_otf_cache/\n');
  git(workspace, 'init', '-q', '-b', 'main');
  git(workspace, 'add', '-A');
  git(workspace, 'commit', '-q', '-m', 'fixture');
  const lines: string[] = [];
  for (const db of dbs) {
    mkdirSync(join(root, db), { recursive: true });
    const [sqlite, meaning, kb] = dbInputFiles(db);
    writeFileSync(join(root, db, sqlite), Buffer.from(`SQLite format 3\0${db}`));
    writeFileSync(join(root, db, meaning), JSON.stringify({ [`${db}|t|c`]: 'a column' }));
    writeFileSync(join(root, db, kb), `${JSON.stringify({ id: 0, knowledge: `${db} fact` })}\n`);
    lines.push(JSON.stringify({ instance_id: `${db}_1`, selected_database: db }), JSON.stringify({ instance_id: `${db}_2`, selected_database: db }));
  }
  writeFileSync(join(root, 'mini_interact.jsonl'), `${lines.join('\n')}\n`);
  return { dir, workspace, root, dbs };
}

function settings(t: Tree, over: Partial<Record<OtfInputs, string>> = {}, env: NodeJS.ProcessEnv = {}): OtfSettings {
  return parseOtfSettings(
    reader({ [OtfInputs.Framework]: 'pydantic_ai_recursive', [OtfInputs.Dbs]: JSON.stringify(t.dbs), [OtfInputs.MiniInteractRoot]: t.root, ...over }),
    { GITHUB_WORKSPACE: t.workspace, ...env },
  );
}

async function keysOf(t: Tree, over: Partial<Record<OtfInputs, string>> = {}): Promise<Record<string, string>> {
  const { keys } = await computeKeys(settings(t, over));
  return Object.fromEntries(keys.map((k) => [k.db, k.key]));
}

/** The DBs whose key differs between two key maps. */
function changed(a: Record<string, string>, b: Record<string, string>): string[] {
  return Object.keys(a).filter((db) => a[db] !== b[db]);
}

async function failure(p: Promise<unknown> | (() => unknown)): Promise<ProblemsError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof ProblemsError) return e;
    throw e;
  }
  throw new Error('expected a ProblemsError');
}

describe('otf keys: pure parts', () => {
  it('knows exactly the two on-the-fly frameworks', () => {
    expect([...OTF_FRAMEWORKS].sort()).toEqual(['pydantic_ai_otf_encode', 'pydantic_ai_recursive']);
  });

  it('reads a DB list as a JSON array or a comma/space list', () => {
    expect(parseDbList('["alien", "credit"]')).toEqual({ dbs: ['alien', 'credit'], error: null });
    expect(parseDbList('alien, credit\npolar')).toEqual({ dbs: ['alien', 'credit', 'polar'], error: null });
    expect(parseDbList('[alien]').error).toMatch(/not valid JSON/);
    expect(parseDbList('[1, 2]').error).toMatch(/not a JSON array of strings/);
  });

  it('reads only the top-level name, version and source of each [[package]] of uv.lock', () => {
    const pkgs = parseUvLockPackages(UV_LOCK);
    expect(pkgs.map((p) => p.name)).toEqual(['anyio', 'bird-interact-agents', 'slayer']);
    expect(findLockedPackage(pkgs, 'slayer')).toEqual([{ name: 'slayer', version: '0.9.0', source: '{ registry = "https://pypi.org/simple" }' }]);
    // PEP 503 normalisation: case and runs of -_. are the same name.
    expect(findLockedPackage(parseUvLockPackages(UV_LOCK.replace('\nname = "slayer"', '\nname = "SLayer"')), 'slayer')).toHaveLength(1);
    expect(findLockedPackage(parseUvLockPackages(UV_LOCK.replace('\nname = "slayer"', '\nname = "motley_slayer"')), 'motley-slayer')).toHaveLength(1);
    // Dependency lines ({ name = "slayer" }) are not packages.
    expect(findLockedPackage(parseUvLockPackages(UV_LOCK.replace('\nname = "slayer"', '\nname = "other"')), 'slayer')).toEqual([]);
  });

  it('keeps a git-pinned package apart by its source, not only its version', () => {
    const git = (sha: string) =>
      UV_LOCK.replace(
        'source = { registry = "https://pypi.org/simple" }\nwheels',
        `source = { git = "https://github.com/motley/slayer?rev=main#${sha}" }\nwheels`,
      );
    const [a] = findLockedPackage(parseUvLockPackages(git('a'.repeat(40))), 'slayer');
    const [b] = findLockedPackage(parseUvLockPackages(git('b'.repeat(40))), 'slayer');
    expect(a.version).toBe(b.version);
    expect(a.source).not.toBe(b.source);
  });

  const material: KeyMaterial = {
    db: 'alien',
    framework: 'pydantic_ai_recursive',
    embeddingModel: 'openai/text-embedding-3-small',
    referenceModel: '',
    slayer: [{ name: 'slayer', version: '0.9.0', source: '{ registry = "https://pypi.org/simple" }' }],
    encoder: 'e'.repeat(64),
    files: dbInputFiles('alien').map((name, i) => ({ name, size: i, sha256: String(i).repeat(64) })),
  };

  it('hashes every input by name, the reference model only for combo 3', () => {
    const text = keyMaterialText(material);
    expect(text.split('\n')).toEqual([
      'bird-otf-key/2',
      'db=alien',
      'artifact=slayer_otf_cache',
      'framework=pydantic_ai_recursive',
      'embedding-model=openai/text-embedding-3-small',
      'slayer=slayer 0.9.0 { registry = "https://pypi.org/simple" }',
      `encoder=${'e'.repeat(64)}`,
      `file=alien.sqlite size=0 sha256=${'0'.repeat(64)}`,
      `file=alien_column_meaning_base.json size=1 sha256=${'1'.repeat(64)}`,
      `file=alien_kb.jsonl size=2 sha256=${'2'.repeat(64)}`,
      '',
    ]);
    expect(keyHash({ ...material, referenceModel: 'x/y' })).toBe(keyHash(material));
    const combo3 = { ...material, framework: 'pydantic_ai_otf_encode' as const, referenceModel: 'anthropic/claude-sonnet-4-5' };
    expect(keyMaterialText(combo3)).toContain('artifact=slayer_models_otf\n');
    expect(keyMaterialText(combo3)).toContain('reference-model=anthropic/claude-sonnet-4-5\n');
    expect(keyHash({ ...combo3, referenceModel: 'openai/gpt-5' })).not.toBe(keyHash(combo3));
    expect(keyHash({ ...material, encoder: 'f'.repeat(64) })).not.toBe(keyHash(material));
  });

  it('hashes the encoder code as path, NUL, size, NUL and bytes per file, in the order given (hand-computed)', () => {
    const files = [
      { path: 'src/a.py', bytes: Buffer.from('A\0B') },
      { path: 'uv.lock', bytes: Buffer.alloc(0) },
    ];
    const byHand = createHash('sha256').update(Buffer.from('src/a.py\x003\x00A\x00Buv.lock\x000\x00', 'latin1')).digest('hex');
    expect(encoderHash(files)).toBe(byHand);
    // The size keeps records apart: moving bytes from one file into the next one's path does not collide.
    expect(encoderHash([{ path: 'a', bytes: Buffer.from('b\x000\x00') }])).not.toBe(
      encoderHash([
        { path: 'a', bytes: Buffer.alloc(0) },
        { path: 'b', bytes: Buffer.alloc(0) },
      ]),
    );
  });

  it('reads encoder-paths separated by spaces, commas or newlines, and refuses paths outside the repository', () => {
    expect(parseEncoderPaths('')).toEqual({ paths: ['uv.lock', 'pyproject.toml', 'src/'], bad: [] });
    expect(parseEncoderPaths(' src/, tools/encode.py\nuv.lock src/ ')).toEqual({ paths: ['src/', 'tools/encode.py', 'uv.lock'], bad: [] });
    expect(parseEncoderPaths('/etc src ../x a/../../b C:\\x a\\..\\b')).toEqual({ paths: ['src'], bad: ['/etc', '../x', 'a/../../b', 'C:\\x', 'a\\..\\b'] });
  });

  it('makes keys that name the artifact and the DB, and refuses an empty hash', () => {
    const hash = keyHash(material);
    expect(cacheKey('bird-otf-v1', 'slayer_otf_cache', 'alien', hash)).toBe(`bird-otf-v1-slayer_otf_cache-alien-${hash.slice(0, KEY_HASH_CHARS)}`);
    expect(() => cacheKey('bird-otf-v1', 'slayer_otf_cache', 'alien', '')).toThrow(/refusing a cache key for 'alien'/);
    expect(() => cacheKey('bird-otf-v1', 'slayer_otf_cache', 'alien', 'abc')).toThrow(/64 hex/);
  });

  it('outputs a matrix, a key map and the DB list, sorted by DB', () => {
    const out = outputValues({
      keys: [
        { db: 'credit', key: 'k-credit', path: 'slayer_otf_cache/credit' },
        { db: 'alien', key: 'k-alien', path: 'slayer_otf_cache/alien' },
      ],
      artifact: 'slayer_otf_cache',
      artifactRoot: 'slayer_otf_cache',
      otfCacheRoot: 'slayer_otf_cache',
    });
    expect(JSON.parse(out.matrix)).toEqual({
      include: [
        { db: 'alien', key: 'k-alien', path: 'slayer_otf_cache/alien' },
        { db: 'credit', key: 'k-credit', path: 'slayer_otf_cache/credit' },
      ],
    });
    expect(JSON.parse(out.keys)).toEqual({ alien: 'k-alien', credit: 'k-credit' });
    expect(JSON.parse(out.dbs)).toEqual(['alien', 'credit']);
    expect(out.marker).toBe('_cache_fp.txt');
    expect(outputValues({ keys: [], artifact: 'slayer_models_otf', artifactRoot: 'x', otfCacheRoot: 'y' }).marker).toBe('_reference_fp.txt');
  });

  it('gives workflow paths relative to the workspace when inside it', () => {
    expect(workflowPath('/ws/repo/slayer_otf_cache/alien', '/ws/repo')).toBe('slayer_otf_cache/alien');
    expect(workflowPath('/elsewhere/cache/alien', '/ws/repo')).toBe('/elsewhere/cache/alien');
  });
});

describe('otf keys: inputs', () => {
  const ws = { GITHUB_WORKSPACE: '/ws/repo' };
  const base = { [OtfInputs.Framework]: 'pydantic_ai_recursive', [OtfInputs.Dbs]: 'alien' };

  it('applies the defaults and the env fallbacks of the main action', () => {
    const s = parseOtfSettings(reader(base), ws);
    expect(s).toMatchObject({
      artifact: 'slayer_otf_cache',
      dbs: ['alien'],
      embeddingModel: 'openai/text-embedding-3-small',
      keyPrefix: 'bird-otf-v1',
      slayerPackage: 'slayer',
      uvLock: '/ws/repo/uv.lock',
      encoderPaths: ['uv.lock', 'pyproject.toml', 'src/'],
      miniInteractRoot: '/ws/mini-interact',
      artifactRoot: '/ws/repo/slayer_otf_cache',
      otfCacheRoot: '/ws/repo/slayer_otf_cache',
    });
    const env = { ...ws, BIRD_DB_PATH: '/data/mi', BIRD_OTF_CACHE_ROOT: '/cache', BIRD_SLAYER_MODELS_OTF_ROOT: 'refs' };
    expect(parseOtfSettings(reader(base), env)).toMatchObject({ miniInteractRoot: '/data/mi', artifactRoot: '/cache' });
    const combo3 = parseOtfSettings(reader({ ...base, [OtfInputs.Framework]: 'pydantic_ai_otf_encode', [OtfInputs.ReferenceModel]: 'openai/gpt-5' }), env);
    expect(combo3).toMatchObject({ artifact: 'slayer_models_otf', artifactRoot: '/ws/repo/refs', otfCacheRoot: '/cache', referenceModel: 'openai/gpt-5' });
  });

  it('drops a reference model that combo 2 does not use, with a note', () => {
    const s = parseOtfSettings(reader({ ...base, [OtfInputs.ReferenceModel]: 'openai/gpt-5' }), ws);
    expect(s.referenceModel).toBe('');
    expect(s.notes.join('\n')).toMatch(/reference-model 'openai\/gpt-5' is ignored/);
  });

  it('reports every bad input at once, each with the input, the value and the fix', async () => {
    const e = await failure(() =>
      parseOtfSettings(
        reader({
          [OtfInputs.Framework]: 'pydantic_ai',
          [OtfInputs.Dbs]: 'alien',
          [OtfInputs.InstanceIds]: 'alien_1',
          [OtfInputs.KeyPrefix]: 'a,b',
          [OtfInputs.EmbeddingModel]: 'open ai',
        }),
        ws,
      ),
    );
    const byInput = Object.fromEntries(e.problems.map((p) => [p.input, p]));
    expect(Object.keys(byInput).sort()).toEqual(['dbs', 'embedding-model', 'framework', 'key-prefix']);
    expect(byInput.framework.message).toBe("'pydantic_ai' has no on-the-fly setup to encode");
    expect(byInput.framework.fix).toBe('set framework to pydantic_ai_recursive (combo 2) or pydantic_ai_otf_encode (combo 3)');
    expect(byInput.dbs.message).toBe('dbs and instance-ids are all set');
    expect(byInput['key-prefix'].message).toBe("'a,b' is not a valid key prefix");
    expect(e.message).toMatch(/^4 input problems:/);
  });

  it('requires a reference model for combo 3, and one source of DBs', async () => {
    const e = await failure(() => parseOtfSettings(reader({ [OtfInputs.Framework]: 'pydantic_ai_otf_encode' }), ws));
    expect(e.problems.map((p) => `${p.input}: ${p.message}`)).toEqual([
      'reference-model: is required for framework pydantic_ai_otf_encode and is empty (the reference build runs an LLM setup encoder, so its model is part of the key)',
      'dbs: none of dbs, instance-ids and instance-ids-file is set',
    ]);
    const empty = await failure(() => parseOtfSettings(reader({ [OtfInputs.Framework]: '', [OtfInputs.Dbs]: 'alien' }), ws));
    expect(empty.problems[0]).toMatchObject({ input: 'framework', message: 'is required and is empty' });
  });

  it('refuses an encoder path outside the repository, naming encoder-paths, the value and the fix', async () => {
    const e = await failure(() => parseOtfSettings(reader({ ...base, [OtfInputs.EncoderPaths]: 'src/ ../vendor/encoder /opt/encoder' }), ws));
    expect(e.problems).toEqual([
      {
        input: 'encoder-paths',
        message: "'../vendor/encoder' must be a path inside the repository (no absolute path, no ..)",
        fix: 'give paths relative to the repository root, separated by spaces or commas, such as the default uv.lock pyproject.toml src/',
      },
      {
        input: 'encoder-paths',
        message: "'/opt/encoder' must be a path inside the repository (no absolute path, no ..)",
        fix: 'give paths relative to the repository root, separated by spaces or commas, such as the default uv.lock pyproject.toml src/',
      },
    ]);
    expect(e.message).toContain("encoder-paths: '../vendor/encoder' must be a path inside the repository");
    const none = await failure(() => parseOtfSettings(reader({ ...base, [OtfInputs.EncoderPaths]: ' , ' }), ws));
    expect(none.problems.map((p) => `${p.input}: ${p.message}`)).toEqual(["encoder-paths: ',' names no path"]);
  });

  it('rejects DB names that are not one safe path segment', async () => {
    const e = await failure(() => parseOtfSettings(reader({ ...base, [OtfInputs.Dbs]: '["alien", "../etc", "a/b"]' }), ws));
    expect(e.problems.map((p) => p.message)).toEqual(["DB name '../etc' is not a single safe path segment", "DB name 'a/b' is not a single safe path segment"]);
  });
});

describe('otf keys on a generated mini-interact root (27 fixture DBs)', () => {
  let t: Tree;
  let base: Record<string, string>;
  beforeAll(async () => {
    t = makeTree();
    base = await keysOf(t);
  });
  afterAll(() => removeDir(t.dir));

  it('keys all 27 DBs, each key naming its DB and carrying a 32-hex hash', () => {
    expect(t.dbs).toHaveLength(27);
    expect(Object.keys(base)).toEqual(t.dbs);
    for (const [db, key] of Object.entries(base)) expect(key).toMatch(new RegExp(`^bird-otf-v1-slayer_otf_cache-${db}-[0-9a-f]{32}$`));
    expect(new Set(Object.values(base)).size).toBe(27);
  });

  it('gives the same keys for the same inputs, wherever the tree lies', async () => {
    expect(await keysOf(t)).toEqual(base);
    const copy = tempDir('otf-keys-copy');
    try {
      cpSync(t.dir, copy, { recursive: true });
      const moved = { dir: copy, workspace: join(copy, 'eval-repo'), root: join(copy, 'mini-interact'), dbs: t.dbs };
      expect(await keysOf(moved)).toEqual(base);
    } finally {
      removeDir(copy);
    }
  });

  it.each([0, 1, 2])('changes only that DB’s key when one of its files changes (file %i)', async (which) => {
    const db = t.dbs[(which * 9 + 4) % t.dbs.length];
    const file = join(t.root, db, dbInputFiles(db)[which]);
    const original = readFileSync(file);
    const before = await keysOf(t);
    appendFileSync(file, ' ');
    try {
      const after = await keysOf(t);
      expect(changed(before, after)).toEqual([db]);
    } finally {
      writeFileSync(file, original);
    }
    expect(await keysOf(t)).toEqual(base);
  });

  it('changes every key with the SLayer version, the embedding model or the framework', async () => {
    writeFileSync(join(t.workspace, 'uv.lock'), UV_LOCK.replace('version = "0.9.0"', 'version = "0.9.1"'));
    try {
      expect(changed(base, await keysOf(t))).toEqual(t.dbs);
    } finally {
      writeFileSync(join(t.workspace, 'uv.lock'), UV_LOCK);
    }
    expect(changed(base, await keysOf(t, { [OtfInputs.EmbeddingModel]: 'openai/text-embedding-3-large' }))).toEqual(t.dbs);
    const combo3 = await keysOf(t, { [OtfInputs.Framework]: 'pydantic_ai_otf_encode', [OtfInputs.ReferenceModel]: 'anthropic/claude-sonnet-4-5' });
    expect(changed(base, combo3)).toEqual(t.dbs);
    expect(combo3.alien).toMatch(/^bird-otf-v1-slayer_models_otf-alien-[0-9a-f]{32}$/);
    const otherRef = await keysOf(t, { [OtfInputs.Framework]: 'pydantic_ai_otf_encode', [OtfInputs.ReferenceModel]: 'openai/gpt-5' });
    expect(changed(combo3, otherRef)).toEqual(t.dbs);
    expect(await keysOf(t, { [OtfInputs.KeyPrefix]: 'team-a' })).toEqual(
      Object.fromEntries(Object.entries(base).map(([db, k]) => [db, k.replace(/^bird-otf-v1-/, 'team-a-')])),
    );
  });

  it('a changed encoder file changes every DB’s key, and nothing else', async () => {
    const file = join(t.workspace, 'src', 'bird_interact_agents', 'otf', 'encode.py');
    const before = await computeKeys(settings(t));
    appendFileSync(file, '# changed\n');
    try {
      const after = await computeKeys(settings(t));
      expect(changed(base, Object.fromEntries(after.keys.map((k) => [k.db, k.key])))).toEqual(t.dbs);
      expect(after.keys.map((k) => [k.db, k.path])).toEqual(before.keys.map((k) => [k.db, k.path]));
      expect(after.encoder.files).toEqual(before.encoder.files);
      expect(after.encoder.sha256).not.toBe(before.encoder.sha256);
      // Only the encoder line of the key material differs.
      expect(after.slayer).toEqual(before.slayer);
    } finally {
      writeFileSync(file, ENCODER_FILES['src/bird_interact_agents/otf/encode.py']);
    }
    expect(await keysOf(t)).toEqual(base);
  });

  it('hashes the git-listed encoder files in path order, by hand', async () => {
    const { encoder } = await computeKeys(settings(t));
    // Python's path order: component by component, so …/otf/encode.py comes before …/otf.py.
    expect(encoder.files).toEqual(['pyproject.toml', 'src/bird_interact_agents/otf/encode.py', 'src/bird_interact_agents/otf.py', 'uv.lock']);
    const bytes = (rel: string): Buffer => readFileSync(join(t.workspace, ...rel.split('/')));
    expect(encoder.sha256).toBe(encoderHash(encoder.files.map((path) => ({ path, bytes: bytes(path) }))));
  });

  it('an ignored file under an encoder path does not change the keys; a file git would track does', async () => {
    mkdirSync(join(t.workspace, 'src', 'bird_interact_agents', '__pycache__'), { recursive: true });
    writeFileSync(join(t.workspace, 'src', 'bird_interact_agents', '__pycache__', 'otf.cpython-312.pyc'), Buffer.from([0x42, 0x0d]));
    expect(await keysOf(t)).toEqual(base);
    const extra = join(t.workspace, 'src', 'bird_interact_agents', 'new.py');
    writeFileSync(extra, 'NEW = 1\n');
    try {
      expect(changed(base, await keysOf(t))).toEqual(t.dbs);
    } finally {
      rmSync(extra);
    }
    // A file outside the encoder paths is not part of the key.
    writeFileSync(join(t.workspace, 'README.md'), 'docs\n');
    expect(await keysOf(t)).toEqual(base);
    expect(await keysOf(t, { [OtfInputs.EncoderPaths]: 'uv.lock, pyproject.toml, README.md, src/' })).not.toEqual(base);
  });

  it('fails clearly, naming encoder-paths, on a path that names no tracked file and outside a git repository', async () => {
    const e = await failure(computeKeys(settings(t, { [OtfInputs.EncoderPaths]: 'src/ scr/ slayer_otf_cache/' })));
    expect(e.problems.map((p) => `${p.input}: ${p.message}`)).toEqual([
      `encoder-paths: 'scr/' names no file git tracks (or would track) in ${t.workspace}`,
      `encoder-paths: 'slayer_otf_cache/' names no file git tracks (or would track) in ${t.workspace}`,
    ]);
    expect(e.problems[0].fix).toMatch(/^name files or folders of the evaluation repo that hold the encode code \(default: uv\.lock pyproject\.toml src\/\)/);
    const bare = tempDir('otf-keys-nogit');
    try {
      cpSync(t.workspace, bare, { recursive: true, filter: (src) => !src.includes(`${join(t.workspace, '.git')}`) });
      // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp dir.
      process.env.GIT_CEILING_DIRECTORIES = join(bare, '..');
      const nogit = await failure(computeKeys(settings({ ...t, workspace: bare }))).finally(() => {
        delete process.env.GIT_CEILING_DIRECTORIES;
      });
      expect(nogit.problems[0].input).toBe('encoder-paths');
      expect(nogit.problems[0].message).toMatch(/is not a git repository/);
      expect(nogit.problems[0].fix).toMatch(/check out the evaluation repo/);
    } finally {
      removeDir(bare);
    }
  });

  it('maps instance ids to DBs through the dataset', async () => {
    const s = settings(t, { [OtfInputs.Dbs]: '', [OtfInputs.InstanceIds]: 'alien_2,credit_1,alien_1' });
    expect(s.dbs).toEqual(['alien', 'credit']);
    expect(s.dbSource).toBe('instance-ids');
    const { keys } = await computeKeys(s);
    expect(keys.map((k) => k.key)).toEqual([base.alien, base.credit]);
    expect(keys[0].path).toBe('slayer_otf_cache/alien');
    writeFileSync(join(t.workspace, 'ids.txt'), 'polar_1\n  solar_2 polar_2\n');
    expect(settings(t, { [OtfInputs.Dbs]: '', [OtfInputs.InstanceIdsFile]: 'ids.txt' }).dbs).toEqual(['polar', 'solar']);
    const e = await failure(() => settings(t, { [OtfInputs.Dbs]: '', [OtfInputs.InstanceIds]: 'alien_1,nope_9' }));
    expect(e.problems[0]).toMatchObject({ input: 'instance-ids', message: expect.stringContaining('1 instance id(s) not in the dataset') });
    expect(e.problems[0].message).toContain('nope_9');
  });

  it('fails clearly, naming every DB and file, when dataset files are missing', async () => {
    const gone = [join(t.root, 'alien', 'alien_kb.jsonl'), join(t.root, 'credit', 'credit.sqlite'), join(t.root, 'credit', 'credit_column_meaning_base.json')];
    const saved = gone.map((f) => readFileSync(f));
    for (const f of gone) rmSync(f);
    try {
      const e = await failure(computeKeys(settings(t)));
      expect(e.problems.map((p) => `${p.input}: ${p.message}`)).toEqual([
        `mini-interact-root: DB 'alien' is missing alien_kb.jsonl under ${join(t.root, 'alien')}`,
        `mini-interact-root: DB 'credit' is missing credit.sqlite, credit_column_meaning_base.json under ${join(t.root, 'credit')}`,
      ]);
      expect(e.problems[0].fix).toMatch(/put the full mini-interact data in place/);
    } finally {
      for (const [i, f] of gone.entries()) writeFileSync(f, saved[i]);
    }
    expect(await keysOf(t)).toEqual(base);
  });

  it('fails clearly on a missing root, uv.lock or SLayer pin, together with the input problems', async () => {
    const problems = new ProblemList();
    const s = parseOtfSettings(
      reader({
        [OtfInputs.Framework]: 'pydantic_ai_otf_encode',
        [OtfInputs.Dbs]: 'alien',
        [OtfInputs.MiniInteractRoot]: join(t.dir, 'nowhere'),
        [OtfInputs.UvLock]: 'missing.lock',
      }),
      { GITHUB_WORKSPACE: t.workspace },
      problems,
    );
    const e = await failure(computeKeys(s, problems));
    expect(e.problems.map((p) => p.input)).toEqual(['reference-model', 'uv-lock', 'mini-interact-root']);
    expect(e.problems[1].message).toBe(`'${join(t.workspace, 'missing.lock')}' does not exist`);
    expect(e.problems[2].message).toBe(`the mini-interact root '${join(t.dir, 'nowhere')}' does not exist`);

    writeFileSync(join(t.workspace, 'other.lock'), UV_LOCK.replace('\nname = "slayer"', '\nname = "not-slayer"'));
    const pin = await failure(computeKeys(settings(t, { [OtfInputs.UvLock]: 'other.lock' })));
    expect(pin.problems).toEqual([
      {
        input: 'slayer-package',
        message: `no [[package]] named 'slayer' in '${join(t.workspace, 'other.lock')}' (3 packages read)`,
        fix: 'set slayer-package to the SLayer package name as uv.lock spells it, or lock it with uv lock',
      },
    ]);
    expect(await keysOf(t, { [OtfInputs.UvLock]: 'other.lock', [OtfInputs.SlayerPackage]: 'not_slayer' })).not.toEqual(base);
  });
});

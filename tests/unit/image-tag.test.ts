import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanContextPath, dockerfileContextSources, literalPrefix, sourceCopies } from '../../src/cluster/dockerfile-sources.js';
import {
  codeHash,
  compareCodePoints,
  contextFileOrder,
  coveredByTag,
  dataHash,
  dockerfileSections,
  type FileBytes,
  formatTag,
  imageTag,
  imageUri,
  listGitFiles,
  sortPathsLikePython,
} from '../../src/cluster/image-tag.js';
import { GitError } from '../../src/preflight/worktree.js';

// ---------------------------------------------------------------------------------------------
// Fixtures: real git repositories in temp dirs, isolated from the user's git configuration.

const tmpRoots: string[] = [];
const savedEnv: Record<string, string | undefined> = {};
const GIT_ENV: Record<string, string> = {
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
  GIT_COMMITTER_NAME: 'Test Committer',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
};

beforeAll(() => {
  const home = mkdtempSync(join(tmpdir(), 'image-tag-home-'));
  tmpRoots.push(home);
  const globalConfig = join(home, 'gitconfig');
  writeFileSync(globalConfig, '');
  // The module runs git with process.env: point it at an empty global config too, so a
  // developer's core.excludesFile or autocrlf cannot change what the tests see.
  for (const [k, v] of Object.entries({ ...GIT_ENV, GIT_CONFIG_GLOBAL: globalConfig })) {
    savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
});

afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  for (const d of tmpRoots) rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tmpRoots.push(d);
  return d;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function writeTree(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(root, ...rel.split('/'));
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
  }
}

function initRepo(files: Record<string, string | Buffer>): string {
  const repo = tmp('image-tag-repo-');
  git(repo, 'init', '-q', '-b', 'main');
  writeTree(repo, files);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'fixture');
  return repo;
}

// ---------------------------------------------------------------------------------------------
// The test vector.

const SMILE = '\u{1F600}'; // astral: UTF-16 surrogates 0xD83D 0xDE00, code point 0x1F600
const FULLWIDTH_Z = '\uFF5A'; // BMP code point 0xFF5A, larger than 0xD83D as a code unit

const DOCKERFILE =
  'FROM python:3.12-slim\r\n' +
  '# DATA-LAYERS\r\n' +
  'COPY mini-interact /data/mini-interact\r\n' +
  'COPY audited_gold /app/audited_gold\r\n' +
  '# CODE-LAYERS\r\n' +
  'COPY src /app/src\r' + // a lone CR: universal newlines make it LF too
  'RUN echo ok\r\n';
const DATA_SECTION = '# DATA-LAYERS\nCOPY mini-interact /data/mini-interact\nCOPY audited_gold /app/audited_gold\n';
const CODE_SECTION = '# CODE-LAYERS\nCOPY src /app/src\nRUN echo ok\n';
// The whole file as Python's universal newlines read it: what the `dockerfile/` record holds.
const DOCKERFILE_TEXT = `FROM python:3.12-slim\n${DATA_SECTION}${CODE_SECTION}`;

const REPO_FILES: Record<string, Buffer> = {
  'src/pkg/B.py': Buffer.from("print('B')\n"),
  'src/pkg/__init__.py': Buffer.alloc(0),
  'src/pkg/x/a.py': Buffer.from('A = 1\n'),
  'src/pkg/x-y.py': Buffer.from('XY = 2\n'),
  'src/pkg/x.py': Buffer.from('X = 3\r\n'), // file bytes are hashed raw, CRLF kept
  [`src/pkg/${FULLWIDTH_Z}.py`]: Buffer.from('z\n'),
  [`src/pkg/${SMILE}.py`]: Buffer.from('smile\n'),
  'src/pkg.py': Buffer.from([0, 1, 2, 0xff, 0]),
  'uv.lock': Buffer.from('version = 1\n'),
  'pyproject.toml': Buffer.from('[project]\nname = "x"\n'),
  'audited_gold/README.md': Buffer.from('gold\n'),
  'audited_gold/db1/q1.sql': Buffer.from('SELECT 1;\n'),
  'audited_gold/db1-x/q.sql': Buffer.from('SELECT 2;\n'),
  'audited_gold/db1.sql': Buffer.from('SELECT 3;\n'),
  'README.md': Buffer.from('not an image input\n'),
  'Dockerfile.cloud': Buffer.from(DOCKERFILE),
};

const MI_FILES: Record<string, Buffer> = {
  '.hidden': Buffer.from('dotfiles count\n'),
  'Z.txt': Buffer.from('Z\n'),
  'db1/db1.sqlite': Buffer.from([0x53, 0x51, 0x4c, 0, 0xfe, 0xff, 0]),
  'db1/db1_kb.jsonl': Buffer.from('{"kb": 1}\n'),
  'db1/sub/deep.txt': Buffer.from('deep\n'),
  'db1.json': Buffer.from('{}\n'),
  'mini_interact.jsonl': Buffer.from('{"instance_id": "db1_1"}\n'),
};

// Python's sorted(Path) order, written out by hand (not computed with the module).
const CODE_ORDER = [
  'src/pkg/B.py',
  'src/pkg/__init__.py',
  'src/pkg/x/a.py',
  'src/pkg/x-y.py',
  'src/pkg/x.py',
  `src/pkg/${FULLWIDTH_Z}.py`,
  `src/pkg/${SMILE}.py`,
  'src/pkg.py',
  'uv.lock',
  'pyproject.toml',
];
const GOLD_ORDER = ['audited_gold/README.md', 'audited_gold/db1/q1.sql', 'audited_gold/db1-x/q.sql', 'audited_gold/db1.sql'];
const MI_ORDER = ['.hidden', 'Z.txt', 'db1/db1.sqlite', 'db1/db1_kb.jsonl', 'db1/sub/deep.txt', 'db1.json', 'mini_interact.jsonl'];

const NUL = Buffer.from([0]);
function rec(label: string, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(label, 'utf8'), NUL, bytes, NUL]);
}
function sha256(parts: Buffer[]): string {
  return createHash('sha256').update(Buffer.concat(parts)).digest('hex');
}
/** code_hash by hand: `code/` records, then `context/` records (in the order given), then the whole Dockerfile text. */
function expectedCode(order: string[], files: Record<string, Buffer>, contextOrder: string[] = [], dockerfile = DOCKERFILE_TEXT): string {
  return sha256([
    ...order.map((p) => rec(`code/${p}`, files[p])),
    ...contextOrder.map((p) => rec(`context/${p}`, files[p])),
    Buffer.from(`dockerfile/${dockerfile}`, 'utf8'),
    NUL,
  ]);
}
function expectedData(miOrder: string[], mi: Record<string, Buffer>, goldOrder: string[], repo: Record<string, Buffer>, section = DATA_SECTION): string {
  return sha256([
    ...miOrder.map((p) => rec(`mi/${p}`, mi[p])),
    ...goldOrder.map((p) => rec(`repo/${p}`, repo[p])),
    Buffer.from(`dockerfile-data/${section}`, 'utf8'),
    NUL,
  ]);
}

function vector(): { repo: string; mi: string } {
  const repo = initRepo(REPO_FILES);
  const mi = tmp('image-tag-mi-');
  writeTree(mi, MI_FILES);
  return { repo, mi };
}

describe('imageTag on the test vector', () => {
  it('matches the byte layout computed by hand', async () => {
    const { repo, mi } = vector();
    const code = expectedCode(CODE_ORDER, REPO_FILES);
    const data = expectedData(MI_ORDER, MI_FILES, GOLD_ORDER, REPO_FILES);
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(got).toEqual({ codeHash: code, dataHash: data, tag: `${data.slice(0, 12)}-${code.slice(0, 12)}` });
    expect(got.tag).toMatch(/^[0-9a-f]{12}-[0-9a-f]{12}$/);
  });

  it('the pure hashes agree with the hand computation, whatever the input order', () => {
    const shuffled = (paths: string[]): string[] => [...paths].reverse();
    const codeFiles: FileBytes[] = shuffled(CODE_ORDER).map((p) => ({ path: p, bytes: REPO_FILES[p] }));
    const miFiles: FileBytes[] = shuffled(MI_ORDER).map((p) => ({ path: p, bytes: MI_FILES[p] }));
    const goldFiles: FileBytes[] = shuffled(GOLD_ORDER).map((p) => ({ path: p, bytes: REPO_FILES[p] }));
    expect(codeHash(codeFiles, [], DOCKERFILE)).toBe(expectedCode(CODE_ORDER, REPO_FILES));
    expect(codeHash(codeFiles, [], DOCKERFILE_TEXT)).toBe(expectedCode(CODE_ORDER, REPO_FILES));
    expect(dataHash(miFiles, goldFiles, DATA_SECTION)).toBe(expectedData(MI_ORDER, MI_FILES, GOLD_ORDER, REPO_FILES));
  });

  it('a whole-string order gives a different hash (the order matters)', () => {
    const stringOrder = [...CODE_ORDER.slice(0, 8)].sort();
    expect(stringOrder).not.toEqual(CODE_ORDER.slice(0, 8));
    expect(expectedCode([...stringOrder, 'uv.lock', 'pyproject.toml'], REPO_FILES)).not.toBe(expectedCode(CODE_ORDER, REPO_FILES));
  });

  it('appends -dirty when asked, with the same hashes', async () => {
    const { repo, mi } = vector();
    const clean = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    const dirty = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(dirty.tag).toBe(`${clean.tag}-dirty`);
    expect(dirty.codeHash).toBe(clean.codeHash);
    expect(dirty.dataHash).toBe(clean.dataHash);
    expect(formatTag('a'.repeat(64), 'b'.repeat(64), true)).toBe(`${'a'.repeat(12)}-${'b'.repeat(12)}-dirty`);
  });
});

describe('file selection', () => {
  it('ignored files do not change the tag', async () => {
    const files = { ...REPO_FILES, '.gitignore': Buffer.from('__pycache__/\n*.tmp\n') };
    const repo = initRepo(files);
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    writeTree(repo, {
      'src/__pycache__/a.cpython-312.pyc': Buffer.from([0x42, 0x0d, 0x0d, 0x0a]),
      'src/pkg/__pycache__/x.cpython-312.pyc': Buffer.from([1, 2, 3]),
      'audited_gold/scratch.tmp': 'ignored\n',
    });
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(after).toEqual(before);
    expect(after.codeHash).toBe(expectedCode(CODE_ORDER, REPO_FILES));
    expect(after.dataHash).toBe(expectedData(MI_ORDER, MI_FILES, GOLD_ORDER, REPO_FILES));
    expect(await listGitFiles(repo, ['src', 'audited_gold'])).not.toContain('src/__pycache__/a.cpython-312.pyc');
  });

  it('an untracked, not ignored file changes the code hash (and only it)', async () => {
    const { repo, mi } = vector();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    const extra = Buffer.from('NEW = 1\n');
    writeFileSync(join(repo, 'src', 'pkg', 'new.py'), extra);
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(after.codeHash).not.toBe(before.codeHash);
    expect(after.dataHash).toBe(before.dataHash);
    const order = ['src/pkg/B.py', 'src/pkg/__init__.py', 'src/pkg/new.py', ...CODE_ORDER.slice(2)];
    expect(after.codeHash).toBe(expectedCode(order, { ...REPO_FILES, 'src/pkg/new.py': extra }));
  });

  it('an untracked audited_gold file changes the data hash', async () => {
    const { repo, mi } = vector();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    writeFileSync(join(repo, 'audited_gold', 'db2.sql'), 'SELECT 4;\n');
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(after.dataHash).not.toBe(before.dataHash);
    expect(after.codeHash).toBe(before.codeHash);
  });

  it('hashes the working-tree bytes of a modified tracked file', async () => {
    const { repo, mi } = vector();
    const changed = Buffer.from('X = 4\n');
    writeFileSync(join(repo, 'src', 'pkg', 'x.py'), changed);
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(got.codeHash).toBe(expectedCode(CODE_ORDER, { ...REPO_FILES, 'src/pkg/x.py': changed }));
    expect(got.tag.endsWith('-dirty')).toBe(true);
  });

  it('skips a tracked file deleted from the worktree', async () => {
    const repo = initRepo({ ...REPO_FILES, 'src/pkg/gone.py': Buffer.from('gone\n'), 'audited_gold/gone/q.sql': Buffer.from('x\n') });
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    rmSync(join(repo, 'src', 'pkg', 'gone.py'));
    rmSync(join(repo, 'audited_gold', 'gone'), { recursive: true });
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(got.codeHash).toBe(expectedCode(CODE_ORDER, REPO_FILES));
    expect(got.dataHash).toBe(expectedData(MI_ORDER, MI_FILES, GOLD_ORDER, REPO_FILES));
  });

  it('a missing uv.lock or pyproject.toml contributes nothing', async () => {
    const files = { ...REPO_FILES };
    delete files['uv.lock'];
    delete files['pyproject.toml'];
    const repo = initRepo(files);
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(got.codeHash).toBe(expectedCode(CODE_ORDER.slice(0, 8), REPO_FILES));
  });

  it('a tree without src/ or audited_gold/ hashes only what exists', async () => {
    const repo = initRepo({ 'Dockerfile.cloud': Buffer.from(DOCKERFILE), 'uv.lock': REPO_FILES['uv.lock'] });
    const mi = tmp('image-tag-mi-');
    writeTree(mi, { 'a.txt': 'a\n' });
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(got.codeHash).toBe(expectedCode(['uv.lock'], REPO_FILES));
    expect(got.dataHash).toBe(expectedData(['a.txt'], { 'a.txt': Buffer.from('a\n') }, [], REPO_FILES));
  });

  it('follows a mini-interact symlink that stays inside, skips directory and broken links', async () => {
    const { repo, mi } = vector();
    symlinkSync('db1/db1_kb.jsonl', join(mi, 'kb-link.jsonl'));
    symlinkSync('db1', join(mi, 'db1-link'));
    symlinkSync('missing-target', join(mi, 'broken'));
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    const miOrder = ['.hidden', 'Z.txt', 'db1/db1.sqlite', 'db1/db1_kb.jsonl', 'db1/sub/deep.txt', 'db1.json', 'kb-link.jsonl', 'mini_interact.jsonl'];
    expect(got.dataHash).toBe(expectedData(miOrder, { ...MI_FILES, 'kb-link.jsonl': MI_FILES['db1/db1_kb.jsonl'] }, GOLD_ORDER, REPO_FILES));
  });

  it('a mini-interact symlink that leaves the root is an error', async () => {
    const { repo, mi } = vector();
    const outside = tmp('image-tag-outside-');
    writeFileSync(join(outside, 'secret.txt'), 'x');
    symlinkSync(join(outside, 'secret.txt'), join(mi, 'db1', 'escape.txt'));
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false })).rejects.toThrow(
      /db1\/escape\.txt is a symlink that leaves .*Fix: replace the link/,
    );
  });

  it('a repo symlink that leaves the repo is an error', async () => {
    const { repo, mi } = vector();
    const outside = tmp('image-tag-outside-');
    writeFileSync(join(outside, 'lib.py'), 'x');
    symlinkSync(join(outside, 'lib.py'), join(repo, 'src', 'pkg', 'lib.py'));
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true })).rejects.toThrow(/src\/pkg\/lib\.py is a symlink that leaves/);
  });

  it('a nested repository or submodule under src/ is an error', async () => {
    const { repo, mi } = vector();
    const sub = join(repo, 'src', 'vendored');
    mkdirSync(sub);
    git(sub, 'init', '-q', '-b', 'main');
    writeFileSync(join(sub, 'v.py'), 'v\n');
    git(sub, 'add', 'v.py');
    git(sub, 'commit', '-q', '-m', 'sub');
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true })).rejects.toThrow(/src\/vendored\/ is a nested git repository/);
    git(repo, 'add', 'src/vendored');
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true })).rejects.toThrow(/src\/vendored is a git submodule/);
  });

  it('lists a conflicted file once', async () => {
    const repo = initRepo({ 'src/a.py': 'base\n' });
    git(repo, 'checkout', '-q', '-b', 'other');
    writeFileSync(join(repo, 'src', 'a.py'), 'other\n');
    git(repo, 'commit', '-q', '-am', 'other');
    git(repo, 'checkout', '-q', 'main');
    writeFileSync(join(repo, 'src', 'a.py'), 'main\n');
    git(repo, 'commit', '-q', '-am', 'main');
    expect(() => git(repo, 'merge', '-q', 'other')).toThrow();
    expect(await listGitFiles(repo, ['src'])).toEqual(['src/a.py']);
  });
});

describe('what determines the image: the whole Dockerfile and what it copies', () => {
  it('a changed FROM changes the tag', async () => {
    const { repo, mi } = vector();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    writeFileSync(join(repo, 'Dockerfile.cloud'), DOCKERFILE.replace('FROM python:3.12-slim', 'FROM python:3.13-slim'));
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(after.codeHash).not.toBe(before.codeHash);
    expect(after.codeHash).toBe(expectedCode(CODE_ORDER, REPO_FILES, [], DOCKERFILE_TEXT.replace('3.12', '3.13')));
    expect(after.dataHash).toBe(before.dataHash);
  });

  it('a changed RUN before the sentinels changes the tag', async () => {
    const early = (cmd: string): string => DOCKERFILE.replace('FROM python:3.12-slim\r\n', `FROM python:3.12-slim\r\nRUN ${cmd}\r\n`);
    const repo = initRepo({ ...REPO_FILES, 'Dockerfile.cloud': Buffer.from(early('apt-get install -y git')) });
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(before.codeHash).toBe(expectedCode(CODE_ORDER, REPO_FILES, [], DOCKERFILE_TEXT.replace('slim\n', 'slim\nRUN apt-get install -y git\n')));
    writeFileSync(join(repo, 'Dockerfile.cloud'), early('apt-get install -y git curl'));
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(after.tag).not.toBe(`${before.tag}-dirty`);
    expect(after.codeHash).toBe(expectedCode(CODE_ORDER, REPO_FILES, [], DOCKERFILE_TEXT.replace('slim\n', 'slim\nRUN apt-get install -y git curl\n')));
  });

  // An extra COPY of scripts/, written over a line continuation with a flag; a COPY from a stage; a .dockerignore.
  const EXTRA =
    'FROM python:3.12-slim AS builder\n' +
    'RUN pip wheel -w /wheels uv\n' +
    'FROM python:3.12-slim\n' +
    'COPY --from=builder /wheels /wheels\n' +
    '# DATA-LAYERS\n' +
    'COPY mini-interact /data/mini-interact\n' +
    '# CODE-LAYERS\n' +
    'COPY src /app/src\n' +
    'COPY --chown=app:app \\\n' +
    '  # a comment inside the continuation\n' +
    '  scripts/ /app/scripts/\n' +
    'COPY ["tools/run me.sh", "/app/tools/"]\n';
  const EXTRA_FILES: Record<string, Buffer> = {
    'Dockerfile.cloud': Buffer.from(EXTRA),
    'src/a.py': Buffer.from('A = 1\n'),
    'uv.lock': Buffer.from('version = 1\n'),
    'scripts/x/a.sh': Buffer.from('echo a\n'),
    'scripts/x-y.sh': Buffer.from('echo xy\n'),
    'scripts/x.sh': Buffer.from('echo x\r\n'),
    'tools/run me.sh': Buffer.from('run\n'),
    'tools/not-copied.sh': Buffer.from('never hashed\n'),
    'wheels/w.txt': Buffer.from('a context path named like the --from source: not copied\n'),
    '.dockerignore': Buffer.from('**/*.log\n'),
    '.gitignore': Buffer.from('*.log\n__pycache__/\n'),
  };
  // Python's sorted(Path) order, by hand: x/ before x-y before x.py; .dockerignore (U+2E) before s and t.
  const CONTEXT_ORDER = ['.dockerignore', 'scripts/x/a.sh', 'scripts/x-y.sh', 'scripts/x.sh', 'tools/run me.sh'];
  function extraRepo(): { repo: string; mi: string } {
    const repo = initRepo(EXTRA_FILES);
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    return { repo, mi };
  }

  it('hashes the files an extra COPY takes, in Python path order, as context records (hand-computed)', async () => {
    const { repo, mi } = extraRepo();
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(got.codeHash).toBe(expectedCode(['src/a.py', 'uv.lock'], EXTRA_FILES, CONTEXT_ORDER, EXTRA));
    // The DATA section is all the data hash takes of the Dockerfile, as before.
    expect(got.dataHash).toBe(expectedData(MI_ORDER, MI_FILES, [], EXTRA_FILES, '# DATA-LAYERS\nCOPY mini-interact /data/mini-interact\n'));
  });

  it('a tracked file copied by an extra COPY scripts/ /app/scripts/ changes the tag when edited', async () => {
    const { repo, mi } = extraRepo();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    const edited = Buffer.from('echo edited\n');
    writeFileSync(join(repo, 'scripts', 'x-y.sh'), edited);
    const after = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: true });
    expect(after.codeHash).not.toBe(before.codeHash);
    expect(after.codeHash).toBe(expectedCode(['src/a.py', 'uv.lock'], { ...EXTRA_FILES, 'scripts/x-y.sh': edited }, CONTEXT_ORDER, EXTRA));
    expect(after.dataHash).toBe(before.dataHash);
  });

  it('an ignored file under such a path does not change the tag', async () => {
    const { repo, mi } = extraRepo();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    writeTree(repo, { 'scripts/run.log': 'ignored\n', 'scripts/x/__pycache__/a.pyc': Buffer.from([1, 2]) });
    expect(await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false })).toEqual(before);
    // An untracked file git would track is hashed, as under src/.
    writeTree(repo, { 'scripts/new.sh': 'new\n' });
    expect((await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false })).codeHash).not.toBe(before.codeHash);
  });

  it('a COPY --from=builder source is not hashed, and files no instruction copies are not either', async () => {
    const { repo, mi } = extraRepo();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    // By hand: the context records are the .dockerignore, scripts/ and tools/run me.sh, never wheels/ (the --from source).
    expect(CONTEXT_ORDER.some((p) => p.startsWith('wheels/'))).toBe(false);
    expect(before.codeHash).toBe(expectedCode(['src/a.py', 'uv.lock'], EXTRA_FILES, CONTEXT_ORDER, EXTRA));
    writeFileSync(join(repo, 'wheels', 'w.txt'), 'changed\n');
    writeFileSync(join(repo, 'tools', 'not-copied.sh'), 'changed\n');
    writeFileSync(join(repo, 'README.md'), 'new\n');
    expect(await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false })).toEqual(before);
  });

  it('a changed .dockerignore changes the tag (it decides what the build sees)', async () => {
    const { repo, mi } = extraRepo();
    const before = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    writeFileSync(join(repo, '.dockerignore'), '');
    expect((await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false })).codeHash).not.toBe(before.codeHash);
  });

  it('COPY . takes every file git lists once: the groups of their own stay out of the context records', async () => {
    const dockerfile = 'FROM x\n# DATA-LAYERS\nCOPY mini-interact /data\n# CODE-LAYERS\nCOPY . /app\n';
    const files: Record<string, Buffer> = {
      'Dockerfile.cloud': Buffer.from(dockerfile),
      'src/a.py': Buffer.from('a\n'),
      'audited_gold/g.sql': Buffer.from('g\n'),
      'mini-interact/x.json': Buffer.from('in-repo dataset copy\n'),
      'README.md': Buffer.from('r\n'),
      '.gitignore': Buffer.from('*.env\n'),
    };
    const repo = initRepo(files);
    writeTree(repo, { 'local.env': 'SECRET=1\n' });
    const mi = tmp('image-tag-mi-');
    writeTree(mi, MI_FILES);
    const got = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false });
    expect(got.codeHash).toBe(expectedCode(['src/a.py'], files, ['.gitignore', 'Dockerfile.cloud', 'README.md'], dockerfile));
  });

  it('a source through a variable is an error naming the line and the fix', async () => {
    const repo = initRepo({ ...REPO_FILES, 'Dockerfile.cloud': Buffer.from(`${DOCKERFILE}ARG DIR=scripts\r\nCOPY $DIR /app/\r\n`) });
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: tmp('image-tag-mi-'), dirty: false })).rejects.toThrow(
      /^Dockerfile\.cloud line 9 \(COPY\) reads '\$DIR' from the build context through a variable.*Fix: write the source path literally\.$/,
    );
  });
});

describe('dockerfileContextSources', () => {
  const paths = (text: string): string[] => dockerfileContextSources(text).map((s) => `${s.instruction}@${s.line}:${s.path}`);

  it('reads COPY and ADD sources in shell and JSON form, skipping flags and the destination', () => {
    expect(
      paths(
        [
          'FROM x',
          'copy --chown=1000:1000 --chmod=644 --link a.txt ./b/ /dst/',
          'ADD ["c d.txt", "/dst/"]',
          'COPY --parents --exclude=*.md docs/* /dst/',
          'COPY "quoted.txt" /dst/',
        ].join('\n'),
      ),
    ).toEqual(['COPY@2:a.txt', 'COPY@2:b', 'ADD@3:c d.txt', 'COPY@4:docs/*', 'COPY@5:quoted.txt']);
  });

  it('joins continuation lines, skipping comment and blank lines inside them', () => {
    expect(paths('COPY a \\\n# comment\n\n   b \\  \n  /dst/\nRUN echo \\\nCOPY not-an-instruction /x\n')).toEqual(['COPY@1:a', 'COPY@1:b']);
    // CRLF and lone CR read as LF, as the whole text is.
    expect(paths('COPY a \\\r\n  b /dst/\rCOPY c /d\r\n')).toEqual(['COPY@1:a', 'COPY@1:b', 'COPY@3:c']);
  });

  it('honours the escape parser directive', () => {
    expect(paths('# escape=`\nCOPY a `\n  b C:\\dst\\\nCOPY c /d\n')).toEqual(['COPY@2:a', 'COPY@2:b', 'COPY@4:c']);
    // A directive after another line is a plain comment: backslash stays the escape.
    expect(paths('FROM x\n# escape=`\nCOPY a \\\n b /d\n')).toEqual(['COPY@3:a', 'COPY@3:b']);
  });

  it('skips --from sources, heredocs, remote ADD sources and instructions that read nothing', () => {
    expect(
      paths(
        [
          'COPY --from=builder /opt/venv /opt/venv',
          'COPY --from=python:3.12 /usr/bin/python3 /usr/bin/',
          'ADD https://example.com/x.tar.gz /x/',
          'ADD git@github.com:o/r.git /r/',
          'ADD --checksum=sha256:00 http://example.com/y /y',
          'COPY <<EOF /etc/conf',
          'COPY inside-heredoc /nope',
          'EOF',
          'RUN <<-END',
          '\tCOPY also-inside /nope',
          '\tEND',
          'ONBUILD COPY later /later',
          'WORKDIR /app',
          'COPY real /real',
        ].join('\n'),
      ),
    ).toEqual(['COPY@14:real']);
  });

  it('takes the source of RUN bind mounts from the context, the whole context by default', () => {
    expect(
      paths(
        [
          'RUN --mount=type=bind,source=uv.lock,target=uv.lock --mount=type=cache,target=/root/.cache uv sync',
          'RUN --mount=src=tools,target=/t ls /t',
          'RUN --mount=type=bind,target=/ctx ls /ctx',
          'RUN --mount=type=bind,from=builder,source=/x,target=/x ls',
          'RUN --mount=type=secret,id=k cat /run/secrets/k',
        ].join('\n'),
      ),
    ).toEqual(['RUN@1:uv.lock', 'RUN@2:tools', 'RUN@3:']);
  });

  it('cleans paths inside the context root', () => {
    expect(cleanContextPath('/src//pkg/./a.py')).toBe('src/pkg/a.py');
    expect(cleanContextPath('../../x')).toBe('x');
    expect(cleanContextPath('.')).toBe('');
    expect(cleanContextPath('a/b/../c/')).toBe('a/c');
  });

  it('refuses a source that uses a variable, not an escaped dollar or a variable in a flag', () => {
    expect(() => dockerfileContextSources('COPY ${DIR}/a /x', 'Dockerfile.cloud')).toThrow(/^Dockerfile\.cloud line 1 \(COPY\) reads '\$\{DIR\}\/a'/);
    expect(() => dockerfileContextSources('RUN --mount=source=$X,target=/x ls')).toThrow(/line 1 \(RUN\)/);
    expect(paths('COPY --chown=$UID a\\$b /x')).toEqual(['COPY@1:a$b']);
  });
});

describe('which context files a source copies', () => {
  it('a literal source copies itself and its tree, by whole components', () => {
    expect(sourceCopies('scripts', 'scripts/a.sh')).toBe(true);
    expect(sourceCopies('scripts', 'scripts')).toBe(true);
    expect(sourceCopies('scripts', 'scripts-old/a.sh')).toBe(false);
    expect(sourceCopies('scripts/a.sh', 'scripts/a.sh')).toBe(true);
    expect(sourceCopies('', 'anything/at/all')).toBe(true);
  });

  it('globs match one component each, ** any number', () => {
    expect(sourceCopies('scripts/*.sh', 'scripts/a.sh')).toBe(true);
    expect(sourceCopies('scripts/*.sh', 'scripts/sub/a.sh')).toBe(false);
    expect(sourceCopies('s*', 'scripts/sub/a.sh')).toBe(true);
    expect(sourceCopies('conf/?.[ab]', 'conf/x.a')).toBe(true);
    expect(sourceCopies('conf/?.[^ab]', 'conf/x.a')).toBe(false);
    expect(sourceCopies('**/*.py', 'deep/er/x.py')).toBe(true);
    expect(sourceCopies('*.py', 'deep/x.py')).toBe(false);
    expect(literalPrefix('scripts/*/run.sh')).toBe('scripts');
    expect(literalPrefix('*.py')).toBe('');
    expect(literalPrefix('a/b')).toBe('a/b');
  });

  it('leaves out what the tag hashes in a group of its own, and sorts like Python', () => {
    for (const p of ['src/a.py', 'uv.lock', 'pyproject.toml', 'audited_gold/g.sql', 'mini-interact/db/db.sqlite']) expect(coveredByTag(p), p).toBe(true);
    for (const p of ['src', 'srcs/a.py', 'scripts/uv.lock', 'Dockerfile.cloud']) expect(coveredByTag(p), p).toBe(false);
    const sources = dockerfileContextSources('COPY . /app');
    expect(contextFileOrder(['x.py', 'src/a.py', 'x/a.py', 'Dockerfile.cloud', 'uv.lock'], sources)).toEqual(['Dockerfile.cloud', 'x/a.py', 'x.py']);
    expect(contextFileOrder(['tools/a', 'Dockerfile.cloud.dockerignore', 'README.md'], dockerfileContextSources('COPY tools /t'))).toEqual([
      'Dockerfile.cloud.dockerignore',
      'tools/a',
    ]);
  });
});

describe('errors', () => {
  it('a missing Dockerfile.cloud names the repo root and the fix', async () => {
    const files = { ...REPO_FILES };
    delete files['Dockerfile.cloud'];
    const repo = initRepo(files);
    const mi = tmp('image-tag-mi-');
    const err = await imageTag({ repoRoot: repo, miniInteractRoot: mi, dirty: false }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message.startsWith(`Dockerfile.cloud not found under ${repo}`)).toBe(true);
    expect((err as Error).message).toMatch(/Fix:/);
  });

  it('a Dockerfile.cloud that is not UTF-8 is an error', async () => {
    const repo = initRepo({ ...REPO_FILES, 'Dockerfile.cloud': Buffer.concat([Buffer.from(DOCKERFILE), Buffer.from([0xff, 0xfe])]) });
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: tmp('image-tag-mi-'), dirty: false })).rejects.toThrow(/not valid UTF-8/);
  });

  it('a missing mini-interact root is an error', async () => {
    const repo = initRepo(REPO_FILES);
    await expect(imageTag({ repoRoot: repo, miniInteractRoot: join(repo, 'no-such-dir'), dirty: false })).rejects.toThrow(
      /mini-interact root .*no-such-dir not found/,
    );
  });

  it('a directory that is not a git repository is a GitError with a fix', async () => {
    const dir = tmp('image-tag-nogit-');
    writeTree(dir, { 'Dockerfile.cloud': DOCKERFILE });
    const mi = tmp('image-tag-mi-');
    // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp dir.
    process.env.GIT_CEILING_DIRECTORIES = dirname(dir);
    try {
      const err = await imageTag({ repoRoot: dir, miniInteractRoot: mi, dirty: false }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(GitError);
      expect((err as Error).message).toMatch(/is not a git repository\. Fix:/);
    } finally {
      delete process.env.GIT_CEILING_DIRECTORIES;
    }
  });
});

describe('sortPathsLikePython', () => {
  it('compares components: x/a.py before x.py, unlike a whole-string sort', () => {
    expect(sortPathsLikePython(['x.py', 'x/a.py'])).toEqual(['x/a.py', 'x.py']);
    expect(['x.py', 'x/a.py'].sort()).toEqual(['x.py', 'x/a.py']);
    expect(sortPathsLikePython(['a/x-y.py', 'a/x.py', 'a/x/b.py', 'a/x'])).toEqual(['a/x', 'a/x/b.py', 'a/x-y.py', 'a/x.py']);
    expect(sortPathsLikePython(['src/pkg.py', 'src/pkg/__init__.py'])).toEqual(['src/pkg/__init__.py', 'src/pkg.py']);
  });

  it('orders by code point, not locale: uppercase before underscore before lowercase', () => {
    expect(sortPathsLikePython(['b', '_a', 'a', 'B', 'A'])).toEqual(['A', 'B', '_a', 'a', 'b']);
    expect(sortPathsLikePython(['\u00e9', 'f', 'e'])).toEqual(['e', 'f', '\u00e9']);
  });

  it('puts astral characters after U+E000..U+FFFF, as Python does', () => {
    expect(sortPathsLikePython([SMILE, FULLWIDTH_Z, 'z'])).toEqual(['z', FULLWIDTH_Z, SMILE]);
    expect([SMILE, FULLWIDTH_Z].sort()).toEqual([SMILE, FULLWIDTH_Z]); // what plain JS would do
    expect(sortPathsLikePython([`d/${SMILE}.py`, `d/\u{1F601}.py`, `d/\uFFFF.py`])).toEqual([`d/\uFFFF.py`, `d/${SMILE}.py`, `d/\u{1F601}.py`]);
  });

  it('compares lone surrogates by their own value', () => {
    expect(compareCodePoints('\uD83D', SMILE)).toBeLessThan(0); // 0xD83D < 0x1F600
    expect(compareCodePoints('\uD83Dx', SMILE)).toBeLessThan(0);
    expect(compareCodePoints('\uD83D\uE000', SMILE)).toBeLessThan(0);
    expect(compareCodePoints(SMILE, '\uE000')).toBeGreaterThan(0);
    expect(compareCodePoints('abc', 'abc')).toBe(0);
    expect(compareCodePoints('ab', 'abc')).toBeLessThan(0);
  });

  it('normalizes like PurePosixPath and is stable', () => {
    expect(sortPathsLikePython(['b', 'a//c', './a/b', 'a/'])).toEqual(['a/', './a/b', 'a//c', 'b']);
    expect(sortPathsLikePython(['rel', '/abs'])).toEqual(['/abs', 'rel']);
    const input = ['b', 'a'];
    sortPathsLikePython(input);
    expect(input).toEqual(['b', 'a']);
  });
});

describe('dockerfileSections', () => {
  it('cuts at the other sentinel and translates CRLF and lone CR', () => {
    expect(dockerfileSections(DOCKERFILE)).toEqual({ code: CODE_SECTION, data: DATA_SECTION });
    const t = 'FROM x\n# CODE-LAYERS\nCOPY src /s\n# DATA-LAYERS\nCOPY d /d\n';
    expect(dockerfileSections(t)).toEqual({ code: '# CODE-LAYERS\nCOPY src /s\n', data: '# DATA-LAYERS\nCOPY d /d\n' });
  });

  it('with DATA before CODE, CODE runs to EOF (the other sentinel is behind it)', () => {
    const t = 'FROM x\r\n# DATA-LAYERS\r\nCOPY d /d\r\n# CODE-LAYERS\r\nCOPY src /s\r\n';
    expect(dockerfileSections(t)).toEqual({ data: '# DATA-LAYERS\nCOPY d /d\n', code: '# CODE-LAYERS\nCOPY src /s\n' });
  });

  it('only the first occurrence of each sentinel counts, and it matches as a substring', () => {
    const t = 'A\n## CODE-LAYERS here\nc\n# DATA-LAYERS\nd\n# CODE-LAYERS\ne\n';
    expect(dockerfileSections(t)).toEqual({ code: '# CODE-LAYERS here\nc\n', data: '# DATA-LAYERS\nd\n# CODE-LAYERS\ne\n' });
  });

  it('a sentinel at the very end yields just the sentinel', () => {
    expect(dockerfileSections('# DATA-LAYERS\nd\n# CODE-LAYERS')).toEqual({ data: '# DATA-LAYERS\nd\n', code: '# CODE-LAYERS' });
  });

  it('missing sentinels use the Python list repr', () => {
    expect(() => dockerfileSections('FROM x\n# DATA-LAYERS\n')).toThrow("Dockerfile.cloud missing required sentinel(s): ['# CODE-LAYERS']");
    expect(() => dockerfileSections('FROM x\n# CODE-LAYERS\n')).toThrow("Dockerfile.cloud missing required sentinel(s): ['# DATA-LAYERS']");
    expect(() => dockerfileSections('FROM x\n')).toThrow(/^Dockerfile\.cloud missing required sentinel\(s\): \['# CODE-LAYERS', '# DATA-LAYERS'\]\. Fix: /);
    // A sentinel split by a newline is not a sentinel.
    expect(() => dockerfileSections('# CODE-\r\nLAYERS\n# DATA-LAYERS\n')).toThrow("['# CODE-LAYERS']");
  });
});

describe('imageUri', () => {
  it('uses the defaults', () => {
    expect(imageUri({ region: 'us-central1', project: 'my-proj', tag: 'aaaaaaaaaaaa-bbbbbbbbbbbb' })).toBe(
      'us-central1-docker.pkg.dev/my-proj/bird-interact-runner/runner:aaaaaaaaaaaa-bbbbbbbbbbbb',
    );
  });
  it('takes another repository and image', () => {
    expect(imageUri({ region: 'europe-west4', project: 'p', arRepo: 'repo', image: 'img', tag: 't-dirty' })).toBe(
      'europe-west4-docker.pkg.dev/p/repo/img:t-dirty',
    );
  });
});

// Content-addressed image tag (docs/reference/per-run-cluster.md#image-tag), see docs/image-tag.md.
// Pure parts (ordering, Dockerfile sections, what the Dockerfile copies, byte layouts, tag and
// URI) are separate from the I/O parts (git file selection, the mini-interact walk, streaming the
// bytes into the hash).
import { execFile } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { GitError } from '../preflight/worktree.js';
import { type ContextSource, dockerfileContextSources, literalPrefix, sourceCopies } from './dockerfile-sources.js';

const CODE_SENTINEL = '# CODE-LAYERS';
const DATA_SENTINEL = '# DATA-LAYERS';
export const DOCKERFILE_NAME = 'Dockerfile.cloud';
const DEFAULT_AR_REPO = 'bird-interact-runner';
const DEFAULT_IMAGE = 'runner';
/** The repo paths the image hash reads (git pathspecs, relative to the repo root). */
const CODE_DIR = 'src';
const GOLD_DIR = 'audited_gold';
const CODE_FILES = ['uv.lock', 'pyproject.toml'] as const;
/** Where the dataset sits in the build context (registry.ts's buildCommand puts it there). */
export const DATASET_DIR = 'mini-interact';
/** Files that decide which context files a build sees (BuildKit reads `<Dockerfile>.dockerignore` first, else `.dockerignore`). */
const DOCKERIGNORE_FILES = [`${DOCKERFILE_NAME}.dockerignore`, '.dockerignore'] as const;

/** A problem computing the tag; the message names the fix. */
class ImageTagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageTagError';
  }
}

// ---------------------------------------------------------------------------------------------
// Ordering: Python's sorted() of Path objects.

function isHigh(u: number): boolean {
  return u >= 0xd800 && u <= 0xdbff;
}
function isLow(u: number): boolean {
  return u >= 0xdc00 && u <= 0xdfff;
}

/**
 * Compares two strings by Unicode code point, as Python compares `str`. JS `<` compares UTF-16
 * code units, which puts an astral character (U+10000 and up, stored as surrogates 0xD800-0xDFFF)
 * before U+E000-U+FFFF; this corrects that. Lone surrogates compare as their own value, as in
 * Python. Returns <0, 0 or >0.
 */
export function compareCodePoints(left: string, right: string): number {
  const n = Math.min(left.length, right.length);
  let i = 0;
  while (i < n && left.charCodeAt(i) === right.charCodeAt(i)) i++;
  // One is a code-unit prefix of the other: then also a code-point prefix, or its last code point
  // is a lone high surrogate (< 0x10000) facing a pair (>= 0x10000). Shorter first either way.
  if (i === n) return left.length - right.length;
  const ua = left.charCodeAt(i);
  const ub = right.charCodeAt(i);
  // Inside a shared high surrogate: compare the code points that start at the high surrogate.
  const start = i > 0 && isHigh(left.charCodeAt(i - 1)) && (isLow(ua) || isLow(ub)) ? i - 1 : i;
  const ca = left.codePointAt(start) ?? 0;
  const cb = right.codePointAt(start) ?? 0;
  return ca - cb;
}

/**
 * The components Python's PurePosixPath compares: `a//b` and `a/./b` are `a/b`, a trailing slash
 * is dropped, an absolute path keeps a leading empty component (so it sorts before relative ones).
 */
function pathComponents(p: string): string[] {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return p.startsWith('/') ? ['', ...parts] : parts;
}

/** Python's `PurePosixPath.__lt__`: component lists compared element by element, by code point. */
function comparePythonPaths(a: string, b: string): number {
  const pa = pathComponents(a);
  const pb = pathComponents(b);
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) {
    const c = compareCodePoints(pa[i], pb[i]);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/**
 * Python's `sorted()` of `Path` objects over posix path strings: component by component, so
 * `x/a.py` sorts before `x.py` (a whole-string sort puts `x.py` first, as `.` < `/`). Returns a
 * new array; equal paths keep their input order (Python's sort is stable too).
 */
export function sortPathsLikePython(paths: readonly string[]): string[] {
  return [...paths].sort(comparePythonPaths);
}

// ---------------------------------------------------------------------------------------------
// Dockerfile.cloud sections.

export interface DockerfileSections {
  code: string;
  data: string;
}

/** Python's universal newlines on read: CRLF and a lone CR become LF. */
function translateNewlines(text: string): string {
  return text.replace(/\r\n?/g, '\n');
}

/** Python's `repr()` of a list of str, for the sentinel error (both sentinels are plain ASCII). */
function pythonStrListRepr(items: readonly string[]): string {
  const repr = (s: string): string => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`);
  return `[${items.map(repr).join(', ')}]`;
}

/**
 * The CODE and DATA sections of `Dockerfile.cloud` (text already decoded as UTF-8; newlines are
 * translated here). A section starts at the first occurrence of its own sentinel (a substring
 * match, sentinel included) and ends where the first occurrence of the other sentinel starts when
 * that comes later, else at EOF. So with DATA before CODE, DATA runs up to CODE and CODE to EOF.
 */
export function dockerfileSections(text: string): DockerfileSections {
  const t = translateNewlines(text);
  const codeAt = t.indexOf(CODE_SENTINEL);
  const dataAt = t.indexOf(DATA_SENTINEL);
  const missing = [codeAt < 0 ? CODE_SENTINEL : null, dataAt < 0 ? DATA_SENTINEL : null].filter((s): s is string => s !== null);
  if (missing.length > 0) {
    throw new ImageTagError(
      `${DOCKERFILE_NAME} missing required sentinel(s): ${pythonStrListRepr(missing)}. ` +
        `Fix: add a line \`${CODE_SENTINEL}\` before the layers that copy the code and a line \`${DATA_SENTINEL}\` before the layers that copy the dataset; the image tag hashes each section.`,
    );
  }
  const section = (own: number, other: number): string => t.slice(own, other > own ? other : t.length);
  return { code: section(codeAt, dataAt), data: section(dataAt, codeAt) };
}

/** Decodes Dockerfile bytes as strict UTF-8, keeping a BOM as Python's `utf-8` codec does. */
function decodeDockerfile(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new ImageTagError(`${DOCKERFILE_NAME} is not valid UTF-8. Fix: save it as UTF-8 (the image tag hashes its text).`);
  }
}

// ---------------------------------------------------------------------------------------------
// Byte layouts (pure).

/** A file for the pure hashes: a posix path (see each function for its base) and its bytes. */
export interface FileBytes {
  path: string;
  bytes: Uint8Array;
}

const NUL = Buffer.from([0]);

/** The code records in hash order: `src/` files Python-sorted, then `uv.lock`, then `pyproject.toml`. Other paths are rejected. */
function codeFileOrder(paths: readonly string[]): string[] {
  const src: string[] = [];
  const extra = new Set<string>();
  for (const p of paths) {
    if (p.startsWith(`${CODE_DIR}/`)) src.push(p);
    else if ((CODE_FILES as readonly string[]).includes(p)) extra.add(p);
    else throw new ImageTagError(`${p} is not a code input of the image hash (only ${CODE_DIR}/, ${CODE_FILES.join(', ')})`);
  }
  return [...sortPathsLikePython(src), ...CODE_FILES.filter((f) => extra.has(f))];
}

/** `audited_gold/` files (repo-relative) in hash order. Other paths are rejected. */
function goldFileOrder(paths: readonly string[]): string[] {
  for (const p of paths) {
    if (!p.startsWith(`${GOLD_DIR}/`)) throw new ImageTagError(`${p} is not under ${GOLD_DIR}/`);
  }
  return sortPathsLikePython(paths);
}

function recordHead(prefix: string, path: string): Buffer {
  return Buffer.concat([Buffer.from(prefix + path, 'utf8'), NUL]);
}

function byPath(files: readonly FileBytes[]): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  for (const f of files) {
    if (m.has(f.path)) throw new ImageTagError(`${f.path} is given twice`);
    m.set(f.path, f.bytes);
  }
  return m;
}

function updateRecords(h: Hash, prefix: string, order: readonly string[], bytes: Map<string, Uint8Array>): void {
  for (const p of order) {
    h.update(recordHead(prefix, p));
    h.update(bytes.get(p) ?? new Uint8Array());
    h.update(NUL);
  }
}

function updateSection(h: Hash, prefix: string, section: string): void {
  h.update(Buffer.from(prefix + section, 'utf8'));
  h.update(NUL);
}

/**
 * Is this repo path already hashed by a group of its own (code files, audited gold, or the
 * dataset, which the build context holds as `mini-interact/`)? Such paths are never context records.
 */
export function coveredByTag(path: string): boolean {
  return (
    (CODE_FILES as readonly string[]).includes(path) ||
    path.startsWith(`${CODE_DIR}/`) ||
    path.startsWith(`${GOLD_DIR}/`) ||
    path === DATASET_DIR ||
    path.startsWith(`${DATASET_DIR}/`)
  );
}

/**
 * The context records in hash order: of the repo files given (what git lists under the sources'
 * literal prefixes), those that some source copies or that are a dockerignore file, minus the ones
 * {@link coveredByTag}, Python-sorted.
 */
export function contextFileOrder(listed: readonly string[], sources: readonly ContextSource[]): string[] {
  const picked = new Set<string>();
  for (const p of listed) {
    if (coveredByTag(p)) continue;
    if ((DOCKERIGNORE_FILES as readonly string[]).includes(p) || sources.some((s) => sourceCopies(s.path, p))) picked.add(p);
  }
  return sortPathsLikePython([...picked]);
}

/**
 * SHA-256 hex of the code and the build recipe:
 * 1. each code file (paths relative to the repo root: `src/...`, `uv.lock`, `pyproject.toml`; any
 *    input order) as `b"code/" + path + b"\0" + bytes + b"\0"` in {@link codeFileOrder} (an absent
 *    `uv.lock` or `pyproject.toml` contributes nothing);
 * 2. each other context file the Dockerfile reads (see {@link contextFileOrder}; any input order,
 *    hashed in Python's path order) as `b"context/" + path + b"\0" + bytes + b"\0"`;
 * 3. `b"dockerfile/" + text + b"\0"`, the whole `Dockerfile.cloud` with its newlines translated here.
 */
export function codeHash(files: readonly FileBytes[], contextFiles: readonly FileBytes[], dockerfile: string): string {
  const h = createHash('sha256');
  updateRecords(h, 'code/', codeFileOrder(files.map((f) => f.path)), byPath(files));
  const context = byPath(contextFiles);
  for (const p of context.keys()) {
    if (coveredByTag(p)) throw new ImageTagError(`${p} is hashed in its own group, not as a context file`);
  }
  updateRecords(h, 'context/', sortPathsLikePython([...context.keys()]), context);
  updateSection(h, 'dockerfile/', translateNewlines(dockerfile));
  return h.digest('hex');
}

/**
 * SHA-256 hex of the data: mini-interact files (paths relative to that root) as
 * `b"mi/" + path + b"\0" + bytes + b"\0"`, Python-sorted; then `audited_gold/` files (paths
 * relative to the repo root) as `b"repo/" + path + ...`, Python-sorted; then
 * `b"dockerfile-data/" + section + b"\0"`.
 */
export function dataHash(miniInteractFiles: readonly FileBytes[], goldFiles: readonly FileBytes[], dataSection: string): string {
  const h = createHash('sha256');
  updateRecords(h, 'mi/', sortPathsLikePython(miniInteractFiles.map((f) => f.path)), byPath(miniInteractFiles));
  updateRecords(h, 'repo/', goldFileOrder(goldFiles.map((f) => f.path)), byPath(goldFiles));
  updateSection(h, 'dockerfile-data/', dataSection);
  return h.digest('hex');
}

/** `<data_hash[:12]>-<code_hash[:12]>`, plus `-dirty` when a dirty tree was hashed. */
export function formatTag(dataHashHex: string, codeHashHex: string, dirty: boolean): string {
  return `${dataHashHex.slice(0, 12)}-${codeHashHex.slice(0, 12)}${dirty ? '-dirty' : ''}`;
}

export interface ImageUriOptions {
  region: string;
  project: string;
  /** Artifact Registry repository; default `bird-interact-runner`. */
  arRepo?: string;
  /** Image name; default `runner`. */
  image?: string;
  tag: string;
}

/** `<region>-docker.pkg.dev/<project>/<ar_repo>/<image>:<tag>`. */
export function imageUri({ region, project, arRepo = DEFAULT_AR_REPO, image = DEFAULT_IMAGE, tag }: ImageUriOptions): string {
  return `${region}-docker.pkg.dev/${project}/${arRepo}/${image}:${tag}`;
}

// ---------------------------------------------------------------------------------------------
// I/O: file selection and streaming.

function decodePath(raw: Buffer, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    throw new ImageTagError(
      `${where}: the file name ${JSON.stringify(raw.toString('latin1'))} is not valid UTF-8, so it has no UTF-8 path to hash. Fix: rename the file with a UTF-8 name.`,
    );
  }
}

function gitBuffer(cwd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      'git',
      args,
      { cwd, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } },
      (err, stdout, stderr) => {
        if (!err) return resolvePromise(stdout);
        const text = stderr.toString('utf8').trim();
        if (/dubious ownership/i.test(text)) {
          reject(
            new GitError(
              `git refuses the repository at ${cwd} (dubious ownership). Fix: run \`git config --global --add safe.directory ${cwd}\` in a step before this one, or check out with actions/checkout, which does it for you.`,
            ),
          );
        } else if (/not a git repository/i.test(text)) {
          reject(
            new GitError(
              `${cwd} is not a git repository. Fix: check out the evaluation repo with actions/checkout before this step (the image tag hashes the files git tracks).`,
            ),
          );
        } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new GitError(
              `git is not installed on this runner, or ${cwd} does not exist. Fix: use a runner image with git and check out the evaluation repo first.`,
            ),
          );
        } else {
          reject(new GitError(`git ${args.join(' ')} failed: ${text || err.message}`));
        }
      },
    );
  });
}

/**
 * The files git tracks or would track under `pathspecs` (tracked plus untracked, never ignored),
 * as posix paths relative to `repoRoot`, deduplicated (a conflicted file is listed once per stage).
 * Runs `git ls-files -z --cached --others --exclude-standard -- <pathspecs>` in `repoRoot`.
 * An untracked nested repository is listed with a trailing `/`.
 */
export async function listGitFiles(repoRoot: string, pathspecs: readonly string[]): Promise<string[]> {
  const out = await gitBuffer(repoRoot, ['ls-files', '-z', '--cached', '--others', '--exclude-standard', '--', ...pathspecs.map((p) => `:(literal)${p}`)]);
  const seen = new Set<string>();
  let from = 0;
  for (let i = 0; i < out.length; i++) {
    if (out[i] !== 0) continue;
    if (i > from) seen.add(decodePath(out.subarray(from, i), repoRoot));
    from = i + 1;
  }
  if (from < out.length) seen.add(decodePath(out.subarray(from), repoRoot));
  return [...seen];
}

function isInside(top: string, target: string): boolean {
  return target === top || target.startsWith(top.endsWith(sep) ? top : top + sep);
}

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

/**
 * What to hash for one path: its bytes source, or null to skip it. A symlink is followed when its
 * target stays inside `top` (a regular file is then hashed under the link's own path, with the
 * target's bytes, as Python's `is_file()` does); one that leaves `top` is an error; a broken link
 * and a link to a directory are skipped (Python's `rglob` + `is_file()` skip them too).
 */
async function classify(abs: string, top: string, label: string): Promise<'file' | 'skip' | 'dir'> {
  let st: Stats;
  try {
    st = await lstat(abs);
  } catch (e) {
    if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR') return 'skip';
    throw e;
  }
  if (st.isSymbolicLink()) {
    let target: string;
    try {
      target = await realpath(abs);
    } catch (e) {
      if (errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR' || errno(e) === 'ELOOP') return 'skip';
      throw e;
    }
    if (!isInside(top, target)) {
      throw new ImageTagError(
        `${label} is a symlink that leaves ${top} (to ${target}), so its bytes would differ between machines. Fix: replace the link with a copy of the file (e.g. \`cp -rL\`), or move the target inside.`,
      );
    }
    st = await stat(abs);
    if (st.isDirectory()) return 'skip';
    return st.isFile() ? 'file' : 'skip';
  }
  if (st.isDirectory()) return 'dir';
  return st.isFile() ? 'file' : 'skip';
}

async function streamRecord(h: Hash, prefix: string, rel: string, abs: string): Promise<void> {
  h.update(recordHead(prefix, rel));
  for await (const chunk of createReadStream(abs)) h.update(chunk as Buffer);
  h.update(NUL);
}

/**
 * Where to read a file that listGitFiles gave, or null when there is nothing to hash (tracked but
 * deleted in the worktree, a broken or directory symlink). A nested repository (`path/`), a
 * submodule, or a symlink leaving the repository is an error: their bytes would not be hashed, or
 * would differ between machines. `what` names the input in the messages (e.g. "an image input").
 */
export async function repoFileToHash(repoRoot: string, rel: string, what: string, top?: string): Promise<string | null> {
  if (rel.endsWith('/')) {
    throw new ImageTagError(
      `${rel} is a nested git repository inside ${what}; its files are not hashed. Fix: remove it, vendor its files into the repository, or list it in .git/info/exclude so that it is not taken.`,
    );
  }
  const abs = join(repoRoot, ...rel.split('/'));
  const kind = await classify(abs, top ?? (await realpath(repoRoot)), rel);
  if (kind === 'dir') {
    throw new ImageTagError(
      `${rel} is a git submodule inside ${what}; its files are not hashed. Fix: vendor the files into the repository instead of a submodule.`,
    );
  }
  return kind === 'skip' ? null : abs;
}

async function hashRepoFiles(h: Hash, prefix: string, repoRoot: string, top: string, order: readonly string[]): Promise<void> {
  for (const rel of order) {
    const abs = await repoFileToHash(repoRoot, rel, 'an image input', top);
    if (abs !== null) await streamRecord(h, prefix, rel, abs);
  }
}

/**
 * Every regular file under `root` as posix paths relative to it, dotfiles included, following
 * symlinks per {@link classify} (directory symlinks are not descended). Not sorted.
 */
async function walkFiles(root: string): Promise<string[]> {
  let top: string;
  try {
    top = await realpath(root);
    if (!(await stat(top)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new ImageTagError(
      `mini-interact root ${root} not found or not a directory. Fix: point mini-interact-root at the dataset directory (the image tag hashes every file in it).`,
    );
  }
  const found: string[] = [];
  async function visit(dir: string, relDir: string): Promise<void> {
    const names = await readdir(dir, { encoding: 'buffer' });
    for (const raw of names) {
      const name = decodePath(raw, join(root, relDir));
      const abs = join(dir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      const kind = await classify(abs, top, `${root}/${rel}`);
      if (kind === 'dir') await visit(abs, rel);
      else if (kind === 'file') found.push(rel);
    }
  }
  await visit(top, '');
  return found;
}

/** Reads `<repoRoot>/Dockerfile.cloud` from the working tree: its text, newlines translated. */
async function readDockerfile(repoRoot: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(join(repoRoot, DOCKERFILE_NAME));
  } catch (e) {
    const code = errno(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new ImageTagError(
        `${DOCKERFILE_NAME} not found under ${repoRoot}. Fix: check out the evaluation repo (it has ${DOCKERFILE_NAME} at its root) or set the repo root to the directory that holds it.`,
      );
    }
    throw e;
  }
  return translateNewlines(decodeDockerfile(bytes));
}

/** What the Dockerfile reads from the context, with its errors as image-tag errors. */
function contextSources(dockerfile: string): ContextSource[] {
  try {
    return dockerfileContextSources(dockerfile, DOCKERFILE_NAME);
  } catch (e) {
    throw new ImageTagError(e instanceof Error ? e.message : String(e));
  }
}

export interface ImageTagOptions {
  /** Root of the evaluation repo (holds `Dockerfile.cloud`, `src/`, `audited_gold/`, ...). */
  repoRoot: string;
  /** The dataset directory; every regular file in it is hashed. */
  miniInteractRoot: string;
  /** The worktree was dirty and allow-dirty let it through: appends `-dirty`. */
  dirty: boolean;
}

export interface ImageTagResult {
  tag: string;
  /** Full SHA-256 hex digests. */
  codeHash: string;
  dataHash: string;
}

/**
 * The content-addressed tag of docs/reference/per-run-cluster.md#image-tag. Repo inputs are the files git tracks or would track
 * (working-tree bytes); the mini-interact root is walked on disk.
 */
export async function imageTag({ repoRoot, miniInteractRoot, dirty }: ImageTagOptions): Promise<ImageTagResult> {
  const dockerfile = await readDockerfile(repoRoot);
  const sections = dockerfileSections(dockerfile);
  const sources = contextSources(dockerfile);
  const repoTop = await realpath(repoRoot);
  const repoFiles = await listGitFiles(repoRoot, [CODE_DIR, GOLD_DIR, ...CODE_FILES]);
  const codePaths = repoFiles.filter((p) => p.startsWith(`${CODE_DIR}/`) || (CODE_FILES as readonly string[]).includes(p));
  const goldPaths = repoFiles.filter((p) => p.startsWith(`${GOLD_DIR}/`));
  // A source inside a group of its own (`COPY src /app/src`) needs no listing: its files are never context records.
  const ownGroup = (p: string): boolean => coveredByTag(p) || p === CODE_DIR || p === GOLD_DIR || p === DATASET_DIR;
  const prefixes = [...new Set([...sources.map((s) => literalPrefix(s.path) || '.').filter((p) => !ownGroup(p)), ...DOCKERIGNORE_FILES])];
  const contextPaths = contextFileOrder(await listGitFiles(repoRoot, prefixes), sources);

  const code = createHash('sha256');
  await hashRepoFiles(code, 'code/', repoRoot, repoTop, codeFileOrder(codePaths));
  await hashRepoFiles(code, 'context/', repoRoot, repoTop, contextPaths);
  updateSection(code, 'dockerfile/', dockerfile);

  const miFiles = sortPathsLikePython(await walkFiles(miniInteractRoot));
  const miTop = await realpath(miniInteractRoot);
  const data = createHash('sha256');
  for (const rel of miFiles) await streamRecord(data, 'mi/', rel, join(miTop, ...rel.split('/')));
  await hashRepoFiles(data, 'repo/', repoRoot, repoTop, goldFileOrder(goldPaths));
  updateSection(data, 'dockerfile-data/', sections.data);

  const codeHex = code.digest('hex');
  const dataHex = data.digest('hex');
  return { tag: formatTag(dataHex, codeHex, dirty), codeHash: codeHex, dataHash: dataHex };
}

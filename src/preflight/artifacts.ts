// Per-DB SLayer artifacts: the presence rules of docs/reference/combos.md#artifacts-and-presence-markers and the file walk of docs/reference/gcs-layout.md#setup-uploads.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import pLimit from 'p-limit';
import { type ArtifactKind, COMBO_NUMBER } from '../inputs/combos.js';

export interface ArtifactFile {
  /** Posix path relative to the DB directory. */
  path: string;
  size: number;
  /** Base64 MD5, the form GCS reports in `md5Hash`. */
  md5: string;
}

export interface DbArtifact {
  db: string;
  files: ArtifactFile[];
  bytes: number;
  /** SHA-256 hex over the sorted lines `<relpath>\t<md5>\n` (docs/reference/manifest.md#db-digest). */
  digest: string;
}

const MARKERS: Readonly<Record<ArtifactKind, string | null>> = {
  slayer_models: null,
  slayer_otf_cache: '_cache_fp.txt',
  slayer_models_otf: '_reference_fp.txt',
};

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

/** Why a DB's artifact is not usable, or null when it is present (docs/reference/combos.md#artifacts-and-presence-markers). */
export async function presenceProblem(kind: ArtifactKind, dbDir: string): Promise<string | null> {
  let entries: string[];
  try {
    if (!(await stat(dbDir)).isDirectory()) return 'is not a directory';
    entries = await readdir(dbDir);
  } catch {
    return 'is missing';
  }
  if (kind === 'slayer_models') return entries.length === 0 ? 'is empty' : null;
  const marker = MARKERS[kind] as string;
  if (!(await isFile(join(dbDir, marker)))) return `has no ${marker} (the build did not finish)`;
  if (kind === 'slayer_models_otf') {
    let rows: unknown;
    try {
      rows = JSON.parse(await readFile(join(dbDir, '_kb_rows.json'), 'utf8'));
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'has no _kb_rows.json' : 'has a _kb_rows.json that is not valid JSON';
    }
    if (!Array.isArray(rows)) return 'has a _kb_rows.json that is not a JSON list';
  }
  return null;
}

/** The Python wording of a missing setup, with the fix (docs/reference/combos.md#missing-setup). */
export function missingSetupMessage(
  kind: ArtifactKind,
  root: string,
  missing: ReadonlyArray<readonly [db: string, why: string]>,
  framework: string,
  setup: string,
): string {
  const list = missing.map(([db, why]) => `${db} (${why})`).join(', ');
  return (
    `cloud slayer: local SLayer setup missing for ${list} under ${root} (combo ${setup}/${framework}, artifact ${kind}, combo ${COMBO_NUMBER[kind]}); ` +
    'build it locally first — the cloud runner never builds setup in-cluster'
  );
}

export class SymlinkEscapeError extends Error {}

async function md5File(path: string, size: number): Promise<string> {
  const h = createHash('md5');
  if (size < 8 * 1024 * 1024) {
    h.update(await readFile(path));
  } else {
    // Stream large files (embeddings.db) instead of holding them in memory.
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  }
  return h.digest('base64');
}

/**
 * Lists every regular file of a DB directory, dotfiles included. Symlinks are followed only
 * while they stay inside the DB directory; one that leaves it is an error (docs/reference/gcs-layout.md#setup-uploads).
 */
export async function walkDb(dbDir: string, db: string, hashConcurrency = 16): Promise<DbArtifact> {
  const top = await realpath(dbDir);
  // The DB folder itself may be a link only within its artifact root (`alien -> ..` would
  // upload the checkout, .git/config and credential files included).
  const root = await realpath(dirname(dbDir));
  if (!top.startsWith(root + sep)) throw new SymlinkEscapeError(`${db} is a symlink that leaves the artifact root (to ${top})`);
  const found: Array<{ abs: string; rel: string; size: number }> = [];
  const visited = new Set<string>();

  async function visit(dir: string, relDir: string): Promise<void> {
    const real = await realpath(dir);
    if (visited.has(real)) return;
    visited.add(real);
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const abs = join(dir, name);
      const rel = relDir ? `${relDir}/${name}` : name;
      let st = await lstat(abs);
      if (st.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(abs);
        } catch {
          throw new SymlinkEscapeError(`${db}/${rel} is a broken symlink`);
        }
        if (target !== top && !target.startsWith(top + sep)) {
          throw new SymlinkEscapeError(`${db}/${rel} is a symlink that leaves the DB directory (to ${target})`);
        }
        st = await stat(abs);
      }
      if (st.isDirectory()) await visit(abs, rel);
      else if (st.isFile()) found.push({ abs, rel, size: st.size });
      // Sockets, FIFOs and devices are not artifact content.
    }
  }
  await visit(dbDir, '');

  const limit = pLimit(hashConcurrency);
  const files = await Promise.all(
    found.map((f) => limit(async (): Promise<ArtifactFile> => ({ path: f.rel, size: f.size, md5: await md5File(f.abs, f.size) }))),
  );
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { db, files, bytes: files.reduce((n, f) => n + f.size, 0), digest: dbDigest(files) };
}

/** SHA-256 of the sorted `<relpath>\t<md5 base64>\n` lines: changes exactly when a file does. */
export function dbDigest(files: readonly ArtifactFile[]): string {
  const lines = files.map((f) => `${f.path}\t${f.md5}\n`).sort();
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** True when `rel` is a posix relative path with no `..`, no empty and no absolute segment. */
export function safeRelPath(rel: string): boolean {
  if (!rel || rel.startsWith('/') || rel.endsWith('/')) return false;
  return rel.split('/').every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\\'));
}

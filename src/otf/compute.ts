// The I/O half of the OTF keys: hashes each DB's dataset files and the encoder's code, and reads
// the SLayer pin from uv.lock. Every problem is reported at once, before any key is made.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { listGitFiles, repoFileToHash, sortPathsLikePython } from '../cluster/image-tag.js';
import { errorMessage, ProblemList } from '../common/errors.js';
import { type OtfSettings, workflowPath } from './inputs.js';
import {
  cacheKey,
  type DbKey,
  dbInputFiles,
  encoderRecordHead,
  type FileDigest,
  findLockedPackage,
  keyHash,
  type LockedPackage,
  OtfDefaults,
  OtfInputs,
  parseUvLockPackages,
} from './key-material.js';

/** Files hashed at once; each is streamed, so memory stays flat for large .sqlite files. */
const HASH_CONCURRENCY = 4;

async function digestFile(path: string, name: string): Promise<FileDigest> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    size += b.length;
    h.update(b);
  }
  return { name, size, sha256: h.digest('hex') };
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The locked entries of the SLayer package; records a problem when uv.lock or the package is missing. */
function readSlayerPin(s: Pick<OtfSettings, 'uvLock' | 'slayerPackage'>, problems: ProblemList): LockedPackage[] {
  if (!isFile(s.uvLock)) {
    problems.add(
      OtfInputs.UvLock,
      `'${s.uvLock}' does not exist`,
      'check out the evaluation repo before this step, or set uv-lock to its lock file (relative to the workspace)',
    );
    return [];
  }
  const packages = parseUvLockPackages(readFileSync(s.uvLock, 'utf8'));
  const found = findLockedPackage(packages, s.slayerPackage);
  if (found.length === 0) {
    problems.add(
      OtfInputs.SlayerPackage,
      `no [[package]] named '${s.slayerPackage}' in '${s.uvLock}' (${packages.length} packages read)`,
      'set slayer-package to the SLayer package name as uv.lock spells it, or lock it with uv lock',
    );
    return [];
  }
  const unpinned = found.filter((p) => !p.version && !p.source);
  if (unpinned.length > 0)
    problems.add(OtfInputs.UvLock, `package '${s.slayerPackage}' in '${s.uvLock}' has neither a version nor a source`, 'regenerate the lock file with uv lock');
  return found;
}

/** The three dataset files of every DB; records one problem per DB that lacks any of them. */
function datasetFiles(s: Pick<OtfSettings, 'dbs' | 'miniInteractRoot'>, problems: ProblemList): Map<string, { name: string; path: string }[]> {
  const out = new Map<string, { name: string; path: string }[]>();
  if (!existsSync(s.miniInteractRoot)) {
    problems.add(
      OtfInputs.MiniInteractRoot,
      `the mini-interact root '${s.miniInteractRoot}' does not exist`,
      'put the mini-interact data in place before this step (mini-interact-command), or set mini-interact-root (default: $BIRD_DB_PATH, else <workspace>/../mini-interact)',
    );
    return out;
  }
  for (const db of s.dbs) {
    const files = dbInputFiles(db).map((name) => ({ name, path: join(s.miniInteractRoot, db, name) }));
    const missing = files.filter((f) => !isFile(f.path));
    if (missing.length > 0) {
      problems.add(
        OtfInputs.MiniInteractRoot,
        `DB '${db}' is missing ${missing.map((f) => f.name).join(', ')} under ${join(s.miniInteractRoot, db)}`,
        'put the full mini-interact data in place (each DB folder holds <db>.sqlite, <db>_column_meaning_base.json and <db>_kb.jsonl), or drop the DB from the selection',
      );
      continue;
    }
    out.set(db, files);
  }
  return out;
}

/** The encoder's code as the key sees it. */
interface EncoderDigest {
  /** SHA-256 hex over every file's record (encoderRecordHead + bytes), in Python's path order. */
  sha256: string;
  /** The files hashed, repo-relative, in hash order. */
  files: string[];
}

/** Does `path` (an encoder-paths entry) name this git-listed file or a folder above it? */
function names(path: string, file: string): boolean {
  const p = path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return p === '' || p === '.' || file === p || file.startsWith(`${p}/`);
}

/**
 * The digest of the files git tracks or would track (never ignored ones) under the encoder
 * paths, relative to the workspace (the checkout of the evaluation repo). Records a problem on
 * encoder-paths when git cannot list them, when a path names no such file (a typo would leave the
 * code out of the key), or when a file cannot be hashed (nested repository, submodule, symlink
 * leaving the repository); returns null then.
 */
async function encoderDigest(s: Pick<OtfSettings, 'encoderPaths' | 'workspace'>, problems: ProblemList): Promise<EncoderDigest | null> {
  if (s.encoderPaths.length === 0) return null;
  let listed: string[];
  try {
    listed = await listGitFiles(s.workspace, s.encoderPaths);
  } catch (e) {
    problems.add(
      OtfInputs.EncoderPaths,
      `cannot list the files git tracks under '${s.encoderPaths.join(' ')}' in ${s.workspace}: ${errorMessage(e)}`,
      'check out the evaluation repo (actions/checkout) before this step; the key hashes the encoder code git tracks',
    );
    return null;
  }
  const unmatched = s.encoderPaths.filter((p) => !listed.some((f) => names(p, f)));
  for (const p of unmatched) {
    problems.add(
      OtfInputs.EncoderPaths,
      `'${p}' names no file git tracks (or would track) in ${s.workspace}`,
      `name files or folders of the evaluation repo that hold the encode code (default: ${OtfDefaults.encoderPaths}); ignored files are never hashed`,
    );
  }
  if (unmatched.length > 0) return null;
  const files = sortPathsLikePython(listed);
  const h = createHash('sha256');
  const hashed: string[] = [];
  try {
    for (const rel of files) {
      const abs = await repoFileToHash(s.workspace, rel, 'an encoder path');
      if (abs === null) continue;
      const size = (await stat(abs)).size;
      h.update(encoderRecordHead(rel, size));
      let read = 0;
      for await (const chunk of createReadStream(abs)) {
        read += (chunk as Buffer).length;
        h.update(chunk as Buffer);
      }
      if (read !== size) throw new Error(`${rel} changed while it was hashed (${size} bytes before, ${read} read); run the step again`);
      hashed.push(rel);
    }
  } catch (e) {
    problems.add(OtfInputs.EncoderPaths, errorMessage(e), 'keep the encoder paths to plain files of the evaluation repo');
    return null;
  }
  return { sha256: h.digest('hex'), files: hashed };
}

export interface ComputedKeys {
  keys: DbKey[];
  /** DB → the full SHA-256 of its key material. */
  hashes: Record<string, string>;
  slayer: LockedPackage[];
  encoder: EncoderDigest;
}

/**
 * Every DB's key. Throws one ProblemsError naming every missing file or pin, together with any
 * problems already in `problems` (the input problems of parseOtfSettings).
 */
export async function computeKeys(settings: OtfSettings, problems: ProblemList = new ProblemList()): Promise<ComputedKeys> {
  const slayer = readSlayerPin(settings, problems);
  const files = datasetFiles(settings, problems);
  const encoder = await encoderDigest(settings, problems);
  problems.throwIfAny();
  if (!encoder) throw new Error('otf-keys: no encoder digest and no problem recorded'); // unreachable: a null digest records a problem

  const limit = pLimit(HASH_CONCURRENCY);
  const digests = new Map<string, FileDigest[]>();
  await Promise.all(
    settings.dbs.map(async (db) => {
      const list = files.get(db) ?? [];
      digests.set(db, await Promise.all(list.map((f) => limit(() => digestFile(f.path, f.name)))));
    }),
  );

  const keys: DbKey[] = [];
  const hashes: Record<string, string> = {};
  for (const db of settings.dbs) {
    const hash = keyHash({
      db,
      framework: settings.framework,
      embeddingModel: settings.embeddingModel,
      referenceModel: settings.referenceModel,
      slayer,
      encoder: encoder.sha256,
      files: digests.get(db) ?? [],
    });
    hashes[db] = hash;
    keys.push({ db, key: cacheKey(settings.keyPrefix, settings.artifact, db, hash), path: workflowPath(join(settings.artifactRoot, db), settings.workspace) });
  }
  return { keys, hashes, slayer, encoder };
}

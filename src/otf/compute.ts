// The I/O half of the OTF keys: hashes each DB's dataset files and reads the SLayer pin from
// uv.lock. Every missing file is reported at once, per DB, before any key is made.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { ProblemList } from '../common/errors.js';
import { type OtfSettings, workflowPath } from './inputs.js';
import {
  cacheKey,
  type DbKey,
  dbInputFiles,
  type FileDigest,
  findLockedPackage,
  keyHash,
  type LockedPackage,
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

export interface ComputedKeys {
  keys: DbKey[];
  /** DB → the full SHA-256 of its key material. */
  hashes: Record<string, string>;
  slayer: LockedPackage[];
}

/**
 * Every DB's key. Throws one ProblemsError naming every missing file or pin, together with any
 * problems already in `problems` (the input problems of parseOtfSettings).
 */
export async function computeKeys(settings: OtfSettings, problems: ProblemList = new ProblemList()): Promise<ComputedKeys> {
  const slayer = readSlayerPin(settings, problems);
  const files = datasetFiles(settings, problems);
  problems.throwIfAny();

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
      files: digests.get(db) ?? [],
    });
    hashes[db] = hash;
    keys.push({ db, key: cacheKey(settings.keyPrefix, settings.artifact, db, hash), path: workflowPath(join(settings.artifactRoot, db), settings.workspace) });
  }
  return { keys, hashes, slayer };
}

// The per-DB cache keys of the OTF encode workflow (docs/reference/otf-encode.md#cache-keys), pure part: names, parsing and
// the key itself. Reading files and the runner lives in ./inputs.ts, ./compute.ts and ./main.ts.
import { createHash } from 'node:crypto';
import { type ArtifactKind, FRAMEWORKS, type Framework, isFramework } from '../inputs/combos.js';

/** The inputs of the otf-keys sub-action (otf-keys/action.yml). */
export enum OtfInputs {
  Dbs = 'dbs',
  InstanceIds = 'instance-ids',
  InstanceIdsFile = 'instance-ids-file',
  DatasetFile = 'dataset-file',
  MiniInteractRoot = 'mini-interact-root',
  Framework = 'framework',
  EmbeddingModel = 'embedding-model',
  ReferenceModel = 'reference-model',
  UvLock = 'uv-lock',
  SlayerPackage = 'slayer-package',
  KeyPrefix = 'key-prefix',
  OtfCacheRoot = 'otf-cache-root',
  ModelsOtfRoot = 'models-otf-root',
  EncoderPaths = 'encoder-paths',
}

/** The outputs of the otf-keys sub-action. */
export enum OtfOutputs {
  Matrix = 'matrix',
  Keys = 'keys',
  Dbs = 'dbs',
  Artifact = 'artifact',
  ArtifactRoot = 'artifact-root',
  OtfCacheRoot = 'otf-cache-root',
  Marker = 'marker',
}

/** Defaults that otf-keys/action.yml repeats (a test keeps them in step). */
export const OtfDefaults = {
  embeddingModel: 'openai/text-embedding-3-small',
  uvLock: 'uv.lock',
  slayerPackage: 'slayer',
  keyPrefix: 'bird-otf-v1',
  encoderPaths: 'uv.lock pyproject.toml src/',
} as const;

/** Bumped when the key material below changes shape, so old cache entries are never reused. */
const KEY_MATERIAL_VERSION = 'bird-otf-key/2';
/** Hex characters of the SHA-256 kept in the key (128 bits). */
export const KEY_HASH_CHARS = 32;
/** GitHub's limit on the legs of one matrix. */
export const MAX_MATRIX_LEGS = 256;
/** A key prefix: no commas (actions/cache rejects them) and nothing a shell or a path would mangle. */
export const KEY_PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export type OtfFramework = Extract<Framework, 'pydantic_ai_recursive' | 'pydantic_ai_otf_encode'>;
export type OtfArtifact = Extract<ArtifactKind, 'slayer_otf_cache' | 'slayer_models_otf'>;

/** The frameworks that run on the fly, from the combo table (docs/reference/combos.md#artifacts-and-presence-markers): the ones with an on-the-fly artifact. */
export const OTF_FRAMEWORKS: readonly OtfFramework[] = (Object.keys(FRAMEWORKS) as Framework[]).filter(
  (f): f is OtfFramework => FRAMEWORKS[f].onTheFlyArtifact !== null,
);

export function isOtfFramework(name: string): name is OtfFramework {
  return isFramework(name) && FRAMEWORKS[name].onTheFlyArtifact !== null;
}

export function otfArtifact(framework: OtfFramework): OtfArtifact {
  return FRAMEWORKS[framework].onTheFlyArtifact as OtfArtifact;
}

/** The completeness marker of each artifact (docs/reference/combos.md#artifacts-and-presence-markers): written last, so its presence means complete. */
const MARKERS: Readonly<Record<OtfArtifact, string>> = {
  slayer_otf_cache: '_cache_fp.txt',
  slayer_models_otf: '_reference_fp.txt',
};

/** Combo 3 runs an LLM setup encoder, so its output depends on that model too. */
export function needsReferenceModel(framework: OtfFramework): boolean {
  return otfArtifact(framework) === 'slayer_models_otf';
}

/** The three dataset files of one DB under the mini-interact root (docs/reference/inputs.md#the-mini-interact-data), in key order. */
export function dbInputFiles(db: string): [string, string, string] {
  return [`${db}.sqlite`, `${db}_column_meaning_base.json`, `${db}_kb.jsonl`];
}

/**
 * The `dbs` input: a JSON array of strings, or names separated by commas, spaces or newlines.
 * Returns null (and a reason) when it is JSON that is not an array of strings.
 */
export function parseDbList(raw: string): { dbs: string[]; error: string | null } {
  const text = raw.trim();
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return { dbs: [], error: `'${text}' is not valid JSON (${e instanceof Error ? e.message : String(e)})` };
    }
    if (!Array.isArray(parsed) || parsed.some((d) => typeof d !== 'string')) return { dbs: [], error: `'${text}' is not a JSON array of strings` };
    return { dbs: (parsed as string[]).map((d) => d.trim()), error: null };
  }
  return { dbs: text.split(/[\s,]+/).filter(Boolean), error: null };
}

/** PEP 503 name normalisation, as uv applies it to package names. */
function normalizePackageName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export interface LockedPackage {
  name: string;
  version: string;
  /** The `source = …` value as written (registry, git URL with commit, path), or ''. */
  source: string;
}

function tomlString(value: string): string | null {
  const m = /^"((?:[^"\\]|\\.)*)"\s*(#.*)?$/.exec(value.trim()) ?? /^'([^']*)'\s*(#.*)?$/.exec(value.trim());
  if (!m) return null;
  return m[1].replace(/\\(["\\])/g, '$1');
}

/**
 * The `[[package]]` tables of a uv.lock. uv writes each top-level key of a package on its own,
 * unindented line (`name = "x"`, `version = "1.0"`, `source = { … }`); array items and sub-tables
 * (`[package.optional-dependencies]`) are skipped. Only name, version and source are read.
 */
export function parseUvLockPackages(text: string): LockedPackage[] {
  const packages: LockedPackage[] = [];
  let current: LockedPackage | null = null;
  let inTopLevelKeys = false;
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*\[\[\s*package\s*\]\]\s*(#.*)?$/.test(line)) {
      current = { name: '', version: '', source: '' };
      packages.push(current);
      inTopLevelKeys = true;
      continue;
    }
    if (/^\s*\[/.test(line)) {
      // Another table (a sub-table of this package, or a top-level one): its keys are not the package's.
      inTopLevelKeys = false;
      continue;
    }
    if (!current || !inTopLevelKeys) continue;
    const kv = /^(name|version|source)\s*=\s*(.*)$/.exec(line);
    if (!kv) continue;
    const [, key, value] = kv;
    if (key === 'source') current.source = value.replace(/\s+#.*$/, '').trim();
    else current[key as 'name' | 'version'] = tomlString(value) ?? '';
  }
  return packages.filter((p) => p.name !== '');
}

/** The pinned entries of one package (uv may lock several versions for different markers), sorted. */
export function findLockedPackage(packages: readonly LockedPackage[], name: string): LockedPackage[] {
  const want = normalizePackageName(name);
  return packages.filter((p) => normalizePackageName(p.name) === want).sort((a, b) => `${a.version} ${a.source}`.localeCompare(`${b.version} ${b.source}`));
}

/** One dataset file, as the key sees it. */
export interface FileDigest {
  name: string;
  size: number;
  sha256: string;
}

/** Everything one DB's OTF setup is built from (docs/reference/otf-encode.md#cache-keys). */
export interface KeyMaterial {
  db: string;
  framework: OtfFramework;
  embeddingModel: string;
  /** Combo 3 only; ignored for combo 2. */
  referenceModel: string;
  /** The locked SLayer package entries (version and source). */
  slayer: readonly LockedPackage[];
  /** SHA-256 hex of the encoder's code (the git-listed files under encoder-paths), see {@link encoderRecordHead}. */
  encoder: string;
  /** The three dataset files, in dbInputFiles order. */
  files: readonly FileDigest[];
}

/**
 * The head of one file's record in the encoder digest: `path + b"\0" + size + b"\0"`, then come
 * the file's bytes. The path is repo-relative, posix, UTF-8; the size in decimal ASCII. The size
 * keeps the records apart whatever bytes a file holds (a path has no NUL).
 */
export function encoderRecordHead(path: string, size: number): Buffer {
  return Buffer.concat([Buffer.from(path, 'utf8'), Buffer.from([0]), Buffer.from(String(size), 'ascii'), Buffer.from([0])]);
}

/** The encoder digest of files already in memory, in the order given (the I/O half sorts and streams). */
export function encoderHash(files: readonly { path: string; bytes: Uint8Array }[]): string {
  const h = createHash('sha256');
  for (const f of files) {
    h.update(encoderRecordHead(f.path, f.bytes.length));
    h.update(f.bytes);
  }
  return h.digest('hex');
}

/**
 * The `encoder-paths` input: paths separated by whitespace or commas, deduplicated, in the order
 * given; each must stay inside the repository (not absolute, no `..`).
 */
export function parseEncoderPaths(raw: string): { paths: string[]; bad: string[] } {
  const paths = [...new Set((raw.trim() || OtfDefaults.encoderPaths).split(/[\s,]+/).filter(Boolean))];
  const bad = paths.filter((p) => p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p) || p.split(/[\\/]/).includes('..'));
  return { paths: paths.filter((p) => !bad.includes(p)), bad };
}

/**
 * The text that is hashed: one `name=value` line per input, files by name, size and SHA-256 of
 * their bytes. Values can't hold a newline (checked on input), so the lines can't be forged.
 */
export function keyMaterialText(material: KeyMaterial): string {
  const lines = [
    KEY_MATERIAL_VERSION,
    `db=${material.db}`,
    `artifact=${otfArtifact(material.framework)}`,
    `framework=${material.framework}`,
    `embedding-model=${material.embeddingModel}`,
  ];
  if (needsReferenceModel(material.framework)) lines.push(`reference-model=${material.referenceModel}`);
  for (const p of material.slayer) lines.push(`slayer=${normalizePackageName(p.name)} ${p.version} ${p.source}`);
  lines.push(`encoder=${material.encoder}`);
  for (const f of material.files) lines.push(`file=${f.name} size=${f.size} sha256=${f.sha256}`);
  return `${lines.join('\n')}\n`;
}

/** SHA-256 (hex) of the key material. */
export function keyHash(material: KeyMaterial): string {
  return createHash('sha256').update(keyMaterialText(material), 'utf8').digest('hex');
}

/** `<prefix>-<artifact>-<db>-<hash>`; throws on an empty or short hash, so a key is never constant. */
export function cacheKey(prefix: string, artifact: OtfArtifact, db: string, hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`otf-keys: refusing a cache key for '${db}' with hash '${hash}' (expected 64 hex characters)`);
  return `${prefix}-${artifact}-${db}-${hash.slice(0, KEY_HASH_CHARS)}`;
}

export interface DbKey {
  db: string;
  key: string;
  /** The DB's artifact directory, as actions/cache and upload-artifact take it. */
  path: string;
}

/** What the sub-action outputs, as strings. */
export function outputValues(parts: { keys: readonly DbKey[]; artifact: OtfArtifact; artifactRoot: string; otfCacheRoot: string }): Record<OtfOutputs, string> {
  const sorted = [...parts.keys].sort((a, b) => a.db.localeCompare(b.db));
  return {
    [OtfOutputs.Matrix]: JSON.stringify({ include: sorted.map(({ db, key, path }) => ({ db, key, path })) }),
    [OtfOutputs.Keys]: JSON.stringify(Object.fromEntries(sorted.map((k) => [k.db, k.key]))),
    [OtfOutputs.Dbs]: JSON.stringify(sorted.map((k) => k.db)),
    [OtfOutputs.Artifact]: parts.artifact,
    [OtfOutputs.ArtifactRoot]: parts.artifactRoot,
    [OtfOutputs.OtfCacheRoot]: parts.otfCacheRoot,
    [OtfOutputs.Marker]: MARKERS[parts.artifact],
  };
}

// Reads and checks the otf-keys inputs. Collects every problem (input, bad value, fix) and fails
// once, like src/inputs/settings.ts for the main action.
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { ProblemList } from '../common/errors.js';
import { COMBO_NUMBER } from '../inputs/combos.js';
import { listIds, readInstanceIds } from '../inputs/instance-ids.js';
import { dataPaths, dbNameProblem, mapInstances } from '../preflight/dataset.js';
import {
  isOtfFramework,
  KEY_PREFIX,
  MAX_MATRIX_LEGS,
  needsReferenceModel,
  OTF_FRAMEWORKS,
  type OtfArtifact,
  OtfDefaults,
  type OtfFramework,
  OtfInputs,
  otfArtifact,
  parseDbList,
  parseEncoderPaths,
} from './key-material.js';

export interface OtfSettings {
  framework: OtfFramework;
  artifact: OtfArtifact;
  /** Sorted, distinct, each a safe path segment. */
  dbs: string[];
  /** Which input gave the DBs. */
  dbSource: OtfInputs.Dbs | OtfInputs.InstanceIds | OtfInputs.InstanceIdsFile;
  miniInteractRoot: string;
  embeddingModel: string;
  /** '' for combo 2. */
  referenceModel: string;
  uvLock: string;
  /** Repo-relative paths (relative to the workspace) whose git-listed files make up the encoder's code. */
  encoderPaths: string[];
  slayerPackage: string;
  keyPrefix: string;
  /** The artifact's root and the combo-2 cache layer's root, absolute. */
  artifactRoot: string;
  otfCacheRoot: string;
  workspace: string;
  /** Warnings worth printing (ignored inputs). */
  notes: string[];
}

export type OtfInputReader = (name: OtfInputs) => string;

function absolute(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** A path as the workflow should use it: relative to the workspace (with /) when inside it, else absolute. */
export function workflowPath(path: string, workspace: string): string {
  const rel = relative(workspace, path);
  if (rel === '') return '.';
  if (rel.startsWith('..') || isAbsolute(rel)) return path;
  return rel.split(sep).join('/');
}

/**
 * Parses every input. Without `collect` it throws one ProblemsError listing all problems; with it,
 * it records them there and returns what it could, so the file checks can add theirs before one
 * failure reports everything (the settings are then only valid if `collect` stays empty).
 */
export function parseOtfSettings(get: OtfInputReader, env: NodeJS.ProcessEnv = process.env, collect?: ProblemList): OtfSettings {
  const problems = collect ?? new ProblemList();
  const str = (name: OtfInputs): string => get(name).trim();
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const notes: string[] = [];

  const frameworkRaw = str(OtfInputs.Framework);
  const frameworkFix = `set framework to ${OTF_FRAMEWORKS.map((f) => `${f} (combo ${COMBO_NUMBER[otfArtifact(f)]})`).join(' or ')}`;
  if (!frameworkRaw) problems.add(OtfInputs.Framework, 'is required and is empty', frameworkFix);
  else if (!isOtfFramework(frameworkRaw)) problems.add(OtfInputs.Framework, `'${frameworkRaw}' has no on-the-fly setup to encode`, frameworkFix);
  const framework = isOtfFramework(frameworkRaw) ? frameworkRaw : null;

  const embeddingModel = str(OtfInputs.EmbeddingModel) || OtfDefaults.embeddingModel;
  if (/\s/.test(embeddingModel))
    problems.add(OtfInputs.EmbeddingModel, `'${embeddingModel}' contains whitespace`, 'use provider/model with no spaces, e.g. openai/text-embedding-3-small');
  let referenceModel = str(OtfInputs.ReferenceModel);
  if (/\s/.test(referenceModel)) problems.add(OtfInputs.ReferenceModel, `'${referenceModel}' contains whitespace`, 'use provider/model with no spaces');
  if (framework && needsReferenceModel(framework) && !referenceModel) {
    problems.add(
      OtfInputs.ReferenceModel,
      `is required for framework ${framework} and is empty (the reference build runs an LLM setup encoder, so its model is part of the key)`,
      'set reference-model to the provider/model the encode command uses for the reference build',
    );
  }
  if (framework && !needsReferenceModel(framework) && referenceModel) {
    notes.push(`reference-model '${referenceModel}' is ignored for framework ${framework} (only the reference build of pydantic_ai_otf_encode uses it)`);
    referenceModel = '';
  }

  const keyPrefix = str(OtfInputs.KeyPrefix) || OtfDefaults.keyPrefix;
  if (!KEY_PREFIX.test(keyPrefix))
    problems.add(
      OtfInputs.KeyPrefix,
      `'${keyPrefix}' is not a valid key prefix`,
      'use at most 100 letters, digits, dots, dashes and underscores (no commas), starting with a letter or digit',
    );

  const slayerPackage = str(OtfInputs.SlayerPackage) || OtfDefaults.slayerPackage;
  if (!/^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/.test(slayerPackage))
    problems.add(OtfInputs.SlayerPackage, `'${slayerPackage}' is not a Python package name`, 'give the name as uv.lock spells it, e.g. slayer');
  const uvLockRaw = str(OtfInputs.UvLock) || OtfDefaults.uvLock;
  const uvLock = absolute(uvLockRaw, workspace);

  const encoder = parseEncoderPaths(str(OtfInputs.EncoderPaths));
  const encoderFix = `give paths relative to the repository root, separated by spaces or commas, such as the default ${OtfDefaults.encoderPaths}`;
  for (const p of encoder.bad) problems.add(OtfInputs.EncoderPaths, `'${p}' must be a path inside the repository (no absolute path, no ..)`, encoderFix);
  if (encoder.bad.length === 0 && encoder.paths.length === 0)
    problems.add(OtfInputs.EncoderPaths, `'${str(OtfInputs.EncoderPaths)}' names no path`, encoderFix);

  const { miniInteractRoot, datasetFile } = dataPaths(workspace, env, str(OtfInputs.MiniInteractRoot), str(OtfInputs.DatasetFile));

  // Exactly one source of DBs.
  const given = [OtfInputs.Dbs, OtfInputs.InstanceIds, OtfInputs.InstanceIdsFile].filter((n) => str(n) !== '');
  let dbs: string[] = [];
  let dbSource: OtfSettings['dbSource'] = OtfInputs.Dbs;
  if (given.length !== 1) {
    problems.add(
      OtfInputs.Dbs,
      given.length === 0 ? 'none of dbs, instance-ids and instance-ids-file is set' : `${given.join(' and ')} are all set`,
      'set exactly one: dbs (a JSON array or a comma list of DB names), instance-ids (a comma list) or instance-ids-file',
    );
  } else if (given[0] === OtfInputs.Dbs) {
    const parsed = parseDbList(str(OtfInputs.Dbs));
    if (parsed.error) problems.add(OtfInputs.Dbs, parsed.error, 'give a JSON array of DB names, e.g. ["alien","credit"], or a comma list');
    for (const db of parsed.dbs) {
      const p = dbNameProblem(db);
      if (p) problems.add(OtfInputs.Dbs, `DB name ${p === 'is empty' ? 'is empty' : p}`, 'give plain DB folder names as in the mini-interact root');
    }
    dbs = [...new Set(parsed.dbs.filter((db) => !dbNameProblem(db)))].sort();
    if (!parsed.error && parsed.dbs.length === 0) problems.add(OtfInputs.Dbs, 'resolved to an empty list', 'give at least one DB name');
  } else {
    dbSource = given[0] as OtfInputs.InstanceIds | OtfInputs.InstanceIdsFile;
    const ids = readInstanceIds({
      inlineInput: OtfInputs.InstanceIds,
      fileInput: OtfInputs.InstanceIdsFile,
      inline: str(OtfInputs.InstanceIds),
      file: str(OtfInputs.InstanceIdsFile),
      workspace,
    });
    for (const p of ids.problems) problems.add(p.input, p.message, p.fix);
    if (ids.duplicates.length > 0) notes.push(`${dbSource}: dropped duplicate instance ids: ${listIds(ids.duplicates)}`);
    if (ids.ids.length > 0) dbs = mapInstances(datasetFile, ids.ids, problems).dbs;
  }
  if (dbs.length > MAX_MATRIX_LEGS) {
    problems.add(
      given[0] ?? OtfInputs.Dbs,
      `selects ${dbs.length} DBs, more than the ${MAX_MATRIX_LEGS} legs GitHub allows in one matrix`,
      'split the run into several calls',
    );
  }

  const artifact = framework ? otfArtifact(framework) : 'slayer_otf_cache';
  const otfCacheRoot = absolute(str(OtfInputs.OtfCacheRoot) || env.BIRD_OTF_CACHE_ROOT || 'slayer_otf_cache', workspace);
  const modelsOtfRoot = absolute(str(OtfInputs.ModelsOtfRoot) || env.BIRD_SLAYER_MODELS_OTF_ROOT || 'slayer_models_otf', workspace);

  if (!collect) problems.throwIfAny();
  return {
    framework: framework as OtfFramework,
    artifact,
    dbs,
    dbSource,
    miniInteractRoot,
    embeddingModel,
    referenceModel,
    uvLock,
    encoderPaths: encoder.paths,
    slayerPackage,
    keyPrefix,
    artifactRoot: artifact === 'slayer_otf_cache' ? otfCacheRoot : modelsOtfRoot,
    otfCacheRoot,
    workspace,
    notes,
  };
}

// The only module that reads action inputs. It parses every input strictly, collects all
// problems, and fails once with the full list (input, bad value, fix).
import * as core from '@actions/core';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Defaults, Inputs } from './constants.js';
import { ProblemList } from './errors.js';
import {
  EVAL_MODES,
  FRAMEWORKS,
  QUERY_MODES,
  comboRejection,
  isFramework,
  type ArtifactKind,
  type EvalMode,
  type Framework,
  type QueryMode,
  type SlayerSetup,
} from './params/combos.js';
import { runIdProblem } from './runid.js';

export interface IdSource {
  input: Inputs.InstanceIds | Inputs.InstanceIdsFile;
  /** The ids file, resolved, when `instance-ids-file` was used. */
  file?: string;
}

export interface SubmitSettings {
  kind: 'submit';
  framework: Framework;
  queryMode: QueryMode;
  mode: EvalMode;
  slayerSetup: SlayerSetup;
  agentModel: string;
  userSimModel: string;
  /** De-duplicated, in first-seen order. */
  instanceIds: string[];
  duplicateIds: string[];
  idSource: IdSource;
  datasetFile: string;
  miniInteractRoot: string;
  patience: number;
  maxDepth: number;
  strict: boolean;
  useAuditedGoldSql: boolean;
  promptCache: boolean;
  workers: number;
  actorsPerWorker: number;
  workerType: string;
  maxRuntimeHours: number;
  slayerStorageRoot: string;
  /** A given run id, validated; null means mint one. */
  runId: string | null;
  trackedInputs: string[];
  allowDirty: boolean;
  artifactRoots: Record<ArtifactKind, string>;
  dryRun: boolean;
  gcsBucket: string;
  gcpProject: string;
  uploadConcurrency: number;
  workspace: string;
  runnerTemp: string;
}

export type Settings = SubmitSettings;

/** Reads one raw input; injectable so parsing is testable without the runner. */
export type InputReader = (name: Inputs) => string;

export const coreInputReader: InputReader = (name) => core.getInput(name);

const TRUE = ['true', 'True', 'TRUE'];
const FALSE = ['false', 'False', 'FALSE'];
const MACHINE_TYPE = /^[a-z][a-z0-9]*-[a-z0-9]+(-[a-z0-9]+)*$/;

/** Small typed readers that record problems instead of throwing. */
class Reader {
  constructor(
    private readonly get: InputReader,
    readonly problems: ProblemList,
  ) {}

  str(name: Inputs): string {
    return this.get(name).trim();
  }

  required(name: Inputs, fix: string): string {
    const v = this.str(name);
    if (!v) this.problems.add(name, 'is required for a new submit and is empty', fix);
    return v;
  }

  bool(name: Inputs, dflt: boolean): boolean {
    const v = this.str(name);
    if (v === '') return dflt;
    if (TRUE.includes(v)) return true;
    if (FALSE.includes(v)) return false;
    this.problems.add(name, `'${v}' is not a boolean`, 'use true or false');
    return dflt;
  }

  int(name: Inputs, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.str(name);
    if (v === '') return dflt;
    if (!/^[+-]?\d+$/.test(v)) {
      this.problems.add(name, `'${v}' is not a whole number`, `use a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
      return dflt;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.problems.add(name, `${v} is out of range`, `use a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
      return dflt;
    }
    return n;
  }

  oneOf<T extends string>(name: Inputs, values: readonly T[], dflt?: T): T {
    const v = this.str(name) || dflt || '';
    if (!(values as readonly string[]).includes(v)) {
      this.problems.add(name, v === '' ? 'is required for a new submit and is empty' : `'${v}' is not one of ${values.join(', ')}`, `set ${name} to one of: ${values.join(', ')}`);
    }
    return v as T;
  }

  lines(name: Inputs, dflt: readonly string[]): string[] {
    const v = this.str(name);
    if (!v) return [...dflt];
    return v.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  }
}

function absolute(p: string, base: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Splits and de-duplicates the instance ids, recording problems against their source input. */
function readInstanceIds(r: Reader, workspace: string): { ids: string[]; duplicates: string[]; source: IdSource } {
  const inline = r.str(Inputs.InstanceIds);
  const file = r.str(Inputs.InstanceIdsFile);
  let raw: string[] | null = null;
  let source: IdSource = { input: Inputs.InstanceIds };
  if (inline && file) {
    r.problems.add(Inputs.InstanceIds, `both instance-ids and instance-ids-file ('${file}') are set`, 'set exactly one of them');
  } else if (!inline && !file) {
    r.problems.add(Inputs.InstanceIds, 'neither instance-ids nor instance-ids-file is set', 'give a comma list in instance-ids, or a file of whitespace-separated ids in instance-ids-file');
  } else if (inline) {
    raw = inline.split(',').map((s) => s.trim());
  } else {
    const path = absolute(file, workspace);
    source = { input: Inputs.InstanceIdsFile, file: path };
    if (!existsSync(path)) {
      r.problems.add(Inputs.InstanceIdsFile, `file '${file}' does not exist (resolved to ${path})`, 'commit the ids file, or give a path relative to the workspace');
    } else {
      raw = readFileSync(path, 'utf8').split(/\s+/);
    }
  }
  const seen = new Set<string>();
  const ids: string[] = [];
  const duplicates: string[] = [];
  for (const id of (raw ?? []).filter(Boolean)) {
    if (seen.has(id)) {
      if (!duplicates.includes(id)) duplicates.push(id);
      continue;
    }
    seen.add(id);
    ids.push(id);
  }
  if (raw !== null && ids.length === 0) {
    r.problems.add(
      source.input,
      'resolved to an empty list (no ids parsed from `instance-ids` or `instance-ids-file`)',
      'give at least one instance id',
    );
  }
  const withComma = ids.filter((id) => id.includes(','));
  if (withComma.length > 0) {
    r.problems.add(source.input, `ids contain a comma: ${withComma.join(' ')}`, 'the cluster splits --instance-ids on commas; fix the ids');
  }
  return { ids, duplicates, source };
}

/** Parses every input for a new submit. Throws one ProblemsError listing every problem. */
export function parseSettings(get: InputReader, env: NodeJS.ProcessEnv = process.env): Settings {
  const problems = new ProblemList();
  const r = new Reader(get, problems);
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const runnerTemp = env.RUNNER_TEMP || resolve(workspace, '..', '.runner-temp');

  const frameworkRaw = r.str(Inputs.Framework);
  if (!frameworkRaw) problems.add(Inputs.Framework, 'is required for a new submit and is empty', `set framework to one of: ${Object.keys(FRAMEWORKS).join(', ')}`);
  else if (!isFramework(frameworkRaw)) problems.add(Inputs.Framework, `unknown framework '${frameworkRaw}'`, `use one of: ${Object.keys(FRAMEWORKS).join(', ')}`);
  const queryMode = r.oneOf(Inputs.QueryMode, QUERY_MODES);
  const mode = r.oneOf(Inputs.Mode, EVAL_MODES);
  const slayerSetup = (r.str(Inputs.SlayerSetup) || Defaults.slayerSetup) as SlayerSetup;
  // The combo rules validate slayer-setup themselves (rule 3), so they run on the raw value.
  if (isFramework(frameworkRaw) && QUERY_MODES.includes(queryMode) && EVAL_MODES.includes(mode)) {
    const rejection = comboRejection({ framework: frameworkRaw, queryMode, mode, slayerSetup });
    if (rejection) problems.add(Inputs.SlayerSetup, rejection, 'see the combo table in the README (SLayer combos)');
  }

  const agentModel = r.required(Inputs.AgentModel, 'set agent-model to a LiteLLM-style provider/model, e.g. anthropic/claude-sonnet-4-5');
  const userSimModel = r.str(Inputs.UserSimModel) || Defaults.userSimModel;
  for (const [name, model] of [[Inputs.AgentModel, agentModel], [Inputs.UserSimModel, userSimModel]] as const) {
    if (model && /\s/.test(model)) problems.add(name, `'${model}' contains whitespace`, 'use provider/model with no spaces');
  }

  const ids = readInstanceIds(r, workspace);

  const miniInteractRoot = absolute(r.str(Inputs.MiniInteractRoot) || env.BIRD_DB_PATH || resolve(workspace, '..', 'mini-interact'), workspace);
  const datasetFile = absolute(r.str(Inputs.DatasetFile) || env.BIRD_DATA_PATH || resolve(miniInteractRoot, 'mini_interact.jsonl'), workspace);

  const patience = r.int(Inputs.Patience, Defaults.patience, 0);
  const maxDepth = r.int(Inputs.MaxDepth, Defaults.maxDepth, 1);
  const strict = r.bool(Inputs.Strict, false);
  const useAuditedGoldSql = r.bool(Inputs.UseAuditedGoldSql, false);
  const promptCache = r.bool(Inputs.PromptCache, true);
  const workers = r.int(Inputs.Workers, Defaults.workers, 1);
  const actorsPerWorker = r.int(Inputs.ActorsPerWorker, Defaults.actorsPerWorker, 1);
  const workerType = r.str(Inputs.WorkerType) || Defaults.workerType;
  if (!MACHINE_TYPE.test(workerType)) problems.add(Inputs.WorkerType, `'${workerType}' is not a GCE machine type`, 'use a machine type such as e2-standard-4');
  const maxRuntimeHours = r.int(Inputs.MaxRuntimeHours, Defaults.maxRuntimeHours, 1, 72);
  const slayerStorageRoot = r.str(Inputs.SlayerStorageRoot) || Defaults.slayerStorageRoot;
  if (!slayerStorageRoot.startsWith('/')) problems.add(Inputs.SlayerStorageRoot, `'${slayerStorageRoot}' is not an absolute in-cluster path`, `keep the default ${Defaults.slayerStorageRoot}`);

  const runIdRaw = r.str(Inputs.RunId);
  if (runIdRaw) {
    const p = runIdProblem(runIdRaw);
    if (p) problems.add(Inputs.RunId, p, 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes');
  }

  const trackedInputs = r.lines(Inputs.TrackedInputs, Defaults.trackedInputs);
  for (const t of trackedInputs) {
    if (isAbsolute(t) || t.split('/').includes('..')) problems.add(Inputs.TrackedInputs, `'${t}' must be a path inside the repository`, 'use repo-relative paths such as src/');
  }
  const allowDirty = r.bool(Inputs.AllowDirty, false);
  const dryRun = r.bool(Inputs.DryRun, false);

  const artifactRoots: Record<ArtifactKind, string> = {
    slayer_models: absolute(r.str(Inputs.SlayerModelsRoot) || 'slayer_models', workspace),
    slayer_otf_cache: absolute(r.str(Inputs.OtfCacheRoot) || env.BIRD_OTF_CACHE_ROOT || 'slayer_otf_cache', workspace),
    slayer_models_otf: absolute(r.str(Inputs.ModelsOtfRoot) || env.BIRD_SLAYER_MODELS_OTF_ROOT || 'slayer_models_otf', workspace),
  };

  const gcsBucket = r.str(Inputs.GcsBucket).replace(/^gs:\/\//, '').replace(/\/+$/, '');
  if (!dryRun && !gcsBucket) problems.add(Inputs.GcsBucket, 'is required unless dry-run is true', 'set gcs-bucket to the runs bucket (name only, without gs://)');
  if (gcsBucket && !/^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$/.test(gcsBucket)) problems.add(Inputs.GcsBucket, `'${gcsBucket}' is not a valid bucket name`, 'use the bucket name only, e.g. my-runs-bucket');
  const gcpProject = r.str(Inputs.GcpProject);
  const uploadConcurrency = r.int(Inputs.UploadConcurrency, Defaults.uploadConcurrency, 1, 256);

  problems.throwIfAny();
  return {
    kind: 'submit',
    framework: frameworkRaw as Framework,
    queryMode,
    mode,
    slayerSetup,
    agentModel,
    userSimModel,
    instanceIds: ids.ids,
    duplicateIds: ids.duplicates,
    idSource: ids.source,
    datasetFile,
    miniInteractRoot,
    patience,
    maxDepth,
    strict,
    useAuditedGoldSql,
    promptCache,
    workers,
    actorsPerWorker,
    workerType,
    maxRuntimeHours,
    slayerStorageRoot,
    runId: runIdRaw || null,
    trackedInputs,
    allowDirty,
    artifactRoots,
    dryRun,
    gcsBucket,
    gcpProject,
    uploadConcurrency,
    workspace,
    runnerTemp,
  };
}

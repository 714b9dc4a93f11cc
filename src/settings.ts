// The only module that reads action inputs. It parses every input strictly, collects all
// problems, and fails once with the full list (input, bad value, fix).
import * as core from '@actions/core';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Defaults, Inputs } from './constants.js';
import { ProblemList, formatProblem } from './errors.js';
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
import { dataPaths } from './dataset.js';
import { IMAGE_URI, MACHINE_TYPE, PROJECT, REGION, SERVICE_ACCOUNT, ZONE } from './params/gce.js';
import { DEFAULT_ENTRYPOINT_PREFIX } from './jobargs.js';
import type { CommentOnPr } from './results/comment.js';
import { parseGateInputs, type GateThresholds } from './results/gate.js';

export interface IdSource {
  input: Inputs.InstanceIds | Inputs.InstanceIdsFile;
  /** The ids file, resolved, when `instance-ids-file` was used. */
  file?: string;
}

export type ClusterMode = 'none' | 'existing' | 'ephemeral';
export const CLUSTER_MODES: readonly ClusterMode[] = ['none', 'existing', 'ephemeral'];

/** Where a per-run cluster goes (domain §12): recorded in the manifest's render_inputs. */
export interface GceSettings {
  region: string;
  zone: string;
  /** Empty: `bird-interact-runner@<project>.iam.gserviceaccount.com`. */
  workerSa: string;
  /** Empty: the content-addressed image of domain §12.1. */
  imageUri: string;
  rayVersion: string;
  rayCli: string;
}

export interface DispatchSettings {
  cluster: ClusterMode;
  /** The dashboard URL, without a trailing slash; '' when cluster is none. */
  rayAddress: string;
  /** Auth headers for the dashboard (masked as soon as they are read). */
  rayHeaders: Record<string, string>;
  tlsVerify: boolean;
  entrypointPrefix: string;
  /** The team's non-secret runtime_env, passed through. */
  runtimeEnv: Record<string, unknown>;
  wait: boolean;
  waitTimeoutMs: number;
  noProgressMs: number;
  pollIntervalMs: number;
  gce: GceSettings;
}

/** How results are reported after a wait, or in report-run-id mode (issue 6). */
export interface ReportSettings {
  /** Masked as soon as it is read. */
  token: string;
  commentOnPr: CommentOnPr;
  baselineRunId: string;
  thresholds: GateThresholds;
}

/** What every mode shares: where things are, the bucket and the dispatch target. */
export interface CommonSettings {
  report: ReportSettings;
  dryRun: boolean;
  gcsBucket: string;
  gcpProject: string;
  uploadConcurrency: number;
  dispatch: DispatchSettings;
  workspace: string;
  runnerTemp: string;
}

/** A workflow_dispatch rerun: every run value comes from the stored manifest (domain §9). */
export interface RerunSettings extends CommonSettings {
  kind: 'rerun';
  runId: string;
  /** Only for the build command of a missing per-run image. */
  miniInteractRoot: string;
}

/** A report on an existing run: nothing is uploaded or dispatched. */
export interface ReportOnlySettings extends CommonSettings {
  kind: 'report';
  runId: string;
  /** Only for runs whose rows and manifest do not name each instance's DB. */
  datasetFile?: string;
}

export interface SubmitSettings extends CommonSettings {
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
}

export type Settings = SubmitSettings | RerunSettings | ReportOnlySettings;

/** Reads one raw input; injectable so parsing is testable without the runner. */
export type InputReader = (name: Inputs) => string;

export const coreInputReader: InputReader = (name) => core.getInput(name);

const TRUE = ['true', 'True', 'TRUE'];
const FALSE = ['false', 'False', 'FALSE'];
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

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

  /** A JSON object; `secret` keeps the value out of the message. */
  jsonObject(name: Inputs, secret = false): Record<string, unknown> {
    const v = this.str(name);
    if (!v) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      this.problems.add(name, secret ? 'is not valid JSON' : `'${v}' is not valid JSON (${e instanceof Error ? e.message : String(e)})`, 'give a JSON object, e.g. {"key": "value"}');
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.problems.add(name, secret ? 'is not a JSON object' : `'${v}' is not a JSON object`, 'give a JSON object, e.g. {"key": "value"}');
      return {};
    }
    return parsed as Record<string, unknown>;
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

/** How to talk to the dashboard: auth headers (masked as read) and TLS verification. */
function readRayConnection(r: Reader, mask: (v: string) => void): { rayHeaders: Record<string, string>; tlsVerify: boolean } {
  const rayHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.jsonObject(Inputs.RayHeaders, true))) {
    if (typeof v !== 'string') {
      r.problems.add(Inputs.RayHeaders, `the value of header '${k}' is not a string`, 'give a JSON object of header name to string value');
      continue;
    }
    mask(v);
    rayHeaders[k] = v;
  }
  const tls = r.str(Inputs.RayTlsVerify);
  if (tls !== '' && !TRUE.includes(tls) && !FALSE.includes(tls)) {
    r.problems.add(Inputs.RayTlsVerify, `'${tls}' is not a boolean`, 'use true, or false to skip certificate checks; for a private CA set NODE_EXTRA_CA_CERTS in the step env');
  }
  return { rayHeaders, tlsVerify: !FALSE.includes(tls) };
}

/** The dashboard connection for the post step, which only warns: problems come back as text. */
export function parseRayConnection(get: InputReader, mask: (v: string) => void = core.setSecret): { rayHeaders: Record<string, string>; tlsVerify: boolean; problems: string[] } {
  const problems = new ProblemList();
  const c = readRayConnection(new Reader(get, problems), mask);
  return { ...c, problems: problems.items.map(formatProblem) };
}

function parseDispatch(r: Reader, mask: (v: string) => void): DispatchSettings {
  const cluster = r.oneOf(Inputs.Cluster, CLUSTER_MODES, 'none');
  const rayAddress = r.str(Inputs.RayAddress).replace(/\/+$/, '');
  if (cluster === 'existing' && !rayAddress) {
    r.problems.add(Inputs.RayAddress, 'is required when cluster is existing', 'set ray-address to the Ray dashboard URL, e.g. http://ray-head:8265');
  } else if (rayAddress) {
    let url: URL | null = null;
    try {
      url = new URL(rayAddress);
    } catch {
      url = null;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol)) r.problems.add(Inputs.RayAddress, `'${rayAddress}' is not an http(s) URL`, 'use the dashboard URL, e.g. http://ray-head:8265');
    else if (url.username || url.password) r.problems.add(Inputs.RayAddress, 'carries credentials in the URL', 'move them into ray-headers (masked), e.g. {"Authorization": "Bearer <token>"}');
    else if (url.search || url.hash) r.problems.add(Inputs.RayAddress, 'has a query string or fragment, which would be recorded in the manifest and the logs', 'give the dashboard URL only, and credentials in ray-headers');
  }
  const { rayHeaders, tlsVerify } = readRayConnection(r, mask);
  const runtimeEnv = r.jsonObject(Inputs.RuntimeEnv);
  const envVars = runtimeEnv.env_vars;
  if (envVars !== undefined && (typeof envVars !== 'object' || envVars === null || Array.isArray(envVars) || Object.values(envVars).some((v) => typeof v !== 'string'))) {
    r.problems.add(Inputs.RuntimeEnv, 'env_vars must be an object of string values (Ray fails the job after submit otherwise)', 'quote every env_vars value');
  }
  const region = r.str(Inputs.Region) || Defaults.region;
  if (!REGION.test(region)) r.problems.add(Inputs.Region, `'${region}' is not a GCE region`, 'use a region such as us-central1');
  const zone = r.str(Inputs.Zone) || `${region}-a`;
  const zm = ZONE.exec(zone);
  if (!zm) r.problems.add(Inputs.Zone, `'${zone}' is not a GCE zone`, 'use a zone such as us-central1-a');
  else if (zm[1] !== region) r.problems.add(Inputs.Zone, `zone '${zone}' is not in region '${region}'`, `use a zone of ${region}, or set region to ${zm[1]}`);
  const workerSa = r.str(Inputs.WorkerSa);
  if (workerSa && !SERVICE_ACCOUNT.test(workerSa)) r.problems.add(Inputs.WorkerSa, `'${workerSa}' is not a service account email`, 'use NAME@PROJECT.iam.gserviceaccount.com');
  const imageUri = r.str(Inputs.ImageUri);
  if (imageUri && !IMAGE_URI.test(imageUri)) r.problems.add(Inputs.ImageUri, `'${imageUri}' is not an image reference with a tag or digest`, 'use REGION-docker.pkg.dev/PROJECT/REPO/IMAGE:TAG');
  const rayVersion = r.str(Inputs.RayVersion);
  if (rayVersion && !/^\d+\.\d+\.\d+$/.test(rayVersion)) r.problems.add(Inputs.RayVersion, `'${rayVersion}' is not a pinned version`, 'pin the Ray of the image, e.g. 2.47.1');
  const rayCli = r.str(Inputs.RayCli) || 'ray';
  return {
    gce: { region, zone, workerSa, imageUri, rayVersion, rayCli },
    cluster,
    rayAddress,
    rayHeaders,
    tlsVerify,
    entrypointPrefix: r.str(Inputs.EntrypointPrefix) || DEFAULT_ENTRYPOINT_PREFIX,
    runtimeEnv,
    wait: r.bool(Inputs.Wait, false),
    waitTimeoutMs: r.int(Inputs.WaitTimeoutMinutes, Defaults.waitTimeoutMinutes, 1, 72 * 60) * 60_000,
    noProgressMs: r.int(Inputs.NoProgressMinutes, Defaults.noProgressMinutes, 1, 72 * 60) * 60_000,
    pollIntervalMs: r.int(Inputs.PollIntervalSeconds, Defaults.pollIntervalSeconds, 1, 3600) * 1000,
  };
}

function parseReport(r: Reader, mask: (v: string) => void): ReportSettings {
  const token = r.str(Inputs.GithubToken);
  if (token) mask(token);
  const c = r.str(Inputs.CommentOnPr) || 'auto';
  const commentOnPr: CommentOnPr = c === 'auto' ? 'auto' : TRUE.includes(c) ? true : FALSE.includes(c) ? false : 'auto';
  if (!['auto', ...TRUE, ...FALSE].includes(c)) r.problems.add(Inputs.CommentOnPr, `'${c}' is not auto, true or false`, 'use auto (comment on pull_request events), true or false');
  const baselineRunId = r.str(Inputs.BaselineRunId);
  if (baselineRunId) {
    const p = runIdProblem(baselineRunId);
    if (p) r.problems.add(Inputs.BaselineRunId, p, 'give the run id of an earlier run in the same bucket');
  }
  const gate = parseGateInputs(r.str(Inputs.MinPhase1Rate), r.str(Inputs.MaxErrors));
  for (const p of gate.problems) r.problems.add(p.input, p.message, p.fix);
  return { token, commentOnPr, baselineRunId, thresholds: gate.thresholds };
}

function parseCommon(r: Reader, env: NodeJS.ProcessEnv, bucketAlwaysRequired: boolean, mask: (v: string) => void): CommonSettings {
  const workspace = env.GITHUB_WORKSPACE || process.cwd();
  const runnerTemp = env.RUNNER_TEMP || resolve(workspace, '..', '.runner-temp');
  const dryRun = r.bool(Inputs.DryRun, false);
  const gcsBucket = r.str(Inputs.GcsBucket).replace(/^gs:\/\//, '').replace(/\/+$/, '');
  if (!gcsBucket && (bucketAlwaysRequired || !dryRun)) {
    r.problems.add(Inputs.GcsBucket, bucketAlwaysRequired ? 'is required for a rerun or a report' : 'is required unless dry-run is true', 'set gcs-bucket to the runs bucket (name only, without gs://)');
  }
  if (gcsBucket && !/^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$/.test(gcsBucket)) r.problems.add(Inputs.GcsBucket, `'${gcsBucket}' is not a valid bucket name`, 'use the bucket name only, e.g. my-runs-bucket');
  const gcpProject = r.str(Inputs.GcpProject);
  if (gcpProject && !PROJECT.test(gcpProject)) r.problems.add(Inputs.GcpProject, `'${gcpProject}' is not a GCP project id`, 'use the project id (6 to 30 lowercase letters, digits and dashes), not its name or number');
  const dispatch = parseDispatch(r, mask);
  const report = parseReport(r, mask);
  if (dispatch.cluster === 'ephemeral' && !gcpProject) r.problems.add(Inputs.GcpProject, 'is required when cluster is ephemeral', 'set gcp-project to the project the per-run cluster runs in');
  return {
    dryRun,
    gcsBucket,
    gcpProject,
    uploadConcurrency: r.int(Inputs.UploadConcurrency, Defaults.uploadConcurrency, 1, 256),
    dispatch,
    report,
    workspace,
    runnerTemp,
  };
}

/**
 * Parses every input for the mode the inputs ask for (a rerun when rerun-run-id is set, else
 * a new submit). Throws one ProblemsError listing every problem.
 */
export function parseSettings(get: InputReader, env: NodeJS.ProcessEnv = process.env, mask: (v: string) => void = core.setSecret): Settings {
  const problems = new ProblemList();
  const r = new Reader(get, problems);
  const rerunRunId = r.str(Inputs.RerunRunId);
  const reportRunId = r.str(Inputs.ReportRunId);
  if (rerunRunId && reportRunId) {
    problems.add(Inputs.ReportRunId, `both rerun-run-id ('${rerunRunId}') and report-run-id ('${reportRunId}') are set`, 'set one: a rerun reports by itself when it waits');
  }
  if (reportRunId && !rerunRunId) {
    const p = runIdProblem(reportRunId);
    if (p) problems.add(Inputs.ReportRunId, p, 'give the run id of an existing run, as in its manifest');
    const common = parseCommon(r, env, true, mask);
    const dataset = r.str(Inputs.DatasetFile) || env.BIRD_DATA_PATH;
    problems.throwIfAny();
    return { kind: 'report', runId: reportRunId, datasetFile: dataset ? absolute(dataset, common.workspace) : undefined, ...common };
  }
  if (rerunRunId) {
    const p = runIdProblem(rerunRunId);
    if (p) problems.add(Inputs.RerunRunId, p, 'give the run id of an existing run, as in its manifest');
    const common = parseCommon(r, env, true, mask);
    if (common.dispatch.cluster === 'ephemeral' && !common.dispatch.wait) {
      problems.add(Inputs.Wait, 'a rerun on a per-run cluster always tears the cluster down, so it cannot detach (wait: false)', 'set wait: true for the rerun');
    }
    problems.throwIfAny();
    return { kind: 'rerun', runId: rerunRunId, miniInteractRoot: dataPaths(common.workspace, env, r.str(Inputs.MiniInteractRoot)).miniInteractRoot, ...common };
  }
  const common = parseCommon(r, env, false, mask);
  const workspace = common.workspace;
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
    if (model && !MODEL.test(model)) problems.add(name, `'${model}' is not a LiteLLM model name`, 'use provider/model made of letters, digits and . _ : / @ + -, e.g. anthropic/claude-sonnet-4-5');
  }

  const ids = readInstanceIds(r, workspace);

  const { miniInteractRoot, datasetFile } = dataPaths(workspace, env, r.str(Inputs.MiniInteractRoot), r.str(Inputs.DatasetFile));

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
  if (!/^\/[A-Za-z0-9._/-]*$/.test(slayerStorageRoot)) problems.add(Inputs.SlayerStorageRoot, `'${slayerStorageRoot}' is not an absolute in-cluster path of plain characters`, `keep the default ${Defaults.slayerStorageRoot}`);

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
  if (allowDirty && common.dispatch.cluster === 'ephemeral' && !common.dispatch.wait) {
    problems.add(Inputs.AllowDirty, 'allow-dirty and wait: false are mutually exclusive on a per-run cluster (a detached dirty run could never be reproduced or torn down by a rerun)', 'set wait: true, or commit the changes');
  }

  const artifactRoots: Record<ArtifactKind, string> = {
    slayer_models: absolute(r.str(Inputs.SlayerModelsRoot) || 'slayer_models', workspace),
    slayer_otf_cache: absolute(r.str(Inputs.OtfCacheRoot) || env.BIRD_OTF_CACHE_ROOT || 'slayer_otf_cache', workspace),
    slayer_models_otf: absolute(r.str(Inputs.ModelsOtfRoot) || env.BIRD_SLAYER_MODELS_OTF_ROOT || 'slayer_models_otf', workspace),
  };


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
    ...common,
  };
}

/**
 * The settings as they may be written down (the plan file, a dry run): header values and the
 * token are secrets, so only header names survive.
 */
export function redactSettings<T extends CommonSettings>(s: T): T {
  const headers: Record<string, string> = {};
  for (const k of Object.keys(s.dispatch.rayHeaders)) headers[k] = '***';
  return { ...s, dispatch: { ...s.dispatch, rayHeaders: headers }, report: { ...s.report, token: s.report.token ? '***' : '' } };
}

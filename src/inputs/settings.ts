// The only module that turns action inputs into settings: it parses every input strictly for the
// mode the inputs ask for, collects all problems, and fails once with the full list (input, bad
// value, fix). The parsers per mode are in common.ts and submit.ts.
import * as core from '@actions/core';
import { Inputs } from '../common/constants.js';
import { ProblemList } from '../common/errors.js';
import { dataPaths } from '../preflight/dataset.js';
import type { CommentOnPr } from '../results/comment.js';
import type { GateThresholds } from '../results/gate.js';
import type { ArtifactKind, EvalMode, Framework, QueryMode, SlayerSetup } from './combos.js';
import { parseCommon } from './common.js';
import type { IdSource } from './instance-ids.js';
import { absolute, type InputReader, Reader } from './reader.js';
import { runIdProblem } from './run-id.js';
import { parseSubmit } from './submit.js';

export { type PostSettings, parsePostSettings } from './common.js';
export { coreInputReader, type InputReader } from './reader.js';

export type ClusterMode = 'none' | 'existing' | 'ephemeral';
export const CLUSTER_MODES: readonly ClusterMode[] = ['none', 'existing', 'ephemeral'];

/** Where a per-run cluster goes (docs/reference/per-run-cluster.md): recorded in the manifest's render_inputs. */
export interface GceSettings {
  region: string;
  zone: string;
  /** Empty: `bird-interact-runner@<project>.iam.gserviceaccount.com`. */
  workerSa: string;
  /** Empty: the content-addressed image of docs/reference/per-run-cluster.md#image-tag. */
  imageUri: string;
  /** Registry hosts besides Artifact Registry of gcp-project (asked without a token). */
  imageRegistries: string[];
  rayVersion: string;
  rayCli: string;
}

export interface DispatchSettings {
  cluster: ClusterMode;
  /** `derived` when the cluster input was unset (then: existing when ray-address is set, else none). */
  clusterSource: 'input' | 'derived';
  /** The dashboard URL, without a trailing slash; '' when cluster is none. */
  rayAddress: string;
  /** Auth headers for the dashboard (masked as soon as they are read). */
  rayHeaders: Record<string, string>;
  tlsVerify: boolean;
  /** Keys may go over plain http:// to a non-loopback dashboard only when this is set. */
  allowInsecureRayAddress: boolean;
  /** The entrypoint-prefix input; '' means the ray_app.py of `code`. */
  entrypointPrefix: string;
  /** checkout: the checkout's src/ travels in the job's working_dir package; image: the cluster's image code. */
  code: 'checkout' | 'image';
  /** On an existing cluster, where each SLayer run's setup goes (<root>/<run_id>/<artifact>). */
  clusterScratchRoot: string;
  /** A wait that reaches wait-timeout-minutes stops the job, or leaves it running. */
  onWaitTimeout: 'stop' | 'leave';
  /** The team's non-secret runtime_env, passed through. */
  runtimeEnv: Record<string, unknown>;
  wait: boolean;
  waitTimeoutMs: number;
  noProgressMs: number;
  pollIntervalMs: number;
  gce: GceSettings;
}

/** How results are reported after a wait, or in report-run-id mode. */
export interface ReportSettings {
  /** Masked as soon as it is read. */
  token: string;
  commentOnPr: CommentOnPr;
  /** comment-key: what names the PR comment; empty for the default (workflow, combo, models). */
  commentKey: string;
  baselineRunId: string;
  thresholds: GateThresholds;
  /** trend-runs: chart the phase-1 rate over this many reported runs of the group; 0 for none. */
  trendRuns: number;
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

/** A workflow_dispatch rerun: every run value comes from the stored manifest (docs/reference/reruns-and-progress.md#reruns). */
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
  /** false only in a dry run that precedes the on-the-fly encode: the artifacts are not checked yet. */
  checkArtifacts: boolean;
}

/** stop-run-id: stop a run's unfinished attempts (or its per-run cluster). */
export interface StopSettings extends CommonSettings {
  kind: 'stop';
  runId: string;
}

/** list-runs: list the newest runs of the bucket; nothing is dispatched. */
export interface ListSettings extends CommonSettings {
  kind: 'list';
  /** How many runs, newest first. */
  count: number;
}

export type Settings = SubmitSettings | RerunSettings | ReportOnlySettings | StopSettings | ListSettings;

/** The mode inputs: at most one is set (three name a run); none means a new submit. */
const MODE_INPUTS = [Inputs.RerunRunId, Inputs.ReportRunId, Inputs.StopRunId, Inputs.ListRuns] as const;

/** The most runs list-runs lists (one summary table). */
const MAX_LIST_RUNS = 100;

/** wait: true must have something to wait on: a dispatched job (a report waits on its run). */
function waitNeedsCluster(problems: ProblemList, common: CommonSettings): void {
  if (common.dispatch.wait && common.dispatch.cluster === 'none' && !common.dryRun) {
    problems.add(
      Inputs.Wait,
      `wait is true, but cluster is none${common.dispatch.clusterSource === 'derived' ? ' (no cluster and no ray-address was given)' : ''}: nothing is dispatched, so there is nothing to wait on`,
      'set cluster (existing with ray-address, or ephemeral), or set wait: false',
    );
  }
}

/**
 * Parses every input for the mode the inputs ask for: a rerun, a report or a stop when its run
 * id input is set, a list with list-runs, else a new submit. Throws one ProblemsError listing
 * every problem.
 */
export function parseSettings(get: InputReader, env: NodeJS.ProcessEnv = process.env, mask: (v: string) => void = core.setSecret): Settings {
  const problems = new ProblemList();
  const r = new Reader(get, problems);
  const named = MODE_INPUTS.filter((name) => r.str(name) !== '');
  if (named.length > 1) {
    problems.add(named[1], `${named.map((n) => `${n} ('${r.str(n)}')`).join(' and ')} are all set`, 'set one of them: a rerun reports by itself when it waits');
  }
  const mode = named[0];
  if (mode === Inputs.ListRuns) {
    const count = r.int(Inputs.ListRuns, 1, 1, MAX_LIST_RUNS);
    const common = parseCommon(r, env, { bucketRequiredFor: 'list-runs', mask });
    problems.throwIfAny();
    return { kind: 'list', count, ...common };
  }
  if (mode) {
    const runId = r.str(mode);
    const p = runIdProblem(runId);
    if (p) problems.add(mode, p, 'give the run id of an existing run, as in its manifest');
    const common = parseCommon(r, env, { bucketRequiredFor: 'a rerun or a report', mask });
    if (mode === Inputs.ReportRunId) {
      const dataset = r.str(Inputs.DatasetFile) || env.BIRD_DATA_PATH;
      problems.throwIfAny();
      return { kind: 'report', runId, datasetFile: dataset ? absolute(dataset, common.workspace) : undefined, ...common };
    }
    if (mode === Inputs.StopRunId) {
      problems.throwIfAny();
      return { kind: 'stop', runId, ...common };
    }
    waitNeedsCluster(problems, common);
    if (common.dispatch.cluster === 'ephemeral' && !common.dispatch.wait) {
      problems.add(
        Inputs.Wait,
        'a rerun on a per-run cluster always tears the cluster down, so it cannot detach (wait: false)',
        'set wait: true for the rerun',
      );
    }
    problems.throwIfAny();
    return { kind: 'rerun', runId, miniInteractRoot: dataPaths(common.workspace, env, r.str(Inputs.MiniInteractRoot)).miniInteractRoot, ...common };
  }
  const common = parseCommon(r, env, { bucketRequiredFor: null, mask });
  waitNeedsCluster(problems, common);
  const settings = parseSubmit(r, env, common);
  problems.throwIfAny();
  return settings;
}

/**
 * The settings as they may be written down (the plan file, a dry run): header values and the
 * token are secrets, so only header names survive.
 */
export function redactSettings<T extends CommonSettings>(settings: T): T {
  const headers: Record<string, string> = {};
  for (const k of Object.keys(settings.dispatch.rayHeaders)) headers[k] = '***';
  return { ...settings, dispatch: { ...settings.dispatch, rayHeaders: headers }, report: { ...settings.report, token: settings.report.token ? '***' : '' } };
}

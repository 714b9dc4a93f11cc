// The plan: a plain, serialisable object that the preflight builds, a dry run prints and
// the effects carry out. Nothing in it is secret.

import { Defaults } from '../common/constants.js';
import type { GithubContext } from '../common/github-context.js';
import type { ArtifactKind } from '../inputs/combos.js';
import { redactSettings, type SubmitSettings } from '../inputs/settings.js';
import type { DbArtifact } from '../preflight/artifacts.js';
import type { CodePlan } from './code-source.js';
import { buildJobArgs, submissionId } from './job-args.js';
import { artifactSummary, orderManifest, type RunManifest } from './manifest.js';
import { type SetupRoots, setupRoots } from './setup-roots.js';

export interface WorktreeReport {
  /** Dirty paths under the tracked inputs. */
  dirty: string[];
  /** Dirty paths under the selected DBs' artifact dirs (a warning only). */
  artifactDirty: string[];
  allowDirty: boolean;
}

export interface RunPlan {
  version: 1;
  kind: 'submit';
  runId: string;
  attempt: number;
  submissionId: string;
  dryRun: boolean;
  settings: SubmitSettings;
  dbs: string[];
  artifact: { kind: ArtifactKind; root: string } | null;
  artifacts: DbArtifact[];
  instanceDbs: Record<string, string>;
  /** Names only. */
  requiredKeys: string[];
  worktree: WorktreeReport;
  manifest: RunManifest;
  /** Run-scoped setup roots (existing cluster, SLayer), or null. */
  setupRoots: SetupRoots | null;
  code: CodePlan;
  jobArgs: string[];
}

export interface PlanParts {
  settings: SubmitSettings;
  runId: string;
  artifactKind: ArtifactKind | null;
  artifacts: DbArtifact[];
  instanceDbs: Record<string, string>;
  dbs: string[];
  requiredKeys: string[];
  worktree: WorktreeReport;
  github: GithubContext;
  /** The run's image (per-run cluster), or '' where none applies. */
  imageUri: string;
  code: CodePlan;
}

/** All nine keys, always with real values: Python's resubmit and kill read them directly (docs/reference/manifest.md#render-inputs). */
function renderInputsFor(s: SubmitSettings, imageUri: string): RunManifest['render_inputs'] {
  const g = s.dispatch.gce;
  return {
    workers: s.workers,
    actors_per_worker: s.actorsPerWorker,
    worker_type: s.workerType,
    zone: g.zone,
    worker_sa: g.workerSa || (s.gcpProject ? `${Defaults.arRepo}@${s.gcpProject}.iam.gserviceaccount.com` : ''),
    max_runtime_hours: s.maxRuntimeHours,
    image_uri: imageUri,
    project: s.gcpProject,
    region: g.region,
  };
}

/** Pure: the same parts give the same plan. */
/** Where the job went, for the manifest: never credentials; the run-scoped roots a rerun reuses. */
function dispatchTarget(s: SubmitSettings, roots: SetupRoots | null): RunManifest['dispatch'] {
  if (s.dispatch.cluster === 'none') return { cluster: 'none' };
  return {
    cluster: s.dispatch.cluster,
    address: s.dispatch.rayAddress,
    ...(roots ? { setup_roots: { env: roots.env, slayer_storage_root: roots.slayerStorageRoot } } : {}),
  };
}

export function buildPlan(parts: PlanParts): RunPlan {
  const s = parts.settings;
  const attempt = 1;
  const roots = setupRoots({ cluster: s.dispatch.cluster, scratchRoot: s.dispatch.clusterScratchRoot, runId: parts.runId, queryMode: s.queryMode });
  const manifest = orderManifest({
    run_id: parts.runId,
    framework: s.framework,
    mode: s.mode,
    query_mode: s.queryMode,
    agent_model: s.agentModel,
    user_sim_model: s.userSimModel,
    instance_ids: [...s.instanceIds],
    patience: s.patience,
    strict: s.strict,
    use_audited_gold_sql: s.useAuditedGoldSql,
    max_depth: s.maxDepth,
    prompt_cache: s.promptCache,
    slayer_setup: s.slayerSetup,
    slayer_storage_root: s.slayerStorageRoot,
    render_inputs: renderInputsFor(s, parts.imageUri),
    github: parts.github,
    slayer_artifacts: artifactSummary(parts.artifactKind, parts.artifacts),
    dispatch: dispatchTarget(s, roots),
    dirty: parts.worktree.dirty.length > 0 || parts.worktree.artifactDirty.length > 0,
    instance_databases: parts.instanceDbs,
    code_source: { kind: parts.code.source, sha: parts.code.sha },
  });
  return {
    version: 1,
    kind: 'submit',
    runId: parts.runId,
    attempt,
    submissionId: submissionId(parts.runId, attempt),
    dryRun: s.dryRun,
    settings: redactSettings(s),
    dbs: parts.dbs,
    artifact: parts.artifactKind ? { kind: parts.artifactKind, root: s.artifactRoots[parts.artifactKind] } : null,
    artifacts: parts.artifacts,
    instanceDbs: parts.instanceDbs,
    requiredKeys: parts.requiredKeys,
    worktree: parts.worktree,
    manifest,
    setupRoots: roots,
    code: parts.code,
    jobArgs: buildJobArgs(manifest, attempt, s.instanceIds, { withSecrets: parts.requiredKeys.length > 0, slayerStorageRoot: roots?.slayerStorageRoot }),
  };
}

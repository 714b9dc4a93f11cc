// The run manifest (docs/reference/manifest.md#keys-and-order): Python's keys in Python's order, then the action's additions.

import type { GithubContext } from '../common/github-context.js';
import type { ArtifactKind } from '../inputs/combos.js';
import type { DbArtifact } from '../preflight/artifacts.js';

export interface RenderInputs {
  workers: number;
  actors_per_worker: number;
  worker_type: string;
  zone: string;
  worker_sa: string;
  max_runtime_hours: number;
  image_uri: string;
  project: string;
  region: string;
}

export interface ArtifactSummary {
  kind: ArtifactKind | null;
  /** Per DB, sorted by DB name. */
  dbs: Record<string, { files: number; bytes: number; digest: string }>;
}

interface DispatchTarget {
  cluster: 'none' | 'existing' | 'ephemeral';
  /** The dashboard address for an existing cluster; never carries credentials. */
  address?: string;
  /** Run-scoped setup roots of a SLayer job on an existing cluster (plan/setup-roots.ts); reruns use them. */
  setup_roots?: { env: Record<string, string>; slayer_storage_root: string };
}

export interface RunManifest {
  run_id: string;
  framework: string;
  mode: string;
  query_mode: string;
  agent_model: string;
  user_sim_model: string;
  instance_ids: string[];
  patience: number;
  strict: boolean;
  use_audited_gold_sql: boolean;
  max_depth: number;
  prompt_cache: boolean;
  slayer_setup: string;
  slayer_storage_root: string;
  render_inputs: RenderInputs;
  // The action's additions, after Python's keys.
  github: GithubContext;
  slayer_artifacts: ArtifactSummary;
  dispatch: DispatchTarget;
  dirty: boolean;
  instance_databases: Record<string, string>;
  /** What the job runs: the checkout's code (at that sha) or the image's. */
  code_source?: { kind: 'checkout' | 'image'; sha: string };
}

/** Python's keys, in order: the part a repeated submit must match and `resubmit` reads. */
export const PYTHON_KEYS = [
  'run_id',
  'framework',
  'mode',
  'query_mode',
  'agent_model',
  'user_sim_model',
  'instance_ids',
  'patience',
  'strict',
  'use_audited_gold_sql',
  'max_depth',
  'prompt_cache',
  'slayer_setup',
  'slayer_storage_root',
  'render_inputs',
] as const;

export const RENDER_KEYS = ['workers', 'actors_per_worker', 'worker_type', 'zone', 'worker_sa', 'max_runtime_hours', 'image_uri', 'project', 'region'] as const;

export function artifactSummary(kind: ArtifactKind | null, artifacts: readonly DbArtifact[]): ArtifactSummary {
  const dbs: ArtifactSummary['dbs'] = {};
  for (const a of [...artifacts].sort((x, y) => (x.db < y.db ? -1 : 1))) dbs[a.db] = { files: a.files.length, bytes: a.bytes, digest: a.digest };
  return { kind, dbs };
}

/** Rebuilds the manifest with a fixed key order, whatever order its parts came in. */
export function orderManifest(manifest: RunManifest): RunManifest {
  const render = {} as Record<string, unknown>;
  for (const k of RENDER_KEYS) render[k] = manifest.render_inputs[k];
  const out = {} as Record<string, unknown>;
  for (const k of PYTHON_KEYS) out[k] = k === 'render_inputs' ? render : manifest[k];
  out.github = manifest.github;
  out.slayer_artifacts = manifest.slayer_artifacts;
  out.dispatch = manifest.dispatch;
  out.dirty = manifest.dirty;
  out.instance_databases = manifest.instance_databases;
  if (manifest.code_source) out.code_source = manifest.code_source;
  return out as unknown as RunManifest;
}

/** Stable bytes: indent 2, fixed key order (the same plan gives the same bytes). */
export function serializeManifest(manifest: RunManifest): string {
  return JSON.stringify(orderManifest(manifest), null, 2);
}

/** The part of a manifest that identifies the plan: Python's keys plus the artifact summary. */
export function planIdentity(manifest: Pick<RunManifest, (typeof PYTHON_KEYS)[number] | 'slayer_artifacts'>): string {
  const o = orderManifest({ ...(manifest as RunManifest), github: {} as GithubContext, dispatch: { cluster: 'none' }, dirty: false, instance_databases: {} });
  const id: Record<string, unknown> = {};
  for (const k of PYTHON_KEYS) id[k] = o[k];
  id.slayer_artifacts = manifest.slayer_artifacts;
  return JSON.stringify(id);
}

/** Python's defaults for keys an older manifest lacks (docs/reference/manifest.md#reading-older-manifests). */
export function withPythonDefaults(raw: Partial<RunManifest> & Record<string, unknown>): RunManifest {
  const missing = ['framework', 'query_mode', 'mode', 'agent_model', 'user_sim_model'].filter((k) => typeof raw[k] !== 'string' || raw[k] === '');
  const ri = (raw.render_inputs ?? {}) as Partial<RunManifest['render_inputs']>;
  if (typeof ri.workers !== 'number') missing.push('render_inputs.workers');
  if (typeof ri.actors_per_worker !== 'number') missing.push('render_inputs.actors_per_worker');
  if (missing.length > 0)
    throw new Error(
      `the stored manifest lacks required keys: ${missing.join(', ')} (fix: it was not written by bird-interact-cloud or this action; start a new run)`,
    );
  return {
    patience: 3,
    max_depth: 3,
    prompt_cache: true,
    strict: false,
    use_audited_gold_sql: false,
    slayer_setup: 'pre-encoded',
    slayer_storage_root: '/data/slayer_models',
    ...raw,
    run_id: typeof raw.run_id === 'string' && raw.run_id ? raw.run_id : '',
    instance_ids: Array.isArray(raw.instance_ids)
      ? raw.instance_ids.map(String)
      : String(raw.instance_ids ?? '')
          .split(',')
          .filter(Boolean),
  } as RunManifest;
}

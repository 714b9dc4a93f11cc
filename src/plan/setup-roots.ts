// Where the in-cluster program puts a run's SLayer setup. It downloads each artifact into a root
// (BIRD_SLAYER_MODELS_ROOT, BIRD_OTF_CACHE_ROOT, BIRD_SLAYER_MODELS_OTF_ROOT, default
// /data/<artifact>) and skips the download when the root's `.download_complete` marker exists
// (docs/reference/gcs-layout.md#setup-uploads). That is safe on a fresh VM per run; on a shared,
// existing cluster the second run would read the first run's setup. So an existing cluster's SLayer
// job gets roots of its own run: <cluster-scratch-root>/<run_id>/<artifact>.
import { IN_CLUSTER_PATH } from '../inputs/gce.js';
import type { ClusterMode } from '../inputs/settings.js';

export const ROOT_VARIABLES = {
  slayer_models: 'BIRD_SLAYER_MODELS_ROOT',
  slayer_otf_cache: 'BIRD_OTF_CACHE_ROOT',
  slayer_models_otf: 'BIRD_SLAYER_MODELS_OTF_ROOT',
} as const;

/** The run-scoped roots, as runtime_env env_vars, and the storage root the job is given. */
export interface SetupRoots {
  env: Record<(typeof ROOT_VARIABLES)[keyof typeof ROOT_VARIABLES], string>;
  /** The job's --slayer-storage-root: the models root, so pre-encoded storage stays in sync. */
  slayerStorageRoot: string;
}

/** Run-scoped roots for a SLayer job on an existing cluster; null where the /data roots stand. */
export function setupRoots(o: { cluster: ClusterMode; scratchRoot: string; runId: string; queryMode: string }): SetupRoots | null {
  if (o.cluster !== 'existing' || o.queryMode !== 'slayer') return null;
  const base = `${o.scratchRoot.replace(/\/+$/, '')}/${o.runId}`;
  return {
    env: {
      BIRD_SLAYER_MODELS_ROOT: `${base}/slayer_models`,
      BIRD_OTF_CACHE_ROOT: `${base}/slayer_otf_cache`,
      BIRD_SLAYER_MODELS_OTF_ROOT: `${base}/slayer_models_otf`,
    },
    slayerStorageRoot: `${base}/slayer_models`,
  };
}

/** Roots read back from a stored manifest, or null when absent or not plain absolute paths. */
export function storedRoots(value: unknown): SetupRoots | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as { env?: Record<string, unknown>; slayer_storage_root?: unknown };
  const names = Object.values(ROOT_VARIABLES);
  if (typeof v.env !== 'object' || v.env === null || typeof v.slayer_storage_root !== 'string' || !IN_CLUSTER_PATH.test(v.slayer_storage_root)) return null;
  const env = v.env;
  if (!names.every((n) => typeof env[n] === 'string' && IN_CLUSTER_PATH.test(env[n] as string))) return null;
  return { env: Object.fromEntries(names.map((n) => [n, env[n] as string])) as SetupRoots['env'], slayerStorageRoot: v.slayer_storage_root };
}

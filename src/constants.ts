// Every input, output and state key of the action, referenced through these enums only.

export enum Inputs {
  Framework = 'framework',
  QueryMode = 'query-mode',
  Mode = 'mode',
  SlayerSetup = 'slayer-setup',
  AgentModel = 'agent-model',
  UserSimModel = 'user-sim-model',
  InstanceIds = 'instance-ids',
  InstanceIdsFile = 'instance-ids-file',
  DatasetFile = 'dataset-file',
  MiniInteractRoot = 'mini-interact-root',
  Patience = 'patience',
  MaxDepth = 'max-depth',
  Strict = 'strict',
  UseAuditedGoldSql = 'use-audited-gold-sql',
  PromptCache = 'prompt-cache',
  Workers = 'workers',
  ActorsPerWorker = 'actors-per-worker',
  WorkerType = 'worker-type',
  MaxRuntimeHours = 'max-runtime-hours',
  SlayerStorageRoot = 'slayer-storage-root',
  RunId = 'run-id',
  TrackedInputs = 'tracked-inputs',
  AllowDirty = 'allow-dirty',
  SlayerModelsRoot = 'slayer-models-root',
  OtfCacheRoot = 'otf-cache-root',
  ModelsOtfRoot = 'models-otf-root',
  DryRun = 'dry-run',
  GcsBucket = 'gcs-bucket',
  GcpProject = 'gcp-project',
  UploadConcurrency = 'upload-concurrency',
}

export enum Outputs {
  RunId = 'run-id',
  Dbs = 'dbs',
  Artifact = 'artifact',
  PlanFile = 'plan-file',
  ManifestUri = 'manifest-uri',
  UploadedFiles = 'uploaded-files',
  SkippedFiles = 'skipped-files',
  UploadedBytes = 'uploaded-bytes',
}

export enum State {
  RunId = 'run-id',
}

/** Defaults that domain.md fixes; action.yml repeats them and a test keeps both in step. */
export const Defaults = {
  slayerSetup: 'pre-encoded',
  userSimModel: 'anthropic/claude-haiku-4-5-20251001',
  patience: 3,
  maxDepth: 3,
  workers: 4,
  actorsPerWorker: 4,
  workerType: 'e2-standard-4',
  maxRuntimeHours: 8,
  slayerStorageRoot: '/data/slayer_models',
  region: 'us-central1',
  arRepo: 'bird-interact-runner',
  trackedInputs: ['src/', 'audited_gold/', 'uv.lock', 'pyproject.toml', 'Dockerfile.cloud'],
  uploadConcurrency: 32,
} as const;

export const ERROR_PREFIX = 'bird-cloud-action';

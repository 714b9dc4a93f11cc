// The per-run cluster's Ray cluster launcher YAML (docs/reference/per-run-cluster.md#cluster-yaml), rendered from the manifest's
// render_inputs with the `yaml` document API. Pure: the same manifest and key give the same bytes,
// so a rerun renders the same cluster from the stored manifest.
//
// Node configs use Ray's GCP node_config shape (the body of the Compute API instances.insert:
// machineType, disks[].initializeParams, serviceAccounts, labels, metadata.items), as in
// ray/python/ray/autoscaler/gcp/example-full.yaml.

import { Document } from 'yaml';
import { ACTORS_PER_WORKER_MAX, CLOUD_PLATFORM_SCOPE, IMAGE_URI, MACHINE_TYPE, PROJECT, REGION, SERVICE_ACCOUNT, WORKERS_MAX, ZONE } from '../inputs/gce.js';
import { GCE_NAME_MAX, RUN_ID_MAX, RUN_ID_PATTERN, workerNodeName } from '../inputs/run-id.js';
import type { RenderInputs, RunManifest } from '../plan/manifest.js';

const HEAD_NODE_TYPE = 'ray-head-default';
const WORKER_NODE_TYPE = 'ray-worker-default';
const HEAD_MACHINE_TYPE = 'e2-medium';
const CONTAINER_NAME = 'bird_interact_cloud';
const SSH_USER = 'ubuntu';
/** The labels the Python tools filter on. Both carry the run id (sic, docs/reference/per-run-cluster.md#cluster-yaml). */
export const RUN_ID_LABEL = 'bird-interact-run-id';
const IMAGE_TAG_LABEL = 'bird-interact-image-tag';
const DISK_SIZE_GB = 50;
const SOURCE_IMAGE = 'projects/ubuntu-os-cloud/global/images/family/ubuntu-2204-lts';
const IDLE_TIMEOUT_MINUTES = 30;
const RAY_PORT = 6379;
const OBJECT_MANAGER_PORT = 8076;
const SELF_DELETE_LOG = '/tmp/self_delete.log';

/** `docker.run_options`: the in-container environment of this image version (docs/reference/per-run-cluster.md#cluster-yaml). */
const RUN_ENV: ReadonlyArray<readonly [string, string]> = [
  ['BIRD_DB_PATH', '/data/mini-interact'],
  ['BIRD_DATA_PATH', '/data/mini-interact/mini_interact.jsonl'],
  ['BIRD_RESULTS_ROOT', '/tmp/results'],
  ['BIRD_INTERACT_AGENTS_CLOUD', '1'],
  ['BIRD_SLAYER_MODELS_ROOT', '/data/slayer_models'],
  ['BIRD_OTF_CACHE_ROOT', '/data/slayer_otf_cache'],
  ['BIRD_SLAYER_MODELS_OTF_ROOT', '/data/slayer_models_otf'],
];

const HEAD_START_RAY_COMMANDS: readonly string[] = [
  'ray stop',
  `ulimit -n 65536; ray start --head --port=${RAY_PORT} --object-manager-port=${OBJECT_MANAGER_PORT} --autoscaling-config=~/ray_bootstrap_config.yaml`,
];
const WORKER_START_RAY_COMMANDS: readonly string[] = [
  'ray stop',
  `ulimit -n 65536; ray start --address=$RAY_HEAD_IP:${RAY_PORT} --object-manager-port=${OBJECT_MANAGER_PORT}`,
];

/** What the YAML needs of the per-run SSH key pair (see sshkey.ts). */
export interface ClusterKey {
  /** Absolute path of the private key file on the runner. */
  sshPrivateKeyPath: string;
  /** One line: `ssh-ed25519 <base64> <comment>`. */
  sshPublicKey: string;
}

/** A render_inputs value that cannot go into a cluster YAML (it would break the cluster or a shell command). */
export class ClusterConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`the manifest's render_inputs cannot render a cluster: ${problems.join('; ')}`);
    this.name = 'ClusterConfigError';
  }
}

const PUBLIC_KEY = /^ssh-ed25519 [A-Za-z0-9+/]+={0,2}( [A-Za-z0-9@._-]+)?$/;
export const MAX_RUNTIME_HOURS_MAX = 72;

/**
 * Every problem with values that end up in the YAML, in node names or in the VM's shell
 * commands. The preflight checks the inputs; this checks again because a rerun renders from a
 * stored manifest (possibly written by the Python tool or edited by hand).
 */
export function renderInputsProblems(runId: string, ri: RenderInputs): string[] {
  const p: string[] = [];
  if (!RUN_ID_PATTERN.test(runId) || runId.length > RUN_ID_MAX)
    p.push(`run_id '${runId}' must match ${RUN_ID_PATTERN.source} and have at most ${RUN_ID_MAX} characters`);
  else if (workerNodeName(runId).length > GCE_NAME_MAX) p.push(`run_id '${runId}' makes node names longer than ${GCE_NAME_MAX} characters`);
  if (!Number.isInteger(ri.workers) || ri.workers < 1 || ri.workers > WORKERS_MAX)
    p.push(`workers ${String(ri.workers)} must be an integer from 1 to ${WORKERS_MAX}`);
  if (!Number.isInteger(ri.actors_per_worker) || ri.actors_per_worker < 1 || ri.actors_per_worker > ACTORS_PER_WORKER_MAX)
    p.push(`actors_per_worker ${String(ri.actors_per_worker)} must be an integer from 1 to ${ACTORS_PER_WORKER_MAX}`);
  if (typeof ri.worker_type !== 'string' || !MACHINE_TYPE.test(ri.worker_type)) p.push(`worker_type '${String(ri.worker_type)}' is not a GCE machine type`);
  if (typeof ri.region !== 'string' || !REGION.test(ri.region)) p.push(`region '${String(ri.region)}' is not a GCE region`);
  const zm = typeof ri.zone === 'string' ? ZONE.exec(ri.zone) : null;
  if (!zm) p.push(`zone '${String(ri.zone)}' is not a GCE zone`);
  else if (zm[1] !== ri.region) p.push(`zone '${ri.zone}' is not in region '${String(ri.region)}'`);
  if (typeof ri.project !== 'string' || !PROJECT.test(ri.project)) p.push(`project '${String(ri.project)}' is not a GCP project id`);
  if (typeof ri.worker_sa !== 'string' || !SERVICE_ACCOUNT.test(ri.worker_sa)) p.push(`worker_sa '${String(ri.worker_sa)}' is not a service account email`);
  if (typeof ri.image_uri !== 'string' || !IMAGE_URI.test(ri.image_uri))
    p.push(`image_uri '${String(ri.image_uri)}' is not an image reference with a tag or digest`);
  const h = ri.max_runtime_hours;
  if (typeof h !== 'number' || !Number.isFinite(h) || h <= 0 || h > MAX_RUNTIME_HOURS_MAX || selfDeleteSeconds(h) < 1) {
    p.push(`max_runtime_hours ${String(h)} must be a number above 0 and at most ${MAX_RUNTIME_HOURS_MAX}`);
  }
  return p;
}

/** Python's `int(max_runtime_hours * 3600)`: the double product, truncated toward zero. */
export function selfDeleteSeconds(maxRuntimeHours: number): number {
  return Math.trunc(maxRuntimeHours * 3600);
}

/** The self-delete timer, exactly as docs/reference/per-run-cluster.md#self-delete-timer gives it. */
export function selfDeleteCommand(maxRuntimeHours: number, zone: string): string {
  return `nohup bash -c "sleep ${selfDeleteSeconds(maxRuntimeHours)} && gcloud --quiet compute instances delete \\"$(hostname)\\" --zone=${zone} --delete-disks=all" >${SELF_DELETE_LOG} 2>&1 &`;
}

/**
 * Runs on each VM (outside the container) before Ray's docker setup: docker and rsync (apt waits
 * for the dpkg lock that a first-boot unattended upgrade may hold), access to the docker socket
 * for the SSH user (the group change only reaches new logins and Ray reuses its SSH connection, so
 * an ACL grants it at once), gcloud (Ubuntu's GCE image has it as a snap; installed when missing),
 * docker credentials for the region's Artifact Registry, then the self-delete timer.
 */
function initializationCommands(ri: Pick<RenderInputs, 'region' | 'zone' | 'max_runtime_hours'>): string[] {
  return [
    'sudo apt-get -o DPkg::Lock::Timeout=600 update -y',
    'sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y docker.io rsync acl',
    'sudo usermod -aG docker $USER',
    'sudo setfacl -m user:$USER:rw /var/run/docker.sock',
    'command -v gcloud >/dev/null 2>&1 || sudo snap install google-cloud-cli --classic',
    `gcloud auth configure-docker ${ri.region}-docker.pkg.dev --quiet`,
    selfDeleteCommand(ri.max_runtime_hours, ri.zone),
  ];
}

interface NodeConfig {
  machineType: string;
  disks: Array<{ boot: boolean; autoDelete: boolean; type: 'PERSISTENT'; initializeParams: { diskSizeGb: number; sourceImage: string } }>;
  serviceAccounts: Array<{ email: string; scopes: string[] }>;
  labels: Record<string, string>;
  metadata: { items: Array<{ key: string; value: string }> };
}

interface NodeType {
  min_workers: number;
  max_workers: number;
  resources: { CPU: number };
  node_config: NodeConfig;
}

/** The cluster config as Ray reads it, keys in the order they are written. */
export interface ClusterConfig {
  cluster_name: string;
  max_workers: number;
  upscaling_speed: number;
  idle_timeout_minutes: number;
  docker: { image: string; container_name: string; pull_before_run: boolean; run_options: string[] };
  provider: { type: 'gcp'; region: string; availability_zone: string; project_id: string };
  auth: { ssh_user: string; ssh_private_key: string };
  available_node_types: Record<string, NodeType>;
  head_node_type: string;
  initialization_commands: string[];
  head_start_ray_commands: string[];
  worker_start_ray_commands: string[];
}

function nodeConfig(machineType: string, runId: string, ri: RenderInputs, publicKey: string): NodeConfig {
  return {
    machineType,
    disks: [{ boot: true, autoDelete: true, type: 'PERSISTENT', initializeParams: { diskSizeGb: DISK_SIZE_GB, sourceImage: SOURCE_IMAGE } }],
    serviceAccounts: [{ email: ri.worker_sa, scopes: [CLOUD_PLATFORM_SCOPE] }],
    labels: { [RUN_ID_LABEL]: runId, [IMAGE_TAG_LABEL]: runId },
    metadata: {
      items: [
        { key: 'ssh-keys', value: `${SSH_USER}:${publicKey}` },
        { key: 'enable-oslogin', value: 'FALSE' },
      ],
    },
  };
}

/** The config object; throws ClusterConfigError when a value cannot be rendered safely. */
export function clusterConfig(manifest: Pick<RunManifest, 'run_id' | 'render_inputs'>, key: ClusterKey): ClusterConfig {
  const runId = manifest.run_id;
  const ri = manifest.render_inputs;
  const problems = renderInputsProblems(runId, ri);
  if (!key.sshPrivateKeyPath.startsWith('/') || /[\s"'\\$`]/.test(key.sshPrivateKeyPath))
    problems.push(`the SSH key path '${key.sshPrivateKeyPath}' must be absolute, without spaces or quotes`);
  if (!PUBLIC_KEY.test(key.sshPublicKey)) problems.push('the SSH public key must be one line `ssh-ed25519 <base64> [comment]`');
  if (problems.length > 0) throw new ClusterConfigError(problems);
  return {
    cluster_name: runId,
    max_workers: ri.workers,
    upscaling_speed: 0,
    idle_timeout_minutes: IDLE_TIMEOUT_MINUTES,
    docker: {
      image: ri.image_uri,
      container_name: CONTAINER_NAME,
      pull_before_run: true,
      run_options: RUN_ENV.map(([k, v]) => `--env ${k}=${v}`),
    },
    provider: { type: 'gcp', region: ri.region, availability_zone: ri.zone, project_id: ri.project },
    auth: { ssh_user: SSH_USER, ssh_private_key: key.sshPrivateKeyPath },
    available_node_types: {
      [HEAD_NODE_TYPE]: { min_workers: 0, max_workers: 0, resources: { CPU: 0 }, node_config: nodeConfig(HEAD_MACHINE_TYPE, runId, ri, key.sshPublicKey) },
      [WORKER_NODE_TYPE]: {
        min_workers: ri.workers,
        max_workers: ri.workers,
        resources: { CPU: ri.actors_per_worker },
        node_config: nodeConfig(ri.worker_type, runId, ri, key.sshPublicKey),
      },
    },
    head_node_type: HEAD_NODE_TYPE,
    initialization_commands: initializationCommands(ri),
    head_start_ray_commands: [...HEAD_START_RAY_COMMANDS],
    worker_start_ray_commands: [...WORKER_START_RAY_COMMANDS],
  };
}

/**
 * The YAML text. The document uses the YAML 1.1 schema when it decides what to quote, so that
 * PyYAML (Ray's parser, YAML 1.1) reads every string back as a string (`no`, `on`, dates).
 * No line folding: every command stays on one line.
 */
export function renderClusterYaml(manifest: Pick<RunManifest, 'run_id' | 'render_inputs'>, key: ClusterKey): string {
  const doc = new Document(clusterConfig(manifest, key), { version: '1.1' });
  doc.commentBefore = ` Ray cluster for BIRD-Interact run ${manifest.run_id}, rendered by bird-cloud-action from the run manifest.`;
  return doc.toString({ lineWidth: 0, indent: 2 });
}

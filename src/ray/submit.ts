// Dispatching one attempt to a Ray cluster: the version check, the job request (pure), the
// secrets package and an idempotent submit (docs/reference/ray-jobs.md#idempotency-and-retries).
import { Inputs } from '../common/constants.js';
import { errorMessage, ProblemsError } from '../common/errors.js';
import type { GithubContext } from '../common/github-context.js';
import type { Log } from '../common/log.js';
import { RetryExhaustedError, withRetry } from '../common/retry.js';
import type { Clock } from '../common/time.js';
import type { DispatchSettings } from '../inputs/settings.js';
import { CODE_DIR, type CodePlan, entrypointPrefixFor } from '../plan/code-source.js';
import { buildJobArgs, entrypoint, submissionId } from '../plan/job-args.js';
import type { RunManifest } from '../plan/manifest.js';
import type { SetupRoots } from '../plan/setup-roots.js';
import { isDuplicateSubmission, type JobDetails, RayHttpError, RayJobsClient, type RayVersion, retryableRayError, type SubmitRequest } from './client.js';
import { type CodeFile, jobPackage, PACKAGE_MAX_BYTES } from './job-package.js';

/**
 * A Jobs API client for the dashboard the settings name (or `address`), logging its retries, whose
 * backoff sleeps on `clock` (the step's).
 */
export function rayClient(
  log: Log,
  dispatch: Pick<DispatchSettings, 'rayAddress' | 'rayHeaders' | 'tlsVerify'>,
  options: { clock: Clock; address?: string },
): RayJobsClient {
  return new RayJobsClient({
    address: options.address ?? dispatch.rayAddress,
    headers: dispatch.rayHeaders,
    tlsVerify: dispatch.tlsVerify,
    policy: { clock: options.clock },
    onRetry: (what, e, attempt, delay) => log.info(`retry ${attempt} of ${what} in ${delay} ms: ${errorMessage(e)}`),
  });
}

/** Ray 2.2 brought the head→agent Jobs API this client speaks (docs/reference/ray-jobs.md#versions-covered). */
const MIN_RAY_VERSION: readonly [number, number] = [2, 2];

function versionAtLeast(v: string, [major, minor]: readonly [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(v);
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/** GET /api/version before anything is written: reachable, authorised, supported. */
export async function checkCluster(client: RayJobsClient): Promise<RayVersion> {
  let v: RayVersion;
  try {
    v = await client.version();
  } catch (e) {
    const inner = e instanceof RetryExhaustedError ? e.cause : e;
    if (inner instanceof RayHttpError && (inner.status === 401 || inner.status === 403)) {
      throw new ProblemsError(
        [
          {
            input: Inputs.RayHeaders,
            message: `the Ray dashboard at ${client.address} refused the credentials (HTTP ${inner.status})`,
            fix: 'put a valid token in ray-headers, e.g. {"Authorization": "Bearer <token>"}',
          },
        ],
        'preflight failed',
      );
    }
    if (inner instanceof RayHttpError && inner.status === 404) {
      throw new ProblemsError(
        [
          {
            input: Inputs.RayAddress,
            message: `${client.address} is not a Ray dashboard (GET /api/version answered 404)`,
            fix: 'point ray-address at the dashboard (port 8265 by default), including any path prefix of a proxy',
          },
        ],
        'preflight failed',
      );
    }
    throw new ProblemsError(
      [
        {
          input: Inputs.RayAddress,
          message: `cannot reach the Ray dashboard at ${client.address}: ${errorMessage(inner)}`,
          fix: 'check that the cluster is up and reachable from this runner (network, proxy, ray-headers)',
        },
      ],
      'preflight failed',
    );
  }
  if (!versionAtLeast(String(v.ray_version ?? ''), MIN_RAY_VERSION)) {
    throw new ProblemsError(
      [
        {
          input: Inputs.RayAddress,
          message: `the cluster runs Ray ${v.ray_version} (Jobs API version ${v.version}); this action needs Ray ${MIN_RAY_VERSION.join('.')} or newer`,
          fix: 'upgrade the cluster',
        },
      ],
      'preflight failed',
    );
  }
  return v;
}

export interface AttemptJob {
  submissionId: string;
  args: string[];
  request: SubmitRequest;
}

export interface AttemptJobParts {
  dispatch: DispatchSettings;
  manifest: RunManifest;
  attempt: number;
  instanceIds: readonly string[];
  /** True when the job gets a keys file (at least one key is needed). */
  withSecrets: boolean;
  github: GithubContext;
  /** The keys package; null in a plan or a printed command. */
  packageUri: string | null;
  /** Run-scoped setup roots (existing cluster, SLayer): env_vars and the storage root argument. */
  roots: SetupRoots | null;
  /** Which code runs: the checkout's (in the package) or the image's. */
  code: CodePlan['source'];
}

/** The job request of one attempt (pure; the package URI is filled in at dispatch). */
export function attemptJob(parts: AttemptJobParts): AttemptJob {
  const { manifest: m, attempt, github } = parts;
  const sid = submissionId(m.run_id, attempt);
  const args = buildJobArgs(m, attempt, parts.instanceIds, { withSecrets: parts.withSecrets, slayerStorageRoot: parts.roots?.slayerStorageRoot });
  const runtimeEnv: Record<string, unknown> = { ...parts.dispatch.runtimeEnv };
  // Job-level env_vars reach the driver and every actor: where this run's setup goes, and the
  // checkout's package ahead of the image's (the working directory is the unpacked package).
  const envVars: Record<string, string> = { ...((runtimeEnv.env_vars as Record<string, string> | undefined) ?? {}), ...(parts.roots?.env ?? {}) };
  if (parts.code === 'checkout') envVars.PYTHONPATH = envVars.PYTHONPATH ? `${CODE_DIR}:${envVars.PYTHONPATH}` : CODE_DIR;
  if (Object.keys(envVars).length > 0) runtimeEnv.env_vars = envVars;
  if (parts.packageUri) runtimeEnv.working_dir = parts.packageUri;
  const request: SubmitRequest = {
    entrypoint: entrypoint(entrypointPrefixFor(parts.dispatch.entrypointPrefix, parts.code), args),
    submission_id: sid,
    metadata: { run_id: m.run_id, attempt: String(attempt), repository: github.repository, sha: github.sha, workflow_run_url: github.workflow_run_url },
  };
  if (Object.keys(runtimeEnv).length > 0) request.runtime_env = runtimeEnv;
  return { submissionId: sid, args, request };
}

function ours(job: JobDetails, runId: string, attempt: number): boolean {
  return job.metadata?.run_id === runId && job.metadata?.attempt === String(attempt);
}

export type SubmitOutcome = 'created' | 'existing';

/**
 * Submits once per submission id: on a duplicate, or on a failure after which the job may
 * exist, it looks the job up and accepts it only when its metadata names this run and attempt.
 */
export async function submitIdempotent(client: RayJobsClient, req: SubmitRequest, runId: string, attempt: number): Promise<SubmitOutcome> {
  return withRetry(
    `submit ${req.submission_id}`,
    async (): Promise<SubmitOutcome> => {
      try {
        await client.submitOnce(req);
        return 'created';
      } catch (e) {
        if (!isDuplicateSubmission(e) && !retryableRayError(e)) throw e;
        const job = await client.job(req.submission_id);
        if (job === null) throw e; // not created: retried (when retryable)
        if (ours(job, runId, attempt)) return 'existing';
        throw new Error(
          `a Ray job named ${req.submission_id} already exists and is not this run's attempt (its metadata: ${JSON.stringify(job.metadata)}). ` +
            'Stop or delete that job, or use another run id.',
        );
      }
    },
    retryableRayError,
    client.policy,
  );
}

/** Uploads the job's package (keys, checkout code) when there is anything to send; returns its URI. */
export async function uploadJobPackage(client: RayJobsClient, keys: ReadonlyMap<string, string>, code: readonly CodeFile[]): Promise<string | null> {
  if (keys.size === 0 && code.length === 0) return null;
  const pkg = jobPackage(keys, code);
  if (pkg.zip.length > PACKAGE_MAX_BYTES) {
    throw new ProblemsError(
      [
        {
          input: Inputs.Code,
          message: `the job's package is ${pkg.zip.length} bytes, more than Ray takes (${PACKAGE_MAX_BYTES})`,
          fix: 'use code: image, or keep large files out of src/',
        },
      ],
      'dispatch refused',
    );
  }
  await client.uploadPackage(pkg.uri, pkg.zip);
  return pkg.uri;
}

/**
 * The `ray job submit` command that matches a job, for teams that dispatch elsewhere. No secrets.
 * Ray's CLI re-joins the words after `--` with Windows-style double quotes before its
 * `/bin/sh -c`, so the command is exact only when no argument needs quoting; otherwise the
 * REST request is the faithful form, and it is printed instead.
 */
export function rayJobSubmitCommand(job: AttemptJob, address: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const env = { ...(job.request.runtime_env ?? {}) };
  delete env.working_dir;
  const addr = address ? q(address) : '"$RAY_ADDRESS"';
  const secrets = job.args.includes('--secrets-file')
    ? ' (add the keys as bird_interact_secrets.json, {"<KEY>": "<value>", …}, at the root of a working_dir package)'
    : '';
  const plain = job.request.entrypoint.split(' ').every((w) => /^[A-Za-z0-9_@%+=:,./-]+$/.test(w));
  if (!plain) {
    const body = JSON.stringify({
      entrypoint: job.request.entrypoint,
      submission_id: job.submissionId,
      metadata: job.request.metadata,
      ...(Object.keys(env).length > 0 ? { runtime_env: env } : {}),
    });
    return [
      `curl -sS -X POST ${address ? q(`${address.replace(/\/+$/, '')}/api/jobs/`) : '"$RAY_ADDRESS/api/jobs/"'} -H 'Content-Type: application/json' \\`,
      `  --data-binary ${q(body)}`,
      `# ray job submit would re-quote these arguments; this REST request keeps them exact${secrets}`,
    ].join('\n');
  }
  const parts = ['ray job submit', `--address ${addr}`, `--submission-id ${q(job.submissionId)}`, `--metadata-json ${q(JSON.stringify(job.request.metadata))}`];
  if (Object.keys(env).length > 0) parts.push(`--runtime-env-json ${q(JSON.stringify(env))}`);
  if (secrets) parts.push('--working-dir <a directory holding bird_interact_secrets.json: {"<KEY>": "<value>", …}>');
  parts.push('--no-wait', '--', job.request.entrypoint);
  return parts.join(' \\\n  ');
}

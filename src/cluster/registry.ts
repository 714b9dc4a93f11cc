// Does the run's image exist in Artifact Registry (docs/reference/per-run-cluster.md#image-tag)? One HEAD request on the Docker
// Registry HTTP API v2 with the ADC access token as a Bearer token, through @actions/http-client
// (runner proxy settings apply). When it is missing, buildCommand() gives the exact build.

import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { HttpClient } from '@actions/http-client';
import { GoogleAuth } from 'google-auth-library';
import { errorMessage } from '../common/errors.js';
import { isNetworkError, RetryBudget, RetryExhaustedError, type RetryPolicy, withRetry } from '../common/retry.js';
import { CLOUD_PLATFORM_SCOPE } from '../inputs/gce.js';
import { shellQuote } from '../plan/job-args.js';
import { DATASET_DIR, DOCKERFILE_NAME } from './image-tag.js';

/** Every manifest type a pushed image may have: OCI and Docker, single and multi-platform. */
export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export interface ImageRef {
  /** Registry host, e.g. `us-central1-docker.pkg.dev`. */
  host: string;
  /** Repository path, e.g. `proj/bird-interact-runner/runner`. */
  name: string;
  /** Tag or `sha256:<hex>` digest. */
  reference: string;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** `host/path:tag` or `host/path@sha256:…` (the host is required: an AR URI always has one). */
export function parseImageUri(uri: string): ImageRef {
  const m = /^([a-z0-9.-]+(?::[0-9]+)?)\/([a-z0-9._/-]+?)(?::([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(sha256:[0-9a-f]{64}))$/.exec(uri);
  if (!m) throw new RegistryError(`'${uri}' is not an image reference of the form HOST/PATH:TAG or HOST/PATH@sha256:DIGEST`, null);
  return { host: m[1], name: m[2], reference: m[3] ?? m[4] };
}

/** `https://<host>/v2/<name>/manifests/<reference>`, or the same path under `baseUrl` (tests). */
export function manifestUrl(ref: ImageRef, baseUrl?: string): string {
  const base = (baseUrl ?? `https://${ref.host}`).replace(/\/+$/, '');
  return `${base}/v2/${ref.name}/manifests/${encodeURIComponent(ref.reference).replace(/%3A/g, ':')}`;
}

/** An access token source: Application Default Credentials with the cloud-platform scope. */
export function adcTokenSource(auth: GoogleAuth = new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] })): () => Promise<string> {
  return async () => {
    const token = await auth.getAccessToken();
    if (!token) throw new RegistryError('Application Default Credentials gave no access token. Fix: run google-github-actions/auth before this step.', null);
    return token;
  };
}

export interface ImageExistsOptions {
  /** Replaces `https://<host>` (a local server in tests). */
  baseUrl?: string;
  /** Attempts on 5xx/429 and network errors; default 3. */
  attempts?: number;
  retryMs?: number;
}

/** An Artifact Registry host: `<location>-docker.pkg.dev`. */
const AR_HOST = /^[a-z0-9]+(-[a-z0-9]+)*-docker\.pkg\.dev$/;

/** Where the workflow's token may go: Artifact Registry of the `gcp-project` input, or the hosts `image-registries` names. */
export interface RegistryTrust {
  /** The `gcp-project` input (never the project a stored manifest names). */
  project: string;
  /** The `image-registries` input: other hosts the image may come from, asked without a token. */
  extraHosts: readonly string[];
}

/**
 * How the image's registry may be asked: with the workflow's access token only in Artifact
 * Registry of the `gcp-project` input; anonymously on a host `image-registries` names; otherwise
 * not at all, which refuses the image for a per-run cluster.
 */
export function registryAccess(imageUri: string, trust: RegistryTrust): { access: 'token' | 'anonymous' } | { problem: string } {
  let ref: ImageRef;
  try {
    ref = parseImageUri(imageUri);
  } catch (e) {
    return { problem: errorMessage(e) };
  }
  if (AR_HOST.test(ref.host)) {
    const project = ref.name.split('/')[0];
    if (trust.project !== '' && project === trust.project) return { access: 'token' };
    return {
      problem: `image ${imageUri} is in project '${project}' of Artifact Registry, not in gcp-project '${trust.project}': the workflow's token goes to its own project only`,
    };
  }
  if (trust.extraHosts.includes(ref.host)) return { access: 'anonymous' };
  return { problem: `image ${imageUri} is on registry host '${ref.host}', which is not Artifact Registry and not named by image-registries` };
}

/**
 * One registry call: HEAD the manifest, with `Authorization: Bearer <token>` when a token source
 * is given. 200 → true, 404 → false; without a token 401/403 → null (it cannot be told); with
 * one, 401/403 and anything else are errors that say what to fix. 5xx, 429 and network errors are
 * retried a few times. The token never appears in an error.
 */
export async function imageExists(imageUri: string, getToken: (() => Promise<string>) | null, options: ImageExistsOptions = {}): Promise<boolean | null> {
  const ref = parseImageUri(imageUri);
  const url = manifestUrl(ref, options.baseUrl);
  const headers: Record<string, string> = { Accept: MANIFEST_ACCEPT };
  if (getToken) headers.Authorization = `Bearer ${await getToken()}`;
  // No redirects: a registry that redirects elsewhere must not take the token with it.
  const http = new HttpClient('bird-cloud-action', [], { allowRetries: false, allowRedirects: false, socketTimeout: 30_000, keepAlive: false });
  const policy: RetryPolicy = { attempts: options.attempts ?? 3, baseMs: options.retryMs ?? 1_000, maxMs: 10_000, budget: new RetryBudget(5) };
  const head = async (): Promise<number> => {
    let status: number;
    try {
      const res = await http.head(url, headers);
      await res.readBody();
      status = res.message.statusCode ?? 0;
    } catch (e) {
      if (isNetworkError(e)) throw e;
      throw new RegistryError(`could not reach the registry at ${url}: ${errorMessage(e)}`, null);
    }
    if (status >= 500 || status === 429) throw new RegistryError(`HEAD ${url} answered ${status}`, status);
    return status;
  };
  const retryable = (e: unknown): boolean => isNetworkError(e) || (e instanceof RegistryError && e.status !== null && (e.status >= 500 || e.status === 429));
  let status: number;
  try {
    status = await withRetry(`HEAD ${url}`, head, retryable, policy);
  } catch (e) {
    if (e instanceof RetryExhaustedError) {
      const cause = e.cause;
      if (cause instanceof RegistryError) throw cause;
      throw new RegistryError(`could not reach the registry at ${url}: ${errorMessage(cause)}`, null);
    }
    throw e;
  }
  if (status === 200) return true;
  if (status === 404) return false;
  if (!getToken && (status === 401 || status === 403)) return null;
  const repo = `${ref.host}/${ref.name.split('/').slice(0, 2).join('/')}`;
  if (status === 401) {
    throw new RegistryError(
      `the registry refused the access token (401) for ${imageUri}. Fix: authenticate with google-github-actions/auth before this step (Application Default Credentials).`,
      status,
    );
  }
  if (status === 403) {
    throw new RegistryError(
      `the credentials may not read ${repo} (403). Fix: grant the workflow's service account roles/artifactregistry.reader (roles/artifactregistry.writer when the workflow pushes the image) on that repository.`,
      status,
    );
  }
  throw new RegistryError(`HEAD ${url} answered ${status}`, status);
}

/** Escapes a name for an extended regular expression of GNU tar's --transform (`,` is its delimiter). */
function eregEscape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|,]/g, (c) => `\\${c}`);
}

/**
 * The command that builds and pushes the run's image when it is missing. The build context is
 * exactly what the image tag hashes from (docs/image-tag.md#the-build-context): the files git
 * tracks or would track (never ignored ones, never `.git`), as `git ls-files` lists them, plus the
 * dataset as `mini-interact/` (a repo folder of that name is left out: the dataset takes its place).
 * One tar stream joins the two: GNU tar's `--transform` renames the dataset folder to
 * `mini-interact` (only that folder: the pattern is anchored to the whole first component), and
 * `--ignore-failed-read` lets a tracked file deleted in the worktree drop out, as the tag skips it.
 * Pass resolved paths (realpath): tar stores a symlinked dataset root as a link.
 * Built for linux/amd64 (the GCE machines), also from an ARM laptop.
 */
export function buildCommand(imageUri: string, repoRoot: string, miniInteractRoot: string): string {
  const ref = parseImageUri(imageUri);
  if (!isAbsolute(repoRoot) || !isAbsolute(miniInteractRoot)) throw new Error('buildCommand needs absolute paths');
  const repo = resolve(repoRoot);
  const mi = resolve(miniInteractRoot);
  const q = shellQuote;
  const login = `gcloud auth configure-docker ${ref.host} --quiet`;
  const push = `docker push ${q(imageUri)}`;
  const base = basename(mi);
  const list = `git -C ${q(repo)} ls-files -z --cached --others --exclude-standard -- ${q(`:(exclude,literal)${DATASET_DIR}`)}`;
  const transform = base === DATASET_DIR ? '' : ` ${q(`--transform=s,^${eregEscape(base)}(/|$),${DATASET_DIR}\\1,x`)}`;
  const tar = `tar -cf - --ignore-failed-read${transform} -C ${q(repo)} --no-recursion --null -T - --recursion -C ${q(dirname(mi))} ${q(base)}`;
  return `${login} && ${list} | ${tar} | docker build --platform linux/amd64 -f ${DOCKERFILE_NAME} -t ${q(imageUri)} - && ${push}`;
}

/** Test hook, like STORAGE_EMULATOR_HOST: a registry double at this base URL, no credentials. */
export const REGISTRY_EMULATOR_ENV = 'BIRD_REGISTRY_EMULATOR_HOST';

/** Where imageExists goes and with which token: Artifact Registry with ADC, or the double. */
export function registryFromEnv(env: NodeJS.ProcessEnv = process.env): { baseUrl?: string; getToken: () => Promise<string> } {
  const emulator = env[REGISTRY_EMULATOR_ENV];
  if (emulator) return { baseUrl: emulator, getToken: async () => 'emulator-token' };
  return { getToken: adcTokenSource() };
}

// The one module that talks to GCS. It owns the Storage client, the run's object names
// (docs/reference/gcs-layout.md#objects-of-a-run) and the retry policy of every call.
//
// @google-cloud/storage is loaded on the first call, not with the bundle: a dry run never talks to GCS, and the
// SDK is most of the bundle's start-up time. The SDK serves the JSON API calls (list, stat, read, delete); uploads
// go through ./transfer.ts on ./http.ts, with the SDK's credentials.
import type { Bucket, File, Storage } from '@google-cloud/storage';
import { errorStatus } from '../common/errors.js';
import { isNetworkError, RetryBudget, type RetryPolicy, withRetry } from '../common/retry.js';
import { uploadTransport } from './http.js';
import {
  bufferBody,
  multipartUpload,
  ResumableUpload,
  retryableStatus,
  type SessionNote,
  type UploadBody,
  UploadInterruptedError,
  type UploadTarget,
} from './transfer.js';

export interface RemoteObject {
  name: string;
  md5: string;
  size: number;
  generation: string;
}

/** Object names of a run (docs/reference/gcs-layout.md#objects-of-a-run). */
export const runPaths = {
  /** Where every run's folder is. */
  root: 'runs/',
  prefix: (runId: string): string => `runs/${runId}/`,
  manifest: (runId: string): string => `runs/${runId}/manifest.json`,
  status: (runId: string): string => `runs/${runId}/status.json`,
  /** The figures this action last reported for the run (docs/reference/gcs-layout.md#the-report-record). */
  report: (runId: string): string => `runs/${runId}/report.json`,
  setupPrefix: (runId: string, artifact: string): string => `runs/${runId}/slayer_setup/${artifact}/`,
  setupObject: (runId: string, artifact: string, db: string, rel: string): string => `runs/${runId}/slayer_setup/${artifact}/${db}/${rel}`,
  rowsPrefix: (runId: string): string => `runs/${runId}/rows/`,
  row: (runId: string, iid: string, attempt: number): string => `runs/${runId}/rows/${iid}/attempt-${attempt}.json`,
  logsPrefix: (runId: string): string => `runs/${runId}/logs/`,
};

/** GCS answers 429 and 5xx for load and outages; 408 for slow requests. */
function retryableGcsError(e: unknown): boolean {
  if (e instanceof UploadInterruptedError) return true;
  const s = errorStatus(e);
  if (s !== undefined) return retryableStatus(s);
  return isNetworkError(e);
}

export function isPreconditionFailed(error: unknown): boolean {
  return errorStatus(error) === 412;
}

export function isNotFound(error: unknown): boolean {
  return errorStatus(error) === 404;
}

/** The auth hint every permission or credential error carries. */
export const AUTH_HINT =
  'authenticate before this step with google-github-actions/auth (workload identity; the job needs `permissions: id-token: write`), ' +
  'and grant the service account roles/storage.objectUser (or objectCreator + objectViewer) on the bucket';

/**
 * The `apiEndpoint` option for a STORAGE_EMULATOR_HOST value, or undefined when it is unset (real GCS).
 * @google-cloud/storage 7.22.0 uses the variable both as the JSON API base URL and as `apiEndpoint`, the
 * base of its upload URLs (`<apiEndpoint>/upload/storage/v1/b/...`). The servers document it differently:
 * the firebase emulator as its origin (JSON routes at `/b/...`), fake-gcs-server for Node as
 * `<origin>/storage/v1` (JSON routes at `/storage/v1/b/...`), where uploads would then go to
 * `<origin>/storage/v1/upload/storage/v1/...`. The origin as `apiEndpoint` keeps the JSON base the
 * variable names and sends uploads to the origin, for both (fake-gcs-server's own Node example sets both).
 */
export function emulatorApiEndpoint(emulatorHost: string | undefined): string | undefined {
  if (!emulatorHost) return undefined;
  // As the SDK's sanitizeEndpoint: https unless a scheme is given, no trailing slashes.
  const url = (/^(\w*):\/\//.test(emulatorHost) ? emulatorHost : `https://${emulatorHost}`).replace(/\/+$/, '');
  return url.replace(/\/storage\/v1$/, '');
}

interface Client {
  storage: Storage;
  target: UploadTarget;
}

/** The SDK reads STORAGE_EMULATOR_HOST in its constructor; a store uses the value it was made with. */
function withEmulatorHost<T>(host: string | undefined, make: () => T): T {
  const previous = process.env.STORAGE_EMULATOR_HOST;
  if (host === undefined) delete process.env.STORAGE_EMULATOR_HOST;
  else process.env.STORAGE_EMULATOR_HOST = host;
  try {
    return make();
  } finally {
    if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previous;
  }
}

async function openClient(bucketName: string, projectId: string | undefined, emulatorHost: string | undefined): Promise<Client> {
  const { Storage } = await import('@google-cloud/storage');
  // Our retry loop governs every call; the SDK's own would stack on top and, for uploads
  // without a precondition, switches itself off for the whole client.
  const storage = withEmulatorHost(
    emulatorHost,
    () =>
      new Storage({
        projectId: projectId || undefined,
        apiEndpoint: emulatorApiEndpoint(emulatorHost),
        retryOptions: { autoRetry: false },
        timeout: 120_000,
      }),
  );
  // As the SDK's own uploads do: its credentials for GCS, none for a custom endpoint (an emulator).
  const http = uploadTransport(storage.customEndpoint && !storage.useAuthWithCustomEndpoint ? undefined : (url) => storage.authClient.getRequestHeaders(url));
  return { storage, target: { http, apiEndpoint: storage.apiEndpoint, bucket: bucketName } };
}

export interface StoreWriteOptions {
  /** 0 creates only (a 412 means the object exists); a generation replaces exactly that one. */
  ifGenerationMatch: number | string;
  contentType: string;
  /** A resumable session streamed from the body, resumed after a broken connection; else one multipart request. */
  resumable?: boolean;
  /** Told when a resumable session resumes or restarts. */
  onNote?: (note: SessionNote) => void;
}

export class RunStore {
  readonly policy: RetryPolicy;
  onRetry?: (what: string, e: unknown, attempt: number, delayMs: number) => void;
  private readonly emulatorHost = process.env.STORAGE_EMULATOR_HOST;
  private client?: Client;
  private opening?: Promise<Client>;

  constructor(
    readonly bucketName: string,
    private readonly projectId?: string,
    policy?: Partial<RetryPolicy>,
  ) {
    this.policy = { attempts: 6, baseMs: 250, maxMs: 8_000, budget: new RetryBudget(200), ...policy };
  }

  /** Loads the SDK and makes the client; every call does this first, so `bucket` works inside `retry`. */
  async open(): Promise<void> {
    this.opening ??= openClient(this.bucketName, this.projectId, this.emulatorHost).then((c) => (this.client = c));
    await this.opening;
  }

  /** The SDK's bucket, for calls the store has no method for; only once the store is open (inside `retry`). */
  get bucket(): Bucket {
    if (!this.client) throw new Error('RunStore: the Storage client is not loaded yet; use the bucket inside store.retry()');
    return this.client.storage.bucket(this.bucketName);
  }

  uri(name: string): string {
    return `gs://${this.bucketName}/${name}`;
  }

  retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    const opened = async (): Promise<T> => {
      if (!this.client) await this.open();
      return op();
    };
    return withRetry(what, opened, retryableGcsError, this.policy, (e, a, d) => this.onRetry?.(what, e, a, d));
  }

  /** Every object under a prefix, with md5 and generation: one paginated listing. */
  async list(prefix: string): Promise<Map<string, RemoteObject>> {
    const out = new Map<string, RemoteObject>();
    let pageToken: string | undefined;
    do {
      const [files, next] = await this.retry(`list ${this.uri(prefix)}`, () =>
        this.bucket.getFiles({ prefix, autoPaginate: false, maxResults: 1000, pageToken }),
      );
      for (const f of files) out.set(f.name, toRemote(f));
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    return out;
  }

  /** True when at least one object has this prefix (one request). */
  async anyUnder(prefix: string): Promise<boolean> {
    const [files] = await this.retry(`list ${this.uri(prefix)}`, () => this.bucket.getFiles({ prefix, maxResults: 1, autoPaginate: false }));
    return files.length > 0;
  }

  /**
   * The "folders" right under a prefix (a delimiter listing: `runs/` gives `runs/<id>/`), without
   * listing the objects in them. GCS counts items and prefixes together against maxResults and pages
   * with nextPageToken; both test servers return every prefix in one page (docs/conformance.md#gcs-servers).
   */
  async prefixes(prefix: string): Promise<string[]> {
    const out: string[] = [];
    let pageToken: string | undefined;
    do {
      const [, next, response] = await this.retry(`list ${this.uri(prefix)} by folder`, () =>
        this.bucket.getFiles({ prefix, delimiter: '/', autoPaginate: false, maxResults: 1000, pageToken }),
      );
      const found = (response as { prefixes?: unknown } | undefined)?.prefixes;
      if (Array.isArray(found)) for (const p of found) if (typeof p === 'string') out.push(p);
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
    return out;
  }

  /** An object's creation time (its `timeCreated`) in ms since the epoch, or null when it does not exist. */
  async created(name: string): Promise<number | null> {
    try {
      const [md] = await this.retry(`stat ${this.uri(name)}`, () => this.bucket.file(name).getMetadata());
      const t = Date.parse(String(md.timeCreated ?? ''));
      return Number.isNaN(t) ? null : t;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async metadata(name: string): Promise<RemoteObject | null> {
    try {
      const [md] = await this.retry(`stat ${this.uri(name)}`, () => this.bucket.file(name).getMetadata());
      return { name, md5: String(md.md5Hash ?? ''), size: Number(md.size ?? 0), generation: String(md.generation ?? '') };
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async read(name: string): Promise<Buffer | null> {
    try {
      const [buf] = await this.retry(`read ${this.uri(name)}`, () => this.bucket.file(name).download());
      return buf;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  /** Writes bytes from memory under a generation precondition; see `upload`. */
  write(name: string, data: Buffer, opts: StoreWriteOptions): Promise<RemoteObject> {
    return this.upload(name, bufferBody(data), opts);
  }

  /**
   * Writes an object under a generation precondition (so every retry is safe), declaring the body's MD5: the server
   * refuses other bytes with a 400 and creates nothing. One multipart request from memory, or a resumable session
   * streamed from the body that a broken connection does not restart (./transfer.ts).
   */
  async upload(name: string, body: UploadBody, opts: StoreWriteOptions): Promise<RemoteObject> {
    const what = `upload ${this.uri(name)}`;
    if (opts.resumable) {
      await this.open();
      const session = new ResumableUpload(this.target(), name, body, opts);
      return this.retry(what, () => session.attempt());
    }
    const data = await body.read();
    return this.retry(what, () => multipartUpload(this.target(), name, data, body.md5, opts));
  }

  private target(): UploadTarget {
    if (!this.client) throw new Error('RunStore: not open');
    return this.client.target;
  }

  /** Deletes one generation of an object; a missing object is fine. */
  async remove(name: string, generation: string): Promise<void> {
    try {
      await this.retry(`delete ${this.uri(name)}`, () => this.bucket.file(name).delete({ ifGenerationMatch: generation }));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}

function toRemote(f: File): RemoteObject {
  return { name: f.name, md5: String(f.metadata.md5Hash ?? ''), size: Number(f.metadata.size ?? 0), generation: String(f.metadata.generation ?? '') };
}

const CONTENT_TYPES: Record<string, string> = {
  yaml: 'application/yaml',
  yml: 'application/yaml',
  json: 'application/json',
  jsonl: 'application/jsonl',
  txt: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  db: 'application/vnd.sqlite3',
  sqlite: 'application/vnd.sqlite3',
};

export function contentTypeFor(path: string): string {
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase() ?? '';
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

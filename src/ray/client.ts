// A Ray Jobs REST client (docs/reference/ray-jobs.md) on @actions/http-client, so runner proxy settings
// apply. It knows nothing of how the dashboard is reached: an existing cluster's URL or a
// forwarded port of a per-run cluster are the same to it.

import { Readable } from 'node:stream';
import { getProxyUrl, HttpClient } from '@actions/http-client';
import WebSocket from 'ws';
import { errorMessage } from '../common/errors.js';
import { isNetworkError, RetryBudget, type RetryPolicy, withRetry } from '../common/retry.js';

export type JobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';
export const TERMINAL: readonly JobStatus[] = ['STOPPED', 'SUCCEEDED', 'FAILED'];

/** The fields of JobDetails this action reads; servers may send more or fewer (docs/reference/ray-jobs.md#jobdetails). */
export interface JobDetails {
  type?: string;
  submission_id: string | null;
  status: JobStatus;
  entrypoint?: string;
  message: string | null;
  error_type?: string | null;
  start_time?: number | null;
  end_time?: number | null;
  metadata: Record<string, string> | null;
  driver_exit_code?: number | null;
}

export interface RayVersion {
  version: string;
  ray_version: string;
  ray_commit?: string;
  session_name?: string;
}

export interface SubmitRequest {
  entrypoint: string;
  submission_id: string;
  runtime_env?: Record<string, unknown>;
  metadata: Record<string, string>;
}

/** A non-2xx answer. Ray's error bodies are text (tracebacks), never JSON (docs/reference/ray-jobs.md#p4-error-bodies-are-text). */
export class RayHttpError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path} answered ${status}: ${lastLine(body)}`);
    this.name = 'RayHttpError';
  }
}

function lastLine(text: string): string {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim());
  return (lines[lines.length - 1] ?? '').slice(0, 500);
}

/** A duplicate submission_id: 500 on Ray ≥ 2.2, 400 before; match the text, not the code (docs/reference/ray-jobs.md#p2-status-codes-change-across-versions). */
export function isDuplicateSubmission(error: unknown): boolean {
  return error instanceof RayHttpError && /already exists|Please use a different submission_id/.test(error.body);
}

export function retryableRayError(error: unknown): boolean {
  if (error instanceof RayHttpError) return error.status >= 500 && !isDuplicateSubmission(error);
  return isNetworkError(error);
}

export interface RayClientOptions {
  address: string;
  headers?: Record<string, string>;
  tlsVerify?: boolean;
  policy?: Partial<RetryPolicy>;
  onRetry?: (what: string, e: unknown, attempt: number, delayMs: number) => void;
}

/** How a log tail ended: the job is over and its log drained (1000), the connection broke, or no WebSocket was had. */
export type TailEnd = { kind: 'ended' } | { kind: 'dropped' | 'refused'; reason: string };

export interface TailHandlers {
  /** One text frame: a chunk of the log, in order. */
  text: (chunk: string) => void;
  /** Called once, unless the tail was closed by its owner. */
  closed: (end: TailEnd) => void;
}

export interface LogTail {
  close(): void;
}

export class RayJobsClient {
  readonly address: string;
  private readonly http: HttpClient;
  private readonly headers: Record<string, string>;
  readonly policy: RetryPolicy;

  constructor(private readonly options: RayClientOptions) {
    // A base with a trailing slash, so a dashboard behind a path prefix keeps it.
    this.address = options.address.replace(/\/+$/, '');
    this.headers = options.headers ?? {};
    // Never a browser User-Agent: Ray refuses those on POST/PUT (docs/reference/ray-jobs.md#p13-browser-user-agents-get-405).
    // No redirects: ray-headers (credentials) must never follow one to another host.
    this.http = new HttpClient('bird-cloud-action', [], {
      ignoreSslError: options.tlsVerify === false,
      allowRetries: false,
      allowRedirects: false,
      keepAlive: true,
      socketTimeout: 60_000,
    });
    this.policy = { attempts: 6, baseMs: 500, maxMs: 10_000, budget: new RetryBudget(100), ...options.policy };
  }

  url(path: string): string {
    return `${this.address}/${path.replace(/^\//, '')}`;
  }

  /** One request; throws RayHttpError on non-2xx, network errors as they come. */
  async raw(method: string, path: string, body?: string | Buffer, contentType = 'application/json'): Promise<string> {
    const headers: Record<string, string> = { ...this.headers };
    let data: string | NodeJS.ReadableStream | null = null;
    if (body !== undefined) {
      headers['content-type'] = contentType;
      headers['content-length'] = String(Buffer.byteLength(body));
      data = typeof body === 'string' ? body : Readable.from([body]);
    }
    const res = await this.http.request(method, this.url(path), data, headers);
    const text = await res.readBody();
    const status = res.message.statusCode ?? 0;
    if (status < 200 || status >= 300) throw new RayHttpError(method, path, status, text);
    return text;
  }

  private retry<T>(what: string, op: () => Promise<T>): Promise<T> {
    return withRetry(what, op, retryableRayError, this.policy, (e, a, d) => this.options.onRetry?.(what, e, a, d));
  }

  private async json<T>(method: string, path: string, body?: string | Buffer): Promise<T> {
    return this.retry(`${method} ${path}`, async () => JSON.parse(await this.raw(method, path, body)) as T);
  }

  version(): Promise<RayVersion> {
    return this.json<RayVersion>('GET', 'api/version');
  }

  /** One POST, not retried here: dispatch decides what a failure means (docs/reference/ray-jobs.md#idempotency-and-retries). */
  async submitOnce(req: SubmitRequest): Promise<string> {
    const body = JSON.parse(await this.raw('POST', 'api/jobs/', JSON.stringify(req))) as { submission_id?: string; job_id?: string };
    return body.submission_id ?? body.job_id ?? req.submission_id;
  }

  /** The job, or null when Ray does not know it (404). */
  async job(id: string): Promise<JobDetails | null> {
    try {
      return await this.json<JobDetails>('GET', `api/jobs/${encodeURIComponent(id)}`);
    } catch (e) {
      if (e instanceof RayHttpError && e.status === 404) return null;
      throw e;
    }
  }

  async logs(id: string): Promise<string> {
    return (await this.json<{ logs: string }>('GET', `api/jobs/${encodeURIComponent(id)}/logs`)).logs ?? '';
  }

  /**
   * The log tail WebSocket (docs/reference/ray-jobs.md#log-tail-websocket), on the `ws` package
   * for the same headers, proxy and TLS setting as every other call, on Node 20 and 24 alike
   * (docs/reference/ray-jobs.md#following-the-log-during-a-wait).
   */
  tailLogs(id: string, on: TailHandlers): LogTail {
    const httpUrl = this.url(`api/jobs/${encodeURIComponent(id)}/logs/tail`);
    let opened = false;
    let over = false;
    let failure = '';
    const finish = (end: TailEnd): void => {
      if (over) return;
      over = true;
      on.closed(end);
    };
    const ws = new WebSocket(httpUrl.replace(/^http/, 'ws'), {
      headers: this.headers,
      agent: getProxyUrl(httpUrl) ? this.http.getAgent(httpUrl) : undefined,
      rejectUnauthorized: this.options.tlsVerify !== false,
      handshakeTimeout: 30_000,
      followRedirects: false,
      // Ray 2.60's dashboard accepts permessage-deflate, then sends no frame and closes with 1000
      // (seen on the real head, tests/real/ray-contract.test.ts): never offer it.
      perMessageDeflate: false,
    });
    ws.on('open', () => {
      opened = true;
    });
    ws.on('message', (data, isBinary) => {
      if (!over && !isBinary) on.text(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
    });
    // An answer other than 101: no WebSocket on this route (a proxy in front, an unknown job).
    ws.on('unexpected-response', (req, res) => {
      finish({ kind: 'refused', reason: `GET ${httpUrl} answered ${res.statusCode ?? 0} instead of a WebSocket` });
      req.destroy();
    });
    ws.on('error', (e) => {
      failure = errorMessage(e);
    });
    ws.on('close', (code) => {
      if (opened && code === 1000) finish({ kind: 'ended' });
      else finish({ kind: 'dropped', reason: failure || `the WebSocket closed with code ${code}` });
    });
    return {
      close: () => {
        over = true;
        // Ray's handler never reads from the socket, so a close handshake would only wait: cut it.
        ws.terminate();
      },
    };
  }

  /** Asks Ray to stop the job; true when a running job was signalled. */
  async stop(id: string): Promise<boolean> {
    return (await this.json<{ stopped: boolean }>('POST', `api/jobs/${encodeURIComponent(id)}/stop`)).stopped;
  }

  async packageExists(uri: string): Promise<boolean> {
    try {
      await this.retry(`GET package`, () => this.raw('GET', packagePath(uri)));
      return true;
    } catch (e) {
      if (e instanceof RayHttpError && e.status === 404) return false;
      throw e;
    }
  }

  async uploadPackage(uri: string, zip: Buffer): Promise<void> {
    await this.retry(`PUT package`, () => this.raw('PUT', packagePath(uri), zip, 'application/zip'));
  }
}

/** `gcs://_ray_pkg_<hash>.zip` → `api/packages/gcs/_ray_pkg_<hash>.zip` (docs/reference/ray-jobs.md#packages). */
function packagePath(uri: string): string {
  const m = /^([a-z]+):\/\/(.+)$/.exec(uri);
  if (!m) throw new Error(`not a package URI: ${uri}`);
  return `api/packages/${m[1]}/${m[2]}`;
}

/** The dashboard's job page, for people. */
export function dashboardUrl(address: string, submissionId: string): string {
  return `${address.replace(/\/+$/, '')}/#/jobs/${encodeURIComponent(submissionId)}`;
}

// Uploads through the JSON API's upload endpoint (docs/reference/gcs-layout.md#setup-uploads): a small body in one
// multipart request, a large one as a resumable session streamed from disk that continues where the server left off
// (https://cloud.google.com/storage/docs/performing-resumable-uploads#status-check).
//
// Every upload declares the md5Hash the preflight computed, and GCS compares it with the bytes it received and
// rejects a mismatch with a 400, creating nothing (https://cloud.google.com/storage/docs/data-validation). That
// check is why the file is not hashed a second time before it is sent, and why no client-side CRC32C runs: the
// SDK's CRC32C is plain JS (about 14 s of CPU per GB) and would only re-prove what the server's MD5 check proves.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { HttpAnswer, HttpRequest } from './http.js';

/** Where uploads go and how they are sent. */
export interface UploadTarget {
  http: HttpRequest;
  /** scheme://host of the upload URLs (`<apiEndpoint>/upload/storage/v1/b/...`). */
  apiEndpoint: string;
  bucket: string;
}

/** What the server says it stored. */
export interface StoredObject {
  name: string;
  md5: string;
  size: number;
  generation: string;
}

/** The bytes of one upload, with their size and MD5 known beforehand. */
export interface UploadBody {
  size: number;
  /** Base64 MD5 of the bytes; the server refuses other bytes. */
  md5: string;
  /** The whole body, for a single request. */
  read(): Promise<Buffer>;
  /** The bytes from `start` to the end, for a resumable session. */
  stream(start: number): Readable;
}

export function bufferBody(data: Buffer): UploadBody {
  return {
    size: data.length,
    md5: createHash('md5').update(data).digest('base64'),
    read: async () => data,
    stream: (start) => Readable.from([data.subarray(start)], { objectMode: false }),
  };
}

/** A file as the preflight saw it; a file that is no longer `size` bytes fails its upload. */
export function fileBody(path: string, size: number, md5: string): UploadBody {
  return {
    size,
    md5,
    read: async () => {
      const data = await readFile(path);
      if (data.length !== size) throw new ChangedFileError(`is ${data.length} bytes, the preflight saw ${size}`);
      return data;
    },
    // `end` bounds the read: a file that grew sends exactly the planned bytes, and the server's MD5 check decides.
    stream: (start) => createReadStream(path, { start, end: size - 1, highWaterMark: 1024 * 1024 }),
  };
}

/** The local file is not what the preflight hashed. */
export class ChangedFileError extends Error {
  constructor(detail: string) {
    super(`changed on disk after the preflight (it ${detail}); run again`);
    this.name = 'ChangedFileError';
  }
}

/** A non-2xx answer of the upload endpoint, with GCS's error message and reason when it sent them. */
class GcsHttpError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'GcsHttpError';
  }
}

/** The session broke off before the object was complete; the next try asks the server where it stands. */
export class UploadInterruptedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UploadInterruptedError';
  }
}

/** GCS answers 408, 429 and 5xx for slow requests, load and outages. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function httpError(res: HttpAnswer): GcsHttpError {
  const text = res.text;
  try {
    const body = JSON.parse(text) as { error?: { message?: string; errors?: Array<{ reason?: string }> } };
    if (body.error?.message) return new GcsHttpError(res.status, body.error.message, body.error.errors?.[0]?.reason);
  } catch {
    // Not JSON: the status and the start of the text say enough.
  }
  return new GcsHttpError(res.status, `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`);
}

function stored(name: string, res: HttpAnswer, size: number): StoredObject {
  let md: { md5Hash?: unknown; size?: unknown; generation?: unknown } = {};
  try {
    md = JSON.parse(res.text) as typeof md;
  } catch {
    // An answer without metadata leaves the md5 empty: the caller then has nothing to compare.
  }
  return { name, md5: String(md.md5Hash ?? ''), size: Number(md.size ?? size), generation: String(md.generation ?? '') };
}

const uploadUrl = (t: UploadTarget): string => `${t.apiEndpoint}/upload/storage/v1/b/${encodeURIComponent(t.bucket)}/o`;

/** Bodies get 120 s plus a second per MB: a stalled connection fails, a slow but moving one does not. */
const timeoutFor = (bytes: number): number => 120_000 + Math.ceil(bytes / 1000);

export interface WriteOptions {
  /** 0 creates only; a generation replaces exactly that generation. */
  ifGenerationMatch: number | string;
  contentType: string;
}

/**
 * One `uploadType=multipart` request: the metadata part declares name, content type and md5Hash, the media part is
 * the body. The name is in the query too, where the emulators' precondition checks and request logs look for it.
 */
export async function multipartUpload(t: UploadTarget, name: string, data: Buffer, md5: string, o: WriteOptions): Promise<StoredObject> {
  const boundary = `bird-${randomBytes(12).toString('hex')}`;
  const meta = JSON.stringify({ name, contentType: o.contentType, md5Hash: md5 });
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n${meta}\r\n--${boundary}\r\nContent-Type: ${o.contentType}\r\n\r\n`),
    data,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  const res = await t.http({
    method: 'POST',
    url: uploadUrl(t),
    params: { uploadType: 'multipart', name, ifGenerationMatch: String(o.ifGenerationMatch) },
    headers: { 'Content-Type': `multipart/related; boundary=${boundary}` },
    body,
    timeoutMs: timeoutFor(body.length),
  });
  if (res.status !== 200) throw httpError(res);
  return stored(name, res, data.length);
}

/** What happened to a resumable session, for the log. */
export type SessionNote = { kind: 'resumed'; offset: number; size: number } | { kind: 'restarted'; why: string };

/**
 * A resumable upload that survives a broken connection: after a failed PUT, the next `attempt()` asks the server how
 * many bytes it kept (`Content-Range: bytes * /<size>`) and sends only the rest. GCS answers 308 with the persisted
 * range, 200/201 when the object is complete, 404/410 when the session expired; any other answer means the server
 * cannot say, and the upload starts over with a new session (create-only, so a restart cannot overwrite anything).
 * Retries, backoff and their budget belong to the caller's loop around `attempt()`.
 */
export class ResumableUpload {
  private uri: string | undefined;
  private offset = 0;
  private askStatus = false;

  constructor(
    private readonly t: UploadTarget,
    readonly name: string,
    private readonly body: UploadBody,
    private readonly o: WriteOptions & { onNote?: (note: SessionNote) => void },
  ) {}

  async attempt(): Promise<StoredObject> {
    if (this.uri && this.askStatus) {
      const done = await this.status(this.uri);
      if (done) return done;
    }
    if (!this.uri) {
      this.uri = await this.initiate();
      this.offset = 0;
    }
    return this.send(this.uri);
  }

  private async initiate(): Promise<string> {
    const res = await this.t.http({
      method: 'POST',
      url: uploadUrl(this.t),
      params: { uploadType: 'resumable', name: this.name, ifGenerationMatch: String(this.o.ifGenerationMatch) },
      headers: {
        'Content-Type': 'application/json; charset=UTF-8',
        'X-Upload-Content-Type': this.o.contentType,
        'X-Upload-Content-Length': String(this.body.size),
      },
      body: JSON.stringify({ name: this.name, contentType: this.o.contentType, md5Hash: this.body.md5 }),
      timeoutMs: timeoutFor(0),
    });
    if (res.status !== 200 && res.status !== 201) throw httpError(res);
    const location = res.headers.location;
    if (typeof location !== 'string' || !location)
      throw new GcsHttpError(res.status, 'the resumable upload was started without a session URI (no Location header)');
    return location;
  }

  /** Asks where the session stands; returns the object when it is already complete. */
  private async status(uri: string): Promise<StoredObject | null> {
    const res = await this.t.http({
      method: 'PUT',
      url: uri,
      headers: { 'Content-Range': `bytes */${this.body.size}`, 'Content-Length': '0' },
      timeoutMs: timeoutFor(0),
    });
    if (res.status === 200 || res.status === 201) {
      this.askStatus = false;
      return stored(this.name, res, this.body.size);
    }
    if (res.status === 308) {
      this.askStatus = false;
      this.offset = persisted(res.headers.range);
      this.o.onNote?.({ kind: 'resumed', offset: this.offset, size: this.body.size });
      return null;
    }
    if (retryableStatus(res.status) || res.status === 412) throw httpError(res);
    this.askStatus = false;
    this.uri = undefined;
    const why =
      res.status === 404 || res.status === 410
        ? `the upload session expired (HTTP ${res.status})`
        : `the server did not report the session's progress (HTTP ${res.status} to the status query)`;
    this.o.onNote?.({ kind: 'restarted', why });
    return null;
  }

  private async send(uri: string): Promise<StoredObject> {
    const { size } = this.body;
    const start = this.offset;
    const data = start < size ? this.body.stream(start) : undefined;
    let res: HttpAnswer;
    try {
      res = await this.t.http({
        method: 'PUT',
        url: uri,
        headers: {
          'Content-Type': this.o.contentType,
          'Content-Length': String(size - start),
          // All the rest in this request; `bytes */<size>` finalises a session that already has every byte.
          'Content-Range': start < size ? `bytes ${start}-${size - 1}/${size}` : `bytes */${size}`,
        },
        body: data,
        timeoutMs: timeoutFor(size - start),
      });
    } catch (e) {
      this.askStatus = true;
      throw e;
    } finally {
      data?.destroy();
    }
    if (res.status === 200 || res.status === 201) return stored(this.name, res, size);
    if (res.status === 308) {
      this.askStatus = true;
      throw new UploadInterruptedError(`the server kept ${persisted(res.headers.range)} of ${size} bytes`);
    }
    if (res.status === 404 || res.status === 410) {
      this.uri = undefined;
      throw new UploadInterruptedError(`the upload session expired (HTTP ${res.status})`);
    }
    if (retryableStatus(res.status)) this.askStatus = true;
    throw httpError(res);
  }
}

/** The next byte to send after a 308: its `Range: bytes=0-<last>` names the persisted bytes; none means none. */
function persisted(range: unknown): number {
  const m = typeof range === 'string' ? /bytes=0-(\d+)/.exec(range) : null;
  return m ? Number(m[1]) + 1 : 0;
}

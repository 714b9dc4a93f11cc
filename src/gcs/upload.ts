// Uploads every file of the plan (docs/reference/gcs-layout.md#setup-uploads): one listing decides what is there, md5-equal
// objects are skipped, the rest is written create-only, across all DBs in one bounded pool.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { errorMessage, errorStatus } from '../common/errors.js';
import { formatBytes } from '../common/format.js';
import type { Log } from '../common/log.js';
import { type DbArtifact, safeRelPath } from '../preflight/artifacts.js';
import { contentTypeFor, isPreconditionFailed, type RemoteObject, type RunStore, runPaths } from './store.js';
import { ChangedFileError, fileBody, type SessionNote } from './transfer.js';

/**
 * From this size on, a file goes up as a resumable session streamed from disk (resumed after a broken connection);
 * below it, as one multipart request from a buffer, which saves the session's extra round trip. Each upload slot
 * holds at most this much in memory. Chosen from docs/benchmarks.md ("Resumable threshold").
 */
const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

type FileOutcome = 'uploaded' | 'skipped' | 'replaced';

interface DbUploadResult {
  db: string;
  files: number;
  uploaded: number;
  skipped: number;
  replaced: number;
  removed: number;
  bytes: number;
  seconds: number;
  /** Per-file lines for the log group. */
  lines: string[];
}

export interface UploadResult {
  dbs: DbUploadResult[];
  uploadedFiles: number;
  skippedFiles: number;
  uploadedBytes: number;
  /** Objects that another writer wrote under this run id during the step (same content, so skipped). */
  writtenConcurrently: number;
}

export interface UploadJob {
  store: RunStore;
  runId: string;
  artifact: string;
  root: string;
  artifacts: readonly DbArtifact[];
  /** The run prefix's listing, taken once in the preflight. */
  remote: ReadonlyMap<string, RemoteObject>;
  concurrency: number;
  log: Log;
  /** How often to log progress on long uploads. */
  progressEveryMs?: number;
  /** Files of this size or more are resumable uploads; default RESUMABLE_THRESHOLD. */
  resumableThreshold?: number;
}

export class UploadError extends Error {
  constructor(
    message: string,
    readonly failures: string[],
  ) {
    super(message);
    this.name = 'UploadError';
  }
}

/** One file to upload. */
interface UploadTask {
  db: string;
  rel: string;
  local: string;
  object: string;
  md5: string;
  size: number;
}

/** What an upload will do: write the tasks, and first remove the extras. */
interface UploadPlan {
  tasks: UploadTask[];
  /** Objects under a selected DB's prefix that the DB no longer has. */
  extras: RemoteObject[];
}

/** Pure: the files to write and the stale objects to remove, from the plan and one listing. */
function planUploads(job: Pick<UploadJob, 'runId' | 'artifact' | 'root' | 'artifacts' | 'remote'>): UploadPlan {
  const tasks: UploadTask[] = [];
  for (const a of job.artifacts) {
    for (const f of a.files) {
      // The walk only yields safe paths; this guards the object namespace all the same.
      if (!safeRelPath(f.path)) throw new UploadError(`refusing unsafe path ${a.db}/${f.path}`, []);
      tasks.push({
        db: a.db,
        rel: f.path,
        local: join(job.root, a.db, f.path),
        object: runPaths.setupObject(job.runId, job.artifact, a.db, f.path),
        md5: f.md5,
        size: f.size,
      });
    }
  }
  // A file deleted between two tries, or a directory placeholder, would reach the cluster.
  const planned = new Set(tasks.map((t) => t.object));
  const prefixes = job.artifacts.map((a) => `${runPaths.setupPrefix(job.runId, job.artifact)}${a.db}/`);
  const extras = [...job.remote.values()].filter((o) => prefixes.some((p) => o.name.startsWith(p)) && !planned.has(o.name));
  return { tasks, extras };
}

/** Per-DB counts and lines as files finish, and a progress line every few seconds. */
class Tally {
  private readonly results = new Map<string, DbUploadResult>();
  private readonly started = new Map<string, number>();
  private readonly t0 = Date.now();
  private doneFiles = 0;
  private doneBytes = 0;
  private concurrent = 0;

  constructor(artifacts: readonly DbArtifact[]) {
    for (const a of artifacts)
      this.results.set(a.db, { db: a.db, files: a.files.length, uploaded: 0, skipped: 0, replaced: 0, removed: 0, bytes: 0, seconds: 0, lines: [] });
  }

  start(db: string): void {
    if (!this.started.has(db)) this.started.set(db, Date.now());
  }

  /** An object another writer put there with the same content. */
  concurrentWrite(task: UploadTask): void {
    this.concurrent++;
    this.record(task, 'skipped', 0, ' (written concurrently, same content)');
  }

  record(task: UploadTask, outcome: FileOutcome, bytes: number, note = ''): void {
    const r = this.results.get(task.db) as DbUploadResult;
    if (outcome === 'skipped') r.skipped++;
    else r.uploaded++;
    if (outcome === 'replaced') r.replaced++;
    r.bytes += bytes;
    r.lines.push(`${outcome.padEnd(8)} ${task.rel}${note}`);
    this.doneFiles++;
    this.doneBytes += task.size;
    r.seconds = (Date.now() - (this.started.get(task.db) ?? this.t0)) / 1000;
  }

  removed(db: string, rel: string): void {
    const r = this.results.get(db);
    if (!r) return;
    r.removed++;
    r.lines.push(`removed  ${rel} (not in the DB any more)`);
  }

  progressLine(total: UploadTask[]): string {
    const s = (Date.now() - this.t0) / 1000;
    const totalBytes = total.reduce((n, t) => n + t.size, 0);
    return `upload progress: ${this.doneFiles}/${total.length} files, ${this.doneBytes}/${totalBytes} bytes, ${(this.doneFiles / s).toFixed(1)} files/s, ${(this.doneBytes / s / 1e6).toFixed(2)} MB/s`;
  }

  result(): UploadResult {
    const dbs = [...this.results.values()].sort((a, b) => (a.db < b.db ? -1 : 1));
    return {
      dbs,
      uploadedFiles: dbs.reduce((n, r) => n + r.uploaded, 0),
      skippedFiles: dbs.reduce((n, r) => n + r.skipped, 0),
      uploadedBytes: dbs.reduce((n, r) => n + r.bytes, 0),
      writtenConcurrently: this.concurrent,
    };
  }
}

/** Whether the file differs from what the preflight hashed (its size, or after a 400, its MD5). */
async function changedOnDisk(t: UploadTask, uploadError: unknown): Promise<boolean> {
  try {
    if ((await stat(t.local)).size !== t.size) return true;
    if (errorStatus(uploadError) !== 400) return false;
    const h = createHash('md5');
    for await (const chunk of createReadStream(t.local, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer);
    return h.digest('base64') !== t.md5;
  } catch {
    return true;
  }
}

function sessionNote(store: RunStore, t: UploadTask, note: SessionNote): string {
  return note.kind === 'resumed'
    ? `resuming ${store.uri(t.object)} at byte ${note.offset} of ${note.size}: the server kept the bytes before it`
    : `restarting ${store.uri(t.object)} from byte 0: ${note.why}`;
}

/**
 * Writes one file create-only (or over the generation it replaces); md5-equal objects are skipped. The upload declares
 * the preflight's MD5, so the server refuses a file that changed on disk since (a 400): the guard costs no second hash.
 */
async function uploadOne(job: UploadJob, t: UploadTask, tally: Tally): Promise<void> {
  const { store, remote } = job;
  tally.start(t.db);
  const existing = remote.get(t.object);
  if (existing && existing.md5 === t.md5) return tally.record(t, 'skipped', 0);
  const outcome: FileOutcome = existing ? 'replaced' : 'uploaded';
  const resumable = t.size >= (job.resumableThreshold ?? RESUMABLE_THRESHOLD);
  let written: RemoteObject;
  try {
    if (resumable && (await stat(t.local)).size !== t.size) throw new ChangedFileError(`is no longer ${t.size} bytes`);
    written = await store.upload(t.object, fileBody(t.local, t.size, t.md5), {
      ifGenerationMatch: existing ? existing.generation : 0,
      contentType: contentTypeFor(t.rel),
      resumable,
      onNote: (note) => job.log.info(sessionNote(store, t, note)),
    });
  } catch (e) {
    if (e instanceof ChangedFileError) throw new Error(`${t.db}/${t.rel} ${e.message}`);
    if (!isPreconditionFailed(e)) {
      if (await changedOnDisk(t, e)) throw new Error(`${t.db}/${t.rel} changed on disk after the preflight, so GCS refused it (${errorMessage(e)}); run again`);
      throw e;
    }
    // The object appeared (or changed) after the listing: another submit of this run id is
    // writing. Same bytes are fine; other bytes are never overwritten from here.
    const now = await store.metadata(t.object);
    if (now && now.md5 === t.md5) return tally.concurrentWrite(t);
    throw new Error(
      `${store.uri(t.object)} was written by someone else during this step with other content: is another submit of run id ${job.runId} running? Nothing was overwritten`,
    );
  }
  if (written.md5 && written.md5 !== t.md5) throw new Error(`${store.uri(t.object)}: stored md5 ${written.md5} differs from the local ${t.md5}`);
  if (outcome === 'replaced') job.log.info(`replaced ${store.uri(t.object)}: its content changed since an earlier try of this run id`);
  tally.record(t, outcome, t.size);
}

function failureError(job: UploadJob, failures: string[], total: number): UploadError {
  const shown = failures
    .slice(0, 10)
    .map((f) => `  - ${f}`)
    .join('\n');
  return new UploadError(
    `${failures.length} of ${total} uploads failed; no manifest was written, so the run is not committed. ` +
      `Submit again with run-id: ${job.runId} to resume: objects already uploaded are skipped.\n${shown}${failures.length > 10 ? `\n  … and ${failures.length - 10} more` : ''}`,
    failures,
  );
}

/**
 * The extras come from a listing taken before the upload: by now another submit of this run id
 * may have committed a manifest that names them. Objects under a committed manifest are never
 * deleted from here.
 */
async function refuseDeleteUnderManifest(job: UploadJob): Promise<void> {
  const manifest = runPaths.manifest(job.runId);
  if ((await job.store.metadata(manifest)) === null) return;
  throw new UploadError(
    `${job.store.uri(manifest)} was committed while this step was running, and this step would delete objects of that setup; nothing was deleted. Is another submit of run id ${job.runId} running? Use rerun-run-id: ${job.runId} to continue the committed run, or a new run id.`,
    [],
  );
}

/**
 * Removes the extras, then uploads every task in one bounded pool across all DBs. Every file is
 * tried; the failures are reported together (an UploadError) after the pool drains.
 */
export async function uploadArtifacts(job: UploadJob): Promise<UploadResult> {
  const { tasks, extras } = planUploads(job);
  const prefix = runPaths.setupPrefix(job.runId, job.artifact);
  if (extras.length > 0) await refuseDeleteUnderManifest(job);
  const tally = new Tally(job.artifacts);
  const progress = setInterval(() => job.log.info(tally.progressLine(tasks)), job.progressEveryMs ?? 5000);
  progress.unref();
  const failures: string[] = [];
  const limit = pLimit(job.concurrency);
  try {
    await Promise.all(
      extras.map((o) =>
        limit(async () => {
          await job.store.remove(o.name, o.generation);
          const [db, ...rest] = o.name.slice(prefix.length).split('/');
          tally.removed(db, rest.join('/'));
          job.log.info(`removed ${job.store.uri(o.name)}: not part of the DB any more`);
        }).catch((e: unknown) => {
          failures.push(`${o.name}: ${errorMessage(e)}`);
        }),
      ),
    );
    await Promise.all(tasks.map((t) => limit(() => uploadOne(job, t, tally)).catch((e: unknown) => failures.push(`${t.db}/${t.rel}: ${errorMessage(e)}`))));
  } finally {
    clearInterval(progress);
  }
  if (failures.length > 0) throw failureError(job, failures, tasks.length + extras.length);
  return tally.result();
}

/** One line per DB in the log: what moved and what was already there; each file only at debug level. */
export async function logUploadResult(log: Log, result: UploadResult): Promise<void> {
  for (const d of result.dbs) {
    log.info(`${d.db}: ${d.files} files, ${d.uploaded} uploaded, ${d.skipped} skipped, ${formatBytes(d.bytes)}, ${d.seconds.toFixed(1)} s`);
    // core.debug escapes line breaks, so a file name cannot start a command there.
    for (const line of [...d.lines].sort()) log.debug(`${d.db}: ${line}`);
  }
}

// Uploads every file of the plan (domain §6): one listing decides what is there, md5-equal
// objects are skipped, the rest is written create-only, across all DBs in one bounded pool.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { safeRelPath, type DbArtifact } from '../artifacts.js';
import { describeError } from '../retry.js';
import { contentTypeFor, isPreconditionFailed, runPaths, type RemoteObject, type RunStore } from './store.js';

/** Above this size an upload is resumable; below it one multipart request is much faster. */
export const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;

export type FileOutcome = 'uploaded' | 'skipped' | 'replaced';

export interface DbUploadResult {
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
  log: (line: string) => void;
  /** How often to log progress on long uploads. */
  progressEveryMs?: number;
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

interface Task {
  db: string;
  rel: string;
  local: string;
  object: string;
  md5: string;
  size: number;
}

export async function uploadArtifacts(job: UploadJob): Promise<UploadResult> {
  const { store, runId, artifact, remote } = job;
  const results = new Map<string, DbUploadResult>();
  const started = new Map<string, number>();
  const tasks: Task[] = [];
  for (const a of job.artifacts) {
    results.set(a.db, { db: a.db, files: a.files.length, uploaded: 0, skipped: 0, replaced: 0, removed: 0, bytes: 0, seconds: 0, lines: [] });
    for (const f of a.files) {
      // The walk only yields safe paths; this guards the object namespace all the same.
      if (!safeRelPath(f.path)) throw new UploadError(`refusing unsafe path ${a.db}/${f.path}`, []);
      tasks.push({ db: a.db, rel: f.path, local: join(job.root, a.db, f.path), object: runPaths.setupObject(runId, artifact, a.db, f.path), md5: f.md5, size: f.size });
    }
  }

  // Objects under a selected DB's prefix that the plan does not have (a file deleted between
  // two tries, or a directory placeholder) would reach the cluster: remove them first.
  const planned = new Set(tasks.map((t) => t.object));
  const extras = [...remote.values()].filter(
    (o) => job.artifacts.some((a) => o.name.startsWith(`${runPaths.setupPrefix(runId, artifact)}${a.db}/`)) && !planned.has(o.name),
  );

  const totalBytes = tasks.reduce((n, t) => n + t.size, 0);
  let doneFiles = 0;
  let doneBytes = 0;
  const t0 = Date.now();
  const progress = setInterval(() => {
    const s = (Date.now() - t0) / 1000;
    job.log(`upload progress: ${doneFiles}/${tasks.length} files, ${doneBytes}/${totalBytes} bytes, ${(doneFiles / s).toFixed(1)} files/s, ${(doneBytes / s / 1e6).toFixed(2)} MB/s`);
  }, job.progressEveryMs ?? 5000);
  progress.unref();

  const failures: string[] = [];
  const limit = pLimit(job.concurrency);
  const record = (t: Task, outcome: FileOutcome, bytes: number, note = ''): void => {
    const r = results.get(t.db) as DbUploadResult;
    if (outcome === 'skipped') r.skipped++;
    else r.uploaded++;
    if (outcome === 'replaced') r.replaced++;
    r.bytes += bytes;
    r.lines.push(`${outcome.padEnd(8)} ${t.rel}${note}`);
    doneFiles++;
    doneBytes += t.size;
    r.seconds = (Date.now() - (started.get(t.db) ?? t0)) / 1000;
  };

  async function uploadOne(t: Task): Promise<void> {
    if (!started.has(t.db)) started.set(t.db, Date.now());
    const existing = remote.get(t.object);
    if (existing && existing.md5 === t.md5) return record(t, 'skipped', 0);
    const data = await readFile(t.local);
    if (createHash('md5').update(data).digest('base64') !== t.md5) {
      throw new Error(`${t.db}/${t.rel} changed on disk after the preflight; run again`);
    }
    const write = (generation: number | string): Promise<RemoteObject> =>
      store.write(t.object, data, { ifGenerationMatch: generation, contentType: contentTypeFor(t.rel), resumable: t.size >= RESUMABLE_THRESHOLD });
    const outcome: FileOutcome = existing ? 'replaced' : 'uploaded';
    let written: RemoteObject;
    try {
      written = await write(existing ? existing.generation : 0);
    } catch (e) {
      if (!isPreconditionFailed(e)) throw e;
      // The object appeared (or changed) after the listing: another submit of this run id is
      // writing. Same bytes are fine; other bytes are never overwritten from here.
      const now = await store.metadata(t.object);
      if (now && now.md5 === t.md5) return record(t, 'skipped', 0, ' (written concurrently, same content)');
      throw new Error(`${store.uri(t.object)} was written by someone else during this step with other content: is another submit of run id ${runId} running? Nothing was overwritten`);
    }
    if (written.md5 && written.md5 !== t.md5) throw new Error(`${store.uri(t.object)}: stored md5 ${written.md5} differs from the local ${t.md5}`);
    if (outcome === 'replaced') job.log(`replaced ${store.uri(t.object)}: its content changed since an earlier try of this run id`);
    record(t, outcome, t.size);
  }

  try {
    await Promise.all(
      extras.map((o) =>
        limit(async () => {
          await store.remove(o.name, o.generation);
          const db = o.name.slice(runPaths.setupPrefix(runId, artifact).length).split('/')[0];
          const r = results.get(db);
          if (r) {
            r.removed++;
            r.lines.push(`removed  ${o.name.slice(runPaths.setupPrefix(runId, artifact).length + db.length + 1)} (not in the DB any more)`);
          }
          job.log(`removed ${store.uri(o.name)}: not part of the DB any more`);
        }).catch((e: unknown) => {
          failures.push(`${o.name}: ${describeError(e)}`);
        }),
      ),
    );
    await Promise.all(
      tasks.map((t) =>
        limit(() => uploadOne(t)).catch((e: unknown) => {
          failures.push(`${t.db}/${t.rel}: ${describeError(e)}`);
        }),
      ),
    );
  } finally {
    clearInterval(progress);
  }

  if (failures.length > 0) {
    const shown = failures.slice(0, 10).map((f) => `  - ${f}`).join('\n');
    throw new UploadError(
      `${failures.length} of ${tasks.length + extras.length} uploads failed; no manifest was written, so the run is not committed. ` +
        `Submit again with run-id: ${runId} to resume: objects already uploaded are skipped.\n${shown}${failures.length > 10 ? `\n  … and ${failures.length - 10} more` : ''}`,
      failures,
    );
  }
  const dbs = [...results.values()].sort((a, b) => (a.db < b.db ? -1 : 1));
  return {
    dbs,
    uploadedFiles: dbs.reduce((n, r) => n + r.uploaded, 0),
    skippedFiles: dbs.reduce((n, r) => n + r.skipped, 0),
    uploadedBytes: dbs.reduce((n, r) => n + r.bytes, 0),
  };
}

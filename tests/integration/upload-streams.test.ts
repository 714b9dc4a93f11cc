// A big file goes up streamed from disk: it is never read whole, the upload reads it once (the md5 is the
// preflight's, checked by the server, not computed again), and a connection cut mid-way costs only what was in
// flight. node:fs's readers are wrapped to record what the code reads; the emulator and the fault proxy are real.
import { createHash, randomBytes } from 'node:crypto';
import type * as Fs from 'node:fs';
import { mkdirSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import { RunStore, runPaths } from '../../src/gcs/store.js';
import { uploadArtifacts } from '../../src/gcs/upload.js';
import { walkDb } from '../../src/preflight/artifacts.js';
import { removeDir, tempDir } from '../helpers/action.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, firebaseServer, through, uniqueBucketName, withEmulatorHost } from '../helpers/gcs.js';

interface StreamRead {
  path: string;
  start: number;
  stream: Fs.ReadStream;
}

const recorded = vi.hoisted(() => ({ wholeReads: [] as string[], streams: [] as Array<{ path: string; start: number; stream: unknown }> }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  const createReadStream = ((path: Fs.PathLike, options?: Parameters<typeof fs.createReadStream>[1]) => {
    const stream = fs.createReadStream(path, options);
    const start = typeof options === 'object' && options !== null ? (options.start ?? 0) : 0;
    recorded.streams.push({ path: String(path), start, stream });
    return stream;
  }) as typeof fs.createReadStream;
  return { ...fs, default: { ...fs, createReadStream }, createReadStream };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const fsp = await importOriginal<typeof FsPromises>();
  const readFile = ((path: Parameters<typeof fsp.readFile>[0], ...rest: unknown[]) => {
    recorded.wholeReads.push(String(path));
    return (fsp.readFile as (...a: unknown[]) => ReturnType<typeof fsp.readFile>)(path, ...rest);
  }) as typeof fsp.readFile;
  return { ...fsp, default: { ...fsp, readFile }, readFile };
});

const MiB = 1024 * 1024;

describe('the upload of a big file streams it', () => {
  let root: string;
  let bucket: string;
  beforeAll(async () => {
    root = tempDir('streams');
    bucket = uniqueBucketName('streams');
    await createBucket(bucket);
  });
  afterAll(() => removeDir(root));

  it('reads it in bounded chunks, once for the preflight md5 and once to send, and after a cut only the rest', async () => {
    const dbDir = join(root, 'credit');
    mkdirSync(dbDir, { recursive: true });
    // Above the resumable threshold (8 MiB), as an embeddings.db is.
    const big = randomBytes(32 * MiB);
    const bigPath = join(dbDir, 'embeddings.db');
    writeFileSync(bigPath, big);
    writeFileSync(join(dbDir, 'a.yaml'), 'a: 1\n');
    const artifacts = [await walkDb(dbDir, 'credit')];
    const preflightStreams = recorded.streams.filter((s) => s.path === bigPath).length;

    const proxy = await startFaultProxy(firebaseServer().origin);
    try {
      const store = withEmulatorHost(through(firebaseServer(), proxy.url).emulatorHost, () => new RunStore(bucket, 'demo-test', { attempts: 3, baseMs: 10 }));
      // The first PUT of the session breaks after 4 MiB have reached the server.
      proxy.schedule({ kind: 'reset', afterBytes: 4 * MiB, times: 1, match: (r) => r.method === 'PUT' && r.url.includes('upload_id=') });
      const log = memoryLog();
      const result = await uploadArtifacts({ store, runId: 'streams', artifact: 'slayer_models', root, artifacts, remote: new Map(), concurrency: 2, log });
      expect(result).toMatchObject({ uploadedFiles: 2, uploadedBytes: big.length + 5 });
      const object = runPaths.setupObject('streams', 'slayer_models', 'credit', 'embeddings.db');
      expect((await store.metadata(object))?.md5).toBe(createHash('md5').update(big).digest('base64'));
      expect((await store.read(object))?.equals(big)).toBe(true);
      expect(log.lines.join('\n')).toContain(`resuming gs://${bucket}/${object} at byte ${4 * MiB} of ${big.length}`);
    } finally {
      await proxy.close();
    }

    // Never read whole: only the small file is.
    expect(recorded.wholeReads).not.toContain(bigPath);
    const streams = recorded.streams.filter((s) => s.path === bigPath) as StreamRead[];
    for (const s of streams) expect(s.stream.readableHighWaterMark).toBeLessThanOrEqual(MiB);
    // One stream for the preflight's md5, then the upload's: the first attempt from byte 0, the resumed one from
    // the server's offset. No stream of the upload re-hashes the file from the start.
    expect(preflightStreams).toBe(1);
    const upload = streams.slice(1);
    expect(upload.map((s) => s.start)).toEqual([0, 4 * MiB]);
    const [cut, rest] = upload;
    // The cut attempt read about what it sent (plus socket and stream buffers), not the whole file...
    expect(cut.stream.bytesRead).toBeLessThan(big.length / 2);
    // ...and the resumed one exactly the rest.
    expect(rest.stream.bytesRead).toBe(big.length - 4 * MiB);
  });
});

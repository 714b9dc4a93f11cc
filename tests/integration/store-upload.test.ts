// The storage module against the real emulator, in-process: create-only writes, 412 handling
// when another writer got there between the listing and the upload, and md5 verification.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryLog } from '../../src/common/log.js';
import { isPreconditionFailed, RunStore, runPaths } from '../../src/gcs/store.js';
import { UploadError, uploadArtifacts } from '../../src/gcs/upload.js';
import { walkDb } from '../../src/preflight/artifacts.js';
import { removeDir, tempDir } from '../helpers/action.js';
import { createBucket, readObject, uniqueBucketName } from '../helpers/gcs.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('base64');

describe('RunStore and uploadArtifacts against the emulator', () => {
  let bucket: string;
  let store: RunStore;
  let root: string;
  beforeAll(async () => {
    bucket = uniqueBucketName('store');
    await createBucket(bucket);
    store = new RunStore(bucket, 'demo-test', { attempts: 2, baseMs: 10 });
    root = tempDir('store-db');
    mkdirSync(join(root, 'credit', 'models'), { recursive: true });
    writeFileSync(join(root, 'credit', 'a.yaml'), 'a: 1\n');
    writeFileSync(join(root, 'credit', 'models', 'b.yaml'), 'b: 2\n');
    writeFileSync(join(root, 'credit', '.hidden'), 'dot\n');
  });
  afterAll(() => removeDir(root));

  it('writes create-only and reports the stored md5; a second create is a 412', async () => {
    const o = await store.write('x/create-only.txt', Buffer.from('one'), { ifGenerationMatch: 0, contentType: 'text/plain' });
    expect(o.md5).toBe(md5('one'));
    expect(o.generation).not.toBe('');
    const again = await store.write('x/create-only.txt', Buffer.from('two'), { ifGenerationMatch: 0, contentType: 'text/plain' }).catch((e: unknown) => e);
    expect(isPreconditionFailed(again)).toBe(true);
    expect((await readObject(bucket, 'x/create-only.txt')).toString()).toBe('one');
    const replaced = await store.write('x/create-only.txt', Buffer.from('two'), { ifGenerationMatch: o.generation, contentType: 'text/plain' });
    expect(replaced.md5).toBe(md5('two'));
  });

  it('takes a concurrent writer into account: same bytes are skipped, other bytes are never overwritten', async () => {
    const db = await walkDb(join(root, 'credit'), 'credit');
    expect(db.files.map((f) => f.path)).toEqual(['.hidden', 'a.yaml', 'models/b.yaml']);
    // Another try of this run wrote two of the objects after our listing (an empty map).
    await store.write(runPaths.setupObject('r1', 'slayer_models', 'credit', 'a.yaml'), Buffer.from('a: 1\n'), {
      ifGenerationMatch: 0,
      contentType: 'application/yaml',
    });
    await store.write(runPaths.setupObject('r1', 'slayer_models', 'credit', 'models/b.yaml'), Buffer.from('stale\n'), {
      ifGenerationMatch: 0,
      contentType: 'application/yaml',
    });
    const failed = await uploadArtifacts({
      store,
      runId: 'r1',
      artifact: 'slayer_models',
      root,
      artifacts: [db],
      remote: new Map(),
      concurrency: 4,
      log: memoryLog(),
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(UploadError);
    expect((failed as UploadError).failures).toEqual([
      `credit/models/b.yaml: gs://${bucket}/runs/r1/slayer_setup/slayer_models/credit/models/b.yaml was written by someone else during this step with other content: is another submit of run id r1 running? Nothing was overwritten`,
    ]);
    expect((await readObject(bucket, runPaths.setupObject('r1', 'slayer_models', 'credit', 'models/b.yaml'))).toString()).toBe('stale\n');
    expect((await readObject(bucket, runPaths.setupObject('r1', 'slayer_models', 'credit', '.hidden'))).toString()).toBe('dot\n');
  });

  it('sets content types by extension', async () => {
    const [md] = await store.bucket.file(runPaths.setupObject('r1', 'slayer_models', 'credit', 'a.yaml')).getMetadata();
    expect(md.contentType).toBe('application/yaml');
  });

  it('never deletes objects of a setup whose manifest another submit committed after this one listed', async () => {
    // Submit B of run r-race committed a manifest naming credit/extra.yaml; submit A listed the
    // prefix before that commit, and its own plan has no extra.yaml, so it sees an object to remove.
    const extra = runPaths.setupObject('r-race', 'slayer_models', 'credit', 'extra.yaml');
    const written = await store.write(extra, Buffer.from('from B\n'), { ifGenerationMatch: 0, contentType: 'application/yaml' });
    const listedByA = await store.list(runPaths.prefix('r-race'));
    await store.write(runPaths.manifest('r-race'), Buffer.from('{"run_id":"r-race"}'), { ifGenerationMatch: 0, contentType: 'application/json' });
    const db = await walkDb(join(root, 'credit'), 'credit');
    const failed = await uploadArtifacts({
      store,
      runId: 'r-race',
      artifact: 'slayer_models',
      root,
      artifacts: [db],
      remote: listedByA,
      concurrency: 4,
      log: memoryLog(),
    }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(UploadError);
    expect((failed as Error).message).toMatch(/was committed while this step was running.*nothing was deleted/);
    expect((await store.metadata(extra))?.generation).toBe(written.generation);
  });
});

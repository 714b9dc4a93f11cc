// Proofs for OUR shims in tools/gcs-emulator/start.cjs (not emulator behaviour): preconditions with a per-object
// lock, and bucket insert/get/404. Rerun on every firebase-tools bump (docs/reference/gcs-emulators.md#the-shims, docs/reference/gcs-emulators.md#use-in-tests).
import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBucket, emulatorHost, listAll, makeStorage, readObject, uniqueBucketName } from '../helpers/gcs.js';

const BUCKET = 'bird-test';
const RUN = `gcs-emulator-test/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

interface ErrorLike {
  code?: unknown;
  status?: unknown;
  response?: { status?: unknown };
}

function asErrorLike(err: unknown): ErrorLike {
  return typeof err === 'object' && err !== null ? (err as ErrorLike) : {};
}

// 7.22.0 puts the status in different places per code path (docs/reference/gcs-emulators.md#client-setup).
function hasStatus(err: unknown, status: number): boolean {
  const e = asErrorLike(err);
  return e.code === status || e.status === status || e.response?.status === status;
}

async function expectStatus(p: Promise<unknown>, status: number): Promise<void> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected an error with status ${status}`).toBeDefined();
  expect(hasStatus(caught, status), `error was: ${String(caught)}`).toBe(true);
}

const md5b64 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

let storage: Storage;

beforeAll(() => {
  storage = makeStorage();
});

describe('precondition shim: 50 concurrent create-only writers', () => {
  for (const resumable of [false, true]) {
    it(`exactly one wins, 49 get 412 (resumable: ${resumable})`, async () => {
      const name = `${RUN}/race-${resumable ? 'resumable' : 'simple'}`;
      // Distinct 1 MB bodies, so the stored bytes identify the winner.
      const bodies = Array.from({ length: 50 }, () => randomBytes(1024 * 1024));
      const results = await Promise.allSettled(
        bodies.map((body) =>
          storage
            .bucket(BUCKET)
            .file(name)
            .save(body, { resumable, preconditionOpts: { ifGenerationMatch: 0 } }),
        ),
      );

      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
      expect(winners).toHaveLength(1);
      expect(losers).toHaveLength(49);
      for (const err of losers) expect(hasStatus(err, 412), `loser error: ${String(err)}`).toBe(true);

      const stored = await readObject(BUCKET, name, storage);
      const winner = winners[0] ?? -1;
      expect(md5b64(stored)).toBe(md5b64(bodies[winner] ?? Buffer.alloc(0)));
    });
  }
});

describe('precondition shim: generations', () => {
  it('overwrites with the current generation and rejects a stale one', async () => {
    const file = storage.bucket(BUCKET).file(`${RUN}/generations`);
    await file.save('v1', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    const [m1] = await file.getMetadata();
    const gen1 = String(m1.generation);

    await file.save('v2', { resumable: false, preconditionOpts: { ifGenerationMatch: gen1 } });
    const [m2] = await file.getMetadata();
    const gen2 = String(m2.generation);
    expect(gen2).not.toBe(gen1);

    await expectStatus(file.save('v3', { resumable: false, preconditionOpts: { ifGenerationMatch: gen1 } }), 412);
    await expectStatus(file.save('v3', { resumable: true, preconditionOpts: { ifGenerationMatch: gen1 } }), 412);
    // The bare emulator would delete here regardless of the generation.
    await expectStatus(file.delete({ ifGenerationMatch: gen1 }), 412);
    expect((await readObject(BUCKET, file.name, storage)).toString()).toBe('v2');

    await file.delete({ ifGenerationMatch: gen2 });
    const [exists] = await file.exists();
    expect(exists).toBe(false);
  });

  it('answers 412 with the real GCS error body', async () => {
    const name = encodeURIComponent(`${RUN}/body`);
    const url = `${emulatorHost()}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${name}&ifGenerationMatch=0`;
    expect((await fetch(url, { method: 'POST', body: 'x' })).status).toBe(200);
    const res = await fetch(url, { method: 'POST', body: 'y' });
    expect(res.status).toBe(412);
    const message = 'At least one of the pre-conditions you specified did not hold.';
    expect(await res.json()).toEqual({
      error: {
        code: 412,
        message,
        errors: [{ message, domain: 'global', reason: 'conditionNotMet', locationType: 'header', location: 'If-Match' }],
      },
    });
  });
});

describe('bucket shim', () => {
  it('a bucket that does not exist gives 404 on list, upload and get, and is not created implicitly', async () => {
    const missing = storage.bucket(uniqueBucketName('missing'));
    await expectStatus(missing.getFiles(), 404);
    await expectStatus(missing.file('a.txt').save('data', { resumable: false }), 404);
    await expectStatus(missing.file('a.txt').save('data', { resumable: true }), 404);
    await expectStatus(missing.getMetadata(), 404);
    await expectStatus(missing.file('a.txt').download(), 404);
    const [exists] = await missing.exists();
    expect(exists).toBe(false);

    const res = await fetch(`${emulatorHost()}/b/${missing.name}/o`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({
      error: { code: 404, message: 'The specified bucket does not exist.', errors: [{ reason: 'notFound' }] },
    });
  });

  it('POST /b creates a bucket, a repeat gives 409', async () => {
    const name = uniqueBucketName('Created_By Test');
    expect(name).toMatch(/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/);
    await createBucket(name);
    const repeat = await fetch(`${emulatorHost()}/b?project=demo-test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    expect(repeat.status).toBe(409);
    expect(await repeat.json()).toMatchObject({ error: { code: 409, errors: [{ reason: 'conflict' }] } });

    const [exists] = await storage.bucket(name).exists();
    expect(exists).toBe(true);
    await storage.bucket(name).file('x/y.txt').save('hello', { resumable: false });
    expect(await listAll(name, 'x/', storage)).toEqual(['x/y.txt']);
  });

  it('the client createBucket() goes through the shim too', async () => {
    const name = uniqueBucketName('client');
    const [bucket] = await storage.createBucket(name);
    expect(bucket.name).toBe(name);
    await expectStatus(storage.createBucket(name), 409);
    const [buckets] = await storage.getBuckets();
    expect(buckets.map((b) => b.name)).toEqual(expect.arrayContaining([name, 'bird-test', 'bird-bench']));
  });
});

describe('object metadata', () => {
  it('md5Hash of an uploaded object equals the local md5 (base64)', async () => {
    const body = randomBytes(300_000);
    const file = storage.bucket(BUCKET).file(`${RUN}/md5.bin`);
    await file.save(body, { resumable: false });
    const [meta] = await file.getMetadata();
    expect(meta.md5Hash).toBe(md5b64(body));
    expect(meta.size).toBe(String(body.length));
    expect((await readObject(BUCKET, file.name, storage)).equals(body)).toBe(true);
  });
});

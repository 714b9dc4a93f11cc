// The storage rows of docs/conformance.md ("GCS servers"): one set of cases that every GCS server the tests
// know runs, so the firebase emulator (tests/integration/gcs-storage.test.ts, default tier) and fake-gcs-server
// (tests/real/gcs-storage.test.ts) are held to the same rows. The cases drive the action's own storage code
// (RunStore, uploadArtifacts, probeRun, commitManifest) with STORAGE_EMULATOR_HOST set as each server documents
// it, plus raw JSON API calls where the wire shape is the point.
//
// The last block pins where the two servers differ (each row says which side GCS's docs support): a change
// on either side fails it, so docs/conformance.md cannot drift from what the servers do.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CRC32C } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorStatus, ProblemsError } from '../../src/common/errors.js';
import { memoryLog } from '../../src/common/log.js';
import { commitManifest, probeRun } from '../../src/gcs/run-state.js';
import { contentTypeFor, isNotFound, isPreconditionFailed, RunStore, runPaths } from '../../src/gcs/store.js';
import { fileBody, type SessionNote } from '../../src/gcs/transfer.js';
import { UploadError, uploadArtifacts } from '../../src/gcs/upload.js';
import type { RunManifest } from '../../src/plan/manifest.js';
import { walkDb } from '../../src/preflight/artifacts.js';
import { tempDir } from '../helpers/action.js';
import { matchers, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, type GcsServer, type GcsServerName, through, uniqueBucketName, withEmulatorHost } from '../helpers/gcs.js';

const md5 = (b: Buffer | string): string => createHash('md5').update(b).digest('base64');
const crc32c = (b: Buffer): string => {
  const c = new CRC32C();
  c.update(b);
  return c.toString();
};
const enc = encodeURIComponent;

/** The 412 message of GCS's JSON API as the firebase shim reproduces it (tools/gcs-emulator/start.cjs). */
const GCS_412_MESSAGE = 'At least one of the pre-conditions you specified did not hold.';

function manifestFor(runId: string, ids: string[]): RunManifest {
  return {
    run_id: runId,
    framework: 'pydantic_ai',
    mode: 'a-interact',
    query_mode: 'slayer',
    agent_model: 'anthropic/claude-sonnet-4-5',
    user_sim_model: 'u',
    instance_ids: ids,
    patience: 3,
    strict: false,
    use_audited_gold_sql: false,
    max_depth: 3,
    prompt_cache: true,
    slayer_setup: 'pre-encoded',
    slayer_storage_root: '/data/slayer_models',
    render_inputs: {
      workers: 4,
      actors_per_worker: 4,
      worker_type: 'e2-standard-4',
      zone: 'us-central1-a',
      worker_sa: 'sa',
      max_runtime_hours: 8,
      image_uri: '',
      project: 'p',
      region: 'us-central1',
    },
    github: { repository: 'o/r', sha: 's', ref: 'r', workflow_run_url: 'u', event: 'push', pr_number: null },
    slayer_artifacts: { kind: 'slayer_models', dbs: { a: { files: 1, bytes: 3, digest: 'd' } } },
    dispatch: { cluster: 'none' },
    dirty: false,
    instance_databases: Object.fromEntries(ids.map((i) => [i, 'a'])),
  };
}

interface JsonError {
  error?: { code?: number; message?: string; errors?: Array<Record<string, unknown>> };
}

export function gcsStorageCases(server: GcsServer): void {
  describe(`GCS storage rows against ${server.name}`, () => {
    const bucket = uniqueBucketName(`rows-${server.name}`);
    let root: string;
    let n = 0;
    /** One expectation per server: where they differ, each row's comment says which side GCS's docs support. */
    const expectPer = <T>(actual: T, expected: Record<GcsServerName, T>): void => {
      expect(actual).toEqual(expected[server.name]);
    };
    /** A fresh object name per use, so rows never see each other's objects. */
    const fresh = (tag: string): string => `rows/${++n}-${tag}`;

    const newStore = (s: GcsServer = server, b: string = bucket): RunStore =>
      withEmulatorHost(s.emulatorHost, () => new RunStore(b, 'demo-test', { attempts: 3, baseMs: 10, maxMs: 50 }));
    const objectUrl = (name: string, query = ''): string => `${server.emulatorHost}/b/${bucket}/o/${enc(name)}${query}`;
    const mediaUpload = (name: string, body: string, query = '', headers: Record<string, string> = { 'content-type': 'text/plain' }): Promise<Response> =>
      fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}${query}`, { method: 'POST', body, headers });
    const getJson = async (url: string, init?: RequestInit): Promise<{ status: number; body: Record<string, unknown> & JsonError }> => {
      const res = await fetch(url, init);
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    };
    /** Creates an object and returns its generation. */
    const put = async (name: string, body: string): Promise<string> =>
      (await newStore().write(name, Buffer.from(body), { ifGenerationMatch: 0, contentType: 'text/plain' })).generation;

    beforeAll(async () => {
      await createBucket(bucket, server.emulatorHost);
      root = tempDir(`rows-${server.name}`);
    });
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    describe('create-only writes and generations', () => {
      it('create-only write: the first wins; a second is 412 conditionNotMet and changes nothing', async () => {
        const store = newStore();
        const name = fresh('create-only.txt');
        const first = await store.write(name, Buffer.from('one'), { ifGenerationMatch: 0, contentType: 'text/plain' });
        expect(first.md5).toBe(md5('one'));
        expect(first.generation).toMatch(/^[1-9]\d*$/);
        const again = await store.write(name, Buffer.from('two'), { ifGenerationMatch: 0, contentType: 'text/plain' }).catch((e: unknown) => e);
        expect(isPreconditionFailed(again)).toBe(true);
        const raw = await mediaUpload(name, 'three', '&ifGenerationMatch=0');
        expect(raw.status).toBe(412);
        expect(await raw.json()).toMatchObject({ error: { code: 412, errors: [{ domain: 'global', reason: 'conditionNotMet' }] } });
        expect((await store.read(name))?.toString()).toBe('one');
      });

      it('create-only resumable write: a second is 412 and changes nothing', async () => {
        const store = newStore();
        const name = fresh('create-only.bin');
        const body = randomBytes(300_000);
        const first = await store.write(name, body, { ifGenerationMatch: 0, contentType: 'application/octet-stream', resumable: true });
        expect(first.md5).toBe(md5(body));
        const again = await store
          .write(name, randomBytes(10), { ifGenerationMatch: 0, contentType: 'application/octet-stream', resumable: true })
          .catch((e: unknown) => e);
        expect(isPreconditionFailed(again)).toBe(true);
        expect((await store.read(name))?.equals(body)).toBe(true);
      });

      it('replace by generation: the current generation replaces, a stale one is 412 (simple and resumable)', async () => {
        const store = newStore();
        const name = fresh('generations.txt');
        const gen1 = await put(name, 'v1');
        const v2 = await store.write(name, Buffer.from('v2'), { ifGenerationMatch: gen1, contentType: 'text/plain' });
        expect(BigInt(v2.generation) > BigInt(gen1)).toBe(true);
        for (const resumable of [false, true]) {
          const stale = await store.write(name, Buffer.from('v3'), { ifGenerationMatch: gen1, contentType: 'text/plain', resumable }).catch((e: unknown) => e);
          expect(isPreconditionFailed(stale)).toBe(true);
        }
        expect((await store.read(name))?.toString()).toBe('v2');
        expect((await store.metadata(name))?.generation).toBe(v2.generation);
      });

      it('generation, metageneration and size are decimal strings in the JSON API', async () => {
        const name = fresh('types.txt');
        await put(name, 'hello');
        const { status, body } = await getJson(objectUrl(name));
        expect(status).toBe(200);
        expect(body).toMatchObject({ name, bucket, size: '5', metageneration: '1' });
        expect(typeof body.generation).toBe('string');
        expect(String(body.generation)).toMatch(/^[1-9]\d*$/);
      });

      it('an object that does not exist: read, delete and patch with a generation precondition answer 404', async () => {
        const name = fresh('never-written');
        expect((await fetch(objectUrl(name, '?ifGenerationMatch=123'))).status).toBe(404);
        expect((await fetch(objectUrl(name, '?ifGenerationMatch=123'), { method: 'DELETE' })).status).toBe(404);
        const patch = await fetch(objectUrl(name, '?ifMetagenerationMatch=1'), {
          method: 'PATCH',
          body: JSON.stringify({ metadata: { k: 'v' } }),
          headers: { 'content-type': 'application/json' },
        });
        expect(patch.status).toBe(404);
        // The action's delete treats a vanished object as done.
        await expect(newStore().remove(name, '123')).resolves.toBeUndefined();
        expect(await newStore().metadata(name)).toBeNull();
      });
    });

    describe('hashes, content types and skips', () => {
      it('md5Hash and crc32c are the local values (base64), in the write result, the metadata and the listing', async () => {
        const store = newStore();
        const name = fresh('hashes.bin');
        const body = randomBytes(300_000);
        const written = await store.write(name, body, { ifGenerationMatch: 0, contentType: 'application/octet-stream' });
        expect(written.md5).toBe(md5(body));
        expect(written.size).toBe(body.length);
        const { body: meta } = await getJson(objectUrl(name));
        expect(meta.md5Hash).toBe(md5(body));
        expect(meta.crc32c).toBe(crc32c(body));
        const listed = await store.list(name);
        expect(listed.get(name)).toEqual({ name, md5: md5(body), size: body.length, generation: written.generation });
      });

      it('declared md5Hash/crc32c: matching ones are stored, a mismatch is 400 and creates nothing (multipart and resumable)', async () => {
        const data = Buffer.from('hello checksums');
        const multipart = async (name: string, declared: Record<string, string>): Promise<number> => {
          const meta = JSON.stringify({ name, ...declared });
          const body = `--b0\r\ncontent-type: application/json\r\n\r\n${meta}\r\n--b0\r\ncontent-type: text/plain\r\n\r\n${data.toString()}\r\n--b0--\r\n`;
          const res = await fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=multipart`, {
            method: 'POST',
            body,
            headers: { 'content-type': 'multipart/related; boundary=b0' },
          });
          await res.arrayBuffer();
          return res.status;
        };
        const resumable = async (name: string, declared: Record<string, string>): Promise<number> => {
          const init = await fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${enc(name)}`, {
            method: 'POST',
            body: JSON.stringify({ name, ...declared }),
            headers: { 'content-type': 'application/json' },
          });
          await init.arrayBuffer();
          const final = await fetch(init.headers.get('location') ?? '', { method: 'PUT', body: data });
          await final.arrayBuffer();
          return final.status;
        };
        const wrong = md5('other bytes');
        const cases: Array<[string, (n: string, d: Record<string, string>) => Promise<number>, Record<string, string>, number]> = [
          ['multipart-ok', multipart, { md5Hash: md5(data), crc32c: crc32c(data) }, 200],
          ['multipart-bad-md5', multipart, { md5Hash: wrong }, 400],
          ['multipart-bad-crc', multipart, { crc32c: 'AAAAAA==' }, 400],
          ['resumable-ok', resumable, { md5Hash: md5(data) }, 200],
          ['resumable-bad-md5', resumable, { md5Hash: wrong }, 400],
          ['resumable-bad-crc', resumable, { crc32c: 'AAAAAA==' }, 400],
        ];
        for (const [tag, upload, declared, status] of cases) {
          const name = fresh(tag);
          expect(await upload(name, declared), tag).toBe(status);
          expect((await fetch(objectUrl(name))).status, tag).toBe(status === 200 ? 200 : 404);
        }
      });

      it('a file changed after the preflight: the server refuses bytes that miss the declared md5, nothing is stored', async () => {
        const store = newStore();
        const runId = `changed-${server.name}-${randomBytes(3).toString('hex')}`;
        const dbDir = join(root, 'changed', 'credit');
        mkdirSync(dbDir, { recursive: true });
        const big = randomBytes(300_000);
        writeFileSync(join(dbDir, 'big.bin'), big);
        writeFileSync(join(dbDir, 'small.yaml'), 'a: 1\n');
        writeFileSync(join(dbDir, 'grown.yaml'), 'g: 1\n');
        // The preflight's view: sizes and md5s.
        const artifacts = [await walkDb(dbDir, 'credit')];
        // Same sizes, other bytes (no client-side check can see it without a second hash), and one that grew.
        big[1000] ^= 0xff;
        writeFileSync(join(dbDir, 'big.bin'), big);
        writeFileSync(join(dbDir, 'small.yaml'), 'a: 2\n');
        writeFileSync(join(dbDir, 'grown.yaml'), 'g: 10\n');
        const failed = await uploadArtifacts({
          store,
          runId,
          artifact: 'slayer_models',
          root: join(root, 'changed'),
          artifacts,
          remote: new Map(),
          concurrency: 3,
          log: memoryLog(),
          // big.bin goes up as a streamed resumable session, small.yaml in one multipart request.
          resumableThreshold: 100_000,
        }).catch((e: unknown) => e);
        expect(failed).toBeInstanceOf(UploadError);
        const failures = [...(failed as UploadError).failures].sort();
        expect(failures).toHaveLength(3);
        expect(failures[0]).toMatch(/^credit\/big\.bin: credit\/big\.bin changed on disk after the preflight, so GCS refused it \(HTTP 400: .*\); run again$/);
        expect(failures[1]).toBe('credit/grown.yaml: credit/grown.yaml changed on disk after the preflight (it is 6 bytes, the preflight saw 5); run again');
        expect(failures[2]).toMatch(
          /^credit\/small\.yaml: credit\/small\.yaml changed on disk after the preflight, so GCS refused it \(HTTP 400: .*\); run again$/,
        );
        expect((await store.list(runPaths.prefix(runId))).size).toBe(0);
      });

      it('content types are stored and served as the action sends them', async () => {
        const store = newStore();
        const name = fresh('model.yaml');
        await store.write(name, Buffer.from('a: 1\n'), { ifGenerationMatch: 0, contentType: contentTypeFor(name) });
        const { body } = await getJson(objectUrl(name));
        expect(body.contentType).toBe('application/yaml');
        const media = await fetch(objectUrl(name, '?alt=media'));
        expect(media.status).toBe(200);
        expect(media.headers.get('content-type')).toMatch(/^application\/yaml/);
        expect(await media.text()).toBe('a: 1\n');
      });

      it('md5 skips: a second upload of the same tree moves nothing; a changed file is replaced by generation', async () => {
        const store = newStore();
        const runId = `skip-${server.name}-${randomBytes(3).toString('hex')}`;
        const dbDir = join(root, 'skip', 'credit');
        mkdirSync(join(dbDir, 'models'), { recursive: true });
        writeFileSync(join(dbDir, 'a.yaml'), 'a: 1\n');
        writeFileSync(join(dbDir, 'models', 'b.yaml'), 'b: 2\n');
        writeFileSync(join(dbDir, 'c.json'), '{}\n');
        const job = async () => ({
          store,
          runId,
          artifact: 'slayer_models',
          root: join(root, 'skip'),
          artifacts: [await walkDb(dbDir, 'credit')],
          remote: await store.list(runPaths.prefix(runId)),
          concurrency: 4,
          log: memoryLog(),
        });
        const first = await uploadArtifacts(await job());
        expect(first).toMatchObject({ uploadedFiles: 3, skippedFiles: 0 });
        const second = await uploadArtifacts(await job());
        expect(second).toMatchObject({ uploadedFiles: 0, skippedFiles: 3, uploadedBytes: 0 });
        writeFileSync(join(dbDir, 'a.yaml'), 'a: 2\n');
        const third = await uploadArtifacts(await job());
        expect(third).toMatchObject({ uploadedFiles: 1, skippedFiles: 2 });
        expect(third.dbs[0]?.replaced).toBe(1);
        expect((await store.read(runPaths.setupObject(runId, 'slayer_models', 'credit', 'a.yaml')))?.toString()).toBe('a: 2\n');
      });
    });

    describe('listing', () => {
      it('prefix and maxResults pages return every object once, in name order; an empty prefix lists nothing', async () => {
        const store = newStore();
        const prefix = `${fresh('list')}/`;
        const names = ['a/0.txt', 'a/1.txt', 'a/2.txt', 'b/x.txt', 'b/y/z.txt', 'top.txt', 'ü n#?.txt'].map((s) => `${prefix}${s}`);
        await Promise.all(names.map((name) => put(name, name)));
        await put(`${prefix.slice(0, -1)}-sibling.txt`, 'outside the prefix');
        const seen: string[] = [];
        let pages = 0;
        let pageToken: string | undefined;
        await store.open();
        do {
          const [files, next] = await store.bucket.getFiles({ prefix, maxResults: 3, autoPaginate: false, pageToken });
          expect(files.length).toBeLessThanOrEqual(3);
          seen.push(...files.map((f) => f.name));
          pageToken = (next as { pageToken?: string } | null)?.pageToken;
          pages++;
        } while (pageToken);
        expect(pages).toBe(3);
        expect(seen).toEqual([...names].sort());
        expect([...(await store.list(prefix)).keys()].sort()).toEqual([...names].sort());
        const empty = await getJson(`${server.emulatorHost}/b/${bucket}/o?prefix=${enc(`${prefix}nothing/`)}`);
        expect(empty.status).toBe(200);
        expect(empty.body.items).toBeUndefined();
        expect((await store.list(`${prefix}nothing/`)).size).toBe(0);
      });

      it('a delimiter listing (RunStore.prefixes) gives each folder once, in name order, none of their objects, in one request', async () => {
        const prefix = `${fresh('folders')}/`;
        const names = ['r1/manifest.json', 'r1/rows/a/attempt-1.json', 'r2/status.json', 'r10/x/y/z.json', 'top.json'].map((s) => `${prefix}${s}`);
        await Promise.all(names.map((name) => put(name, name)));
        const proxy = await startFaultProxy(server.origin);
        try {
          const store = newStore(through(server, proxy.url));
          expect(await store.prefixes(prefix)).toEqual([`${prefix}r1/`, `${prefix}r10/`, `${prefix}r2/`]);
          const requests = proxy.stats.log;
          expect(requests).toHaveLength(1);
          expect(new URL(requests[0].url, proxy.url).searchParams.get('delimiter')).toBe('/');
          expect(await store.prefixes(`${prefix}nothing/`)).toEqual([]);
        } finally {
          await proxy.close();
        }
      });

      it("created() is the object's timeCreated in ms, and null for an object that does not exist", async () => {
        const store = newStore();
        const name = fresh('created.json');
        await put(name, '{}');
        const { body } = await getJson(objectUrl(name));
        expect(typeof body.timeCreated).toBe('string');
        expect(await store.created(name)).toBe(Date.parse(String(body.timeCreated)));
        expect(await store.created(fresh('never-written.json'))).toBeNull();
      });
    });

    describe('the manifest as the commit point', () => {
      it('probeRun sees no manifest before; commitManifest writes once; a repeat is "same"; another plan is refused and the stored manifest stays', async () => {
        const store = newStore();
        const runId = `commit-${server.name}-${randomBytes(3).toString('hex')}`;
        const plan = manifestFor(runId, ['a_1']);
        expect((await probeRun(store, plan)).manifest).toBe('absent');
        expect(await commitManifest(store, plan)).toBe('written');
        const stored = await store.read(runPaths.manifest(runId));
        expect(await commitManifest(store, { ...plan, dirty: true })).toBe('same');
        expect((await probeRun(store, plan)).manifest).toBe('same');
        const other = manifestFor(runId, ['a_1', 'a_2']);
        await expect(commitManifest(store, other)).rejects.toThrow(`run '${runId}' already has a manifest for another plan`);
        await expect(probeRun(store, other)).rejects.toBeInstanceOf(ProblemsError);
        expect((await store.read(runPaths.manifest(runId)))?.equals(stored ?? Buffer.alloc(0))).toBe(true);
      });

      it('two submits racing to commit different plans: exactly one manifest wins, the other is refused', async () => {
        const runId = `race-${server.name}-${randomBytes(3).toString('hex')}`;
        const plans = [manifestFor(runId, ['a_1']), manifestFor(runId, ['a_2'])];
        const results = await Promise.allSettled(plans.map((p) => commitManifest(newStore(), p)));
        expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<string>).value)).toEqual(['written']);
        const winner = results.findIndex((r) => r.status === 'fulfilled');
        const stored = JSON.parse(((await newStore().read(runPaths.manifest(runId))) ?? Buffer.alloc(0)).toString()) as RunManifest;
        expect(stored.instance_ids).toEqual(plans[winner]?.instance_ids);
      });
    });

    describe('concurrent writers', () => {
      for (const resumable of [false, true]) {
        it(`50 create-only writers (${resumable ? 'resumable' : 'simple'}): exactly one wins, 49 get 412, the stored bytes are the winner's`, async () => {
          const store = newStore();
          const name = fresh(`race-${resumable ? 'resumable' : 'simple'}.bin`);
          const bodies = Array.from({ length: 50 }, () => randomBytes(256 * 1024));
          const results = await Promise.allSettled(
            bodies.map((b) => store.write(name, b, { ifGenerationMatch: 0, contentType: 'application/octet-stream', resumable })),
          );
          const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          const losers = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
          expect(winners).toHaveLength(1);
          expect(losers).toHaveLength(49);
          for (const e of losers) expect(errorStatus(e), String(e)).toBe(412);
          expect(md5((await store.read(name)) ?? Buffer.alloc(0))).toBe(md5(bodies[winners[0] ?? 0] ?? Buffer.alloc(0)));
        });
      }
    });

    describe('a bucket that does not exist', () => {
      it('the preflight says it does not exist (404), writes get 404, and nothing creates it', async () => {
        const missing = uniqueBucketName('missing');
        const store = newStore(server, missing);
        const err = await probeRun(store, manifestFor('r', ['a_1'])).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ProblemsError);
        expect((err as Error).message).toContain(`bucket '${missing}' does not exist (listing gs://${missing}/runs/r/ answered 404)`);
        for (const resumable of [false, true]) {
          const w = await store.write('x.txt', Buffer.from('x'), { ifGenerationMatch: 0, contentType: 'text/plain', resumable }).catch((e: unknown) => e);
          expect(isNotFound(w), String(w)).toBe(true);
        }
        const get = await getJson(`${server.emulatorHost}/b/${missing}`);
        expect(get.status).toBe(404);
        expect(get.body).toMatchObject({ error: { code: 404, errors: [{ reason: 'notFound' }] } });
      });
    });

    describe('behind the fault proxy', () => {
      it('the store retries past a reset, a 503 burst and a 429; every object arrives md5-exact', async () => {
        const proxy = await startFaultProxy(server.origin);
        try {
          const store = newStore(through(server, proxy.url));
          proxy.schedule({ kind: 'status', status: 503, times: 1, match: matchers.lists });
          proxy.schedule({ kind: 'reset', times: 1, match: matchers.uploads });
          proxy.schedule({ kind: 'status', status: 503, times: 2, skip: 1, match: matchers.uploads });
          proxy.schedule({ kind: 'status', status: 429, retryAfterSeconds: 0, times: 1, skip: 3, match: matchers.uploads });
          const prefix = `${fresh('faults')}/`;
          expect((await store.list(prefix)).size).toBe(0);
          const bodies = Array.from({ length: 6 }, () => randomBytes(20_000));
          for (const [i, b] of bodies.entries()) await store.write(`${prefix}${i}.bin`, b, { ifGenerationMatch: 0, contentType: 'application/octet-stream' });
          const s = proxy.stats;
          expect(s.resets).toBe(1);
          expect(s.statuses).toEqual({ 503: 3, 429: 1 });
          const direct = newStore();
          for (const [i, b] of bodies.entries()) expect((await direct.metadata(`${prefix}${i}.bin`))?.md5).toBe(md5(b));
        } finally {
          await proxy.close();
        }
      });

      it('uploads over a backend that dies fail with no manifest; the next try moves only the missing files', async () => {
        const proxy = await startFaultProxy(server.origin);
        try {
          const store = newStore(through(server, proxy.url));
          const runId = `resume-${server.name}-${randomBytes(3).toString('hex')}`;
          const dbDir = join(root, 'resume', 'news');
          mkdirSync(dbDir, { recursive: true });
          for (let i = 0; i < 10; i++) writeFileSync(join(dbDir, `f${i}.yaml`), `i: ${i}\n`);
          const job = async (s: RunStore) => ({
            store: s,
            runId,
            artifact: 'slayer_models',
            root: join(root, 'resume'),
            artifacts: [await walkDb(dbDir, 'news')],
            remote: await s.list(runPaths.prefix(runId)),
            concurrency: 1,
            log: memoryLog(),
          });
          proxy.schedule({ kind: 'status', status: 503, times: Infinity, skip: 4, match: matchers.uploads });
          const failed = await uploadArtifacts(await job(store)).catch((e: unknown) => e);
          expect(failed).toBeInstanceOf(UploadError);
          expect((failed as UploadError).failures).toHaveLength(6);
          expect(await store.metadata(runPaths.manifest(runId))).toBeNull();
          proxy.clear();
          const resumed = await uploadArtifacts(await job(store));
          expect(resumed).toMatchObject({ uploadedFiles: 6, skippedFiles: 4 });
        } finally {
          await proxy.close();
        }
      });

      it('a resumable upload cut off mid-body continues from the offset the server kept, not from byte 0', async () => {
        const proxy = await startFaultProxy(server.origin);
        try {
          const store = newStore(through(server, proxy.url));
          const data = randomBytes(2 * 1024 * 1024 + 123);
          const file = join(root, 'resume-cut.bin');
          writeFileSync(file, data);
          const name = fresh('resume-cut.bin');
          const sessionPut = (r: { method: string; url: string }): boolean => r.method === 'PUT' && r.url.includes('upload_id=');
          // The connection breaks after 700 000 body bytes have reached the server.
          proxy.schedule({ kind: 'reset', afterBytes: 700_000, times: 1, match: sessionPut });
          const notes: SessionNote[] = [];
          const written = await store.upload(name, fileBody(file, data.length, md5(data)), {
            ifGenerationMatch: 0,
            contentType: 'application/octet-stream',
            resumable: true,
            onNote: (note) => notes.push(note),
          });
          expect(written.md5).toBe(md5(data));
          expect((await newStore().read(name))?.equals(data)).toBe(true);
          const puts = proxy.stats.log.filter(sessionPut).map((e) => ({ action: e.action, status: e.status, bytes: e.bytesIn }));
          const starts = proxy.stats.log.filter((e) => e.method === 'POST' && e.url.includes('uploadType=resumable')).length;
          // GCS keeps what it received of a broken PUT (possibly less), reports it to the status query (308 +
          // Range), and takes the rest; the firebase launcher's shim keeps whole 256 KiB units (512 KiB here).
          // fake-gcs-server finalises a session on the status query, with the bytes it has: the declared md5Hash
          // makes it refuse that (400), and the upload starts again with a new session.
          const kept = 512 * 1024;
          expectPer(
            { notes, puts, starts },
            {
              firebase: {
                notes: [{ kind: 'resumed', offset: kept, size: data.length }],
                puts: [
                  { action: 'reset', status: undefined, bytes: 700_000 },
                  { action: 'forward', status: 308, bytes: 0 },
                  { action: 'forward', status: 200, bytes: data.length - kept },
                ],
                starts: 1,
              },
              'fake-gcs': {
                notes: [{ kind: 'restarted', why: "the server did not report the session's progress (HTTP 400 to the status query)" }],
                puts: [
                  { action: 'reset', status: undefined, bytes: 700_000 },
                  { action: 'forward', status: 400, bytes: 0 },
                  { action: 'forward', status: 200, bytes: data.length },
                ],
                starts: 2,
              },
            },
          );
        } finally {
          await proxy.close();
        }
      });

      it("a resumable upload's session URI comes back through the proxy", async () => {
        const proxy = await startFaultProxy(server.origin);
        try {
          const store = newStore(through(server, proxy.url));
          const body = randomBytes(100_000);
          const name = fresh('via-proxy.bin');
          await store.write(name, body, { ifGenerationMatch: 0, contentType: 'application/octet-stream', resumable: true });
          const log = proxy.stats.log;
          expect(log.some((e) => e.method === 'POST' && e.url.includes('uploadType=resumable') && e.status === 200)).toBe(true);
          expect(log.some((e) => e.method === 'PUT' && e.url.includes('upload_id=') && e.status === 200)).toBe(true);
          expect((await newStore().read(name))?.equals(body)).toBe(true);
        } finally {
          await proxy.close();
        }
      });
    });

    describe('where the servers differ (docs/conformance.md, "GCS servers")', () => {
      /** Each server's observed value; GCS's documented one is named in the row. */
      it('412 body: reason conditionNotMet on both (checked above); the message differs', async () => {
        const name = fresh('body-412.txt');
        await put(name, 'x');
        const res = await mediaUpload(name, 'y', '&ifGenerationMatch=0');
        expect(res.status).toBe(412);
        const body = (await res.json()) as JsonError;
        expectPer(body.error?.message, { firebase: GCS_412_MESSAGE, 'fake-gcs': 'Precondition failed' });
      });

      it('missing bucket: 404 notFound on both; the message differs', async () => {
        const { status, body } = await getJson(`${server.emulatorHost}/b/${uniqueBucketName('nope')}/o`);
        expect(status).toBe(404);
        expectPer(body.error?.message, { firebase: 'The specified bucket does not exist.', 'fake-gcs': 'Not Found' });
      });

      it("missing object and existing bucket: both 404 notFound / 409 conflict, with each server's own message", async () => {
        const missing = await getJson(objectUrl(fresh('absent')));
        const conflict = await getJson(`${server.emulatorHost}/b?project=demo-test`, {
          method: 'POST',
          body: JSON.stringify({ name: bucket }),
          headers: { 'content-type': 'application/json' },
        });
        expect(missing.body).toMatchObject({ error: { code: 404, errors: [{ reason: 'notFound' }] } });
        expect(conflict.body).toMatchObject({ error: { code: 409, errors: [{ reason: 'conflict' }] } });
        expectPer(
          { missing: missing.body.error?.message?.replace(/: .*/, ': <name>'), conflict: conflict.body.error?.message?.replace(bucket, '<bucket>') },
          {
            firebase: { missing: 'No such object: <name>', conflict: 'Your previous request to create the named bucket succeeded and you already own it.' },
            'fake-gcs': {
              missing: 'Not Found',
              conflict:
                "A Cloud Storage bucket named '<bucket>' already exists. Try another name. Bucket names must be globally unique across all Google Cloud projects, including those outside of your organization.",
            },
          },
        );
      });

      it('a metadata patch: GCS increments the metageneration', async () => {
        const name = fresh('patch-metageneration.txt');
        await put(name, 'x');
        const patch = await getJson(objectUrl(name), {
          method: 'PATCH',
          body: JSON.stringify({ metadata: { k: 'v' } }),
          headers: { 'content-type': 'application/json' },
        });
        expect(patch.status).toBe(200);
        expect(patch.body.metadata).toEqual({ k: 'v' });
        const { body } = await getJson(objectUrl(name));
        expectPer(
          { patched: patch.body.metageneration, stored: body.metageneration },
          { firebase: { patched: '2', stored: '2' }, 'fake-gcs': { patched: undefined, stored: '1' } },
        );
      });

      it('delete with a stale generation: GCS answers 412 and keeps the object', async () => {
        const name = fresh('stale-delete.txt');
        const gen1 = await put(name, 'v1');
        await newStore().write(name, Buffer.from('v2'), { ifGenerationMatch: gen1, contentType: 'text/plain' });
        const outcome = await newStore()
          .remove(name, gen1)
          .then(
            () => 'deleted',
            (e: unknown) => `status ${errorStatus(e)}`,
          );
        const after = (await newStore().read(name))?.toString() ?? 'gone';
        expectPer({ outcome, after }, { firebase: { outcome: 'status 412', after: 'v2' }, 'fake-gcs': { outcome: 'deleted', after: 'gone' } });
      });

      it('metadata patch and read with a stale (meta)generation: GCS answers 412', async () => {
        const name = fresh('stale-patch.txt');
        await put(name, 'x');
        const patch = await fetch(objectUrl(name, '?ifMetagenerationMatch=9'), {
          method: 'PATCH',
          body: JSON.stringify({ metadata: { k: 'v' } }),
          headers: { 'content-type': 'application/json' },
        });
        const read = await fetch(objectUrl(name, '?ifGenerationMatch=9'));
        await Promise.all([patch.arrayBuffer(), read.arrayBuffer()]);
        expectPer({ patch: patch.status, read: read.status }, { firebase: { patch: 412, read: 412 }, 'fake-gcs': { patch: 200, read: 200 } });
      });

      it('resumable create-only over an existing object: where the 412 comes (GCS docs do not say)', async () => {
        const name = fresh('resumable-412.bin');
        await put(name, 'x');
        const init = await fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${enc(name)}&ifGenerationMatch=0`, {
          method: 'POST',
          body: JSON.stringify({ name }),
          headers: { 'content-type': 'application/json' },
        });
        await init.arrayBuffer();
        const location = init.headers.get('location');
        const final = location ? (await fetch(location, { method: 'PUT', body: 'y' })).status : null;
        expectPer({ init: init.status, final }, { firebase: { init: 412, final: null }, 'fake-gcs': { init: 200, final: 412 } });
      });

      it('a media upload without Content-Type: GCS serves application/octet-stream', async () => {
        const name = fresh('no-type');
        const up = await fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${enc(name)}`, {
          method: 'POST',
          body: new Uint8Array([1, 2, 3]),
        });
        expect(up.status).toBe(200);
        const { body } = await getJson(objectUrl(name));
        expectPer(body.contentType, { firebase: 'application/octet-stream', 'fake-gcs': undefined });
      });

      it('object id and a successful delete: GCS ids are bucket/name/generation, a delete returns an empty body', async () => {
        const name = fresh('id.txt');
        const gen = await put(name, 'x');
        const { body } = await getJson(objectUrl(name));
        const del = await fetch(objectUrl(name, `?ifGenerationMatch=${gen}`), { method: 'DELETE' });
        const text = await del.text();
        expectPer(
          { id: body.id, del: del.status, text },
          { firebase: { id: `${bucket}/${name}/${gen}`, del: 204, text: '' }, 'fake-gcs': { id: `${bucket}/${name}`, del: 200, text: 'null\n' } },
        );
      });

      it('resumable upload in two chunks with a status query between: GCS answers 308 to both until the last chunk', async () => {
        const name = fresh('chunks.bin');
        const init = await fetch(`${server.origin}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&name=${enc(name)}`, {
          method: 'POST',
          body: JSON.stringify({ name }),
          headers: { 'content-type': 'application/json' },
        });
        await init.arrayBuffer();
        const location = init.headers.get('location') ?? '';
        const data = randomBytes(512 * 1024);
        const half = 256 * 1024;
        const chunk1 = await fetch(location, {
          method: 'PUT',
          body: data.subarray(0, half),
          headers: { 'content-range': `bytes 0-${half - 1}/${data.length}` },
        });
        await chunk1.arrayBuffer();
        const query = await fetch(location, { method: 'PUT', headers: { 'content-range': `bytes */${data.length}` } });
        await query.arrayBuffer();
        const { body } = await getJson(objectUrl(name));
        expectPer(
          { chunk1: chunk1.status, query: query.status, storedSize: body.size },
          // GCS's documented answers on firebase (the launcher's resumable shim); fake-gcs finalises on the status query.
          { firebase: { chunk1: 308, query: 308, storedSize: undefined }, 'fake-gcs': { chunk1: 308, query: 200, storedSize: String(half) } },
        );
      });

      it('delimiter with maxResults: GCS counts items and prefixes together per page (both servers return them all)', async () => {
        const prefix = `${fresh('delim')}/`;
        await Promise.all(['a/1', 'b/1', 'top'].map((s) => put(`${prefix}${s}`, s)));
        const { body } = await getJson(`${server.emulatorHost}/b/${bucket}/o?prefix=${enc(prefix)}&delimiter=/&maxResults=1`);
        const items = (body.items as Array<{ name: string }> | undefined)?.map((i) => i.name);
        expectPer(
          { items, prefixes: body.prefixes, next: body.nextPageToken },
          {
            firebase: { items: [`${prefix}top`], prefixes: [`${prefix}a/`, `${prefix}b/`], next: undefined },
            'fake-gcs': { items: [`${prefix}top`], prefixes: [`${prefix}a/`, `${prefix}b/`], next: undefined },
          },
        );
      });
    });
  });
}

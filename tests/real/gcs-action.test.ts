// The built action (dist/, run as the runner does) against fake-gcs-server, with STORAGE_EMULATOR_HOST set the
// way fake-gcs-server documents it for the Node client (<origin>/storage/v1): the preflight finds the bucket,
// the uploads and the manifest land, and a repeat moves nothing. tests/e2e/upload.test.ts covers the same
// against the firebase emulator.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_KEYS } from '../../src/plan/manifest.js';
import { FIXTURE_MODELS } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, everythingWritten, removeDir, runAction, TEST_KEYS, validInputs } from '../helpers/action.js';
import { matchers, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, fakeGcsServer, type GcsServer, makeStorage, through, uniqueBucketName } from '../helpers/gcs.js';

type Repo = ReturnType<typeof demoRepo>;
const server = fakeGcsServer();
const storage = makeStorage(server.emulatorHost);
const RUN = 'test-run-0001';
const setupPrefix = `runs/${RUN}/slayer_setup/slayer_models/`;
const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64');

function submit(repo: Repo, bucket: string, via: GcsServer = server) {
  return runAction({
    workspace: repo.workspace,
    inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket }),
    env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: via.emulatorHost },
  });
}

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucketName(tag);
  await createBucket(b, server.emulatorHost);
  return b;
}

/** Every object of the run's setup prefix has the md5 of its fixture file. */
async function expectSetupMatchesFixtures(bucket: string, count: number): Promise<void> {
  const [files] = await storage.bucket(bucket).getFiles({ prefix: setupPrefix });
  expect(files).toHaveLength(count);
  for (const f of files) {
    const [db, ...rest] = f.name.slice(setupPrefix.length).split('/');
    expect(f.metadata.md5Hash, f.name).toBe(md5(readFileSync(join(FIXTURE_MODELS, db ?? '', ...rest))));
  }
}

describe('the action against fake-gcs-server', () => {
  let repo: Repo;
  let bucket: string;
  beforeAll(async () => {
    repo = demoRepo(['alien', 'credit']);
    bucket = await newBucket('action');
  });
  afterAll(() => removeDir(repo.root));

  it('submits: every file uploaded md5-exact, then the manifest committed', async () => {
    const r = await submit(repo, bucket);
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'uploaded-files': '41', 'skipped-files': '0', 'manifest-uri': `gs://${bucket}/runs/${RUN}/manifest.json` });
    await expectSetupMatchesFixtures(bucket, 33 + 8);
    const [manifest] = await storage.bucket(bucket).file(`runs/${RUN}/manifest.json`).download();
    const parsed = JSON.parse(manifest.toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual([...PYTHON_KEYS, 'github', 'slayer_artifacts', 'dispatch', 'dirty', 'instance_databases', 'code_source']);
    expect(parsed.run_id).toBe(RUN);
    for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
  });

  it('a second identical submit uploads nothing: the md5s from fake-gcs-server match', async () => {
    const r = await submit(repo, bucket);
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'uploaded-files': '0', 'skipped-files': '41', 'uploaded-bytes': '0' });
    expect(r.stdout).toContain('already has a manifest for this same plan');
  });

  it('fails in the preflight on a bucket that does not exist, and creates nothing', async () => {
    const missing = uniqueBucketName('missing');
    const r = await submit(repo, missing);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(`gcs-bucket: bucket '${missing}' does not exist (listing gs://${missing}/runs/${RUN}/ answered 404)`);
    expect((await fetch(`${server.emulatorHost}/b/${missing}`)).status).toBe(404);
  });

  it('completes through resets, 503s and a 429 from a fault proxy in front of fake-gcs-server', async () => {
    const proxy = await startFaultProxy(server.origin);
    const other = await newBucket('action-faults');
    try {
      proxy.schedule({ kind: 'status', status: 503, times: 1, match: matchers.lists });
      proxy.schedule({ kind: 'reset', times: 2, skip: 3, match: matchers.uploads });
      proxy.schedule({ kind: 'status', status: 503, times: 3, skip: 10, match: matchers.uploads });
      proxy.schedule({ kind: 'status', status: 429, times: 1, skip: 20, match: matchers.uploads });
      const r = await submit(repo, other, through(server, proxy.url));
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      const s = proxy.stats;
      expect(s.resets).toBe(2);
      expect(s.statuses).toEqual({ 503: 4, 429: 1 });
      expect(r.stdout).toMatch(/retry 1 of upload gs:\/\//);
      await expectSetupMatchesFixtures(other, 33 + 8);
      const [exists] = await storage.bucket(other).file(`runs/${RUN}/manifest.json`).exists();
      expect(exists).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});

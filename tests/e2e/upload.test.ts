// Upload and manifest against the real GCS emulator, driving the built dist/ as the runner does. Uploads
// that fail past the retry budget, and the resume after them, run in-process on a virtual clock:
// tests/integration/upload-retries.test.ts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON_KEYS } from '../../src/plan/manifest.js';
import { FIXTURE_MODELS } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, everythingWritten, removeDir, runAction, TEST_KEYS, validInputs } from '../helpers/action.js';
import { type FaultProxy, matchers, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, emulatorHost, listAll, makeStorage, readObject, uniqueBucketName } from '../helpers/gcs.js';

type Repo = ReturnType<typeof demoRepo>;
const storage = makeStorage();

async function objectMd5s(bucket: string, prefix = ''): Promise<Map<string, string>> {
  const [files] = await storage.bucket(bucket).getFiles({ prefix });
  return new Map(files.map((f) => [f.name, String(f.metadata.md5Hash)]));
}

/** The bytes of many objects, a few requests at a time. */
async function readAll(bucket: string, names: readonly string[]): Promise<Map<string, Buffer>> {
  const limit = pLimit(16);
  const data = await Promise.all(names.map((name) => limit(() => readObject(bucket, name, storage))));
  return new Map(names.map((name, i) => [name, data[i]]));
}

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucketName(tag);
  await createBucket(b);
  return b;
}

function submit(repo: Repo, bucket: string, extra: Record<string, string> = {}, host = emulatorHost()) {
  return runAction({
    workspace: repo.workspace,
    inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...extra }),
    env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: host },
  });
}

const setupPrefix = (runId: string) => `runs/${runId}/slayer_setup/slayer_models/`;

describe('upload of the real fixture tree', () => {
  let repo: Repo;
  let bucket: string;
  beforeAll(async () => {
    repo = demoRepo();
    bucket = await newBucket('full');
  });
  afterAll(() => removeDir(repo.root));

  it('uploads every file byte for byte, with no placeholders, then commits the manifest', async () => {
    const r = await submit(repo, bucket);
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'uploaded-files': '491', 'skipped-files': '0', 'manifest-uri': `gs://${bucket}/runs/test-run-0001/manifest.json` });
    const names = await listAll(bucket);
    expect(names.filter((n) => n.endsWith('/'))).toEqual([]);
    const setup = names.filter((n) => n.startsWith(setupPrefix('test-run-0001')));
    expect(setup).toHaveLength(491);
    let bytes = 0;
    const remote = await readAll(bucket, setup);
    for (const name of setup) {
      const [db, ...rest] = name.slice(setupPrefix('test-run-0001').length).split('/');
      const local = readFileSync(join(FIXTURE_MODELS, db, ...rest));
      expect(remote.get(name)?.equals(local)).toBe(true);
      bytes += local.length;
    }
    expect(r.outputs['uploaded-bytes']).toBe(String(bytes));
    const md5s = await objectMd5s(bucket, setupPrefix('test-run-0001'));
    for (const [name, md5] of md5s) {
      const [db, ...rest] = name.slice(setupPrefix('test-run-0001').length).split('/');
      expect(md5).toBe(
        createHash('md5')
          .update(readFileSync(join(FIXTURE_MODELS, db, ...rest)))
          .digest('base64'),
      );
    }
    const manifestText = (await readObject(bucket, 'runs/test-run-0001/manifest.json')).toString('utf8');
    const manifest = JSON.parse(manifestText) as Record<string, unknown>;
    expect(Object.keys(manifest)).toEqual([...PYTHON_KEYS, 'github', 'slayer_artifacts', 'dispatch', 'dirty', 'instance_databases', 'code_source']);
    expect(manifestText.split('\n')[1]).toBe('  "run_id": "test-run-0001",');
    expect(r.summary).toContain('| **total** | 491 | 491 | 0 |');
    // One line per DB; each file only at debug level.
    expect(r.stdout).toMatch(/^alien: 33 files, 33 uploaded, 0 skipped, 103\.8 KiB, [\d.]+ s$/m);
    expect(r.stdout).toMatch(/^::debug::alien: uploaded datasources\/alien\.yaml/m);
    expect(r.stdout).not.toMatch(/^uploaded /m);
  });

  it('a second identical submit uploads nothing', async () => {
    const r = await submit(repo, bucket);
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'uploaded-files': '0', 'skipped-files': '491', 'uploaded-bytes': '0' });
    expect(r.stdout).toContain('already has a manifest for this same plan');
  });

  it('writes no key value into any object', async () => {
    const names = await listAll(bucket);
    expect(names.length).toBeGreaterThan(491);
    for (const data of (await readAll(bucket, names)).values()) {
      const text = data.toString('latin1');
      for (const v of Object.values(TEST_KEYS)) expect(text).not.toContain(v);
    }
  });
});

describe('faults below the retry budget', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(emulatorHost());
  });
  afterAll(async () => proxy.close());

  it('completes through resets, 503 bursts, 429s and a stall below the retry budget', async () => {
    const repo = demoRepo(['alien', 'credit', 'news', 'polar']);
    const bucket = await newBucket('faults');
    try {
      proxy.clear();
      proxy.resetStats();
      proxy.schedule({ kind: 'status', status: 503, times: 1, match: matchers.lists });
      proxy.schedule({ kind: 'reset', times: 3, skip: 5, match: matchers.uploads });
      proxy.schedule({ kind: 'status', status: 503, times: 4, skip: 10, match: matchers.uploads });
      proxy.schedule({ kind: 'status', status: 429, times: 2, skip: 20, match: matchers.uploads });
      proxy.schedule({ kind: 'stall', ms: 1500, times: 1, skip: 30, match: matchers.uploads });
      const r = await submit(repo, bucket, {}, proxy.url);
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      const s = proxy.stats;
      expect(s.resets).toBe(3);
      expect(s.statuses[503]).toBe(5);
      expect(s.statuses[429]).toBe(2);
      expect(s.stalls).toBe(1);
      expect(r.stdout).toMatch(/retry 1 of upload gs:\/\//);
      const md5s = await objectMd5s(bucket, setupPrefix('test-run-0001'));
      expect(md5s.size).toBe(33 + 8 + 11 + 32);
      for (const [name, md5] of md5s) {
        const [db, ...rest] = name.slice(setupPrefix('test-run-0001').length).split('/');
        expect(md5).toBe(
          createHash('md5')
            .update(readFileSync(join(FIXTURE_MODELS, db, ...rest)))
            .digest('base64'),
        );
      }
      expect(await listAll(bucket, 'runs/test-run-0001/manifest.json')).toHaveLength(1);
    } finally {
      proxy.clear();
      removeDir(repo.root);
    }
  });
});

describe('preflight errors against the bucket write nothing', () => {
  it('refuses a run id whose manifest holds another plan, pointing at the rerun input', async () => {
    const repo = demoRepo(['credit', 'news']);
    const bucket = await newBucket('other');
    try {
      expect((await submit(repo, bucket, { 'instance-ids': 'credit_1' })).exitCode).toBe(0);
      const before = await objectMd5s(bucket);
      const r = await submit(repo, bucket, { 'instance-ids': 'credit_1,news_1' });
      expect(r.exitCode).toBe(1);
      expect(errors(r)).toContain(
        `run-id: run 'test-run-0001' already has a manifest for another plan (gs://${bucket}/runs/test-run-0001/manifest.json) (fix: to continue that run, use rerun-run-id: test-run-0001`,
      );
      expect(await objectMd5s(bucket)).toEqual(before);
    } finally {
      removeDir(repo.root);
    }
  });

  it('fails in the preflight on a bucket that does not exist', async () => {
    const repo = demoRepo(['credit']);
    const bucket = uniqueBucketName('missing');
    try {
      const r = await submit(repo, bucket);
      expect(r.exitCode).toBe(1);
      expect(errors(r)).toContain(
        `gcs-bucket: bucket '${bucket}' does not exist (listing gs://${bucket}/runs/test-run-0001/ answered 404) (fix: check the bucket name in gcs-bucket, or create the bucket)`,
      );
      expect(r.stdout).not.toContain('uploading');
      const res = await fetch(`${emulatorHost()}/b/${bucket}`);
      expect(res.status).toBe(404);
      for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
    } finally {
      removeDir(repo.root);
    }
  });
});

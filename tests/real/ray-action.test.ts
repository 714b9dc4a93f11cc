// The built action (dist/, run as the runner runs it) against a real Ray 2.60 head and the GCS
// emulator, end to end: `cluster: existing`, `wait: true`, the job is the in-cluster stand-in
// (tools/ray-real/standin/ray_app.py) run by the venv's Python. A recording proxy in front of the
// head counts the action's requests (the real head keeps no request log).
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { RayJobsClient } from '../../src/ray/client.js';
import { git } from '../../tools/demo/demo-repo.mjs';
import { REPO_ROOT, VENV_PYTHON } from '../../tools/ray-real/launch.mjs';
import { demoRepo, errors, everythingWritten, removeDir, runAction, startUntil, TEST_KEYS, tempDir, validInputs } from '../helpers/action.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, emulatorHost, listAll, readObject, uniqueBucketName } from '../helpers/gcs.js';

const STANDIN = join(REPO_ROOT, 'tools', 'ray-real', 'standin', 'ray_app.py');
const PREFIX = `${VENV_PYTHON} ${STANDIN}`;
/** Every shell metacharacter but the comma (the cluster splits --instance-ids on commas). */
// No whitespace (ids are separated by commas, and an id with a blank in it is refused), and no
// `${...}`, which Ray expands in runtime_env env_vars, where the stand-in's outcome map travels.
const WEIRD_ID = `alien_$(touch$IFS'pwned')\`id\`;'"&|<>*?!\\#~{x}`;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface StandinRecord {
  argv: string[];
  cwd: string;
  secrets: { file: string | null; keys: string[]; missing: string[]; deleted: boolean };
  driver_pid: number;
  job_env_names: string[];
  actor: { pid: number; env: Record<string, string>; cwd: string; checkout_marker: string | null };
  setup: { artifact: string; root: string; skipped: boolean; files: number } | null;
}

interface Row {
  instance_id: string;
  database: string;
  phase1_passed: boolean;
  phase2_passed: boolean;
  total_reward: number;
  error: string | null;
  submission_status: string;
}

/** Each test its own run id: the head is shared by every test of the run, and submission ids are unique there. */
async function setup(runId: string, outcomes: Record<string, string>, withWeird: boolean) {
  const repo = demoRepo(['alien', 'credit']);
  cleanups.push(() => removeDir(repo.root));
  if (withWeird) appendFileSync(repo.datasetFile, `${JSON.stringify({ instance_id: WEIRD_ID, selected_database: 'alien' })}\n`);
  const bucket = uniqueBucketName('rayreal');
  await createBucket(bucket);
  const proxy = await startFaultProxy(inject('rayUrl'));
  cleanups.push(() => proxy.close());
  const dataRoot = tempDir('bird-standin-data');
  cleanups.push(() => removeDir(dataRoot));
  const runtimeEnv = {
    env_vars: {
      BIRD_RUNS_BUCKET: bucket,
      BIRD_DATA_PATH: repo.datasetFile,
      BIRD_STANDIN_OUTCOMES: JSON.stringify(outcomes),
      BIRD_STANDIN_EXPECT_SECRET_KEYS: 'ANTHROPIC_API_KEY',
      BIRD_STANDIN_HEARTBEAT_S: '1',
      STANDIN_PROBE: 'probe-value-1',
    },
  };
  const ids = Object.keys(outcomes);
  const inputs = validInputs(repo, {
    'dry-run': 'false',
    'gcs-bucket': bucket,
    cluster: 'existing',
    'ray-address': proxy.url,
    'entrypoint-prefix': PREFIX,
    'poll-interval-seconds': '1',
    wait: 'true',
    'run-id': runId,
    'instance-ids': ids.join(','),
    'runtime-env': JSON.stringify(runtimeEnv),
    // The run-scoped setup roots go under here (the action sets BIRD_*_ROOT per run).
    'cluster-scratch-root': dataRoot,
  });
  const env = { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() };
  return { repo, bucket, proxy, dataRoot, inputs, env, ids, sid: `bird-${runId}-a1`, run: `runs/${runId}` };
}

const stops = (p: FaultProxy) => p.stats.log.filter((e) => e.method === 'POST' && /\/api\/jobs\/[^/]+\/stop$/.test(e.url));
const ray = () => new RayJobsClient({ address: inject('rayUrl') });

async function jobEnds(id: string, want: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const j = await ray().job(id);
    if (j?.status === want) return;
    if (Date.now() > deadline) throw new Error(`job ${id} did not reach ${want}: ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the built action against a real Ray head', () => {
  it('dispatches, waits on the rows, reports what the stand-in wrote; ids, secrets and env_vars arrive intact; no secret leaks', async () => {
    const s = await setup('test-run-0101', { alien_1: 'pass', alien_2: 'phase1', credit_1: 'fail', credit_2: 'error', [WEIRD_ID]: 'pass' }, true);
    const r = await runAction({ workspace: s.repo.workspace, inputs: s.inputs, env: s.env });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'submission-id': s.sid, attempt: '1', 'dispatched-instances': '5' });
    // The wait ends on the rows and the final heartbeat; the real driver is often still shutting down
    // then (ray.shutdown, the last heartbeat thread), so Ray may still say RUNNING (docs/conformance.md).
    expect(['RUNNING', 'SUCCEEDED']).toContain(r.outputs['job-status']);
    await jobEnds(s.sid, 'SUCCEEDED');

    // The report's figures are the rows the stand-in wrote.
    const rows: Row[] = [];
    for (const iid of s.ids) rows.push(JSON.parse((await readObject(s.bucket, `${s.run}/rows/${iid}/attempt-1.json`)).toString()) as Row);
    expect(rows.map((x) => x.instance_id)).toEqual(s.ids);
    const n = rows.length;
    expect(r.outputs).toMatchObject({
      n: String(n),
      'phase1-rate': String(rows.filter((x) => x.phase1_passed).length / n),
      'phase2-rate': String(rows.filter((x) => x.phase2_passed).length / n),
      'avg-reward': String(rows.reduce((a, x) => a + x.total_reward, 0) / n),
      errors: String(rows.filter((x) => x.error).length),
    });
    expect(r.outputs).toMatchObject({ n: '5', 'phase1-rate': '0.6', 'phase2-rate': '0.4', 'avg-reward': '0.5', errors: '1' });
    expect(r.stdout).toContain('progress: 5/5 instances have a row for attempt 1');
    const status = (await readObject(s.bucket, `${s.run}/status.json`)).toString();
    expect(JSON.parse(status)).toMatchObject({ ray_job_id: s.sid, rows_done: 5, rows_total: 5, terminal_state: 'done', attempt: 1 });
    expect(status).not.toContain(': ');

    const rec = JSON.parse((await readObject(s.bucket, `${s.run}/standin/attempt-1.json`)).toString()) as StandinRecord;
    // The shell-quoted entrypoint delivered every argument intact, the odd id included.
    const at = (flag: string) => rec.argv[rec.argv.indexOf(flag) + 1];
    expect(at('--instance-ids')).toBe(s.ids.join(','));
    expect(at('--run-id')).toBe('test-run-0101');
    expect(at('--ray-job-id')).toBe(s.sid);
    expect(existsSync(join(rec.cwd, 'pwned'))).toBe(false);
    // The secrets file came in the working_dir package, had the key, and is gone.
    expect(rec.cwd).toContain('/runtime_resources/working_dir_files/_ray_pkg_');
    expect(rec.secrets).toEqual({ file: 'bird_interact_secrets.json', keys: expect.arrayContaining(['ANTHROPIC_API_KEY']), missing: [], deleted: true });
    // The job's runtime_env env_vars reached an actor, a process other than the driver.
    expect(rec.actor.env.STANDIN_PROBE).toBe('probe-value-1');
    expect(rec.actor.pid).not.toBe(rec.driver_pid);
    // The actor downloaded the run's setup prefix and wrote the marker last.
    const setupObjects = await listAll(s.bucket, `${s.run}/slayer_setup/slayer_models/`);
    expect(setupObjects.length).toBeGreaterThan(0);
    expect(rec.setup).toMatchObject({ artifact: 'slayer_models', skipped: false, files: setupObjects.length });
    // The job's env_vars gave the actor this run's own root (a shared cluster runs many runs).
    const root = join(s.dataRoot, 'test-run-0101', 'slayer_models');
    expect(rec.actor.env.BIRD_SLAYER_MODELS_ROOT).toBe(root);
    expect(at('--slayer-storage-root')).toBe(root);
    expect(readFileSync(join(root, '.download_complete'), 'utf8')).toBe('ok');
    expect(readdirSync(root).sort()).toEqual(['.download_complete', 'alien', 'credit']);

    // No secret value anywhere: the step's output, state and summary, every object, and the job as Ray holds it.
    const job = await ray().job(s.sid);
    const logs = await ray().logs(s.sid);
    const seenByRay = JSON.stringify([job?.entrypoint, job?.metadata, (job as unknown as { runtime_env: unknown }).runtime_env, logs]);
    const objects = await Promise.all((await listAll(s.bucket)).map(async (name) => (await readObject(s.bucket, name)).toString('latin1')));
    for (const v of Object.values(TEST_KEYS)) {
      expect(everythingWritten(r)).not.toContain(v);
      expect(seenByRay).not.toContain(v);
      for (const text of objects) expect(text).not.toContain(v);
    }
    expect(stops(s.proxy)).toHaveLength(0);
  });

  it('SIGTERM to the waiting step stops the real job, once; it ends STOPPED', async () => {
    const s = await setup('test-run-0102', { alien_1: 'pass', alien_2: 'hang' }, false);
    const step = await startUntil({ workspace: s.repo.workspace, inputs: s.inputs, env: s.env }, /progress: 1\/2 instances have a row/);
    step.child.kill('SIGTERM');
    const r = await step.result;
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(`cancelled (SIGTERM); ${s.sid} was asked to stop`);
    await jobEnds(s.sid, 'STOPPED');
    expect(stops(s.proxy)).toHaveLength(1);
    expect(r.state['wait-status']).toBe('done');
  });

  it("code: checkout runs the checkout's ray_app.py and its actors import the checkout's package; code: image does not; each run has its own setup roots", async () => {
    const s = await setup('test-run-0103', { alien_1: 'pass', credit_1: 'pass' }, false);
    // The checkout's tree: the stand-in as its ray_app.py, and a module only the checkout has.
    const pkg = join(s.repo.workspace, 'src', 'bird_interact_agents');
    writeFileSync(join(pkg, 'cloud', 'ray_app.py'), readFileSync(STANDIN));
    writeFileSync(join(pkg, 'checkout_marker.py'), 'MARKER = "from-the-checkout"\n');
    git(s.repo.workspace, ['add', '-A']);
    git(s.repo.workspace, ['commit', '-q', '-m', 'the code under test']);
    const checkout = await runAction({
      workspace: s.repo.workspace,
      inputs: {
        ...s.inputs,
        'instance-ids': 'alien_1,credit_1',
        code: 'checkout',
        'entrypoint-prefix': `${VENV_PYTHON} src/bird_interact_agents/cloud/ray_app.py`,
      },
      env: s.env,
    });
    expect(errors(checkout)).toBe('');
    const rec = JSON.parse((await readObject(s.bucket, `${s.run}/standin/attempt-1.json`)).toString()) as StandinRecord;
    expect(rec.cwd).toContain('/runtime_resources/working_dir_files/_ray_pkg_');
    expect(rec.actor.checkout_marker).toBe('from-the-checkout');
    // Ray puts the working directory first; the checkout's src/ follows, relative to it.
    expect(rec.actor.env.PYTHONPATH.split(':')).toContain('src');

    const image = await runAction({
      workspace: s.repo.workspace,
      inputs: { ...s.inputs, 'run-id': 'test-run-0104', 'instance-ids': 'alien_1,credit_1', code: 'image' },
      env: s.env,
    });
    expect(errors(image)).toBe('');
    const imageRec = JSON.parse((await readObject(s.bucket, 'runs/test-run-0104/standin/attempt-1.json')).toString()) as StandinRecord;
    expect(imageRec.actor.checkout_marker).toBeNull();
    // Two runs on one cluster: each actor downloads into its own run's root.
    expect(rec.actor.env.BIRD_SLAYER_MODELS_ROOT).toBe(join(s.dataRoot, 'test-run-0103', 'slayer_models'));
    expect(imageRec.actor.env.BIRD_SLAYER_MODELS_ROOT).toBe(join(s.dataRoot, 'test-run-0104', 'slayer_models'));
  });
});

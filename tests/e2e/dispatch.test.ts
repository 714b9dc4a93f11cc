// Dispatch, wait, rerun and cancel: the built action against the Ray Jobs API double, whose
// jobs run the demo worker as a real /bin/sh -c subprocess writing rows to the GCS emulator. The
// submits that retry (a 503 burst, an unreachable dashboard) run in-process on a virtual clock:
// tests/integration/dispatch-retries.test.ts.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { StepResult } from '../../tools/harness/run-action.mjs';
import type { RaySim } from '../../tools/ray-sim/server.mjs';
import { readZip } from '../../tools/ray-sim/zip.mjs';
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
import { createBucket, emulatorHost, listAll, readObject, uniqueBucketName } from '../helpers/gcs.js';
import { clusterInputs, startCluster, WORKER_PREFIX } from '../helpers/ray.js';

type Repo = ReturnType<typeof demoRepo>;
type Outcomes = Parameters<typeof startCluster>[0]['outcomes'];
interface World {
  repo: Repo;
  bucket: string;
  sim: RaySim;
}
const DBS = ['alien', 'credit', 'news'];
const repos = demoRepoPool();
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function makeWorld(o: { outcomes?: Outcomes }, later: Array<() => Promise<void> | void>): Promise<World> {
  const repo = repos.fresh(DBS);
  later.push(() => removeDir(repo.root));
  const bucket = uniqueBucketName('dispatch');
  await createBucket(bucket);
  const sim = await startCluster({ bucket, datasetFile: repo.datasetFile, ...o });
  later.push(() => sim.close());
  return { repo, bucket, sim };
}

/** A repo, a bucket and a cluster for one test. */
function setup(o: { outcomes?: Outcomes } = {}): Promise<World> {
  return makeWorld(o, cleanups);
}

/**
 * One world for the tests of a describe, which read the same run (and may add to it, in order):
 * a full run is the expensive part, so tests that only look at it share it.
 */
function sharedWorld(o: { outcomes?: Outcomes } = {}): () => World {
  let world: World | null = null;
  const later: Array<() => Promise<void> | void> = [];
  beforeAll(async () => {
    world = await makeWorld(o, later);
  });
  afterAll(async () => {
    for (const c of later.splice(0).reverse()) await c();
  });
  return () => {
    if (!world) throw new Error('the shared world was not made');
    return world;
  };
}

function run(repo: Repo, bucket: string, sim: RaySim, extra: Record<string, string> = {}, runnerTemp?: string) {
  return runAction({
    workspace: repo.workspace,
    inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), ...extra }),
    env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    runnerTemp,
  });
}

const jobPosts = (sim: RaySim) => sim.requests.filter((r) => r.method === 'POST' && r.path === '/api/jobs/');
const stops = (sim: RaySim) => sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/stop'));

// Each payload as the runner would split and parse it: `::` after \n, \r or \r\n, leading blanks,
// and the legacy `##[command]` anywhere in a line (state the post step would trust).
const INJECTED = [
  '::warning::injected-by-job',
  '42%%\\r::add-mask::alien_1',
  'progress\\r\\n   ::set-output name=run-id::evil',
  'downloading ##[save-state name=ephemeral-cluster;]{"v":1,"runId":"evil","yamlPath":"/tmp/x","rayCli":"ray","markerPath":"/tmp/m"}',
  '##[add-mask]credit_1',
].join('\\n');

// One waited attempt with the default outcomes, whose job also prints workflow commands to its log.
describe('one waited attempt on an existing cluster', () => {
  const world = sharedWorld();
  let first: StepResult;
  beforeAll(async () => {
    const { repo, bucket, sim } = world();
    first = await run(repo, bucket, sim, { wait: 'true', 'entrypoint-prefix': `printf '${INJECTED}\\n' && ${WORKER_PREFIX}` });
  });

  it('submits, waits with progress, and reports the final status', async () => {
    const { bucket, sim } = world();
    const r = first;
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'submission-id': 'bird-test-run-0001-a1', 'job-status': 'SUCCEEDED', attempt: '1', 'dispatched-instances': '6' });
    expect(r.outputs['dashboard-url']).toBe(`${sim.url}/#/jobs/bird-test-run-0001-a1`);
    expect(r.state).toMatchObject({ 'submission-id': 'bird-test-run-0001-a1', 'wait-status': 'done' });
    expect(r.stdout).toMatch(/progress: \d\/6 instances have a row for attempt 1; Ray job (PENDING|RUNNING)/);
    expect(r.stdout).toContain('progress: 6/6 instances have a row for attempt 1');
    expect(r.stdout).toMatch(/::group::job log \(\+\d+ characters\)/);
    expect(r.summary).toContain('- Ray job status: SUCCEEDED');
    // The results lead; the plan, the upload and the dispatch follow, folded.
    const at = (text: string): number => r.summary.indexOf(text);
    expect(at('## BIRD-Interact results: `test-run-0001`')).toBe(0);
    expect(at('| DB | n | phase-1 pass')).toBeLessThan(at('<summary>Plan: '));
    expect(at('<summary>Plan: ')).toBeLessThan(at('<summary>Upload of slayer_models: '));
    expect(at('<summary>Upload of slayer_models: ')).toBeLessThan(at('<summary>Dispatch: bird-test-run-0001-a1, 6 instances, Ray job SUCCEEDED</summary>'));
    expect(r.summary).toMatch(/\n- time: preflight [^·]+ · upload [^·]+ · dispatch [^·]+ · wait [^·]+ · report [^·]+ \(step [^)]+\)\n/);
    // One version check before any write, one submit, metadata as strings.
    expect(sim.requests[0]).toMatchObject({ method: 'GET', path: '/api/version' });
    const posts = jobPosts(sim);
    expect(posts).toHaveLength(1);
    const body = JSON.parse(posts[0].bodyText) as { entrypoint: string; metadata: Record<string, string>; runtime_env: { working_dir: string } };
    expect(body.metadata).toEqual({
      run_id: 'test-run-0001',
      attempt: '1',
      repository: 'octo/eval-repo',
      sha: '0123456789abcdef0123456789abcdef01234567',
      workflow_run_url: 'https://github.com/octo/eval-repo/actions/runs/4242',
    });
    expect(body.entrypoint).toContain('--run-id test-run-0001 --attempt 1 --ray-job-id bird-test-run-0001-a1 --framework pydantic_ai');
    expect(body.entrypoint).toContain('--secrets-file bird_interact_secrets.json');
    expect(body.runtime_env.working_dir).toMatch(/^gcs:\/\/_ray_pkg_[0-9a-f]{32}\.zip$/);
    // The manifest records where the job went, without credentials.
    const manifest = JSON.parse((await readObject(bucket, 'runs/test-run-0001/manifest.json')).toString()) as { dispatch: unknown };
    expect(manifest.dispatch).toMatchObject({ cluster: 'existing', address: sim.url });
  });

  it('keeps the keys out of every request, object, log and output; only the package carries them', async () => {
    const { bucket, sim } = world();
    const r = first;
    expect(r.exitCode).toBe(0);
    const packagePuts = sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/packages/'));
    expect(packagePuts).toHaveLength(1);
    for (const q of sim.requests.filter((q) => !packagePuts.includes(q))) {
      const text = `${q.url}\n${JSON.stringify(q.headers)}\n${q.body.toString('latin1')}`;
      for (const v of Object.values(TEST_KEYS)) expect(text).not.toContain(v);
    }
    const entries = readZip(packagePuts[0].body);
    // code: checkout (the default on an existing cluster): the checkout's src/ travels beside the keys.
    expect(entries.map((e) => e.name)).toEqual([
      'src/bird_interact_agents/__init__.py',
      'src/bird_interact_agents/cloud/ray_app.py',
      'bird_interact_secrets.json',
    ]);
    const keysFile = entries.find((e) => e.name === 'bird_interact_secrets.json');
    expect(JSON.parse(String(keysFile?.data))).toEqual({ ANTHROPIC_API_KEY: TEST_KEYS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_KEYS.OPENAI_API_KEY });
    // GET of the job echoes the runtime_env; it must name the package only.
    const job = sim.getJob('bird-test-run-0001-a1');
    expect(JSON.stringify(job)).not.toContain(TEST_KEYS.OPENAI_API_KEY);
    expect(sim.getLog('bird-test-run-0001-a1')).not.toContain(TEST_KEYS.ANTHROPIC_API_KEY);
    for (const name of await listAll(bucket)) {
      const text = (await readObject(bucket, name)).toString('latin1');
      for (const v of Object.values(TEST_KEYS)) expect(text).not.toContain(v);
    }
    for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
    // The worker read the file and deleted it.
    const cwd = sim.jobs.get('bird-test-run-0001-a1')?.cwd ?? '';
    expect(existsSync(cwd)).toBe(true);
    expect(existsSync(join(cwd, 'bird_interact_secrets.json'))).toBe(false);
  });

  it("code: checkout runs the checkout's src/ (PYTHONPATH, its ray_app.py), code: image the image's; the manifest says which", async () => {
    const { repo, bucket, sim } = await setup();
    const checkout = await run(repo, bucket, sim, { 'entrypoint-prefix': '' });
    expect(errors(checkout)).toBe('');
    const body = JSON.parse(jobPosts(sim)[0].bodyText) as { entrypoint: string; runtime_env: { env_vars: Record<string, string> } };
    expect(body.entrypoint.startsWith('python src/bird_interact_agents/cloud/ray_app.py --run-id test-run-0001 ')).toBe(true);
    expect(body.runtime_env.env_vars.PYTHONPATH).toBe('src');
    const manifest = JSON.parse((await readObject(bucket, 'runs/test-run-0001/manifest.json')).toString()) as { code_source: unknown };
    expect(manifest.code_source).toEqual({ kind: 'checkout', sha: '0123456789abcdef0123456789abcdef01234567' });
    const image = await run(repo, bucket, sim, { 'entrypoint-prefix': '', code: 'image', 'run-id': 'test-run-0002' });
    expect(errors(image)).toBe('');
    const imageBody = JSON.parse(jobPosts(sim)[1].bodyText) as { entrypoint: string; runtime_env: { env_vars?: Record<string, string>; working_dir: string } };
    expect(imageBody.entrypoint.startsWith('python /app/bird-interact-agents/src/bird_interact_agents/cloud/ray_app.py --run-id test-run-0002 ')).toBe(true);
    expect(imageBody.runtime_env.env_vars?.PYTHONPATH).toBeUndefined();
    const packages = sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/api/packages/'));
    expect(readZip(packages[1].body).map((e) => e.name)).toEqual(['bird_interact_secrets.json']);
  });

  it('never lets a job log line act as a workflow command, in any form the runner reads', () => {
    const r = first;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('| ::warning::injected-by-job');
    const fromJob = r.commands.filter((c) => /injected-by-job|alien_1|credit_1|evil|ephemeral-cluster/.test(`${c.data} ${JSON.stringify(c.properties)}`));
    expect(fromJob).toEqual([]);
    expect(r.state['ephemeral-cluster']).toBeUndefined();
    expect(r.outputs['run-id']).toBe('test-run-0001');
  });

  it('the post step leaves alone a finished job', async () => {
    const { repo, sim } = world();
    expect(first.state['wait-status']).toBe('done');
    const post = await runAction({ workspace: repo.workspace, entry: 'post', state: first.state, inputs: clusterInputs(sim) });
    expect(post.exitCode).toBe(0);
    expect(post.stdout).toContain('needs no stop (done)');
    expect(stops(sim)).toHaveLength(0);
  });

  it('refuses to dispatch attempt 1 again for a committed, dispatched run, pointing at the rerun input', async () => {
    const { repo, bucket, sim } = world();
    const r = await run(repo, bucket, sim, { wait: 'true' });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain("run-id: run 'test-run-0001' is committed and was already dispatched");
    expect(errors(r)).toContain('use rerun-run-id: test-run-0001');
    expect(jobPosts(sim)).toHaveLength(1);
  });

  it('a rerun dispatches nothing for a finished run, and says so', async () => {
    const { repo, bucket, sim } = world();
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'rerun-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...clusterInputs(sim) },
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ 'dispatched-instances': '0', 'job-status': 'NOT_DISPATCHED' });
    expect(r.stdout).toContain('nothing to rerun: every instance of test-run-0001 has a successful row. Nothing was dispatched.');
    expect(r.summary).toContain('Nothing to rerun');
    expect(jobPosts(sim)).toHaveLength(1);
  });
});

describe('a detached attempt that still runs', () => {
  const world = sharedWorld({ outcomes: { alien_1: 'hang' } });
  let detached: StepResult;
  beforeAll(async () => {
    const { repo, bucket, sim } = world();
    sim.control.holdPending('*');
    detached = await run(repo, bucket, sim, { wait: 'false' });
  });

  it('writes a fresh status.json naming the Ray job and the attempt', async () => {
    const { bucket } = world();
    expect(detached.exitCode).toBe(0);
    expect(detached.outputs['job-status']).toBe('PENDING');
    expect(detached.state['wait-status']).toBe('detached');
    const status = JSON.parse((await readObject(bucket, 'runs/test-run-0001/status.json')).toString()) as Record<string, unknown>;
    expect(Object.keys(status)).toEqual(['ray_job_id', 'last_heartbeat_ts', 'rows_done', 'rows_total', 'terminal_state', 'attempt']);
    expect(status).toMatchObject({ ray_job_id: 'bird-test-run-0001-a1', rows_done: 0, rows_total: 6, terminal_state: null, attempt: 1 });
  });

  it('the post step leaves alone a job dispatched without wait', async () => {
    const { repo, sim } = world();
    const post = await runAction({ workspace: repo.workspace, entry: 'post', state: detached.state, inputs: clusterInputs(sim) });
    expect(post.exitCode).toBe(0);
    expect(post.stdout).toContain('needs no stop (detached)');
    expect(stops(sim)).toHaveLength(0);
  });

  it('refuses a rerun while the previous attempt still runs', async () => {
    const { repo, bucket, sim } = world();
    sim.control.holdPending('*', false);
    await sim.waitForStatus('bird-test-run-0001-a1', 'RUNNING');
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'rerun-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...clusterInputs(sim) },
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain("rerun-run-id: attempt 1 of run 'test-run-0001' (bird-test-run-0001-a1) is still RUNNING on the cluster");
    expect(jobPosts(sim)).toHaveLength(1);
  });
});

describe('dispatch to an existing cluster', () => {
  it('refuses to follow a job of the same id that another run owns, and names it', async () => {
    const { repo, bucket, sim } = await setup();
    await fetch(`${sim.url}/api/jobs/`, {
      method: 'POST',
      body: JSON.stringify({ entrypoint: 'sleep 30', submission_id: 'bird-test-run-0001-a1', metadata: { run_id: 'someone-else', attempt: '1' } }),
    });
    const r = await run(repo, bucket, sim);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(
      'a Ray job named bird-test-run-0001-a1 already exists and is not this run\'s attempt (its metadata: {"run_id":"someone-else","attempt":"1"})',
    );
  });

  it("fails the step with Ray's message when the job FAILS, and names the rerun input", async () => {
    const { repo, bucket, sim } = await setup();
    const r = await run(repo, bucket, sim, { wait: 'true', 'entrypoint-prefix': `${clusterInputs(sim)['entrypoint-prefix']} --no-such-flag` });
    expect(r.exitCode).toBe(1);
    expect(r.outputs['job-status']).toBe('FAILED');
    expect(errors(r)).toMatch(/failed: the Ray job is FAILED: Job entrypoint command failed with exit code 2/);
    expect(errors(r)).toContain('rerun the unfinished instances with `rerun-run-id: test-run-0001`');
  });

  it("prints the REST request instead when an argument would not survive Ray's re-quoting", async () => {
    const { repo, bucket } = await setup();
    const r = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, {
        'dry-run': 'false',
        'gcs-bucket': bucket,
        cluster: 'none',
        'instance-ids': 'alien_1',
        'agent-model': 'anthropic/x:y',
        'entrypoint-prefix': 'python "/app/ray app.py"',
      }),
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('curl -sS -X POST "$RAY_ADDRESS/api/jobs/"');
    expect(r.stdout).toContain('# ray job submit would re-quote these arguments; this REST request keeps them exact');
  });

  it('prints the equivalent ray job submit command with cluster none, without secrets', async () => {
    const { repo, bucket } = await setup();
    const r = await runAction({
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, cluster: 'none' }),
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(0);
    expect(r.outputs['job-status']).toBe('NOT_DISPATCHED');
    expect(r.stdout).toContain('ray job submit \\\n  --address "$RAY_ADDRESS" \\\n  --submission-id \'bird-test-run-0001-a1\'');
    expect(r.stdout).toContain('--working-dir <a directory holding bird_interact_secrets.json');
    for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
  });
});

describe('the preflight reaches the cluster before any write', () => {
  it('fails on an unsupported Ray version with 0 objects written', async () => {
    const { repo, bucket, sim } = await setup();
    sim.control.setVersion({ rayVersion: '2.1.0', version: '3' });
    const r = await run(repo, bucket, sim);
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain('ray-address: the cluster runs Ray 2.1.0 (Jobs API version 3); this action needs Ray 2.2 or newer');
    expect(await listAll(bucket)).toEqual([]);
    expect(sim.requests.map((q) => q.path)).toEqual(['/api/version']);
  });

  it('makes no call in a dry run', async () => {
    const { repo, sim } = await setup();
    const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo, clusterInputs(sim)), env: TEST_KEYS });
    expect(r.exitCode).toBe(0);
    expect(sim.requests).toEqual([]);
  });
});

describe('reruns', () => {
  it('refuses a rerun without a manifest before any request', async () => {
    const { repo, bucket, sim } = await setup();
    const r = await runAction({
      workspace: repo.workspace,
      inputs: { 'rerun-run-id': 'never-committed', 'gcs-bucket': bucket, ...clusterInputs(sim) },
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain(
      `rerun-run-id: run 'never-committed' has no manifest at gs://${bucket}/runs/never-committed/manifest.json: it was never committed`,
    );
    expect(sim.requests).toEqual([]);
  });
});

// One waited attempt with a mix of outcomes (two errors), then, in order: its report, a report of
// the run in report-run-id mode with the gate, and the rerun of the two unfinished ids.
describe('after a waited attempt with a mix of outcomes', () => {
  const world = sharedWorld({
    outcomes: { alien_1: 'error', alien_2: 'phase1', credit_1: 'fail', credit_2: 'error', news_1: 'pass', news_2: 'pass' },
  });
  let first: StepResult;
  beforeAll(async () => {
    const { repo, bucket, sim } = world();
    first = await run(repo, bucket, sim, { wait: 'true' });
  });

  it('reports the waited attempt: outputs, results-json and the summary table', () => {
    const r = first;
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ n: '6', errors: '2' });
    expect(Number(r.outputs['phase1-rate'])).toBeCloseTo(3 / 6, 10);
    expect(Number(r.outputs['phase2-rate'])).toBeCloseTo(2 / 6, 10);
    const json = JSON.parse(readFileSync(r.outputs['results-json'], 'utf8')) as { n: number; errors: number };
    expect(json).toMatchObject({ n: 6, errors: 2 });
    expect(r.summary).toContain('| `alien` | 2 |');
  });

  it('reports any run without dispatching, and fails the gate after reporting', async () => {
    const { repo, bucket, sim } = world();
    const posts = jobPosts(sim).length;
    const inputs = { 'report-run-id': 'test-run-0001', 'gcs-bucket': bucket, 'min-phase1-rate': '0.7' };
    const r = await runAction({ workspace: repo.workspace, inputs, env: { STORAGE_EMULATOR_HOST: emulatorHost() } });
    expect(r.exitCode).toBe(1);
    expect(r.outputs).toMatchObject({ 'run-id': 'test-run-0001', n: '6' });
    expect(errors(r)).toContain('quality gate failed: phase-1 rate');
    expect(errors(r)).toContain('is below min-phase1-rate 0.7');
    expect(jobPosts(sim)).toHaveLength(posts);
    const atBoundary = await runAction({
      workspace: repo.workspace,
      inputs: { ...inputs, 'min-phase1-rate': String(3 / 6) },
      env: { STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(errors(atBoundary)).toBe('');
    expect(atBoundary.exitCode).toBe(0);
  });

  it('a rerun dispatches exactly the unfinished ids as attempt n+1 and uploads nothing', async () => {
    const { repo, bucket, sim } = world();
    expect(first.exitCode).toBe(0);
    const before = await listAll(bucket, 'runs/test-run-0001/slayer_setup/');
    const rerunInputs = { 'rerun-run-id': 'test-run-0001', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true' };
    const r = await runAction({ workspace: repo.workspace, inputs: rerunInputs, env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() } });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.outputs).toMatchObject({ attempt: '2', 'dispatched-instances': '2', 'uploaded-files': '0', 'submission-id': 'bird-test-run-0001-a2' });
    expect(await listAll(bucket, 'runs/test-run-0001/slayer_setup/')).toEqual(before);
    const posts = jobPosts(sim);
    expect(posts).toHaveLength(2);
    const body = JSON.parse(posts[1].bodyText) as { entrypoint: string };
    expect(body.entrypoint).toContain('--attempt 2 --ray-job-id bird-test-run-0001-a2');
    expect(body.entrypoint).toContain('--instance-ids alien_1,credit_2 ');
    expect(sim.requests.filter((q) => q.method === 'PUT' && q.path.startsWith('/upload'))).toEqual([]);
    const status = JSON.parse((await readObject(bucket, 'runs/test-run-0001/status.json')).toString()) as { attempt: number };
    expect(status.attempt).toBe(2);
  });
});

/** Starts the built action on the double, waiting, and resolves once it logs `ready`. */
function startWaiting(repo: Repo, bucket: string, sim: RaySim, ready: RegExp) {
  return startUntil(
    {
      workspace: repo.workspace,
      inputs: validInputs(repo, { 'dry-run': 'false', 'gcs-bucket': bucket, ...clusterInputs(sim), wait: 'true' }),
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    },
    ready,
  );
}

describe('a shared existing cluster: every SLayer run has setup roots of its own', () => {
  type Body = { entrypoint: string; runtime_env: { env_vars?: Record<string, string> } };
  const rootsOf = (b: Body) => ({
    env: Object.fromEntries(Object.entries(b.runtime_env.env_vars ?? {}).filter(([k]) => k.startsWith('BIRD_') && k.endsWith('_ROOT'))),
    storage: /--slayer-storage-root (\S+)/.exec(b.entrypoint)?.[1],
  });

  it("two runs on one cluster get different run-scoped roots; a rerun keeps its run's; the manifest records them", async () => {
    const { repo, bucket, sim } = await setup({ outcomes: { credit_1: 'error' } });
    const one = await run(repo, bucket, sim, { wait: 'true', 'run-id': 'shared-run-0001' });
    const two = await run(repo, bucket, sim, { wait: 'false', 'run-id': 'shared-run-0002', 'cluster-scratch-root': '/scratch/bird/' });
    expect(one.exitCode).toBe(0);
    expect(errors(two)).toBe('');
    const rerun = await runAction({
      workspace: repo.workspace,
      inputs: { 'rerun-run-id': 'shared-run-0001', 'gcs-bucket': bucket, ...clusterInputs(sim), 'cluster-scratch-root': '/elsewhere' },
      env: { ...TEST_KEYS, STORAGE_EMULATOR_HOST: emulatorHost() },
    });
    expect(errors(rerun)).toBe('');
    const [first, second, third] = jobPosts(sim).map((p) => rootsOf(JSON.parse(p.bodyText) as Body));
    expect(first).toEqual({
      env: {
        BIRD_SLAYER_MODELS_ROOT: '/tmp/bird-interact/shared-run-0001/slayer_models',
        BIRD_OTF_CACHE_ROOT: '/tmp/bird-interact/shared-run-0001/slayer_otf_cache',
        BIRD_SLAYER_MODELS_OTF_ROOT: '/tmp/bird-interact/shared-run-0001/slayer_models_otf',
      },
      storage: '/tmp/bird-interact/shared-run-0001/slayer_models',
    });
    expect(second.storage).toBe('/scratch/bird/shared-run-0002/slayer_models');
    expect(second.env.BIRD_SLAYER_MODELS_ROOT).toBe('/scratch/bird/shared-run-0002/slayer_models');
    // The rerun of run 1 reads the same roots (same content, no second download), whatever today's input says.
    expect(third).toEqual(first);
    const manifest = JSON.parse((await readObject(bucket, 'runs/shared-run-0001/manifest.json')).toString()) as {
      slayer_storage_root: string;
      dispatch: { setup_roots: { slayer_storage_root: string } };
    };
    expect(manifest.slayer_storage_root).toBe('/data/slayer_models');
    expect(manifest.dispatch.setup_roots.slayer_storage_root).toBe('/tmp/bird-interact/shared-run-0001/slayer_models');
  });

  it('refuses a runtime-env that sets a setup root, before any request', async () => {
    const { repo, bucket, sim } = await setup();
    const r = await run(repo, bucket, sim, { 'runtime-env': JSON.stringify({ env_vars: { BIRD_OTF_CACHE_ROOT: '/data/shared' } }) });
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toMatch(/runtime-env: env_vars sets BIRD_OTF_CACHE_ROOT, which this action sets itself/);
    expect(sim.requests).toEqual([]);
    expect(await listAll(bucket)).toEqual([]);
  });
});

describe('cancel and the post step', () => {
  it('stops the job exactly once on SIGTERM while waiting', async () => {
    const { repo, bucket, sim } = await setup({ outcomes: { alien_1: 'hang' } });
    const step = await startWaiting(repo, bucket, sim, /progress: 5\/6 instances have a row/);
    step.child.kill('SIGTERM');
    const r = await step.result;
    expect(r.exitCode).toBe(1);
    expect(errors(r)).toContain('cancelled (SIGTERM); bird-test-run-0001-a1 was asked to stop');
    expect(stops(sim)).toHaveLength(1);
    // The summary is written on the way out, after the stop: where it stopped and what is left.
    expect(r.summary).toMatch(/^## BIRD-Interact run `test-run-0001`\n\n### ❌ Stopped at wait\n\ncancelled \(SIGTERM\)\n/);
    expect(r.summary).toContain('**Left behind:** job `bird-test-run-0001-a1` stopped; its rows so far are in the bucket');
    await sim.waitForStatus('bird-test-run-0001-a1', 'STOPPED');
    expect(r.state['wait-status']).toBe('done');
  });

  it('the post step stops a job that a killed main step was waiting on, once, and a second post stops nothing more', async () => {
    const { repo, bucket, sim } = await setup({ outcomes: { alien_1: 'hang' } });
    const step = await startWaiting(repo, bucket, sim, /progress: 5\/6 instances have a row/);
    step.child.kill('SIGKILL');
    const main = await step.result;
    expect(main.state).toMatchObject({ 'submission-id': 'bird-test-run-0001-a1', 'wait-status': 'waiting' });
    expect(stops(sim)).toHaveLength(0);
    const post = () => runAction({ workspace: repo.workspace, entry: 'post', state: main.state, inputs: clusterInputs(sim) });
    const first = await post();
    expect(first.exitCode).toBe(0);
    expect(warnings(first)).toContain('post: the main step ended while waiting on bird-test-run-0001-a1 (RUNNING); asked Ray to stop it: stopping');
    expect(stops(sim)).toHaveLength(1);
    await sim.waitForStatus('bird-test-run-0001-a1', 'STOPPED');
    const second = await post();
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain('post: bird-test-run-0001-a1 is already STOPPED');
    expect(stops(sim)).toHaveLength(1);
  });

  it('never fails the job, even when the cluster is gone', async () => {
    const dir = tempDir('post');
    cleanups.push(() => removeDir(dir));
    writeFileSync(join(dir, 'x'), '');
    const r = await runAction({
      workspace: dir,
      entry: 'post',
      state: { 'submission-id': 'bird-x-a1', 'wait-status': 'waiting', 'ray-address': 'http://127.0.0.1:9' },
      inputs: { 'ray-address': 'http://127.0.0.1:9' },
    });
    expect(r.exitCode).toBe(0);
    expect(warnings(r)).toContain('post: could not check or stop the job');
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('');
  });
});

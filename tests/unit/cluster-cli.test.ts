// The per-run cluster's CLI layer against the stand-in `ray` and `gcloud` (tools/fake-cli) on
// PATH: the call sequence up → dashboard → Jobs API through the forward → down, the fallback
// deletion by label, liveness, idempotent teardown (also from the post step's saved state and on
// signals), and no secret in argv or in the children's environment.
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ClusterCli, headAliveProbe, parseInstances } from '../../src/cluster/cli.js';
import { PhaseClock } from '../../src/cluster/phases.js';
import { childEnv } from '../../src/cluster/process.js';
import { BringUpError, bringUp, type PreparedCluster, prepareCluster } from '../../src/cluster/session.js';
import { teardownFromState } from '../../src/cluster/teardown.js';
import { Cancellation, CleanupOrder } from '../../src/common/cancel.js';
import { State } from '../../src/common/constants.js';
import { type MemoryLog, memoryLog, neutralizeCommand } from '../../src/common/log.js';
import { ActionState, type TeardownStatus } from '../../src/common/state.js';
import { KNOWN_KEYS } from '../../src/inputs/combos.js';
import { RayJobsClient } from '../../src/ray/client.js';
import type { CallRecord, FakeInstance } from '../../tools/fake-cli/record.mjs';
import { removeDir, TEST_KEYS, tempDir } from '../helpers/action.js';
import { callSummary, clusterManifest, type FakeCliEnv, fakeCliEnv } from '../helpers/cluster.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

interface TestLog extends MemoryLog {
  text(): string;
}

function testLog(): TestLog {
  const log = memoryLog();
  return Object.assign(log, { text: () => log.lines.join('\n') });
}

/** What the post step holds the saved cluster to: the step's RUNNER_TEMP and ray-cli input. */
function expectedOf(c: Ctx): { runnerTemp: string; rayCli: string } {
  return { runnerTemp: c.runnerTemp, rayCli: 'ray' };
}

/** The action state as the runner keeps it: a map of STATE_* entries. */
function stateOf(entries: Map<string, string>): ActionState {
  return new ActionState({ save: (key, value) => entries.set(key, value), load: (key) => entries.get(key) ?? '' });
}

interface Ctx {
  fake: FakeCliEnv;
  runnerTemp: string;
  log: TestLog;
  state: Map<string, string>;
  env: NodeJS.ProcessEnv;
}

/** Environment the action would have: runner env, the stand-ins, API keys and an input with a credential. */
function setup(extraEnv: Record<string, string> = {}): Ctx {
  const root = tempDir('cluster-cli');
  dirs.push(root);
  const fake = fakeCliEnv(root);
  const runnerTemp = `${root}/runner-temp`;
  mkdirSync(runnerTemp, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...fake.env,
    ...TEST_KEYS,
    'INPUT_RAY-HEADERS': '{"Authorization":"Bearer TESTSECRET-header"}',
    ACTIONS_RUNTIME_TOKEN: 'TESTSECRET-runtime',
    ...extraEnv,
  };
  return { fake, runnerTemp, log: testLog(), state: new Map(), env };
}

function prepare(c: Ctx, workers = 2): Promise<PreparedCluster> {
  return prepareCluster({
    manifest: clusterManifest({ render: { workers } }),
    runnerTemp: c.runnerTemp,
    rayCli: 'ray',
    env: c.env,
    log: c.log,
    state: stateOf(c.state),
    cli: { gcloudAttempts: 3, gcloudRetryMs: 10 },
  });
}

const forwards: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(forwards.splice(0).map((f) => f.stop().catch(() => undefined)));
});

function rayCalls(c: Ctx): CallRecord[] {
  return c.fake.calls().filter((r) => r.tool === 'ray');
}

function expectNoSecrets(c: Ctx): void {
  const raw = readFileSync(c.fake.logFile, 'utf8');
  for (const v of Object.values(TEST_KEYS)) expect(raw).not.toContain(v);
  expect(raw).not.toContain('TESTSECRET');
  for (const call of c.fake.calls()) {
    for (const k of KNOWN_KEYS) expect(call.env).not.toContain(k);
    expect(call.env.filter((n) => n.startsWith('INPUT_'))).toEqual([]);
    expect(call.env).not.toContain('ACTIONS_RUNTIME_TOKEN');
    expect(call.argv.join(' ')).not.toMatch(/TESTSECRET|sk-/);
  }
  expect(c.log.text()).not.toContain('TESTSECRET');
}

describe('a successful run: up → dashboard → Jobs API through the forward → down', () => {
  it('makes exactly these calls, in this order, and tears down once', async () => {
    const c = setup({ FAKE_RAY_SIM_OPTIONS: JSON.stringify({ pendingDelayMs: 20 }) });
    const p = await prepare(c);
    expect(c.state.get(State.ClusterTeardown)).toBe('pending');
    expect(JSON.parse(c.state.get(State.EphemeralCluster) ?? '{}')).toMatchObject({
      v: 1,
      runId: p.runId,
      yamlPath: p.yamlPath,
      rayCli: 'ray',
      project: 'bird-proj',
      zone: 'us-central1-a',
      markerPath: `${p.dir}/teardown.json`,
    });
    expect(c.fake.calls()).toEqual([]); // nothing touches the cloud before bringUp

    const phases = new PhaseClock(c.log);
    const running = await bringUp(p, { phases, dashboard: { pollMs: 50 } });
    forwards.push(running.forward);
    expect(running.address).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The cluster exists (head + 2 workers, labelled with the run id).
    expect(await p.cli.headAlive(p.runId)).toBe(true);

    // The same Jobs client as an existing cluster, through the forwarded port.
    const client = new RayJobsClient({ address: running.address });
    expect((await client.version()).ray_version).toBe('2.47.1');
    const sid = await client.submitOnce({ entrypoint: 'echo hello from the head', submission_id: `${p.runId}-a1`, metadata: { run_id: p.runId } });
    for (let i = 0; i < 100 && (await client.job(sid))?.status !== 'SUCCEEDED'; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await client.job(sid))?.status).toBe('SUCCEEDED');
    expect(await client.logs(sid)).toContain('hello from the head');

    const down = await phases.run('down', () => p.teardown.run('finished'));
    expect(down.outcome).toBe('ray-down');
    expect(c.state.get(State.ClusterTeardown)).toBe('done');
    expect(existsSync(p.target.markerPath)).toBe(true);

    const seq = callSummary(c.fake.records());
    // up, dashboard (+ its readiness polls), the liveness call, the Jobs API traffic, down.
    expect(seq[0]).toBe('ray up');
    expect(seq[1]).toBe('ray dashboard');
    expect(seq.filter((s) => s.startsWith('ray '))).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(seq.at(-1)).toBe('ray down');
    const http = seq.filter((s) => s.startsWith('http '));
    expect(http[0]).toBe('http GET /api/version');
    expect(http).toContain('http POST /api/jobs/');
    expect(seq.indexOf('http POST /api/jobs/')).toBeGreaterThan(seq.indexOf('ray dashboard'));
    expect(seq.indexOf('http POST /api/jobs/')).toBeLessThan(seq.indexOf('ray down'));

    const [up, dash, downCall] = rayCalls(c);
    expect(up.argv).toEqual(['up', '--yes', p.yamlPath]);
    expect(dash.argv).toEqual(['dashboard', '--port', String(running.forward.port), p.yamlPath]);
    expect(downCall.argv).toEqual(['down', '--yes', p.yamlPath]);
    for (const call of c.fake.calls()) expect(call.cwd).toBe(p.dir);
    expect(c.fake.calls().find((r) => r.tool === 'gcloud')?.argv).toEqual([
      'compute',
      'instances',
      'list',
      `--filter=labels.bird-interact-run-id=${p.runId}`,
      '--format=value(status)',
      '--project=bird-proj',
    ]);

    // The forward is closed and the VMs are gone.
    await expect(client.raw('GET', 'api/version')).rejects.toThrow();
    expect(await p.cli.headAlive(p.runId)).toBe(false);

    // Idempotent: a second teardown (the post step, a signal) does nothing.
    const before = c.fake.calls().length;
    expect((await p.teardown.run('again')).outcome).toBe('ray-down'); // the same promise
    expect((await teardownFromState(stateOf(c.state), { expected: expectedOf(c), env: c.env, log: c.log }))?.outcome).toBe('already-done');
    expect(c.fake.calls().length).toBe(before);

    // The CLI output is streamed in groups; progress lines per phase with timings.
    expect(c.log.lines).toContain(`[group] ray up --yes ${p.yamlPath}`);
    expect(c.log.lines).toContain(`[group] ray down --yes ${p.yamlPath}`);
    expect(c.log.text()).toMatch(/\[2\/5\] up: started/);
    expect(c.log.text()).toMatch(/\[2\/5\] up: done in /);
    expect(c.log.text()).toMatch(/\[5\/5\] down: done in /);
    expect(phases.summaryTable()).toMatch(/\| up \| ok \| .+ \|/);
    expectNoSecrets(c);
  });
});

describe('teardown after failures', () => {
  it('ray up fails: teardown runs, and the error says so', async () => {
    const c = setup({ FAKE_RAY_FAIL: 'up' });
    const p = await prepare(c);
    const err = await bringUp(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BringUpError);
    expect((err as Error).message).toMatch(/ray up --yes .* exited with 1/);
    expect((err as Error).message).toMatch(/Failed to setup head node/);
    expect((err as Error).message).toMatch(/teardown: ray-down/);
    expect(callSummary(c.fake.records())).toEqual(['ray up', 'ray down']);
    expect(c.state.get(State.ClusterTeardown)).toBe('done');
  });

  it('the dashboard never comes up: the forward is killed at the deadline, then teardown', async () => {
    const c = setup({ FAKE_RAY_SLEEP: 'dashboard=30000' });
    const p = await prepare(c);
    // Long enough for the stand-in to start and record its call on a busy machine before it is killed.
    const err = await bringUp(p, { dashboard: { readyTimeoutMs: 2_000, pollMs: 50 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/did not answer within 2 s/);
    expect(callSummary(c.fake.records())).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(p.cli.running).toBe(0);
  });

  it('ray dashboard exits: bring-up fails with its output, then teardown', async () => {
    const c = setup({ FAKE_RAY_FAIL: 'dashboard' });
    const p = await prepare(c);
    const err = await bringUp(p, { dashboard: { pollMs: 50 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/exited with 1 before the dashboard answered/);
    expect((err as Error).message).toMatch(/Failed to forward dashboard/);
    expect(callSummary(c.fake.records())).toEqual(['ray up', 'ray dashboard', 'ray down']);
  });

  it('ray down fails: falls back to deleting every instance by label, zone by basename', async () => {
    const c = setup({ FAKE_RAY_FAIL: 'down' });
    const p = await prepare(c, 3);
    const r = await bringUp(p, { dashboard: { pollMs: 50 } });
    forwards.push(r.forward);
    // An instance of another run must survive.
    const others: FakeInstance[] = [
      { name: 'ray-other-run-head-00000000-compute', zone: 'us-central1-a', status: 'RUNNING', labels: { 'bird-interact-run-id': 'other-run' } },
    ];
    const ours = JSON.parse(readFileSync(c.fake.stateFile, 'utf8')).instances as FakeInstance[];
    expect(ours).toHaveLength(4);
    c.fake.setInstances([...ours, ...others]);

    const res = await p.teardown.run('finished');
    expect(res.outcome).toBe('deleted-by-label');
    expect(res.detail).toMatch(/4 instance\(s\) deleted by label/);
    expect(JSON.parse(readFileSync(c.fake.stateFile, 'utf8')).instances).toEqual(others);
    const gcloud = c.fake.calls().filter((x) => x.tool === 'gcloud');
    expect(gcloud[0].argv).toEqual([
      'compute',
      'instances',
      'list',
      `--filter=labels.bird-interact-run-id=${p.runId}`,
      '--format=value(name,zone)',
      '--project=bird-proj',
    ]);
    const deletes = gcloud.filter((x) => x.argv[2] === 'delete').map((x) => x.argv);
    expect(deletes.map((a) => a[3]).sort()).toEqual(ours.map((i) => i.name).sort());
    for (const a of deletes) expect(a.slice(4)).toEqual(['--quiet', '--delete-disks=all', '--zone=us-central1-a', '--project=bird-proj']);
    expect(c.log.text()).toMatch(/ray down failed; deleting the instances labelled bird-interact-run-id=/);
    expect(c.state.get(State.ClusterTeardown)).toBe('done');
  });

  it('an instance that cannot be deleted: failed, with the leftovers, the timer and the manual command', async () => {
    const runId = clusterManifest().run_id;
    const inst: FakeInstance[] = [
      { name: `ray-${runId}-head-aaaaaaaa-compute`, zone: 'us-central1-a', status: 'RUNNING', labels: { 'bird-interact-run-id': runId } },
      { name: `ray-${runId}-worker-bbbbbbbb-compute`, zone: 'us-central1-a', status: 'RUNNING', labels: { 'bird-interact-run-id': runId } },
    ];
    const c = setup({ FAKE_RAY_FAIL: 'down', FAKE_GCLOUD_DELETE_FAIL: inst[1].name });
    c.fake.setInstances(inst);
    const p = await prepare(c, 1);
    const res = await p.teardown.run('finished');
    expect(res.outcome).toBe('failed');
    expect(res.leftovers).toEqual([{ name: inst[1].name, zone: 'us-central1-a' }]);
    expect(res.detail).toMatch(/self-delete timer removes them by \d{4}-\d\d-\d\dT/);
    expect(res.detail).toContain(`gcloud compute instances list --project=bird-proj --filter=labels.bird-interact-run-id=${runId}`);
    expect(JSON.parse(readFileSync(c.fake.stateFile, 'utf8')).instances).toEqual([inst[1]]);
    expect(c.state.get(State.ClusterTeardown)).toBe('pending'); // not done: the post step tries again
  });

  it('the YAML is gone (post step on another machine state): deletion by label', async () => {
    const c = setup();
    const p = await prepare(c, 1);
    c.fake.setInstances([
      { name: `ray-${p.runId}-head-aaaaaaaa-compute`, zone: 'us-central1-a', status: 'RUNNING', labels: { 'bird-interact-run-id': p.runId } },
    ]);
    rmSync(p.yamlPath);
    const res = await teardownFromState(stateOf(c.state), { expected: expectedOf(c), env: c.env, log: c.log, gcloudRetryMs: 10 });
    expect(res?.outcome).toBe('deleted-by-label');
    expect(callSummary(c.fake.records())).toEqual(['gcloud compute instances list', 'gcloud compute instances delete']);
  });
});

describe('the post step, from the saved state', () => {
  it('tears down what the main step left (it died after bring-up)', async () => {
    const c = setup();
    const p = await prepare(c);
    const r = await bringUp(p, { dashboard: { pollMs: 50 } });
    await r.forward.stop(); // the main step's process is gone
    const saved = new Map(c.state); // STATE_* as the post step sees them
    const post = testLog();
    const res = await teardownFromState(stateOf(saved), { expected: expectedOf(c), env: c.env, log: post });
    expect(res?.outcome).toBe('ray-down');
    expect(callSummary(c.fake.records()).filter((s) => s.startsWith('ray '))).toEqual(['ray up', 'ray dashboard', 'ray down']);
    expect(rayCalls(c).at(-1)?.argv).toEqual(['down', '--yes', p.yamlPath]);
    expect(post.lines).toContain(`[group] ray down --yes ${p.yamlPath}`);
    expectNoSecrets(c);
  });

  it('does nothing without a cluster, after a teardown, or for a detached run', async () => {
    expect(await teardownFromState(stateOf(new Map()), { expected: { runnerTemp: '/tmp', rayCli: 'ray' } })).toBeNull();
    const c = setup();
    const p = await prepare(c);
    const state = (status: TeardownStatus) => stateOf(new Map([...c.state, [State.ClusterTeardown, status]]));
    expect((await teardownFromState(state('done'), { expected: expectedOf(c), env: c.env, log: c.log }))?.outcome).toBe('already-done');
    expect((await teardownFromState(state('detached'), { expected: expectedOf(c), env: c.env, log: c.log }))?.outcome).toBe('detached');
    expect(c.fake.calls()).toEqual([]);
    void p;
  });

  it('a corrupt state is reported, not thrown', async () => {
    const res = await teardownFromState(stateOf(new Map([[State.EphemeralCluster, '{"v":2}']])), { expected: { runnerTemp: '/tmp', rayCli: 'ray' } });
    expect(res?.outcome).toBe('failed');
  });
});

describe('wait: false', () => {
  it('after a successful submit, detaches: no ray down, the forward stops, state says detached', async () => {
    const c = setup();
    const p = await prepare(c);
    const r = await bringUp(p, { dashboard: { pollMs: 50 } });
    await p.teardown.detach();
    expect(c.state.get(State.ClusterTeardown)).toBe('detached');
    expect((await p.teardown.run('end of step')).outcome).toBe('detached');
    expect((await teardownFromState(stateOf(c.state), { expected: expectedOf(c), env: c.env, log: c.log }))?.outcome).toBe('detached');
    expect(callSummary(c.fake.records()).filter((s) => s.startsWith('ray '))).toEqual(['ray up', 'ray dashboard']);
    await expect(new RayJobsClient({ address: r.address, policy: { attempts: 1 } }).version()).rejects.toThrow();
    expect(c.log.text()).toMatch(/its VMs delete themselves by \d{4}-/);
  });
});

describe('cancellation: stop the job, then tear down, then exit', () => {
  class FakeProc extends EventEmitter {
    send(sig: NodeJS.Signals): void {
      this.emit(sig, sig);
    }
  }

  function cancellation(c: Ctx, proc: FakeProc, exits: number[], failures: string[] = []): Cancellation {
    const cancel = new Cancellation({ log: c.log, proc, exit: (code) => void exits.push(code), fail: (m) => void failures.push(m) });
    cancel.install();
    return cancel;
  }

  function teardownStep(p: PreparedCluster) {
    return {
      order: CleanupOrder.Teardown,
      name: 'tear down',
      run: async (sig: NodeJS.Signals) => (await p.teardown.run(sig)).outcome,
      abandon: () => p.teardown.abandon(),
    };
  }

  it('the first SIGTERM stops the job, then tears down, then fails the step and exits 1', async () => {
    const c = setup();
    const p = await prepare(c);
    const r = await bringUp(p, { dashboard: { pollMs: 50 } });
    forwards.push(r.forward);
    const proc = new FakeProc();
    const exits: number[] = [];
    const failures: string[] = [];
    const cancel = cancellation(c, proc, exits, failures);
    cancel.add(teardownStep(p));
    let jobStopped = 0;
    // Registered after the teardown, but ordered before it.
    cancel.add({
      order: CleanupOrder.StopJob,
      name: 'stop the job',
      run: () =>
        new Promise((res) =>
          setTimeout(() => {
            jobStopped = Date.now();
            res('job stopped');
          }, 100),
        ),
    });
    proc.send('SIGTERM');
    expect(cancel.signal.aborted).toBe(true);
    await cancel.finished;
    expect(exits).toEqual([1]);
    expect(failures).toEqual(['cancelled (SIGTERM); job stopped; ray-down']);
    expect(cancel.cancelled).toBe('SIGTERM');
    const down = rayCalls(c).find((x) => x.argv[0] === 'down');
    expect(down).toBeDefined();
    expect(down?.time).toBeGreaterThanOrEqual(jobStopped);
    expect(c.state.get(State.ClusterTeardown)).toBe('done');
    cancel.uninstall();
    expect(proc.listenerCount('SIGINT')).toBe(0);
  });

  it('a signal during ray up stops it first, then tears down', async () => {
    const c = setup({ FAKE_RAY_SLEEP: 'up=20000' });
    const p = await prepare(c);
    const proc = new FakeProc();
    const exits: number[] = [];
    const cancel = cancellation(c, proc, exits);
    cancel.add(teardownStep(p));
    const up = bringUp(p, { dashboard: { pollMs: 50 } }).catch((e: unknown) => e);
    for (let i = 0; i < 200 && !rayCalls(c).some((x) => x.argv[0] === 'up'); i++) await new Promise((res) => setTimeout(res, 25));
    proc.send('SIGTERM');
    await cancel.finished;
    expect(exits).toEqual([1]);
    expect(await up).toBeInstanceOf(BringUpError);
    expect(callSummary(c.fake.records())).toEqual(['ray up', 'ray down']);
    expect(c.log.text()).toMatch(/stopping 1 CLI call\(s\) still running before the teardown/);
    expect(c.state.get(State.ClusterTeardown)).toBe('done');
    cancel.uninstall();
  });

  it('a second signal abandons the teardown: kills ray down, exits at once, leaves it to the post step', async () => {
    const c = setup({ FAKE_RAY_SLEEP: 'down=20000' });
    const p = await prepare(c);
    const r = await bringUp(p, { dashboard: { pollMs: 50 } });
    forwards.push(r.forward);
    const proc = new FakeProc();
    const exits: number[] = [];
    const cancel = cancellation(c, proc, exits);
    cancel.add(teardownStep(p));
    proc.send('SIGINT');
    for (let i = 0; i < 200 && !rayCalls(c).some((x) => x.argv[0] === 'down'); i++) await new Promise((res) => setTimeout(res, 25));
    expect(p.cli.running).toBe(1);
    proc.send('SIGTERM');
    expect(exits).toEqual([1]);
    expect(c.log.text()).toMatch(/SIGTERM again: abandoning the cleanup \(tear down\)/);
    for (let i = 0; i < 200 && p.cli.running > 0; i++) await new Promise((res) => setTimeout(res, 25));
    expect(p.cli.running).toBe(0);
    expect(c.state.get(State.ClusterTeardown)).toBe('pending');
    // The post step then finishes the job.
    const res = await teardownFromState(stateOf(c.state), { expected: expectedOf(c), env: { ...c.env, FAKE_RAY_SLEEP: '' }, log: c.log });
    expect(res?.outcome).toBe('ray-down');
    cancel.uninstall();
  });
});

describe('liveness (docs/reference/per-run-cluster.md#liveness)', () => {
  const inst = (runId: string, status: string, i = 0): FakeInstance => ({
    name: `ray-${runId}-worker-${String(i).padStart(8, '0')}-compute`,
    zone: 'us-central1-a',
    status,
    labels: { 'bird-interact-run-id': runId },
  });

  it('alive when any instance of the run is RUNNING, headless when none is', async () => {
    const c = setup();
    const p = await prepare(c);
    c.fake.setInstances([inst(p.runId, 'STOPPING'), inst(p.runId, 'RUNNING', 1)]);
    expect(await p.cli.headAlive(p.runId)).toBe(true);
    c.fake.setInstances([inst(p.runId, 'STOPPING'), inst(p.runId, 'TERMINATED', 1), inst('another-run', 'RUNNING', 2)]);
    expect(await p.cli.headAlive(p.runId)).toBe(false);
    c.fake.setInstances([]);
    expect(await p.cli.headAlive(p.runId)).toBe(false);
  });

  it('a failing gcloud is retried and reported; when it keeps failing the answer is unknown (null), never headless', async () => {
    const c = setup({ FAKE_GCLOUD_LIST_FAIL: '2' });
    const p = await prepare(c);
    c.fake.setInstances([inst(p.runId, 'RUNNING')]);
    expect(await p.cli.headAlive(p.runId)).toBe(true);
    expect(c.fake.calls().filter((x) => x.tool === 'gcloud')).toHaveLength(3);
    expect(c.log.text()).toMatch(/liveness check: `gcloud compute instances list .*` exited with 1 \(attempt 1\/3\); retrying/);

    const c2 = setup({ FAKE_GCLOUD_LIST_FAIL: 'always' });
    const p2 = await prepare(c2);
    expect(await p2.cli.headAlive(p2.runId)).toBeNull();
    expect(c2.fake.calls().filter((x) => x.tool === 'gcloud')).toHaveLength(3);
    expect(c2.log.text()).toMatch(/could not check whether the head of .* is alive \(not counted as headless\)/);
  });

  it('headAliveProbe asks gcloud at most once per interval', async () => {
    let calls = 0;
    let now = 0;
    const probe = headAliveProbe(
      {
        headAlive: async () => {
          calls++;
          return true;
        },
      },
      'r',
      60_000,
      () => now,
    );
    expect(await probe()).toBe(true);
    now = 59_999;
    expect(await probe()).toBe(true);
    expect(calls).toBe(1);
    now = 60_000;
    await probe();
    expect(calls).toBe(2);
  });

  it('parses value(name,zone) with zone URLs to zone basenames', () => {
    expect(parseInstances('a\thttps://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a\nb\tus-east1-b\n\n')).toEqual([
      { name: 'a', zone: 'us-central1-a' },
      { name: 'b', zone: 'us-east1-b' },
    ]);
  });
});

describe('the port forward', () => {
  it('is started again on the same port when it dies after it was ready', async () => {
    const c = setup();
    const p = await prepare(c);
    const r = await bringUp(p, { dashboard: { pollMs: 50, restartDelayMs: 100 } });
    forwards.push(r.forward);
    const dash = rayCalls(c).find((x) => x.argv[0] === 'dashboard');
    if (!dash) throw new Error('ray dashboard was not called');
    process.kill(dash.pid, 'SIGKILL');
    const client = new RayJobsClient({ address: r.address, policy: { attempts: 10, baseMs: 200, maxMs: 1000 } });
    expect((await client.version()).ray_version).toBe('2.47.1');
    expect(r.forward.restarts).toBe(1);
    expect(
      rayCalls(c)
        .filter((x) => x.argv[0] === 'dashboard')
        .map((x) => x.argv),
    ).toEqual([
      ['dashboard', '--port', String(r.forward.port), p.yamlPath],
      ['dashboard', '--port', String(r.forward.port), p.yamlPath],
    ]);
    expect(c.log.text()).toMatch(/restarting the port forward \(1\/5\)/);
  });
});

describe('output and environment hygiene', () => {
  it('child output cannot issue workflow commands', async () => {
    expect(neutralizeCommand('::add-mask::x')).toBe('| ::add-mask::x');
    expect(neutralizeCommand('  ::set-output name=a::b')).toBe('|   ::set-output name=a::b');
    expect(neutralizeCommand('plain')).toBe('plain');
    const log = testLog();
    const cli = new ClusterCli({ rayCli: 'ray', cwd: process.cwd(), log });
    const r = await cli.run('sh', ['-c', 'echo "::warning::from child"; echo err >&2; printf last'], { timeoutMs: 5000, onLine: (l) => log.untrusted(l) });
    expect(r.code).toBe(0);
    expect(log.lines).toEqual(['| ::warning::from child', 'err', 'last']);
  });

  it('a call that runs too long is killed (with its process group) and reported as timed out', async () => {
    const log = testLog();
    const cli = new ClusterCli({ rayCli: 'ray', cwd: process.cwd(), log });
    const pids: number[] = [];
    const r = await cli.run('sh', ['-c', 'sleep 30 & echo $!; sleep 30'], { timeoutMs: 200, onLine: (l) => pids.push(Number(l)) });
    expect(r.timedOut).toBe(true);
    expect(cli.running).toBe(0);
    // The background child of the group is gone too.
    expect(pids).toHaveLength(1);
    // A killed process lingers as a zombie (state Z in /proc) until init reaps it, which here takes
    // about 2 s: a zombie counts as gone.
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
      } catch {
        return false;
      }
      try {
        return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
      } catch {
        return existsSync(`/proc/${pid}`);
      }
    };
    for (let i = 0; i < 250 && alive(pids[0]); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(pids[0])).toBe(false);
  });

  it('the child environment has no API key, input or runner token, and keeps Google credentials', () => {
    const env = childEnv({
      ...TEST_KEYS,
      CEREBRAS_API_KEY: 'x',
      'INPUT_RAY-HEADERS': 'x',
      INPUT_FRAMEWORK: 'x',
      ACTIONS_RUNTIME_TOKEN: 'x',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'x',
      GOOGLE_APPLICATION_CREDENTIALS: '/tmp/gha-creds.json',
      CLOUDSDK_CORE_PROJECT: 'p',
      PATH: '/usr/bin',
    });
    expect(Object.keys(env).sort()).toEqual(['CLOUDSDK_CORE_PROJECT', 'GOOGLE_APPLICATION_CREDENTIALS', 'PATH', 'PYTHONUNBUFFERED']);
  });
});

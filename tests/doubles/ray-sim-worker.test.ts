// tools/ray-sim/demo-worker.mjs, the stand-in for ray_app.py (docs/reference/gcs-layout.md#objects-of-a-run, docs/reference/job.md#arguments, docs/reference/reruns-and-progress.md#verdicts), against the run's
// GCS emulator (tests/setup/gcs-global-setup.ts: STORAGE_EMULATOR_HOST, bucket `bird-test`): directly,
// and as a Ray job of the sim with the secrets file shipped in a working_dir package.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RaySim, startRaySim } from '../../tools/ray-sim/server.mjs';
import { writeZip } from '../../tools/ray-sim/zip.mjs';
import { emulatorHost, listAll, readObject } from '../helpers/gcs.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORKER = join(ROOT, 'tools', 'ray-sim', 'demo-worker.mjs');
const BUCKET = 'bird-test';
const SECRETS = { ANTHROPIC_API_KEY: 'sk-ant-secret-value-0123', OPENAI_API_KEY: 'sk-openai-secret-value-4567' };

const tmpRoot = mkdtempSync(join(tmpdir(), 'ray-sim-worker-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

const uniqueRunId = (tag: string): string => `20260101t0000-${tag}-raw-${randomBytes(3).toString('hex')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runWorker(args: string[], cwd: string, env: Record<string, string>): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [WORKER, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** The flags of docs/reference/job.md#arguments, in order, as the action passes them. */
function workerArgs(runId: string, attempt: number, ids: string[], extra: string[] = []): string[] {
  return [
    '--run-id',
    runId,
    '--attempt',
    String(attempt),
    '--ray-job-id',
    `bird-${runId}-a${attempt}`,
    '--framework',
    'pydantic_ai',
    '--query-mode',
    'raw',
    '--mode',
    'a-interact',
    '--agent-model',
    'anthropic/claude-sonnet-4-5',
    '--user-sim-model',
    'anthropic/claude-haiku-4-5-20251001',
    '--patience',
    '3',
    '--max-depth',
    '3',
    '--num-actors',
    '2',
    '--instance-ids',
    ids.join(','),
    '--no-prompt-cache',
    '--slayer-setup',
    'pre-encoded',
    '--slayer-storage-root',
    '/data/slayer_models',
    ...extra,
  ];
}

const shellQuote = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

async function readJson(name: string): Promise<unknown> {
  return JSON.parse((await readObject(BUCKET, name)).toString('utf8')) as unknown;
}

function expectNoSecrets(text: string): void {
  for (const v of Object.values(SECRETS)) expect(text).not.toContain(v);
}

describe('demo worker (ray_app.py stand-in)', () => {
  let env: Record<string, string>;
  let datasetPath: string;

  beforeAll(() => {
    const host = process.env.STORAGE_EMULATOR_HOST ?? emulatorHost();
    datasetPath = join(tmpRoot, 'mini_interact.jsonl');
    writeFileSync(
      datasetPath,
      `${[
        { instance_id: 'alien_1', selected_database: 'alien' },
        { instance_id: 'credit_card_2', selected_database: 'credit_card' },
        { instance_id: 'alien_3', selected_database: 'alien' },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    env = { STORAGE_EMULATOR_HOST: host, GOOGLE_CLOUD_PROJECT: 'demo-test', BIRD_RUNS_BUCKET: BUCKET, BIRD_DATA_PATH: datasetPath };
  });

  it('writes one row and one log per instance, heartbeats status.json to "done", and deletes the secrets file', async () => {
    const runId = uniqueRunId('direct');
    const cwd = mkdtempSync(join(tmpRoot, 'job-'));
    writeFileSync(join(cwd, 'secrets.json'), JSON.stringify(SECRETS));
    const ids = ['alien_1', 'credit_card_2', 'alien_3', 'not_in_dataset_4'];
    const outcomes = { alien_1: 'pass', credit_card_2: 'phase1', alien_3: 'fail', not_in_dataset_4: 'error' };
    const run = await runWorker(workerArgs(runId, 2, ids, ['--secrets-file', 'secrets.json']), cwd, {
      ...env,
      BIRD_DEMO_OUTCOMES: JSON.stringify(outcomes),
    });
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(cwd, 'secrets.json'))).toBe(false);
    expectNoSecrets(run.stdout + run.stderr);
    expect(run.stdout).toContain('ANTHROPIC_API_KEY, OPENAI_API_KEY'); // names only
    expect(run.stdout.split('\n').filter((l) => /^\[demo-worker\] row \d+\/4 /.test(l))).toHaveLength(4);

    const names = await listAll(BUCKET, `runs/${runId}/`);
    expect(names.sort()).toEqual(
      ['status.json', ...ids.flatMap((id) => [`rows/${id}/attempt-2.json`, `logs/${id}/attempt-2.log`])].map((n) => `runs/${runId}/${n}`).sort(),
    );
    for (const n of names) expect(n).toMatch(/^runs\/[^/]+\/(status\.json|rows\/([^/]+)\/attempt-(\d+)\.json|logs\/[^/]+\/attempt-\d+\.log)$/);

    expect(await readJson(`runs/${runId}/rows/alien_1/attempt-2.json`)).toMatchObject({
      instance_id: 'alien_1',
      database: 'alien',
      phase1_passed: true,
      phase2_passed: true,
      total_reward: 1,
      error: null,
      submission_status: 'submitted',
    });
    expect(await readJson(`runs/${runId}/rows/credit_card_2/attempt-2.json`)).toMatchObject({
      instance_id: 'credit_card_2',
      database: 'credit_card',
      phase1_passed: true,
      phase2_passed: false,
      total_reward: 0.5,
      error: null,
    });
    expect(await readJson(`runs/${runId}/rows/alien_3/attempt-2.json`)).toMatchObject({
      database: 'alien',
      phase1_passed: false,
      phase2_passed: false,
      total_reward: 0,
      error: null,
    });
    const errRow = await readJson(`runs/${runId}/rows/not_in_dataset_4/attempt-2.json`);
    expect(errRow).toMatchObject({ instance_id: 'not_in_dataset_4', database: '', phase1_passed: false, phase2_passed: false });
    expect(typeof (errRow as { error: unknown }).error).toBe('string');

    for (const id of ids) expectNoSecrets((await readObject(BUCKET, `runs/${runId}/logs/${id}/attempt-2.log`)).toString('utf8'));

    const statusText = (await readObject(BUCKET, `runs/${runId}/status.json`)).toString('utf8');
    expect(statusText.startsWith('{"ray_job_id":')).toBe(true); // compact JSON, key order of docs/reference/gcs-layout.md#run-status
    const status: unknown = JSON.parse(statusText);
    expect(Object.keys(status as object)).toEqual(['ray_job_id', 'last_heartbeat_ts', 'rows_done', 'rows_total', 'terminal_state', 'attempt']);
    expect(status).toMatchObject({ ray_job_id: `bird-${runId}-a2`, rows_done: 4, rows_total: 4, terminal_state: 'done', attempt: 2 });
    const ts = (status as { last_heartbeat_ts: unknown }).last_heartbeat_ts;
    expect(typeof ts).toBe('number');
    expect(ts as number).toBeGreaterThan(1.5e9); // epoch seconds, not milliseconds
    expect(ts as number).toBeLessThan(1e11);
  });

  it('default outcomes are a deterministic function of the instance id', async () => {
    const ids = ['a_1', 'b_2', 'c_3', 'd_4', 'e_5', 'f_6'];
    const outcomesOf = async (runId: string): Promise<unknown[]> => {
      const run = await runWorker(workerArgs(runId, 1, ids), tmpRoot, env);
      expect(run.code, run.stderr).toBe(0);
      return Promise.all(ids.map(async (id) => ((await readJson(`runs/${runId}/rows/${id}/attempt-1.json`)) as { demo_outcome: unknown }).demo_outcome));
    };
    // Two independent runs, side by side.
    const [first, second] = await Promise.all([outcomesOf(uniqueRunId('det')), outcomesOf(uniqueRunId('det'))]);
    expect(second).toEqual(first);
  });

  it('rejects an unknown flag like argparse: exit 2, usage on stderr, nothing written', async () => {
    const runId = uniqueRunId('badflag');
    const cwd = mkdtempSync(join(tmpRoot, 'job-'));
    writeFileSync(join(cwd, 'secrets.json'), JSON.stringify(SECRETS));
    const run = await runWorker([...workerArgs(runId, 1, ['alien_1'], ['--secrets-file', 'secrets.json']), '--workers', '4'], cwd, env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('usage: ray_app.py');
    expect(run.stderr).toContain('ray_app.py: error: unrecognized arguments: --workers 4');
    expect(await listAll(BUCKET, `runs/${runId}/`)).toEqual([]);
    // argparse fails before the runner reads anything, as ray_app.py does: the file is still there.
    expect(existsSync(join(cwd, 'secrets.json'))).toBe(true);
  });

  it('rejects a missing required flag and a bad choice', async () => {
    const missing = await runWorker(['--run-id', 'x'], tmpRoot, env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: the following arguments are required: --attempt, --framework');
    const args = workerArgs(uniqueRunId('choice'), 1, ['a']);
    args[args.indexOf('--mode') + 1] = 'b-interact';
    const bad = await runWorker(args, tmpRoot, env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("error: argument --mode: invalid choice: 'b-interact' (choose from 'a-interact', 'c-interact', 'oracle')");
  });
});

describe('demo worker as a ray-sim job (the demo path)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({
      pendingDelayMs: 20,
      stopWaitMs: 500,
      env: { STORAGE_EMULATOR_HOST: process.env.STORAGE_EMULATOR_HOST ?? emulatorHost(), GOOGLE_CLOUD_PROJECT: 'demo-test', BIRD_RUNS_BUCKET: BUCKET },
    });
  });
  afterAll(async () => {
    await sim.close();
  });

  /** Uploads a working_dir package holding the secrets file, as the action does (docs/reference/ray-jobs.md#packages). */
  async function uploadSecretsPackage(name: string): Promise<string> {
    const zip = writeZip([{ name: 'bird_interact_secrets.json', data: JSON.stringify(SECRETS) }]);
    const res = await fetch(`${sim.url}/api/packages/gcs/${name}`, { method: 'PUT', body: new Uint8Array(zip) });
    expect(res.status).toBe(200);
    return `gcs://${name}`;
  }

  async function submit(body: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${sim.url}/api/jobs/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    return (JSON.parse(text) as { submission_id: string }).submission_id;
  }

  it('runs to SUCCEEDED, deletes the secrets file from the working_dir, and never logs a secret', async () => {
    const runId = uniqueRunId('simjob');
    const ids = ['alien_1', 'alien_3'];
    const workingDir = await uploadSecretsPackage(`_ray_pkg_${randomBytes(8).toString('hex')}.zip`);
    const args = workerArgs(runId, 1, ids, ['--secrets-file', 'bird_interact_secrets.json']);
    const sid = await submit({
      entrypoint: ['node', WORKER, ...args].map(shellQuote).join(' '),
      submission_id: `bird-${runId}-a1`,
      runtime_env: { working_dir: workingDir, env_vars: { BIRD_DEMO_OUTCOMES: JSON.stringify({ alien_1: 'pass', alien_3: 'fail' }) } },
      metadata: { run_id: runId },
    });
    const d = await sim.waitForStatus(sid, 'SUCCEEDED', { timeoutMs: 60_000 });
    expect(d.driver_exit_code).toBe(0);
    const cwd = sim.jobs.get(sid)?.cwd ?? '';
    expect(existsSync(join(cwd, 'bird_interact_secrets.json'))).toBe(false);
    const log = sim.getLog(sid);
    expectNoSecrets(log);
    expect(log).toContain('[demo-worker] row 2/2');
    expect((await listAll(BUCKET, `runs/${runId}/rows/`)).sort()).toEqual(ids.map((id) => `runs/${runId}/rows/${id}/attempt-1.json`));
    expect(await readJson(`runs/${runId}/status.json`)).toMatchObject({ ray_job_id: sid, terminal_state: 'done', rows_done: 2, rows_total: 2 });
  });

  it('a "hang" outcome keeps the job RUNNING with terminal_state null until /stop kills the process group', async () => {
    const runId = uniqueRunId('hang');
    const sid = await submit({
      entrypoint: ['node', WORKER, ...workerArgs(runId, 1, ['p_1', 'h_2', 'p_3'])].map(shellQuote).join(' '),
      runtime_env: { env_vars: { BIRD_DEMO_OUTCOMES: JSON.stringify({ p_1: 'pass', h_2: 'hang', p_3: 'pass' }) } },
    });
    await sim.waitFor(() => /row 2\/3 p_3/.test(sim.getLog(sid)) && sim.getLog(sid).includes('h_2'), { timeoutMs: 60_000 });
    expect(sim.jobs.get(sid)?.status).toBe('RUNNING');
    const stop = await fetch(`${sim.url}/api/jobs/${sid}/stop`, { method: 'POST' });
    expect(await stop.json()).toEqual({ stopped: true });
    await sim.waitForStatus(sid, 'STOPPED');
    expect((await listAll(BUCKET, `runs/${runId}/rows/`)).sort()).toEqual([`runs/${runId}/rows/p_1/attempt-1.json`, `runs/${runId}/rows/p_3/attempt-1.json`]);
    expect(await readJson(`runs/${runId}/status.json`)).toMatchObject({ terminal_state: null, rows_total: 3 });
  });
});

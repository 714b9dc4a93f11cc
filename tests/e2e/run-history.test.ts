// Run history through the built action against the GCS emulator, behind the fault proxy, which
// records every request: list-runs gives the newest runs in commit order with their states, from
// one listing of the run folders plus reads that grow with N (never a listing of rows); a report
// with trend-runs leaves its report record and charts the runs of its group, reading report.json
// where a run has one and counting rows only where it has none.
import { createHash } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep } from '../../src/common/time.js';
import { checkMarkdownMermaid, extractMermaidBlocks } from '../../tools/render/mermaid-check.mjs';
import { errors, removeDir, runAction, tempDir, warnings } from '../helpers/action.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { createBucket, firebaseServer, makeStorage, readObject, through, uniqueBucketName } from '../helpers/gcs.js';

const storage: Storage = makeStorage();
let workspace: string;
let proxy: FaultProxy;

beforeAll(async () => {
  workspace = tempDir('history-ws');
  proxy = await startFaultProxy(firebaseServer().origin);
});
afterAll(async () => {
  removeDir(workspace);
  await proxy.close();
});

/** The action's GCS traffic through the proxy. */
const env = (): Record<string, string> => ({ STORAGE_EMULATOR_HOST: through(firebaseServer(), proxy.url).emulatorHost });

interface Request {
  kind: 'list' | 'stat' | 'read' | 'write' | 'other';
  /** The object name (stat, read, write) or the listing's prefix. */
  name: string;
  delimiter: string | null;
}

/** The proxy's log as GCS JSON API calls (the firebase emulator's paths: /b/<bucket>/o[/<name>]). */
function requests(): Request[] {
  return proxy.stats.log.map((e) => {
    const url = new URL(e.url, proxy.url);
    const object = /^(?:\/download\/storage\/v1|\/storage\/v1)?\/b\/[^/]+\/o(?:\/(.+))?$/.exec(url.pathname);
    if (e.method === 'POST' && url.pathname.startsWith('/upload/')) return { kind: 'write', name: url.searchParams.get('name') ?? '', delimiter: null };
    if (e.method !== 'GET' || !object) return { kind: 'other', name: `${e.method} ${url.pathname}`, delimiter: null };
    if (object[1] === undefined) return { kind: 'list', name: url.searchParams.get('prefix') ?? '', delimiter: url.searchParams.get('delimiter') };
    const name = decodeURIComponent(object[1]);
    return { kind: url.searchParams.get('alt') === 'media' ? 'read' : 'stat', name, delimiter: null };
  });
}

const MODELS = { agent_model: 'anthropic/claude-sonnet-4-5', user_sim_model: 'anthropic/claude-haiku-4-5-20251001' };
const IDS = ['alien_1', 'alien_2', 'credit_1', 'credit_2'];

function manifest(runId: string, o: { agent?: string; ids?: string[] } = {}): Record<string, unknown> {
  const ids = o.ids ?? IDS;
  return {
    run_id: runId,
    framework: 'pydantic_ai',
    mode: 'a-interact',
    query_mode: 'slayer',
    agent_model: o.agent ?? MODELS.agent_model,
    user_sim_model: MODELS.user_sim_model,
    instance_ids: ids,
    slayer_setup: 'pre-encoded',
    render_inputs: { workers: 4, actors_per_worker: 4 },
    instance_databases: Object.fromEntries(ids.map((id) => [id, id.replace(/_\d+$/, '')])),
  };
}

async function put(bucket: string, name: string, value: unknown): Promise<void> {
  await storage
    .bucket(bucket)
    .file(name)
    .save(typeof value === 'string' ? value : JSON.stringify(value), { resumable: false, contentType: 'application/json' });
}

/** Commits manifests one after the other, each created later than the one before (asserted). */
async function commit(bucket: string, runs: ReadonlyArray<{ id: string; manifest: Record<string, unknown> }>): Promise<void> {
  let last = 0;
  for (const r of runs) {
    await put(bucket, `runs/${r.id}/manifest.json`, r.manifest);
    const [md] = await storage.bucket(bucket).file(`runs/${r.id}/manifest.json`).getMetadata();
    const t = Date.parse(String(md.timeCreated));
    expect(t).toBeGreaterThan(last);
    last = t;
    // The next manifest gets a later millisecond.
    await sleep(3);
  }
}

/** A row: passes phase 1 (and 2) or not. */
const row = (iid: string, p1: boolean): Record<string, unknown> => ({
  instance_id: iid,
  database: iid.replace(/_\d+$/, ''),
  phase1_passed: p1,
  phase2_passed: p1,
  total_reward: p1 ? 1 : 0,
  error: null,
  submission_status: 'submitted',
});

const done = (attempt = 1, total = IDS.length): Record<string, unknown> => ({
  ray_job_id: `bird-x-a${attempt}`,
  last_heartbeat_ts: 1_700_000_000,
  rows_done: total,
  rows_total: total,
  terminal_state: 'done',
  attempt,
});

describe('list-runs', () => {
  // 40 runs, committed in an order that is not their name order; rows and setup objects in each,
  // and one folder with setup objects but no manifest.
  const bucket = uniqueBucketName('history-list');
  const order = Array.from({ length: 40 }, (_, i) => `run-${String((i * 17) % 40).padStart(2, '0')}`);
  const newest = order.slice(-10).reverse();
  const now = Date.now() / 1000;
  // The states of the 10 newest, newest first.
  const statuses: Record<string, Record<string, unknown> | null> = {
    [newest[0]]: { ray_job_id: 'j', last_heartbeat_ts: now, rows_done: 1, rows_total: 4, terminal_state: null, attempt: 1 },
    [newest[1]]: { ray_job_id: 'j', last_heartbeat_ts: now - 3600, rows_done: 2, rows_total: 4, terminal_state: null, attempt: 1 },
    [newest[2]]: null,
    [newest[3]]: { ray_job_id: 'j', last_heartbeat_ts: now - 60, rows_done: 3, rows_total: 4, terminal_state: 'error', attempt: 2, stopped_at: now - 60 },
    [newest[4]]: { ray_job_id: 'j', last_heartbeat_ts: now - 60, rows_done: 4, rows_total: 4, terminal_state: 'error', attempt: 1 },
  };
  const expectedStates = ['running', 'stalled', 'unknown', 'stopped', 'error', 'done', 'done', 'done', 'done', 'done'];

  beforeAll(async () => {
    await createBucket(bucket);
    await commit(
      bucket,
      order.map((id) => ({ id, manifest: manifest(id) })),
    );
    for (const id of order) {
      const status = id in statuses ? statuses[id] : done(3);
      if (status) await put(bucket, `runs/${id}/status.json`, status);
      for (const iid of IDS) await put(bucket, `runs/${id}/rows/${iid}/attempt-1.json`, row(iid, true));
      await put(bucket, `runs/${id}/slayer_setup/slayer_models/alien/models/a.yaml`, 'a: 1');
    }
    await put(bucket, 'runs/uncommitted-upload/slayer_setup/slayer_models/alien/models/a.yaml', 'a: 1');
  }, 120_000);

  it('lists the 10 newest runs by commit time with their states, from one folder listing and O(N) reads', async () => {
    proxy.resetStats();
    const r = await runAction({ workspace, inputs: { 'list-runs': '10', 'gcs-bucket': bucket }, env: env() });
    expect(errors(r)).toBe('');
    expect(warnings(r)).toBe('');

    const runs = JSON.parse(r.outputs['runs-json']) as Array<Record<string, unknown>>;
    expect(runs.map((x) => x.run_id)).toEqual(newest);
    expect(runs.map((x) => x.state)).toEqual(expectedStates);
    expect(runs[0]).toEqual({
      run_id: newest[0],
      combo: { framework: 'pydantic_ai', query_mode: 'slayer', mode: 'a-interact', slayer_setup: 'pre-encoded' },
      models: MODELS,
      state: 'running',
      done: 1,
      total: 4,
      attempt: 1,
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(runs.map((x) => [x.done, x.total, x.attempt])).toEqual([
      [1, 4, 1],
      [2, 4, 1],
      [null, null, null],
      [3, 4, 2],
      [4, 4, 1],
      ...Array.from({ length: 5 }, () => [4, 4, 3]),
    ]);
    const created = runs.map((x) => Date.parse(String(x.created)));
    expect([...created].sort((a, b) => b - a)).toEqual(created);

    // The summary's table, newest first, with the same states.
    const tableRows = r.summary.split('\n').filter((l) => l.startsWith('| `run-'));
    expect(tableRows.map((l) => /^\| `([^`]+)`/.exec(l)?.[1])).toEqual(newest);
    expect(tableRows.map((l) => l.split(' | ')[4])).toEqual(expectedStates);
    expect(r.summary).toContain('The 10 newest of 40 run(s) in `gs://');
    expect(r.summary).toContain('1 run folder(s) without a manifest (uploads never committed) are not listed.');

    // The requests: one listing (the run folders, by delimiter), one stat per folder, and the
    // manifest and status.json of the 10 listed runs. Nothing else, and no listing of rows.
    const seen = requests();
    const lists = seen.filter((q) => q.kind === 'list');
    expect(lists).toEqual([{ kind: 'list', name: 'runs/', delimiter: '/' }]);
    const stats = seen.filter((q) => q.kind === 'stat').map((q) => q.name);
    expect(stats.sort()).toEqual([...order, 'uncommitted-upload'].map((id) => `runs/${id}/manifest.json`).sort());
    const reads = seen.filter((q) => q.kind === 'read').map((q) => q.name);
    expect(reads.sort()).toEqual(newest.flatMap((id) => [`runs/${id}/manifest.json`, `runs/${id}/status.json`]).sort());
    expect(seen.filter((q) => q.kind === 'write' || q.kind === 'other')).toEqual([]);
    expect(seen).toHaveLength(1 + 41 + 20);
  });

  it('refuses list-runs beside report-run-id, and a count out of range, naming the inputs', async () => {
    const both = await runAction({ workspace, inputs: { 'list-runs': '10', 'report-run-id': 'run-01', 'gcs-bucket': bucket }, env: env() });
    expect(both.exitCode).toBe(1);
    expect(errors(both)).toMatch(/report-run-id \('run-01'\) and list-runs \('10'\) are all set/);
    const zero = await runAction({ workspace, inputs: { 'list-runs': '0', 'gcs-bucket': bucket }, env: env() });
    expect(errors(zero)).toMatch(/list-runs: 0 is out of range/);
    const noBucket = await runAction({ workspace, inputs: { 'list-runs': '5' }, env: env() });
    expect(errors(noBucket)).toMatch(/gcs-bucket: is required for list-runs/);
  });
});

describe('trend-runs', () => {
  // Group G: the same combo, models and instance set. Oldest first:
  //   g1 report.json 0.25 · g2 no report.json, done, rows 2/4 = 0.5 · x1 other agent (report.json)
  //   g3 report.json 0.75 · y1 other instance set (report.json) · g4 running, no report.json (left out)
  //   g5 no report.json, done, rows 1/4 = 0.25 · g6 the reported run: rows 3/4 = 0.75
  const bucket = uniqueBucketName('history-trend');
  const sha = createHash('sha256')
    .update([...IDS].sort().join('\n'))
    .digest('hex');
  const group = {
    combo: { framework: 'pydantic_ai', query_mode: 'slayer', mode: 'a-interact', slayer_setup: 'pre-encoded' },
    models: MODELS,
    instances: { count: IDS.length, sha256: sha },
  };
  const record = (runId: string, rate: number, g: object = group): Record<string, unknown> => ({
    schema: 1,
    run_id: runId,
    n: 4,
    phase1_rate: rate,
    phase2_rate: rate,
    avg_reward: rate,
    errors: 0,
    reported_at: '2026-11-24T09:30:00.000Z',
    attempt: 1,
    state: 'done',
    ...g,
  });
  const passes = async (runId: string, k: number): Promise<void> => {
    for (const [i, iid] of IDS.entries()) await put(bucket, `runs/${runId}/rows/${iid}/attempt-1.json`, row(iid, i < k));
  };

  beforeAll(async () => {
    await createBucket(bucket);
    await commit(bucket, [
      { id: 'g1', manifest: manifest('g1') },
      { id: 'g2', manifest: manifest('g2', { ids: [...IDS].reverse() }) },
      { id: 'x1', manifest: manifest('x1', { agent: 'openai/gpt-5' }) },
      { id: 'g3', manifest: manifest('g3') },
      { id: 'y1', manifest: manifest('y1', { ids: IDS.slice(1) }) },
      { id: 'g4', manifest: manifest('g4') },
      { id: 'g5', manifest: manifest('g5') },
      { id: 'g6', manifest: manifest('g6') },
    ]);
    for (const id of ['g1', 'g2', 'x1', 'g3', 'y1', 'g5', 'g6']) await put(bucket, `runs/${id}/status.json`, done());
    await put(bucket, 'runs/g4/status.json', { ...done(), terminal_state: null, last_heartbeat_ts: Date.now() / 1000 });
    await put(bucket, 'runs/g1/report.json', record('g1', 0.25));
    await put(bucket, 'runs/g3/report.json', record('g3', 0.75));
    await put(bucket, 'runs/x1/report.json', record('x1', 1, { ...group, models: { ...MODELS, agent_model: 'openai/gpt-5' } }));
    await put(bucket, 'runs/y1/report.json', record('y1', 1, { ...group, instances: { count: 3, sha256: 'f'.repeat(64) } }));
    for (const [id, k] of [
      ['g1', 1],
      ['g2', 2],
      ['g3', 3],
      ['g4', 4],
      ['g5', 1],
      ['g6', 3],
      ['x1', 4],
      ['y1', 3],
    ] as const)
      await passes(id, k);
  }, 120_000);

  it('a report leaves its report record and charts its group, reading report.json where a run has one', async () => {
    proxy.resetStats();
    const r = await runAction({ workspace, inputs: { 'report-run-id': 'g6', 'gcs-bucket': bucket, 'trend-runs': '10' }, env: env() });
    expect(errors(r)).toBe('');
    expect(warnings(r)).toBe('');
    expect(r.outputs['phase1-rate']).toBe('0.75');

    const stored = JSON.parse((await readObject(bucket, 'runs/g6/report.json')).toString()) as Record<string, unknown>;
    expect(stored).toEqual({
      ...record('g6', 0.75),
      avg_reward: 0.75,
      reported_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    // The chart: g1 (report.json), g2 (rows), g3 (report.json), g5 (rows), g6 (this report); it
    // comes after the results' bar chart of the DBs.
    const blocks = extractMermaidBlocks(r.summary);
    expect(blocks).toHaveLength(2);
    expect(blocks[0].text).toMatch(/^ {2}bar /m);
    expect(blocks[1].text).toContain('xychart-beta');
    expect(blocks[1].text).toMatch(/^ {2}line \[25, 50, 75, 25, 75\]$/m);
    expect(await checkMarkdownMermaid(r.summary)).toEqual([]);
    const trendRows = r.summary
      .slice(r.summary.indexOf('### Phase-1 trend'))
      .split('\n')
      .filter((l) => /^\| `g\d`/.test(l));
    expect(trendRows.map((l) => [/`(g\d)`/.exec(l)?.[1], l.split(' | ').at(-1)?.replace(/ \|$/, '')])).toEqual([
      ['g1', 'report.json'],
      ['g2', 'rows'],
      ['g3', 'report.json'],
      ['g5', 'rows'],
      ['g6', 'this report'],
    ]);
    expect(r.summary).toContain('- 5 of the 10 reported run(s) asked for (trend-runs), oldest first');

    // Rows are listed only for the reported run and the finished runs of its group without a
    // report record; a run with one is read as that one object.
    const seen = requests();
    const rowListings = seen.filter((q) => q.kind === 'list' && q.name.includes('/rows/')).map((q) => q.name);
    expect(rowListings.sort()).toEqual(['runs/g2/rows/', 'runs/g5/rows/', 'runs/g6/rows/']);
    for (const id of ['g1', 'g3', 'x1', 'y1']) {
      expect(seen.filter((q) => q.name.startsWith(`runs/${id}/`) && q.kind !== 'stat').map((q) => `${q.kind} ${q.name}`)).toEqual([
        `read runs/${id}/report.json`,
      ]);
    }
    expect(seen.filter((q) => q.kind === 'list' && !q.name.includes('/rows/'))).toEqual([{ kind: 'list', name: 'runs/', delimiter: '/' }]);
    expect(seen.filter((q) => q.kind === 'write').map((q) => q.name)).toEqual(['runs/g6/report.json']);
  });

  it('list-runs with trend-runs charts the group of each listed run, oldest first', async () => {
    const r = await runAction({ workspace, inputs: { 'list-runs': '3', 'gcs-bucket': bucket, 'trend-runs': '3' }, env: env() });
    expect(errors(r)).toBe('');
    // The 3 newest (g6, g5, g4) are all of group G: one chart, of its 3 newest reported runs.
    const blocks = extractMermaidBlocks(r.summary);
    expect(blocks).toHaveLength(1);
    expect(blocks[0].text).toMatch(/^ {2}line \[75, 25, 75\]$/m);
    expect(await checkMarkdownMermaid(r.summary)).toEqual([]);
  });
});

// The Ray Jobs API double (tools/ray-sim) over real HTTP. First the shared contract rows
// (tests/helpers/ray-jobs-contract.ts), which also run against a real Ray head in
// tests/real/ray-contract.test.ts. Then what only a double can show: the request-validation texts
// and routing table (CONTRACT; `ref` names the Ray Jobs API section each row comes from), jobs held
// PENDING, the start timeout, SIGKILL escalation, working_dir edge cases, faults, the CLI and the
// WebSocket tail's framing.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_DETAILS_KEYS, type JobDetails, RAY_TEXT, type RaySim, startRaySim } from '../../tools/ray-sim/server.mjs';
import { writeZip } from '../../tools/ray-sim/zip.mjs';
import { jobsContract, wsTail } from '../helpers/ray-jobs-contract.js';

/** The scenarios below assert exact logs and pre-2.50 error_type: without Ray's supervisor lines, at 2.47.1. */
const EXACT_LOGS = { supervisorLogLines: false, rayVersion: '2.47.1' } as const;

// ----- the shared rows (the same ones run against a real head in tests/real/ray-contract.test.ts) --

describe('Ray Jobs API contract: the double', () => {
  let shared: RaySim;
  beforeAll(async () => {
    shared = await startRaySim({ pendingDelayMs: 20, stopWaitMs: 500 });
  });
  afterAll(async () => {
    await shared.close();
  });
  jobsContract(() => ({ url: shared.url, rayVersion: '2.60.0' }));
});

// ----- HTTP helpers -------------------------------------------------------------------------------

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Content type without parameters. */
  type: string;
  text: string;
}

interface CallOptions {
  body?: string | Buffer;
  headers?: Record<string, string>;
}

function call(base: string, method: string, path: string, opts: CallOptions = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          type:
            String(res.headers['content-type'] ?? '')
              .split(';')[0]
              ?.trim() ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const postJson = (base: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Reply> =>
  call(base, 'POST', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

/** Parses a 200 JSON body; a non-200 body is never JSON-parsed (docs/reference/ray-jobs.md#endpoints, docs/reference/ray-jobs.md#p4-error-bodies-are-text). */
function okJson(r: Reply): unknown {
  expect(r.status, r.text).toBe(200);
  expect(r.type).toBe('application/json');
  return JSON.parse(r.text) as unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks the docs/reference/ray-jobs.md#jobdetails shape (all 15 keys, in order) and returns the details. */
function details(r: Reply): JobDetails {
  const v = okJson(r);
  if (!isRecord(v)) throw new Error(`not a JobDetails object: ${r.text}`);
  expect(Object.keys(v)).toEqual([...JOB_DETAILS_KEYS]);
  return v as unknown as JobDetails;
}

async function getDetails(sim: RaySim, sid: string): Promise<JobDetails> {
  return details(await call(sim.url, 'GET', `/api/jobs/${encodeURIComponent(sid)}`));
}

async function submit(sim: RaySim, body: Record<string, unknown>): Promise<string> {
  const v = okJson(await postJson(sim.url, '/api/jobs/', body));
  if (!isRecord(v) || typeof v.submission_id !== 'string') throw new Error('bad submit response');
  expect(v).toEqual({ job_id: v.submission_id, submission_id: v.submission_id });
  return v.submission_id;
}

/** The last non-empty line of a traceback-shaped text. */
function lastLine(t: string): string {
  const lines = t.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

// ----- the table ----------------------------------------------------------------------------------

type BodyCheck = { json: unknown } | { jsonKeys: string[] } | { text: string } | { lastLine: string } | { contains: string[] } | { empty: true };

interface Row {
  ref: string;
  name: string;
  method: string;
  path: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  status: number;
  /** '' = no Content-Type header (Ray's bare 200 on packages). */
  type: 'application/json' | 'text/plain' | '';
  allow?: string;
  check: BodyCheck;
}

const TE = (msg: string): BodyCheck => ({ lastLine: `TypeError: ${msg}` });
const J = { 'content-type': 'application/json' };
const PKG = '_ray_pkg_c0ffee00c0ffee00.zip';

// Fixtures made in beforeAll: `c-held` (kept PENDING), `c-done` (SUCCEEDED, printed "done-output"),
// and the package gcs://<PKG>.
const CONTRACT: Row[] = [
  // docs/reference/ray-jobs.md#version GET /api/version
  {
    ref: 'ray-jobs#version',
    name: 'version: the four keys',
    method: 'GET',
    path: '/api/version',
    status: 200,
    type: 'application/json',
    check: { jsonKeys: ['version', 'ray_version', 'ray_commit', 'session_name'] },
  },
  {
    ref: 'ray-jobs#version',
    name: 'version: HEAD is allowed',
    method: 'HEAD',
    path: '/api/version',
    status: 200,
    type: 'application/json',
    check: { empty: true },
  },
  {
    ref: 'ray-jobs#version/ray-jobs#what-the-test-double-must-reproduce',
    name: 'version: POST is 405',
    method: 'POST',
    path: '/api/version',
    status: 405,
    type: 'text/plain',
    allow: 'GET,HEAD',
    check: { text: '405: Method Not Allowed' },
  },

  // docs/reference/ray-jobs.md#submit POST /api/jobs/ — 400 type errors (common.py __post_init__), constructor errors first
  {
    ref: 'ray-jobs#submit',
    name: 'submit: entrypoint int',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": 1}',
    status: 400,
    type: 'text/plain',
    check: TE("entrypoint must be a string, got <class 'int'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: missing entrypoint',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"submission_id": "c-x"}',
    status: 400,
    type: 'text/plain',
    check: TE("JobSubmitRequest.__init__() missing 1 required positional argument: 'entrypoint'"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: unknown key',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "x": 1}',
    status: 400,
    type: 'text/plain',
    check: TE("JobSubmitRequest.__init__() got an unexpected keyword argument 'x'"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: submission_id int',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "submission_id": 7}',
    status: 400,
    type: 'text/plain',
    check: TE("submission_id must be a string if provided, got <class 'int'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: runtime_env list',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "runtime_env": []}',
    status: 400,
    type: 'text/plain',
    check: TE("runtime_env must be a dict, got <class 'list'>"),
  },
  {
    ref: 'ray-jobs#submit, docs/reference/ray-jobs.md#p7-metadata-is-string-to-string',
    name: 'submit: metadata value int',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "metadata": {"n": 1}}',
    status: 400,
    type: 'text/plain',
    check: TE("metadata values must be strings, got <class 'int'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: metadata string',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "metadata": "m"}',
    status: 400,
    type: 'text/plain',
    check: TE("metadata must be a dict, got <class 'str'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: entrypoint_num_cpus string',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "entrypoint_num_cpus": "1"}',
    status: 400,
    type: 'text/plain',
    check: TE("entrypoint_num_cpus must be a number, got <class 'str'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: entrypoint_memory 1.5',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "entrypoint_memory": 1.5}',
    status: 400,
    type: 'text/plain',
    check: TE("entrypoint_memory must be an integer, got <class 'float'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: entrypoint_memory 1.0 is a float too',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "entrypoint_memory": 1.0}',
    status: 400,
    type: 'text/plain',
    check: TE("entrypoint_memory must be an integer, got <class 'float'>"),
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: entrypoint_resources value "1"',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "entrypoint_resources": {"GPU": "1"}}',
    status: 400,
    type: 'text/plain',
    check: TE("entrypoint_resources values must be numbers, got <class 'str'>"),
  },
  // docs/reference/ray-jobs.md#submit 500s
  {
    ref: 'ray-jobs#submit',
    name: 'submit: body not JSON',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: 'not json',
    status: 500,
    type: 'text/plain',
    check: { text: RAY_TEXT.internalError },
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: JSON array',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '[]',
    status: 500,
    type: 'text/plain',
    check: { text: RAY_TEXT.internalError },
  },
  {
    ref: 'ray-jobs#submit',
    name: 'submit: JSON string',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '"x"',
    status: 500,
    type: 'text/plain',
    check: { text: RAY_TEXT.internalError },
  },
  {
    ref: 'ray-jobs#submit/ray-jobs#idempotency-and-retries',
    name: 'submit: duplicate submission_id',
    method: 'POST',
    path: '/api/jobs/',
    headers: J,
    body: '{"entrypoint": "true", "submission_id": "c-held"}',
    status: 500,
    type: 'text/plain',
    check: { contains: ['Request failed with status code 400', 'Job with submission_id c-held already exists. Please use a different submission_id.'] },
  },

  // docs/reference/ray-jobs.md#p1-trailing-slash trailing slash and routing
  {
    ref: 'docs/reference/ray-jobs.md#p1-trailing-slash',
    name: 'POST /api/jobs (no slash) is 404',
    method: 'POST',
    path: '/api/jobs',
    headers: J,
    body: '{"entrypoint": "true"}',
    status: 404,
    type: 'text/plain',
    check: { text: '404: Not Found' },
  },
  {
    ref: 'docs/reference/ray-jobs.md#p1-trailing-slash',
    name: 'GET /api/jobs (no slash) is 404',
    method: 'GET',
    path: '/api/jobs',
    status: 404,
    type: 'text/plain',
    check: { text: '404: Not Found' },
  },
  {
    ref: 'docs/reference/ray-jobs.md#p1-trailing-slash',
    name: 'GET /api/jobs/{id}/ (slash) is 404',
    method: 'GET',
    path: '/api/jobs/c-done/',
    status: 404,
    type: 'text/plain',
    check: { text: '404: Not Found' },
  },
  {
    ref: 'docs/reference/ray-jobs.md#p1-trailing-slash',
    name: 'POST /api/jobs/submit is 405 (GET/DELETE route)',
    method: 'POST',
    path: '/api/jobs/submit',
    status: 405,
    type: 'text/plain',
    allow: 'GET,HEAD',
    check: { text: '405: Method Not Allowed' },
  },
  {
    ref: 'ray-jobs#what-the-test-double-must-reproduce',
    name: 'PUT /api/jobs/ is 405 (the double serves no job list, so POST only)',
    method: 'PUT',
    path: '/api/jobs/',
    status: 405,
    type: 'text/plain',
    allow: 'POST',
    check: { text: '405: Method Not Allowed' },
  },
  {
    ref: 'ray-jobs#what-the-test-double-must-reproduce',
    name: 'GET /api/jobs/{id}/stop is 405',
    method: 'GET',
    path: '/api/jobs/c-done/stop',
    status: 405,
    type: 'text/plain',
    allow: 'POST',
    check: { text: '405: Method Not Allowed' },
  },
  {
    ref: 'ray-jobs#what-the-test-double-must-reproduce',
    name: 'POST /api/jobs/{id}/logs is 405',
    method: 'POST',
    path: '/api/jobs/c-done/logs',
    status: 405,
    type: 'text/plain',
    allow: 'GET,HEAD',
    check: { text: '405: Method Not Allowed' },
  },
  {
    ref: 'ray-jobs#what-the-test-double-must-reproduce',
    name: 'DELETE /api/packages/... is 405',
    method: 'DELETE',
    path: `/api/packages/gcs/${PKG}`,
    status: 405,
    type: 'text/plain',
    allow: 'GET,HEAD,PUT',
    check: { text: '405: Method Not Allowed' },
  },
  {
    ref: 'ray-jobs#what-the-test-double-must-reproduce',
    name: 'unknown path is 404',
    method: 'GET',
    path: '/api/nothing',
    status: 404,
    type: 'text/plain',
    check: { text: '404: Not Found' },
  },
  {
    ref: 'ray-jobs#routes-not-used',
    name: 'the agent route is not served',
    method: 'GET',
    path: '/api/job_agent/jobs/c-done',
    status: 404,
    type: 'text/plain',
    check: { text: '404: Not Found' },
  },

  // docs/reference/ray-jobs.md#job-details–docs/reference/ray-jobs.md#delete, docs/reference/ray-jobs.md#what-the-test-double-must-reproduce: 404 for unknown ids on every per-job route
  {
    ref: 'ray-jobs#job-details',
    name: 'GET unknown job',
    method: 'GET',
    path: '/api/jobs/nope',
    status: 404,
    type: 'text/plain',
    check: { text: 'Job nope does not exist' },
  },
  {
    ref: 'ray-jobs#logs',
    name: 'logs of unknown job',
    method: 'GET',
    path: '/api/jobs/nope/logs',
    status: 404,
    type: 'text/plain',
    check: { text: 'Job nope does not exist' },
  },
  {
    ref: 'ray-jobs#log-tail-websocket',
    name: 'tail of unknown job',
    method: 'GET',
    path: '/api/jobs/nope/logs/tail',
    status: 404,
    type: 'text/plain',
    check: { text: 'Job nope does not exist' },
  },
  {
    ref: 'ray-jobs#stop',
    name: 'stop unknown job',
    method: 'POST',
    path: '/api/jobs/nope/stop',
    status: 404,
    type: 'text/plain',
    check: { text: 'Job nope does not exist' },
  },

  // docs/reference/ray-jobs.md#logs logs, docs/reference/ray-jobs.md#stop stop, docs/reference/ray-jobs.md#delete delete on the fixtures
  {
    ref: 'ray-jobs#logs',
    name: 'logs while PENDING are ""',
    method: 'GET',
    path: '/api/jobs/c-held/logs',
    status: 200,
    type: 'application/json',
    check: { json: { logs: '' } },
  },
  {
    ref: 'ray-jobs#logs',
    name: 'logs after the run',
    method: 'GET',
    path: '/api/jobs/c-done/logs',
    status: 200,
    type: 'application/json',
    check: { contains: ['Runtime env is setting up.\\n', 'Running entrypoint for job c-done: echo done-output\\ndone-output\\n'] },
  },
  {
    ref: 'ray-jobs#stop',
    name: 'stop a terminal job',
    method: 'POST',
    path: '/api/jobs/c-done/stop',
    status: 200,
    type: 'application/json',
    check: { json: { stopped: false } },
  },
  {
    ref: 'ray-jobs#log-tail-websocket',
    name: 'tail without a WebSocket upgrade',
    method: 'GET',
    path: '/api/jobs/c-done/logs/tail',
    status: 400,
    type: 'text/plain',
    check: { contains: ['No WebSocket UPGRADE hdr'] },
  },

  // docs/reference/ray-jobs.md#packages packages
  {
    ref: 'ray-jobs#packages',
    name: 'package GET missing',
    method: 'GET',
    path: '/api/packages/gcs/_ray_pkg_0000.zip',
    status: 404,
    type: 'text/plain',
    check: { text: 'Package gcs://_ray_pkg_0000.zip does not exist' },
  },
  { ref: 'ray-jobs#packages', name: 'package GET present', method: 'GET', path: `/api/packages/gcs/${PKG}`, status: 200, type: '', check: { empty: true } },
  {
    ref: 'ray-jobs#packages',
    name: 'package PUT stores the bytes',
    method: 'PUT',
    path: '/api/packages/gcs/_ray_pkg_put1.zip',
    body: writeZip([{ name: 'a.txt', data: 'a' }]),
    status: 200,
    type: '',
    check: { empty: true },
  },
  {
    ref: 'ray-jobs#packages',
    name: 'package PUT of a non .zip/.whl name',
    method: 'PUT',
    path: '/api/packages/gcs/_ray_pkg_put1.tar',
    body: Buffer.from('x'),
    status: 500,
    type: 'text/plain',
    check: { contains: ['does not end in .zip or .whl'] },
  },
];

describe('ray-sim contract table (sim-only rows: request validation texts, routing, fixtures held PENDING)', () => {
  let sim: RaySim;

  beforeAll(async () => {
    sim = await startRaySim({ pendingDelayMs: 20 });
    sim.control.holdPending('c-held', true);
    await submit(sim, { entrypoint: 'echo never', submission_id: 'c-held' });
    await submit(sim, { entrypoint: 'echo done-output', submission_id: 'c-done' });
    await sim.waitForStatus('c-done', 'SUCCEEDED');
    const put = await call(sim.url, 'PUT', `/api/packages/gcs/${PKG}`, { body: writeZip([{ name: 'x.txt', data: 'x' }]) });
    expect(put.status).toBe(200);
  });
  afterAll(async () => {
    await sim.close();
  });

  for (const row of CONTRACT) {
    it(`${row.ref} ${row.method} ${row.path}: ${row.name} → ${row.status}`, async () => {
      const r = await call(sim.url, row.method, row.path, { body: row.body, headers: row.headers });
      expect(r.status, r.text).toBe(row.status);
      expect(r.type).toBe(row.type);
      if (row.allow !== undefined) expect(r.headers.allow).toBe(row.allow);
      const c = row.check;
      if ('json' in c) expect(okJson(r)).toEqual(c.json);
      else if ('jsonKeys' in c) {
        const v = okJson(r);
        if (!isRecord(v)) throw new Error('expected an object');
        expect(Object.keys(v)).toEqual(c.jsonKeys);
      } else if ('text' in c) expect(r.text).toBe(c.text);
      else if ('lastLine' in c) {
        expect(r.text.startsWith('Traceback (most recent call last):\n')).toBe(true);
        expect(lastLine(r.text)).toBe(c.lastLine);
      } else if ('contains' in c) for (const s of c.contains) expect(r.text).toContain(s);
      else expect(r.text).toBe('');
    });
  }

  it('ray-jobs#what-the-test-double-must-reproduce every error body of the table is text/plain, every success body JSON or empty', () => {
    for (const row of CONTRACT) {
      if (row.status >= 400) expect(row.type, row.name).toBe('text/plain');
    }
    const answered = sim.requests.filter((q) => q.status !== null);
    expect(answered.length).toBeGreaterThan(CONTRACT.length);
    const errorsNotText = answered.filter((q) => (q.status ?? 0) >= 400 && !(q.responseType ?? '').startsWith('text/plain'));
    expect(errorsNotText.map((q) => `${q.method} ${q.path}`)).toEqual([]);
    const okNotJson = answered.filter(
      (q) => q.status === 200 && !(q.responseType ?? '').startsWith('application/json') && !q.path.startsWith('/api/packages/'),
    );
    expect(okNotJson.map((q) => `${q.method} ${q.path}`)).toEqual([]);
  });

  it('ray-jobs#version version values', async () => {
    const v = okJson(await call(sim.url, 'GET', '/api/version'));
    if (!isRecord(v)) throw new Error('expected an object');
    expect(v.version).toBe('4');
    expect(v.ray_version).toBe('2.60.0');
    expect(v.ray_commit).toMatch(/^[0-9a-f]{40}$/);
    expect(v.session_name).toMatch(/^session_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_\d{6}_\d+$/);
  });

  it('ray-jobs#submit a rejected request creates no job', () => {
    expect(sim.jobs.has('c-x')).toBe(false);
  });
});

describe('ray-sim submit, details and the state machine (docs/reference/ray-jobs.md#submit, docs/reference/ray-jobs.md#job-details, docs/reference/ray-jobs.md#jobdetails, docs/reference/ray-jobs.md#statuses-and-messages)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ ...EXACT_LOGS, pendingDelayMs: 20 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('ray-jobs#submit generates raysubmit_ + 16 chars of [A-Za-z0-9] minus I l o O 0', async () => {
    for (let k = 0; k < 5; k++) {
      const sid = await submit(sim, { entrypoint: 'true' });
      expect(sid).toMatch(/^raysubmit_[A-HJ-NP-Za-km-np-z1-9]{16}$/);
    }
  });

  it('ray-jobs#submit the deprecated job_id alias names the job; submission_id wins over it', async () => {
    expect(await submit(sim, { entrypoint: 'true', job_id: 'c-alias' })).toBe('c-alias');
    expect(await submit(sim, { entrypoint: 'true', job_id: 'c-alias-2', submission_id: 'c-sid' })).toBe('c-sid');
  });

  it('ray-jobs#submit null keys are stripped before validation, so GET shows null for them', async () => {
    const r = await postJson(sim.url, '/api/jobs/', {
      entrypoint: 'true',
      submission_id: 'c-nulls',
      runtime_env: null,
      metadata: null,
      some_future_field: null,
    });
    expect(okJson(r)).toEqual({ job_id: 'c-nulls', submission_id: 'c-nulls' });
    const d = await getDetails(sim, 'c-nulls');
    expect(d.metadata).toBeNull();
    expect(d.runtime_env).toBeNull();
  });

  it('ray-jobs#job-details/ray-jobs#jobdetails GET echoes entrypoint, metadata and runtime_env verbatim, 15 keys, PENDING defaults', async () => {
    sim.control.holdPending('c-echo', true);
    const runtimeEnv = { env_vars: { TOKEN: 'clear-text', ÜNÏ: 'ç' }, pip: ['x==1'], nested: { a: [1, 2.5, true, null] } };
    const metadata = { run: 'r1', 'with space': 'ok' };
    const entrypoint = 'python -m pkg.cli --name \'a b\' --x="$HOME"';
    await submit(sim, {
      entrypoint,
      submission_id: 'c-echo',
      runtime_env: runtimeEnv,
      metadata,
      entrypoint_num_cpus: 1,
      entrypoint_memory: 1024,
    });
    const d = await getDetails(sim, 'c-echo');
    expect(d).toMatchObject({
      type: 'SUBMISSION',
      job_id: null,
      submission_id: 'c-echo',
      driver_info: null,
      status: 'PENDING',
      entrypoint,
      error_type: null,
      end_time: null,
      metadata,
      runtime_env: runtimeEnv,
      driver_agent_http_address: null,
      driver_node_id: null,
      driver_exit_code: null,
    });
    expect(d.message).toBe(
      'Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, custom resources) to become available.' +
        ' It may be waiting for the runtime environment to be set up.',
    );
    expect(d.start_time).toBeGreaterThan(1e12); // epoch milliseconds, not seconds
    sim.control.holdPending('c-echo', false);
    await sim.waitForStatus('c-echo', ['SUCCEEDED', 'FAILED']);
  });

  it('ray-jobs#statuses-and-messages PENDING → RUNNING → SUCCEEDED, observed over HTTP', async () => {
    sim.control.holdPending('c-run', true);
    await submit(sim, { entrypoint: 'echo started; while [ ! -f go ]; do sleep 0.02; done; echo finished', submission_id: 'c-run' });
    await sim.waitFor(() => sim.jobs.get('c-run')?.waitingForRelease === true);
    const pending = await getDetails(sim, 'c-run');
    expect(pending.status).toBe('PENDING');
    expect(pending.message).toBe('Job has not started yet.');
    expect(okJson(await call(sim.url, 'GET', '/api/jobs/c-run/logs'))).toEqual({ logs: '' });

    sim.control.holdPending('c-run', false);
    await sim.waitForStatus('c-run', 'RUNNING');
    const running = await getDetails(sim, 'c-run');
    expect(running).toMatchObject({ status: 'RUNNING', message: 'Job is currently running.', end_time: null, driver_exit_code: null });
    expect(running.driver_agent_http_address).toMatch(/^http:\/\/[\d.]+:\d+$/);
    expect(running.driver_node_id).toMatch(/^[0-9a-f]{56}$/);
    await sim.waitFor(() => sim.getLog('c-run').includes('started'));
    expect(okJson(await call(sim.url, 'GET', '/api/jobs/c-run/logs'))).toEqual({ logs: 'started\n' });

    const cwd = sim.jobs.get('c-run')?.cwd;
    if (!cwd) throw new Error('no cwd');
    writeFileSync(join(cwd, 'go'), '');
    await sim.waitForStatus('c-run', 'SUCCEEDED');
    const done = await getDetails(sim, 'c-run');
    expect(done).toMatchObject({ status: 'SUCCEEDED', message: 'Job finished successfully.', driver_exit_code: 0, error_type: null });
    expect(done.end_time).toBeGreaterThanOrEqual(done.start_time ?? Infinity);
    expect(done.driver_node_id).toBe(running.driver_node_id); // kept after the driver exits
    expect(okJson(await call(sim.url, 'GET', '/api/jobs/c-run/logs'))).toEqual({ logs: 'started\nfinished\n' });
  });

  it('ray-jobs#statuses-and-messages FAILED carries the exit code and the last 10 log lines (stdout and stderr merged)', async () => {
    const sid = await submit(sim, {
      entrypoint: 'for i in 1 2 3 4 5 6; do echo out$i; echo err$i >&2; done; exit 3',
      submission_id: 'c-fail',
    });
    const d = await sim.waitForStatus(sid, 'FAILED');
    const all = ['out1', 'err1', 'out2', 'err2', 'out3', 'err3', 'out4', 'err4', 'out5', 'err5', 'out6', 'err6'];
    expect(d.message).toBe(
      `Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\n${all
        .slice(2)
        .map((l) => `${l}\n`)
        .join('')}`,
    );
    expect(d.driver_exit_code).toBe(3);
    expect(d.error_type).toBeNull(); // populated only from about Ray 2.50
    const logs = okJson(await call(sim.url, 'GET', `/api/jobs/${sid}/logs`));
    expect(logs).toEqual({ logs: all.map((l) => `${l}\n`).join('') });
  });

  it('ray-jobs#statuses-and-messages FAILED with no output says "No logs available."', async () => {
    const d = await sim.waitForStatus(await submit(sim, { entrypoint: 'exit 4', submission_id: 'c-fail-quiet' }), 'FAILED');
    expect(d.message).toBe('Job entrypoint command failed with exit code 4. No logs available.');
    expect(d.driver_exit_code).toBe(4);
  });

  it('ray-jobs#statuses-and-messages the 20,000-char cap on the failure message', async () => {
    const d = await sim.waitForStatus(
      await submit(sim, { entrypoint: 'awk \'BEGIN { for (i = 0; i < 2100; i++) printf "1234567890"; print "" }\'; exit 1', submission_id: 'c-fail-big' }),
      'FAILED',
    );
    const prefix = 'Job entrypoint command failed with exit code 1, last available logs (truncated to 20,000 chars):\n';
    expect(d.message?.length).toBe(prefix.length + 20000);
  });

  it('ray-jobs#entrypoint-and-environment the entrypoint runs under /bin/sh -c with env_vars, PYTHONUNBUFFERED, RAY_ADDRESS, RAY_JOB_CONFIG_JSON_ENV_VAR', async () => {
    const sid = await submit(sim, {
      entrypoint: 'echo "$PYTHONUNBUFFERED|$FOO|${RAY_ADDRESS:+set}"; printf "%s" "$RAY_JOB_CONFIG_JSON_ENV_VAR" > cfg.json',
      submission_id: 'c-env',
      runtime_env: { env_vars: { FOO: 'bar baz' } },
      metadata: { k: 'v' },
    });
    await sim.waitForStatus(sid, 'SUCCEEDED');
    expect(sim.getLog(sid)).toBe('1|bar baz|set\n');
    const cwd = sim.jobs.get(sid)?.cwd ?? '';
    const cfg: unknown = JSON.parse(readFileSync(join(cwd, 'cfg.json'), 'utf8'));
    expect(cfg).toMatchObject({ runtime_env: { env_vars: { FOO: 'bar baz' } }, metadata: { k: 'v', job_submission_id: sid } });
  });

  it('ray-jobs#entrypoint-and-environment nothing outlives the job: background commands left in its process group are killed at exit', async () => {
    const sid = await submit(sim, { entrypoint: 'sleep 300 & echo bg', submission_id: 'c-bg' });
    await sim.waitForStatus(sid, 'SUCCEEDED');
    const pgid = sim.jobs.get(sid)?.pid;
    if (pgid === null || pgid === undefined) throw new Error('no pid');
    await sim.waitFor(() => processGroupGone(pgid), { description: `process group ${pgid} to disappear` });
  });

  it('ray-jobs#statuses-and-messages terminal is final: stop after SUCCEEDED changes nothing', async () => {
    const sid = await submit(sim, { entrypoint: 'true', submission_id: 'c-final' });
    const before = await sim.waitForStatus(sid, 'SUCCEEDED');
    expect(okJson(await call(sim.url, 'POST', `/api/jobs/${sid}/stop`))).toEqual({ stopped: false });
    expect(await getDetails(sim, sid)).toEqual(before);
  });
});

describe('ray-sim stop (docs/reference/ray-jobs.md#stop)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ pendingDelayMs: 20, stopWaitMs: 200 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('stop a RUNNING job: {"stopped": true}, then STOPPED with exit code null; a second stop is {"stopped": false}', async () => {
    const sid = await submit(sim, { entrypoint: 'echo up; exec sleep 60', submission_id: 'c-stop' });
    await sim.waitForStatus(sid, 'RUNNING');
    await sim.waitFor(() => sim.getLog(sid).includes('up'));
    expect(okJson(await call(sim.url, 'POST', `/api/jobs/${sid}/stop`, { headers: J }))).toEqual({ stopped: true });
    await sim.waitForStatus(sid, 'STOPPED');
    const d = await getDetails(sim, sid);
    expect(d).toMatchObject({ status: 'STOPPED', message: 'Job was intentionally stopped.', driver_exit_code: null, error_type: null });
    expect(d.end_time).not.toBeNull();
    expect(okJson(await call(sim.url, 'POST', `/api/jobs/${sid}/stop`))).toEqual({ stopped: false });
  });

  it('stop escalates to SIGKILL for the whole process group when SIGTERM is ignored', async () => {
    const sid = await submit(sim, {
      entrypoint: "trap '' TERM; echo armed; while true; do sleep 0.05; done",
      submission_id: 'c-stubborn',
    });
    await sim.waitFor(() => sim.getLog(sid).includes('armed'));
    expect(okJson(await call(sim.url, 'POST', `/api/jobs/${sid}/stop`))).toEqual({ stopped: true });
    const d = await sim.waitForStatus(sid, 'STOPPED');
    expect(d.driver_exit_code).toBeNull();
  });

  it('stop a PENDING job: {"stopped": true}; it never runs and ends STOPPED once released', async () => {
    sim.control.holdPending('c-stop-pending', true);
    const sid = await submit(sim, { entrypoint: 'echo ran', submission_id: 'c-stop-pending' });
    expect(okJson(await call(sim.url, 'POST', `/api/jobs/${sid}/stop`))).toEqual({ stopped: true });
    expect((await getDetails(sim, sid)).status).toBe('PENDING'); // Ray issue ray-project/ray#58353: true, and nothing yet
    sim.control.holdPending('c-stop-pending', false);
    await sim.waitForStatus(sid, 'STOPPED');
    expect(okJson(await call(sim.url, 'GET', `/api/jobs/${sid}/logs`))).toEqual({ logs: '' });
  });
});

describe('ray-sim runtime_env: working_dir packages and env_vars (docs/reference/ray-jobs.md#packages, docs/reference/ray-jobs.md#p6-a-200-does-not-mean-the-job-is-valid, docs/reference/ray-jobs.md#entrypoint-and-environment)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ ...EXACT_LOGS, pendingDelayMs: 20 });
  });
  afterAll(async () => {
    await sim.close();
  });

  const putPackage = async (name: string, zip: Buffer): Promise<void> => {
    const exists = await call(sim.url, 'GET', `/api/packages/gcs/${name}`);
    expect(exists.status).toBe(404);
    const put = await call(sim.url, 'PUT', `/api/packages/gcs/${name}`, { body: zip });
    expect(put.status, put.text).toBe(200);
  };

  it('a gcs:// working_dir is unpacked with its root entries in the cwd; `cat secrets.json` prints the file', async () => {
    const secret = JSON.stringify({ ANTHROPIC_API_KEY: 'sk-test-123' });
    const zip = writeZip([
      { name: 'secrets.json', data: secret },
      { name: 'pkg/', data: '' },
      { name: 'pkg/mod.txt', data: 'module', method: 'store' },
    ]);
    await putPackage('_ray_pkg_abc123.zip', zip);
    expect(sim.packages.get('gcs://_ray_pkg_abc123.zip')?.equals(zip)).toBe(true);
    const sid = await submit(sim, {
      entrypoint: 'cat secrets.json; echo; cat pkg/mod.txt',
      submission_id: 'c-wd',
      runtime_env: { working_dir: 'gcs://_ray_pkg_abc123.zip' },
    });
    await sim.waitForStatus(sid, 'SUCCEEDED');
    expect(okJson(await call(sim.url, 'GET', `/api/jobs/${sid}/logs`))).toEqual({ logs: `${secret}\nmodule` });
  });

  it('zip entries that would escape the working_dir are refused', async () => {
    await putPackage(
      '_ray_pkg_evil.zip',
      writeZip([
        { name: '../escaped.txt', data: 'x' },
        { name: 'ok.txt', data: 'ok' },
      ]),
    );
    const sid = await submit(sim, { entrypoint: 'cat ok.txt', submission_id: 'c-evil', runtime_env: { working_dir: 'gcs://_ray_pkg_evil.zip' } });
    await sim.waitForStatus(sid, 'SUCCEEDED');
    const job = sim.jobs.get(sid);
    expect(job?.skippedZipEntries).toEqual(['../escaped.txt']);
    expect(existsSync(join(dirname(job?.cwd ?? '/nonexistent/x'), 'escaped.txt'))).toBe(false);
    expect(sim.getLog(sid)).toBe('ok');
  });

  it('a working_dir that was never uploaded: PENDING → FAILED with a runtime_env message, no driver, no logs', async () => {
    const sid = await submit(sim, { entrypoint: 'true', submission_id: 'c-nopkg', runtime_env: { working_dir: 'gcs://_ray_pkg_missing.zip' } });
    const d = await sim.waitForStatus(sid, 'FAILED');
    expect(d.message?.startsWith('runtime_env setup failed: Failed to set up runtime environment.')).toBe(true);
    expect(d).toMatchObject({ driver_exit_code: null, driver_agent_http_address: null, driver_node_id: null, error_type: null });
    expect(okJson(await call(sim.url, 'GET', `/api/jobs/${sid}/logs`))).toEqual({ logs: '' });
  });

  it('non-string env_vars values: 200 at submit, then FAILED (supervisor start failure), no error_type before 2.50', async () => {
    const sid = await submit(sim, { entrypoint: 'true', submission_id: 'c-envint', runtime_env: { env_vars: { N: 1 } } });
    const d = await sim.waitForStatus(sid, 'FAILED');
    expect(d.message).toMatch(
      /^Failed to start supervisor actor c-envint: 'runtime_env\['env_vars'\] must be of type Dict\[str, str\], but the value 1 is of type <class 'int'>'\. Full traceback:\n/,
    );
    expect(d.error_type).toBeNull();
    expect(d.driver_exit_code).toBeNull();
  });
});

describe('ray-sim version-gated behaviour (docs/reference/ray-jobs.md#versions-covered, docs/reference/ray-jobs.md#statuses-and-messages)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ pendingDelayMs: 20, rayVersion: '2.54.0' });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('error_type is populated from 2.50', async () => {
    const failed = await sim.waitForStatus(await submit(sim, { entrypoint: 'exit 2' }), 'FAILED');
    expect(failed.error_type).toBe('JOB_ENTRYPOINT_COMMAND_ERROR');
    const envFail = await sim.waitForStatus(await submit(sim, { entrypoint: 'true', runtime_env: { env_vars: { A: true } } }), 'FAILED');
    expect(envFail.error_type).toBe('JOB_SUPERVISOR_ACTOR_START_FAILURE');
    const noPkg = await sim.waitForStatus(await submit(sim, { entrypoint: 'true', runtime_env: { working_dir: 'gcs://_ray_pkg_nope.zip' } }), 'FAILED');
    expect(noPkg.error_type).toBe('RUNTIME_ENV_SETUP_FAILURE');
  });

  it('entrypoint_label_selector is a known key (Ray 2.60 has it)', async () => {
    await submit(sim, { entrypoint: 'true', entrypoint_label_selector: { zone: 'a' } });
  });

  it('setVersion changes /api/version; null makes it a 404 (a pre-version server)', async () => {
    sim.control.setVersion('2.9.3');
    const v = okJson(await call(sim.url, 'GET', '/api/version'));
    expect(isRecord(v) && v.ray_version).toBe('2.9.3');
    sim.control.setVersion(null);
    const gone = await call(sim.url, 'GET', '/api/version');
    expect([gone.status, gone.text]).toEqual([404, '404: Not Found']);
    sim.control.setVersion({ rayVersion: '2.54.0' });
  });
});

describe('ray-sim PENDING start timeout (docs/reference/ray-jobs.md#statuses-and-messages, docs/reference/ray-jobs.md#p5-jobs-stuck-in-pending)', () => {
  it('a job held PENDING past RAY_JOB_START_TIMEOUT_SECONDS FAILs with the supervisor timeout message', async () => {
    const sim = await startRaySim({ pendingDelayMs: 10, startTimeoutMs: 300 });
    try {
      sim.control.holdPending('*', true);
      const sid = await submit(sim, { entrypoint: 'true' });
      const d = await sim.waitForStatus(sid, 'FAILED');
      expect(d.message).toBe(
        'Job supervisor actor failed to start within 0.3 seconds. This timeout can be configured by setting the environment variable RAY_JOB_START_TIMEOUT_SECONDS.',
      );
      expect(d.driver_exit_code).toBeNull();
    } finally {
      await sim.close();
    }
  });
});

describe('ray-sim fault control (5xx bursts, resets, "processed but the answer was lost")', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ pendingDelayMs: 20 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('failNext: a burst of 503s on one route, text/plain, then normal answers', async () => {
    sim.control.failNext({ status: 503, count: 2, match: (m, p) => m === 'GET' && p === '/api/version' });
    const other = await call(sim.url, 'GET', '/api/jobs/nope');
    expect(other.status).toBe(404); // not matched, not consumed
    for (let k = 0; k < 2; k++) {
      const r = await call(sim.url, 'GET', '/api/version');
      expect([r.status, r.type, r.text]).toEqual([503, 'text/plain', '503: Service Unavailable']);
    }
    expect((await call(sim.url, 'GET', '/api/version')).status).toBe(200);
  });

  it('failNext "before": the request is not processed', async () => {
    sim.control.failNext({ status: 500, body: RAY_TEXT.noAgent, match: (m, p) => m === 'POST' && p === '/api/jobs/' });
    const r = await postJson(sim.url, '/api/jobs/', { entrypoint: 'true', submission_id: 'c-f-before' });
    expect([r.status, r.text]).toEqual([500, 'No available agent to submit job, please try again later.']);
    expect((await call(sim.url, 'GET', '/api/jobs/c-f-before')).status).toBe(404);
  });

  it('failNext "after": the job is created but the client sees a 502, so GET finds it (docs/reference/ray-jobs.md#idempotency-and-retries idempotent retry)', async () => {
    sim.control.failNext({ status: 502, when: 'after', match: (m) => m === 'POST' });
    const r = await postJson(sim.url, '/api/jobs/', { entrypoint: 'true', submission_id: 'c-f-after' });
    expect(r.status).toBe(502);
    expect((await getDetails(sim, 'c-f-after')).submission_id).toBe('c-f-after');
    const again = await postJson(sim.url, '/api/jobs/', { entrypoint: 'true', submission_id: 'c-f-after' });
    expect(again.status).toBe(500);
    expect(again.text).toContain('Please use a different submission_id');
  });

  it('resetNext: the socket is destroyed with no response; "after" still creates the job', async () => {
    sim.control.resetNext({ match: (m, p) => m === 'POST' && p === '/api/jobs/', when: 'after' });
    await expect(postJson(sim.url, '/api/jobs/', { entrypoint: 'true', submission_id: 'c-reset' })).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await getDetails(sim, 'c-reset')).submission_id).toBe('c-reset');
    const entry = sim.requests.filter((q) => q.method === 'POST' && q.bodyText.includes('c-reset'));
    expect(entry.map((q) => [q.status, q.outcome])).toEqual([[null, 'reset']]);
    sim.control.resetNext();
    await expect(call(sim.url, 'GET', '/api/version')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await call(sim.url, 'GET', '/api/version')).status).toBe(200);
  });

  it('the request log records method, path, headers and body of every request', async () => {
    await postJson(sim.url, '/api/jobs/?x=1', { entrypoint: 'true', submission_id: 'c-log' }, { 'x-custom': 'yes' });
    const last = sim.requests[sim.requests.length - 1];
    expect(last).toMatchObject({ method: 'POST', path: '/api/jobs/', url: '/api/jobs/?x=1', status: 200, outcome: 'response' });
    expect(last?.headers['x-custom']).toBe('yes');
    expect(JSON.parse(last?.bodyText ?? '')).toEqual({ entrypoint: 'true', submission_id: 'c-log' });
    expect(Buffer.isBuffer(last?.body)).toBe(true);
  });
});

describe('ray-sim body limit (docs/reference/ray-jobs.md#endpoints, docs/reference/ray-jobs.md#packages: aiohttp client_max_size)', () => {
  it('PUT of an oversized package is a 500 traceback; an oversized submit is a 413', async () => {
    const sim = await startRaySim({ maxBodyBytes: 1024 });
    try {
      const put = await call(sim.url, 'PUT', '/api/packages/gcs/_ray_pkg_big.zip', { body: Buffer.alloc(2048) });
      expect(put.status).toBe(500);
      expect(lastLine(put.text)).toBe('aiohttp.web_exceptions.HTTPRequestEntityTooLarge: Maximum request body size 1024 exceeded, actual body size 2048');
      expect(sim.packages.size).toBe(0);
      const post = await postJson(sim.url, '/api/jobs/', { entrypoint: 'x'.repeat(2048) });
      expect([post.status, post.type]).toEqual([413, 'text/plain']);
      expect(sim.jobs.size).toBe(0);
    } finally {
      await sim.close();
    }
  });
});

/** Polls `fn` every 20 ms until it returns a value that is not false/null/undefined; rejects after timeoutMs. */
async function until<T>(fn: () => T | false | null | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== false && v !== null && v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * True when no live process is left in the group. Zombies do not count: they are dead, and how soon
 * they are reaped depends on the machine's init process. Reads /proc (Linux); elsewhere falls back to
 * kill(-pgid, 0), which also sees zombies.
 */
function processGroupGone(pgid: number): boolean {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(-pgid, 0);
      return false;
    } catch {
      return true;
    }
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') return false;
  }
  return true;
}

describe('ray-sim CLI', () => {
  it('`node tools/ray-sim/server.mjs --port 0` prints its URL, serves, and exits 0 on SIGTERM, killing running jobs', async () => {
    const server = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'tools', 'ray-sim', 'server.mjs');
    const dir = mkdtempSync(join(tmpdir(), 'ray-sim-cli-'));
    const pidFile = join(dir, 'pid');
    const child = spawn(process.execPath, [server, '--port', '0', '--pending-delay-ms', '10'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = '';
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString('utf8');
          const m = /^ray-sim listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
          if (m?.[1]) resolveUrl(m[1]);
        });
        child.on('exit', (code) => reject(new Error(`exited ${String(code)} before listening: ${out}`)));
      });
      expect(okJson(await call(url, 'GET', '/api/version'))).toMatchObject({ version: '4' });
      okJson(await postJson(url, '/api/jobs/', { entrypoint: `echo $$ > ${pidFile}; exec sleep 300`, submission_id: 'cli-job' }));
      const pgid = await until(() => {
        const n = existsSync(pidFile) ? Number.parseInt(readFileSync(pidFile, 'utf8'), 10) : NaN;
        return Number.isInteger(n) && n > 0 ? n : null;
      }, 'the job to write its pid');
      expect(processGroupGone(pgid)).toBe(false);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      await until(() => processGroupGone(pgid), `process group ${pgid} to be killed`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ----- WebSocket tail (docs/reference/ray-jobs.md#log-tail-websocket) ----------------------------------------------------------------------

describe('ray-sim WebSocket log tail (docs/reference/ray-jobs.md)', () => {
  let sim: RaySim;
  beforeAll(async () => {
    sim = await startRaySim({ ...EXACT_LOGS, pendingDelayMs: 20, tailPollMs: 20 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('streams the whole log in chunks of ≤ 10 lines, then closes with 1000 once terminal', async () => {
    sim.control.holdPending('c-tail', true);
    const sid = await submit(sim, { entrypoint: 'i=1; while [ $i -le 25 ]; do echo line$i; i=$((i+1)); done', submission_id: 'c-tail' });
    const tail = wsTail(sim.url, `/api/jobs/${sid}/logs/tail`);
    await sim.waitFor(() => sim.requests.some((q) => q.outcome === 'websocket' && q.path.includes(sid)));
    sim.control.holdPending('c-tail', false);
    const { frames, closeCode } = await tail;
    expect(closeCode).toBe(1000);
    expect(frames.join('')).toBe(Array.from({ length: 25 }, (_, k) => `line${k + 1}\n`).join(''));
    for (const f of frames) expect(f.split('\n').filter((l) => l !== '').length).toBeLessThanOrEqual(10);
  });

  it('closes with no frames when the job fails before a driver exists', async () => {
    const sid = await submit(sim, { entrypoint: 'true', runtime_env: { working_dir: 'gcs://_ray_pkg_never.zip' } });
    const { frames, closeCode } = await wsTail(sim.url, `/api/jobs/${sid}/logs/tail`);
    expect(frames).toEqual([]);
    expect(closeCode).toBe(1000);
  });
});

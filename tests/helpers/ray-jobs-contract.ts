// The Ray Jobs API contract the action relies on, as rows that run unchanged against two servers:
// the project's double (tests/doubles/ray-contract.test.ts, default tier) and a real Ray head
// (tests/real/ray-contract.test.ts, the real-Ray tier). Only what both can do lives here; fault
// injection and forced timings stay in the double's own tests. docs/conformance.md lists the rows
// and their results against both.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { expect, it } from 'vitest';
import { isDuplicateSubmission, RayHttpError, RayJobsClient, type TailEnd } from '../../src/ray/client.js';
import { writeZip } from '../../tools/ray-sim/zip.mjs';

export interface JobsTarget {
  /** Base URL of the dashboard (no trailing slash). */
  url: string;
  /** The ray_version /api/version must report. */
  rayVersion: string;
}

/** JobDetails as Ray 2.60 returns it: 15 keys, always all present, in this order. */
const JOB_KEYS = [
  'type',
  'job_id',
  'submission_id',
  'driver_info',
  'status',
  'entrypoint',
  'message',
  'error_type',
  'start_time',
  'end_time',
  'metadata',
  'runtime_env',
  'driver_agent_http_address',
  'driver_node_id',
  'driver_exit_code',
] as const;

type Details = Record<(typeof JOB_KEYS)[number], unknown>;

interface Reply {
  status: number;
  /** Content type without parameters; '' when the header is absent. */
  type: string;
  text: string;
}

function call(base: string, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type:
            String(res.headers['content-type'] ?? '')
              .split(';')[0]
              ?.trim() ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const postJson = (base: string, path: string, body: unknown): Promise<Reply> =>
  call(base, 'POST', path, JSON.stringify(body), { 'content-type': 'application/json' });

function json(r: Reply): unknown {
  expect(r.status, r.text).toBe(200);
  expect(r.type).toBe('application/json');
  return JSON.parse(r.text) as unknown;
}

async function submit(t: JobsTarget, body: Record<string, unknown>): Promise<string> {
  const sid = String(body.submission_id);
  expect(json(await postJson(t.url, '/api/jobs/', body))).toEqual({ job_id: sid, submission_id: sid });
  return sid;
}

async function details(t: JobsTarget, sid: string): Promise<Details> {
  const v = json(await call(t.url, 'GET', `/api/jobs/${encodeURIComponent(sid)}`)) as Details;
  expect(Object.keys(v)).toEqual([...JOB_KEYS]);
  return v;
}

async function logs(t: JobsTarget, sid: string): Promise<string> {
  const v = json(await call(t.url, 'GET', `/api/jobs/${encodeURIComponent(sid)}/logs`)) as { logs: string };
  expect(Object.keys(v)).toEqual(['logs']);
  return v.logs;
}

export interface WsResult {
  frames: string[];
  closeCode: number | null;
}

/** A minimal WebSocket client for the log tail: the text frames and the close code. */
export function wsTail(base: string, path: string, extraHeaders: Record<string, string> = {}): Promise<WsResult> {
  const url = new URL(base);
  const key = randomBytes(16).toString('base64');
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path,
      agent: false,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': key, 'sec-websocket-version': '13', ...extraHeaders },
    });
    req.on('upgrade', (res, socket, head) => {
      const expected = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== expected) reject(new Error('bad Sec-WebSocket-Accept'));
      const frames: string[] = [];
      let closeCode: number | null = null;
      let buf = Buffer.from(head);
      const parse = (): void => {
        for (;;) {
          if (buf.length < 2) return;
          const opcode = (buf[0] ?? 0) & 0x0f;
          let len = (buf[1] ?? 0) & 0x7f;
          let p = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            p = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            p = 10;
          }
          if (buf.length < p + len) return;
          const payload = buf.subarray(p, p + len);
          buf = buf.subarray(p + len);
          if (opcode === 0x1) frames.push(payload.toString('utf8'));
          if (opcode === 0x8) closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : null;
        }
      };
      // Frames that came with the upgrade response (a job already over closes at once) are in `head`.
      parse();
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        parse();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve({ frames, closeCode }));
    });
    req.on('response', (res) => reject(new Error(`no upgrade, HTTP ${String(res.statusCode)}`)));
    req.on('error', reject);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls GET until `pred` holds; bounded, so a server that never gets there fails the row. */
async function until<T>(what: string, get: () => Promise<T>, pred: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await get();
  while (!pred(last)) {
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await sleep(150);
    last = await get();
  }
  return last;
}

const terminal = (t: JobsTarget, sid: string) =>
  until(
    `job ${sid} terminal`,
    () => details(t, sid),
    (d) => ['SUCCEEDED', 'FAILED', 'STOPPED'].includes(String(d.status)),
  );

/** A fresh id per row and run: a real head is shared by every file of a run. */
const uid = (row: string) => `c-${row}-${randomBytes(4).toString('hex')}`;

/** The rows, as `it` blocks in the caller's describe. `target` is read when a row runs. */
export function jobsContract(target: () => JobsTarget): void {
  it('version: GET /api/version → 200 JSON with version "4" and the pinned ray_version', async () => {
    const t = target();
    const v = json(await call(t.url, 'GET', '/api/version')) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['version', 'ray_version', 'ray_commit', 'session_name']);
    expect(v.version).toBe('4');
    expect(v.ray_version).toBe(t.rayVersion);
    expect(v.ray_commit).toMatch(/^[0-9a-f]{40}$/);
    expect(v.session_name).toMatch(/^session_/);
  });

  it('submit: submission_id, metadata and runtime_env are echoed; env_vars reach the entrypoint; SUCCEEDED with exit code 0', async () => {
    const t = target();
    const sid = uid('submit');
    const body = {
      entrypoint: 'echo "value=$CONTRACT_V"',
      submission_id: sid,
      metadata: { run_id: 'r-1', attempt: '1' },
      runtime_env: { env_vars: { CONTRACT_V: 'v-123' } },
    };
    await submit(t, body);
    const first = await details(t, sid);
    expect(first).toMatchObject({
      type: 'SUBMISSION',
      submission_id: sid,
      entrypoint: body.entrypoint,
      metadata: body.metadata,
      runtime_env: body.runtime_env,
      end_time: null,
    });
    expect(['PENDING', 'RUNNING', 'SUCCEEDED']).toContain(first.status);
    const d = await terminal(t, sid);
    expect(d).toMatchObject({
      status: 'SUCCEEDED',
      message: 'Job finished successfully.',
      driver_exit_code: 0,
      error_type: null,
      metadata: body.metadata,
      runtime_env: body.runtime_env,
    });
    expect(typeof d.start_time).toBe('number');
    expect(Number(d.end_time)).toBeGreaterThanOrEqual(Number(d.start_time));
    expect(await logs(t, sid)).toContain('value=v-123\n');
  });

  it('submit: env_vars values are expanded against the driver environment in order ($X, ${X}); an unset ${UPPER} becomes empty', async () => {
    const t = target();
    const sid = uid('expand');
    await submit(t, {
      entrypoint: 'echo "h=$HOME|a=$CONTRACT_A|b=$CONTRACT_B|c=$CONTRACT_C|d=$CONTRACT_D|l=$CONTRACT_L"',
      submission_id: sid,
      runtime_env: {
        env_vars: {
          CONTRACT_A: '${HOME}/x',
          CONTRACT_B: '$HOME',
          CONTRACT_C: '${CONTRACT_UNSET_9}y',
          CONTRACT_D: '${CONTRACT_A}+',
          CONTRACT_L: '${lower_unset}$ALSO_UNSET_9',
        },
      },
    });
    expect(await terminal(t, sid)).toMatchObject({ status: 'SUCCEEDED' });
    const line = /^h=.*$/m.exec(await logs(t, sid))?.[0] ?? '';
    const home = /^h=([^|]*)\|/.exec(line)?.[1] ?? '';
    expect(home).not.toBe('');
    expect(line).toBe(`h=${home}|a=${home}/x|b=${home}|c=y|d=${home}/x+|l=\${lower_unset}$ALSO_UNSET_9`);
  });

  it('submit: an unknown key is a 400 whose text ends in the TypeError', async () => {
    const t = target();
    const r = await postJson(t.url, '/api/jobs/', { entrypoint: 'true', submission_id: uid('badkey'), x: 1 });
    expect(r.status).toBe(400);
    expect(r.type).toBe('text/plain');
    expect(r.text.trim().split('\n').pop()).toBe("TypeError: JobSubmitRequest.__init__() got an unexpected keyword argument 'x'");
  });

  it('submit: POST /api/jobs without the trailing slash is 404', async () => {
    const r = await postJson(target().url, '/api/jobs', { entrypoint: 'true' });
    expect(r).toMatchObject({ status: 404, type: 'text/plain', text: '404: Not Found' });
  });

  it('duplicate submission_id: 500 text naming the id, the client sees a duplicate, the first job is untouched', async () => {
    const t = target();
    const sid = uid('dup');
    await submit(t, { entrypoint: 'echo first', submission_id: sid });
    const r = await postJson(t.url, '/api/jobs/', { entrypoint: 'echo second', submission_id: sid });
    expect(r.status).toBe(500);
    expect(r.type).toBe('text/plain');
    expect(r.text).toContain(`Job with submission_id ${sid} already exists. Please use a different submission_id.`);
    expect(r.text).toContain('Request failed with status code 400');
    expect(isDuplicateSubmission(new RayHttpError('POST', 'api/jobs/', r.status, r.text))).toBe(true);
    const d = await terminal(t, sid);
    expect(d).toMatchObject({ entrypoint: 'echo first', status: 'SUCCEEDED' });
    expect(await logs(t, sid)).not.toContain('second');
  });

  it('logs: stdout and stderr of the entrypoint, in one string', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'echo out-line; echo err-line >&2', submission_id: uid('logs') });
    await terminal(t, sid);
    const text = await logs(t, sid);
    expect(text).toContain('out-line\n');
    expect(text).toContain('err-line\n');
  });

  it('stop: a RUNNING job → {"stopped": true}, then STOPPED with exit code null; again → {"stopped": false} once its supervisor is gone', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'echo up; exec sleep 120', submission_id: uid('stop') });
    await until(
      'job printed "up"',
      () => logs(t, sid),
      (l) => l.includes('up\n'),
    );
    expect(json(await call(t.url, 'POST', `/api/jobs/${sid}/stop`))).toEqual({ stopped: true });
    const d = await terminal(t, sid);
    expect(d).toMatchObject({ status: 'STOPPED', message: 'Job was intentionally stopped.', driver_exit_code: null });
    // Ray answers true while the job's supervisor actor is still alive, which can outlast the
    // STOPPED status by a moment (docs/conformance.md); then false for good.
    const again = await until(
      'a second stop answers {"stopped": false}',
      async () => json(await call(t.url, 'POST', `/api/jobs/${sid}/stop`)),
      (v) => JSON.stringify(v) === '{"stopped":false}',
      30_000,
    );
    expect(again).toEqual({ stopped: false });
  });

  it('a job that fails: FAILED, its exit code, error_type, and a message quoting the last log lines', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'echo fail-out; echo fail-err >&2; exit 3', submission_id: uid('fail') });
    const d = await terminal(t, sid);
    expect(d).toMatchObject({ status: 'FAILED', driver_exit_code: 3, error_type: 'JOB_ENTRYPOINT_COMMAND_ERROR' });
    const msg = String(d.message);
    expect(msg.startsWith('Job entrypoint command failed with exit code 3, last available logs (truncated to 20,000 chars):\n')).toBe(true);
    expect(msg).toContain('fail-out\n');
    expect(msg).toContain('fail-err\n');
  });

  it('404: an unknown id on GET, logs and stop → "Job <id> does not exist"', async () => {
    const t = target();
    const id = uid('nope');
    for (const [method, path] of [
      ['GET', `/api/jobs/${id}`],
      ['GET', `/api/jobs/${id}/logs`],
      ['POST', `/api/jobs/${id}/stop`],
    ] as const) {
      expect(await call(t.url, method, path), `${method} ${path}`).toMatchObject({ status: 404, type: 'text/plain', text: `Job ${id} does not exist` });
    }
  });

  it('packages: GET missing → 404, PUT → 200, GET → 200, and a job runs in the unpacked working_dir', async () => {
    const t = target();
    const name = `_ray_pkg_${randomBytes(8).toString('hex')}.zip`;
    const missing = await call(t.url, 'GET', `/api/packages/gcs/${name}`);
    expect(missing).toMatchObject({ status: 404, type: 'text/plain', text: `Package gcs://${name} does not exist` });
    const zip = writeZip([
      { name: 'hello.txt', data: `hello from ${name}\n` },
      { name: 'sub/deep.txt', data: 'deep\n' },
    ]);
    const put = await call(t.url, 'PUT', `/api/packages/gcs/${name}`, zip, { 'content-type': 'application/zip' });
    expect(put).toMatchObject({ status: 200, type: '', text: '' });
    expect(await call(t.url, 'GET', `/api/packages/gcs/${name}`)).toMatchObject({ status: 200, type: '', text: '' });
    const sid = await submit(t, { entrypoint: 'cat hello.txt sub/deep.txt', submission_id: uid('pkg'), runtime_env: { working_dir: `gcs://${name}` } });
    expect(await terminal(t, sid)).toMatchObject({ status: 'SUCCEEDED' });
    const text = await logs(t, sid);
    expect(text).toContain(`hello from ${name}\ndeep\n`);
  });

  it('log tail: the WebSocket streams the whole log, in frames of at most 10 lines, and closes with 1000 once the job is terminal', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'i=1; while [ $i -le 25 ]; do echo tail-line$i; i=$((i+1)); done; sleep 1', submission_id: uid('tail') });
    const { frames, closeCode } = await wsTail(t.url, `/api/jobs/${sid}/logs/tail`);
    expect(closeCode).toBe(1000);
    const text = frames.join('');
    expect(text).toContain(Array.from({ length: 25 }, (_, k) => `tail-line${k + 1}\n`).join(''));
    for (const f of frames) expect(f.split('\n').filter((l) => l !== '').length).toBeLessThanOrEqual(10);
    expect((await details(t, sid)).status).toBe('SUCCEEDED');
  });

  it('log tail: a tail opened again repeats the log from its first line; both are the text GET …/logs returns, non-ASCII included', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'i=1; while [ $i -le 15 ]; do echo "again-$i é 日本"; i=$((i+1)); done', submission_id: uid('again') });
    expect((await terminal(t, sid)).status).toBe('SUCCEEDED');
    const first = await wsTail(t.url, `/api/jobs/${sid}/logs/tail`);
    const second = await wsTail(t.url, `/api/jobs/${sid}/logs/tail`);
    expect(first.closeCode).toBe(1000);
    expect(first.frames.join('')).toContain('again-15 é 日本\n');
    expect(second.frames.join('')).toBe(first.frames.join(''));
    expect(first.frames.join('')).toBe(await logs(t, sid));
  });

  it('log tail: a client that offers permessage-deflate gets no frame at all, then a close 1000 (the action never offers it)', async () => {
    const t = target();
    const sid = await submit(t, { entrypoint: 'echo deflate-line', submission_id: uid('deflate') });
    expect((await terminal(t, sid)).status).toBe('SUCCEEDED');
    const r = await wsTail(t.url, `/api/jobs/${sid}/logs/tail`, { 'sec-websocket-extensions': 'permessage-deflate; client_max_window_bits' });
    expect(r).toEqual({ frames: [], closeCode: 1000 });
    expect(await logs(t, sid)).toContain('deflate-line\n');
  });

  it("the action's own client: tailLogs brings the log in order and ends at 1000; an unknown job is refused before the upgrade (404)", async () => {
    const t = target();
    const c = new RayJobsClient({ address: t.url });
    const sid = await submit(t, { entrypoint: 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo client-tail-$i; sleep 0.1; done', submission_id: uid('ctail') });
    const chunks: string[] = [];
    const end = await new Promise<TailEnd>((resolve) => c.tailLogs(sid, { text: (x) => chunks.push(x), closed: resolve }));
    expect(end).toEqual({ kind: 'ended' });
    expect((await details(t, sid)).status).toBe('SUCCEEDED');
    // Ray's own lines ("Running entrypoint …") may land between the job's: only these are in a known order.
    expect(chunks.join('').match(/^client-tail-\d+$/gm)).toEqual(Array.from({ length: 12 }, (_, k) => `client-tail-${k + 1}`));
    expect(chunks.join('')).toBe(await logs(t, sid));
    const id = uid('tailnope');
    const refused = await new Promise<TailEnd>((resolve) => c.tailLogs(id, { text: () => undefined, closed: resolve }));
    expect(refused).toEqual({ kind: 'refused', reason: `GET ${t.url}/api/jobs/${id}/logs/tail answered 404 instead of a WebSocket` });
  });

  it("the action's own client: version, package check and upload, submit, job, logs, stop, 404 as null", async () => {
    const t = target();
    const c = new RayJobsClient({ address: `${t.url}/`, policy: { attempts: 2, baseMs: 50 } });
    expect((await c.version()).ray_version).toBe(t.rayVersion);
    const uri = `gcs://_ray_pkg_${randomBytes(8).toString('hex')}.zip`;
    expect(await c.packageExists(uri)).toBe(false);
    await c.uploadPackage(uri, writeZip([{ name: 'marker.txt', data: 'client-marker\n' }]));
    expect(await c.packageExists(uri)).toBe(true);
    const sid = uid('client');
    expect(
      await c.submitOnce({ entrypoint: 'cat marker.txt; exec sleep 120', submission_id: sid, metadata: { k: 'v' }, runtime_env: { working_dir: uri } }),
    ).toBe(sid);
    await until(
      'client job printed the marker',
      () => c.logs(sid),
      (l) => l.includes('client-marker\n'),
    );
    expect((await c.job(sid))?.status).toBe('RUNNING');
    expect(await c.stop(sid)).toBe(true);
    const d = await until(
      'client job stopped',
      () => c.job(sid),
      (j) => j?.status === 'STOPPED',
    );
    expect(d?.metadata).toEqual({ k: 'v' });
    expect(await c.stop(sid)).toBe(false);
    expect(await c.job(uid('absent'))).toBeNull();
  });
}

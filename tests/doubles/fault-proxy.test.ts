// The fault proxy (tests/helpers/fault-proxy.ts) in front of the run's GCS emulator: each fault kind fires as
// scheduled, the counters report it, and everything else passes through byte-exact.
import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '@google-cloud/storage';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type FaultProxy, matchers, startFaultProxy } from '../helpers/fault-proxy.js';
import { emulatorHost, makeStorage, readObject } from '../helpers/gcs.js';

const BUCKET = 'bird-test';
const RUN = `fault-proxy-test/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

let proxy: FaultProxy;
let storage: Storage;

beforeEach(async () => {
  proxy = await startFaultProxy(emulatorHost());
  storage = makeStorage(proxy.url);
});

afterEach(async () => {
  await proxy.close();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function uploadUrl(name: string): string {
  return `${proxy.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`;
}
const listUrl = (): string => `${proxy.url}/b/${BUCKET}/o?prefix=${encodeURIComponent(`${RUN}/`)}`;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the promise to reject');
}

function errorCode(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

describe('pass-through', () => {
  it('forwards bodies byte-exact in both directions, simple and resumable', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 7);
    for (const resumable of [false, true]) {
      const name = `${RUN}/exact-${resumable ? 'resumable' : 'simple'}.bin`;
      await storage.bucket(BUCKET).file(name).save(body, { resumable });
      const [viaProxy] = await storage.bucket(BUCKET).file(name).download();
      expect(sha(viaProxy)).toBe(sha(body));
      expect(sha(await readObject(BUCKET, name))).toBe(sha(body));
    }
    const { stats } = proxy;
    expect(stats.resets + stats.stalls + Object.keys(stats.statuses).length).toBe(0);
    expect(stats.forwarded).toBe(stats.seen);
    // Host passes through, so the emulator's resumable Location points back at the proxy.
    expect(stats.log.some((e) => e.method === 'PUT' && e.url.includes('upload_id=') && e.status === 200)).toBe(true);
  });

  it('streams a chunked request body and leaves request headers alone', async () => {
    const body = randomBytes(512 * 1024 + 3);
    const name = `${RUN}/chunked.bin`;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < body.length; i += 64 * 1024) controller.enqueue(body.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const init: RequestInit & { duplex: 'half' } = {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    };
    const up = await fetch(uploadUrl(name), init);
    expect(up.status).toBe(200);
    expect(sha(await readObject(BUCKET, name))).toBe(sha(body));

    // A Range header reaches the emulator unchanged: 206 with exactly that slice.
    const mediaUrl = `${proxy.url}/download/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`;
    const ranged = await fetch(mediaUrl, { headers: { range: 'bytes=100-1099' } });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(100, 1100))).toBe(true);
  });
});

describe('faults', () => {
  it('reset: destroys the connection before any response, only for matching requests, within budget', async () => {
    const fault = proxy.schedule({ kind: 'reset', match: matchers.uploads, times: 1 });

    const list = await fetch(listUrl());
    expect(list.status).toBe(200);
    await list.arrayBuffer();

    const err = await rejection(fetch(uploadUrl(`${RUN}/reset.txt`), { method: 'POST', body: 'first' }));
    expect(err).toBeInstanceOf(TypeError); // undici: "fetch failed", cause is the socket error
    expect(fault.fired).toBe(1);
    expect(fault.remaining).toBe(0);

    const again = await fetch(uploadUrl(`${RUN}/reset.txt`), { method: 'POST', body: 'second' });
    expect(again.status).toBe(200);
    expect((await readObject(BUCKET, `${RUN}/reset.txt`)).toString()).toBe('second');

    const { stats } = proxy;
    expect(stats.resets).toBe(1);
    expect(stats.seen).toBe(3);
    expect(stats.forwarded).toBe(2);
    expect(stats.log.map((e) => e.action)).toEqual(['forward', 'reset', 'forward']);
  });

  it('503 burst: the next N matching requests get a GCS-shaped 503, then traffic flows', async () => {
    const fault = proxy.schedule({ kind: 'status', status: 503, match: matchers.lists, times: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(listUrl());
      statuses.push(res.status);
      if (res.status === 503) {
        expect(await res.json()).toMatchObject({ error: { code: 503, errors: [{ reason: 'backendError' }] } });
      } else {
        await res.arrayBuffer();
      }
    }
    expect(statuses).toEqual([503, 503, 503, 200]);
    expect(fault.fired).toBe(3);
    expect(proxy.stats.statuses).toEqual({ 503: 3 });
    expect(proxy.stats.forwarded).toBe(1);
  });

  it('429 after skipping the first match, with Retry-After', async () => {
    proxy.schedule({ kind: 'status', status: 429, retryAfterSeconds: 2, match: matchers.method('GET'), skip: 1, times: 1 });
    const a = await fetch(listUrl());
    const b = await fetch(listUrl());
    const c = await fetch(listUrl());
    await Promise.all([a.arrayBuffer(), b.arrayBuffer(), c.arrayBuffer()]);
    expect([a.status, b.status, c.status]).toEqual([200, 429, 200]);
    expect(b.headers.get('retry-after')).toBe('2');
    expect(proxy.stats.statuses).toEqual({ 429: 1 });
    expect(proxy.stats.log.map((e) => e.action)).toEqual(['forward', 'status:429', 'forward']);
  });

  it('stall: holds a request, then forwards it unchanged', async () => {
    proxy.schedule({ kind: 'stall', ms: 200, match: matchers.uploads });
    const res = await fetch(uploadUrl(`${RUN}/stalled.txt`), { method: 'POST', body: 'late but intact' });
    expect(res.status).toBe(200);
    expect((await readObject(BUCKET, `${RUN}/stalled.txt`)).toString()).toBe('late but intact');
    expect(proxy.stats.stalls).toBe(1);
    expect(proxy.stats.forwarded).toBe(1);
    expect(proxy.stats.log).toEqual([expect.objectContaining({ method: 'POST', action: 'stall', status: 200 })]);
  });

  it('stall: a client timeout fires while the proxy holds the request', async () => {
    proxy.schedule({ kind: 'stall', ms: 60_000 });
    const err = await rejection(fetch(listUrl(), { signal: AbortSignal.timeout(250) }));
    expect((err as Error).name).toBe('TimeoutError');
    expect(proxy.stats.stalls).toBe(1);
  });

  it('client view: a 503 reaches @google-cloud/storage as ApiError code 503', async () => {
    storage.retryOptions.autoRetry = false;
    proxy.schedule({ kind: 'status', status: 503, match: matchers.uploads, times: 1 });
    const err = await rejection(storage.bucket(BUCKET).file(`${RUN}/client-503.txt`).save('x', { resumable: false }));
    expect(errorCode(err)).toBe(503);
    expect(proxy.stats.statuses).toEqual({ 503: 1 });
  });

  it('client view: a conditional upload is retried past a single 503', async () => {
    proxy.schedule({ kind: 'status', status: 503, match: matchers.uploads, times: 1 });
    const name = `${RUN}/client-retry.txt`;
    await storage
      .bucket(BUCKET)
      .file(name)
      .save('retried', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    expect((await readObject(BUCKET, name)).toString()).toBe('retried');
    expect(proxy.stats.log.map((e) => e.action)).toEqual(['status:503', 'forward']);
  });
});

describe('failAll', () => {
  it('fails every request from now on until clear()', async () => {
    const name = `${RUN}/fail-all.txt`;
    await storage.bucket(BUCKET).file(name).save('alive', { resumable: false });

    storage.retryOptions.autoRetry = false;
    proxy.failAll();
    expect(errorCode(await rejection(storage.bucket(BUCKET).getFiles({ prefix: `${RUN}/` })))).toBe(503);
    expect(errorCode(await rejection(storage.bucket(BUCKET).file(name).download()))).toBe(503);
    expect(errorCode(await rejection(storage.bucket(BUCKET).file(name).save('x', { resumable: false })))).toBe(503);

    proxy.failAll({ kind: 'reset' });
    expect(errorCode(await rejection(storage.bucket(BUCKET).getFiles({ prefix: `${RUN}/` })))).toBe('ECONNRESET');

    proxy.clear();
    const [data] = await storage.bucket(BUCKET).file(name).download();
    expect(data.toString()).toBe('alive');

    const { stats } = proxy;
    expect(stats.seen).toBe(6);
    expect(stats.statuses).toEqual({ 503: 3 });
    expect(stats.resets).toBe(1);
    expect(stats.forwarded).toBe(2);
  });
});

describe('a reset in the middle of a body', () => {
  it('passes exactly afterBytes of the body to the target, then breaks both connections', async () => {
    // A plain target that records how much of each body arrived and whether it ended or broke off.
    const { createServer } = await import('node:http');
    const seen: Array<{ bytes: number; complete: boolean }> = [];
    const target = createServer((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('close', () => seen.push({ bytes, complete: req.complete }));
      req.on('end', () => res.end('ok'));
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const address = target.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const cutting = await startFaultProxy(`http://127.0.0.1:${port}`);
    try {
      cutting.schedule({ kind: 'reset', afterBytes: 300_000, times: 1, match: matchers.method('PUT') });
      const body = randomBytes(2 * 1024 * 1024);
      const cut = await rejection(fetch(`${cutting.url}/x`, { method: 'PUT', body }));
      expect(cut).toBeInstanceOf(TypeError); // fetch failed: the connection broke before any response
      const next = await fetch(`${cutting.url}/x`, { method: 'PUT', body });
      expect(await next.text()).toBe('ok');
      // The target learns of the broken body when its socket closes: wait for both requests to be over.
      await vi.waitFor(() => expect(seen).toHaveLength(2));
      expect(seen).toEqual([
        { bytes: 300_000, complete: false },
        { bytes: body.length, complete: true },
      ]);
      expect(cutting.stats.resets).toBe(1);
      expect(cutting.stats.log.map((e) => ({ action: e.action, bytesIn: e.bytesIn }))).toEqual([
        { action: 'reset', bytesIn: 300_000 },
        { action: 'forward', bytesIn: body.length },
      ]);
    } finally {
      await cutting.close();
      target.closeAllConnections();
      await new Promise<void>((resolve) => target.close(() => resolve()));
    }
  });
});

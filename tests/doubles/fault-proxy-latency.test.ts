// The fault proxy's latency mode (tools/fault-proxy/proxy.mjs) in front of the run's GCS emulator, on a virtual
// clock: the proxy's own accounting says which delays and which pacing it applied, and the virtual time they add up
// to; no wall clock is read. Bodies stay byte-exact with the mode on.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type FaultProxy, type ProxyClock, startFaultProxy, VirtualLink } from '../helpers/fault-proxy.js';
import { emulatorHost, readObject } from '../helpers/gcs.js';

const BUCKET = 'bird-test';
const RUN = `fault-proxy-latency/${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Time moves only when the proxy sleeps; every sleep is recorded. */
class VirtualClock implements ProxyClock {
  t = 0;
  readonly sleeps: number[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.t += ms;
    return Promise.resolve();
  }
}

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');

/** One request through `agent`, the whole response body read. */
function request(url: string, o: { method?: string; body?: Buffer; agent: http.Agent }): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: o.method ?? 'GET', agent: o.agent, headers: o.body ? { 'content-type': 'application/octet-stream', 'content-length': o.body.length } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

const listUrl = (p: FaultProxy): string => `${p.url}/storage/v1/b/${BUCKET}/o?prefix=${encodeURIComponent(`${RUN}/`)}`;

describe('VirtualLink', () => {
  it('queues chunks of every connection behind each other at the cap', () => {
    const clock = new VirtualClock();
    const link = new VirtualLink(clock);
    expect(link.reserve(1000, 1000)).toBe(1000);
    // A second connection's chunk at the same instant waits for the first to be sent.
    expect(link.reserve(500, 1000)).toBe(1500);
    clock.t = 5000;
    // An idle link does not bank credit: after a pause the next chunk takes its own time only.
    expect(link.reserve(250, 1000)).toBe(250);
  });
});

describe('latency mode', () => {
  it('adds one round trip per request and the handshakes once per new connection', async () => {
    const clock = new VirtualClock();
    proxy = await startFaultProxy(emulatorHost(), { clock, latency: { requestDelayMs: 30, connectDelayMs: 60 } });
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) expect((await request(listUrl(proxy), { agent: keepAlive })).status).toBe(200);
    keepAlive.destroy();
    expect(proxy.stats.latency).toMatchObject({ delaysApplied: 3, delayMsTotal: 90, connectDelays: 1, connectDelayMsTotal: 60 });
    expect(clock.sleeps).toEqual([90, 30, 30]);

    // A client without keep-alive pays the handshakes on every request.
    proxy.resetStats();
    for (let i = 0; i < 2; i++) {
      const fresh = new http.Agent({ keepAlive: false });
      expect((await request(listUrl(proxy), { agent: fresh })).status).toBe(200);
      fresh.destroy();
    }
    expect(proxy.stats.latency).toMatchObject({ delaysApplied: 2, connectDelays: 2 });
    expect(clock.t).toBe(90 + 30 + 30 + 90 + 90);
  });

  it('paces bodies at the cap in both directions and keeps them byte-exact', async () => {
    const clock = new VirtualClock();
    const rate = 256 * 1024;
    proxy = await startFaultProxy(emulatorHost(), { clock, latency: { bytesPerSecond: rate } });
    const agent = new http.Agent({ keepAlive: true });
    const body = randomBytes(1024 * 1024 + 5);
    const name = `${RUN}/paced.bin`;
    const up = await request(`${proxy.url}/upload/storage/v1/b/${BUCKET}/o?uploadType=media&name=${encodeURIComponent(name)}`, { method: 'POST', body, agent });
    expect(up.status).toBe(200);
    const afterUpload = proxy.stats;
    expect(afterUpload.bytesUp).toBe(body.length);
    expect(afterUpload.latency.throttledBytesUp).toBe(body.length);
    // One flow on an idle link: the holds add up to exactly the body's time at the cap.
    expect(afterUpload.latency.throttleWaitMsUp).toBeCloseTo((body.length * 1000) / rate, 6);
    expect(afterUpload.latency.throttledBytesDown).toBe(up.body.length);

    const down = await request(`${proxy.url}/download/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`, { agent });
    agent.destroy();
    expect(md5(down.body)).toBe(md5(body));
    expect(md5(await readObject(BUCKET, name))).toBe(md5(body));
    const { latency, bytesDown, log } = proxy.stats;
    expect(latency.throttledBytesDown).toBe(up.body.length + body.length);
    expect(bytesDown).toBe(up.body.length + body.length);
    expect(latency.throttleWaitMsDown).toBeCloseTo(((up.body.length + body.length) * 1000) / rate, 6);
    // Virtual time moved by the holds only, so it is at least the two bodies' time at the cap.
    expect(clock.t).toBeGreaterThanOrEqual((2 * body.length * 1000) / rate);
    expect(log.map((e) => [e.method, e.bytesIn, e.bytesOut, e.done])).toEqual([
      ['POST', body.length, up.body.length, true],
      ['GET', 0, body.length, true],
    ]);
  });

  it('turns off with setLatency(null) and still counts bytes', async () => {
    const clock = new VirtualClock();
    proxy = await startFaultProxy(emulatorHost(), { clock, latency: { requestDelayMs: 30, bytesPerSecond: 1024 * 1024 } });
    const agent = new http.Agent({ keepAlive: true });
    expect((await request(listUrl(proxy), { agent })).status).toBe(200);
    const before = proxy.stats.latency;
    proxy.setLatency(null);
    expect(proxy.latency).toBeNull();
    const res = await request(listUrl(proxy), { agent });
    agent.destroy();
    expect(res.status).toBe(200);
    const after = proxy.stats;
    expect(after.latency).toEqual(before);
    expect(after.bytesDown).toBe(before.throttledBytesDown + res.body.length);
    expect(after.seen).toBe(2);
  });
});

// The upload transport (src/gcs/http.ts) against local servers: what it sends (query, headers,
// credentials, bodies), how it fails (timeouts, read errors) and that it goes through the proxy
// the runner's environment names, as @actions/http-client does.
import { once } from 'node:events';
import { createReadStream, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isNetworkError } from '../../src/common/retry.js';
import { uploadTransport } from '../../src/gcs/http.js';
import { tempDir } from '../helpers/action.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: http.Server | net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(
    () =>
      new Promise<void>((resolve) => {
        if (server instanceof http.Server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return (server.address() as AddressInfo).port;
}

/** A server that records each request and answers with `answer`. */
async function recorder(answer: (seen: Seen, res: http.ServerResponse) => void): Promise<{ url: string; seen: Seen[]; connections: () => number }> {
  const seen: Seen[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(s);
      answer(s, res);
    });
  });
  server.on('connection', () => connections++);
  return { url: `http://127.0.0.1:${await listen(server)}`, seen, connections: () => connections };
}

describe('the upload transport', () => {
  it('sends the query as the SDK encoded it, the credentials, the caller headers and the body; any status resolves', async () => {
    const srv = await recorder((_s, res) => {
      res.writeHead(412, { 'content-type': 'application/json', range: 'bytes=0-9' });
      res.end('{"error":{"message":"conditionNotMet"}}');
    });
    const asked: string[] = [];
    const send = uploadTransport(async (url) => {
      asked.push(url);
      return { Authorization: 'Bearer tok-123' };
    });
    const a = await send({
      method: 'POST',
      url: `${srv.url}/upload/storage/v1/b/bkt/o`,
      params: { uploadType: 'multipart', name: 'runs/r 1/a+b/ü.json', ifGenerationMatch: '0' },
      headers: { 'Content-Type': 'multipart/related; boundary=x' },
      body: Buffer.from('hello body'),
      timeoutMs: 5_000,
    });
    expect(a.status).toBe(412);
    expect(a.text).toBe('{"error":{"message":"conditionNotMet"}}');
    expect(a.headers.range).toBe('bytes=0-9');
    const [s] = srv.seen;
    expect(s?.url).toBe('/upload/storage/v1/b/bkt/o?uploadType=multipart&name=runs%2Fr%201%2Fa%2Bb%2F%C3%BC.json&ifGenerationMatch=0');
    expect(asked).toEqual([`${srv.url}${s?.url}`]);
    expect(s?.headers.authorization).toBe('Bearer tok-123');
    expect(s?.headers['content-type']).toBe('multipart/related; boundary=x');
    expect(s?.headers['content-length']).toBe('10');
    expect(s?.headers['user-agent']).toBe('bird-cloud-action');
    expect(s?.body).toBe('hello body');
  });

  it('sends no credentials without a source of them (an emulator), and streams a body with the length given', async () => {
    const srv = await recorder((_s, res) => res.end('{}'));
    const dir = tempDir('gcs-http');
    const file = join(dir, 'f.bin');
    writeFileSync(file, 'x'.repeat(100_000));
    const a = await uploadTransport()({
      method: 'PUT',
      url: `${srv.url}/session?upload_id=abc`,
      headers: { 'Content-Length': '60000', 'Content-Range': 'bytes 40000-99999/100000' },
      body: createReadStream(file, { start: 40_000 }),
      timeoutMs: 5_000,
    });
    expect(a.status).toBe(200);
    expect(srv.seen[0]?.url).toBe('/session?upload_id=abc');
    expect(srv.seen[0]?.headers.authorization).toBeUndefined();
    expect(srv.seen[0]?.body).toHaveLength(60_000);
  });

  it('reuses its connections (keep-alive)', async () => {
    const srv = await recorder((_s, res) => res.end('{}'));
    const send = uploadTransport();
    for (let i = 0; i < 5; i++) {
      const a = await send({ method: 'POST', url: `${srv.url}/o`, headers: {}, body: 'x', timeoutMs: 5_000 });
      expect(a.status).toBe(200);
    }
    expect(srv.seen).toHaveLength(5);
    expect(srv.connections()).toBe(1);
  });

  it('fails a stalled exchange after its timeout with a network error the retry loop retries', async () => {
    const srv = await recorder(() => undefined);
    const p = uploadTransport()({ method: 'POST', url: `${srv.url}/o`, headers: {}, body: 'x', timeoutMs: 300 });
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe(`POST ${srv.url}/o got no complete answer within 300 ms`);
    expect(isNetworkError(e)).toBe(true);
  });

  it('fails with the read error when the body cannot be read', async () => {
    const srv = await recorder((_s, res) => res.end('{}'));
    const e = await uploadTransport()({
      method: 'PUT',
      url: `${srv.url}/o`,
      headers: { 'Content-Length': '5' },
      body: createReadStream(join(tempDir('gcs-http'), 'gone.bin')),
      timeoutMs: 5_000,
    }).then(
      () => null,
      (err: unknown) => err,
    );
    expect((e as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('goes through the proxy that http_proxy names, and straight to hosts that no_proxy names', async () => {
    const srv = await recorder((_s, res) => res.end('{}'));
    const tunnels: string[] = [];
    // A CONNECT proxy, as @actions/http-client's agents expect one.
    const proxy = http.createServer();
    proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      // Every tunnel leads to the recorder, whatever host it names.
      const upstream = net.connect(Number((req.url ?? '').split(':')[1]), '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
    });
    const proxyPort = await listen(proxy);
    const saved = { http_proxy: process.env.http_proxy, no_proxy: process.env.no_proxy };
    closers.push(() => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    process.env.http_proxy = `http://127.0.0.1:${proxyPort}`;
    delete process.env.no_proxy;
    // A name that never resolves (RFC 2606): only the proxy can reach it. Loopback names always go
    // straight, as @actions/http-client decides.
    const target = `http://storage.example.invalid:${new URL(srv.url).port}`;
    const via = await uploadTransport()({ method: 'POST', url: `${target}/o`, headers: {}, body: 'x', timeoutMs: 5_000 });
    expect(via.status).toBe(200);
    expect(tunnels).toEqual([`storage.example.invalid:${new URL(srv.url).port}`]);
    expect(srv.seen).toHaveLength(1);
    // no_proxy: straight to the name, which does not resolve.
    process.env.no_proxy = '.invalid';
    const direct = await uploadTransport()({ method: 'POST', url: `${target}/o`, headers: {}, body: 'x', timeoutMs: 5_000 }).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isNetworkError(direct)).toBe(true);
    expect(tunnels).toHaveLength(1);
    expect(srv.seen).toHaveLength(1);
  });
});

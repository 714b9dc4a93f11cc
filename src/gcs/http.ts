// The upload endpoint's transport: node:http(s) on keep-alive agents, the runner's proxy settings
// through @actions/http-client's agents (as the Ray client and its log tail use), and GCS
// credentials as headers from the storage SDK's auth client. Small uploads are many short
// requests, where the SDK's HTTP stack cost more CPU per request than the request itself
// (docs/reference/gcs-layout.md#the-upload-transport).
import http from 'node:http';
import https from 'node:https';
import { stringify } from 'node:querystring';
import type { Readable } from 'node:stream';
import { getProxyUrl, HttpClient } from '@actions/http-client';
import { formatDuration } from '../common/time.js';

/** One request to the upload endpoint or a session URI. */
interface HttpExchange {
  method: 'POST' | 'PUT';
  url: string;
  /** Query parameters, encoded as the SDK encodes them (querystring). */
  params?: Record<string, string>;
  headers: Record<string, string>;
  body?: Buffer | string | Readable;
  /** The whole exchange, from the request to the end of the answer's body. */
  timeoutMs: number;
}

/** Every status resolves (the caller decides); only a broken connection or the timeout rejects. */
export interface HttpAnswer {
  status: number;
  text: string;
  headers: http.IncomingHttpHeaders;
}

export type HttpRequest = (exchange: HttpExchange) => Promise<HttpAnswer>;

/** Request headers that carry credentials, for a URL (the SDK's `authClient.getRequestHeaders`). */
export type AuthHeaders = (url: string) => Promise<Record<string, string>>;

/** The exchange outlived its timeout: a network error (ETIMEDOUT), which the retry loop retries. */
class HttpTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(method: string, url: URL, ms: number) {
    super(`${method} ${url.origin}${url.pathname} got no complete answer within ${formatDuration(ms)}`);
    this.name = 'HttpTimeoutError';
  }
}

/** A transport for uploads; `authHeaders` is absent for an emulator, which takes no credentials. */
export function uploadTransport(authHeaders?: AuthHeaders): HttpRequest {
  const proxies = new HttpClient('bird-cloud-action', [], { keepAlive: true });
  const direct = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };
  return async (x) => {
    const url = new URL(x.url);
    if (x.params) url.search = `${url.search ? `${url.search}&` : '?'}${stringify(x.params)}`;
    const secure = url.protocol === 'https:';
    const agent = getProxyUrl(url.href) ? proxies.getAgent(url.href) : secure ? direct.https : direct.http;
    const headers = { 'User-Agent': 'bird-cloud-action', ...(authHeaders ? await authHeaders(url.href) : {}), ...x.headers };
    return exchange(secure ? https : http, url, x, headers, agent);
  };
}

function exchange(lib: typeof http | typeof https, url: URL, x: HttpExchange, headers: Record<string, string>, agent: http.Agent): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(e);
    };
    const req = lib.request(url, { method: x.method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers });
      });
    });
    const timer = setTimeout(() => fail(new HttpTimeoutError(x.method, url, x.timeoutMs)), x.timeoutMs);
    req.on('error', fail);
    const body = x.body;
    if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else {
      // A read error (the file went away) fails the exchange with that error, not a reset.
      body.on('error', fail);
      body.pipe(req);
    }
  });
}

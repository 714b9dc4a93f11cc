/*
 * Fault-injecting HTTP reverse proxy for tests: listens on 127.0.0.1 (ephemeral port) and forwards every request to
 * `target` (the GCS emulator), unless a scheduled fault claims it. Faults: reset the connection before any response,
 * answer with a status (503 bursts, 429s), or stall for N ms and then forward. Rules match by a predicate on
 * method/path and carry a count budget; failAll() makes every later request fail (the backend "dies").
 *
 * Nothing is rewritten: method, URL, headers (including Host) and bodies pass through unchanged and streamed, so
 * bytes are exact in both directions.
 *
 * Use it as STORAGE_EMULATOR_HOST=<proxy.url> for the firebase emulator, `<proxy.url>/storage/v1` for fake-gcs-server
 * (tests/helpers/gcs.ts: through()). Caveat: the servers build selfLink and mediaLink from their own address, so a
 * client that follows those URLs bypasses the proxy. Both build the resumable upload Location from the request's
 * Host header, which we pass through, so the final PUT of a resumable upload comes back through the proxy (a row of
 * tests/conformance/gcs-storage-cases.ts checks it on both). Our action uploads small files non-resumable, which
 * always goes through the proxy.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream';

/** What the proxy knows about a request when choosing a fault. `path` excludes the query; `url` includes it. */
export interface RequestInfo {
  method: string;
  path: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

export type RequestMatcher = (req: RequestInfo) => boolean;

type FaultAction =
  /** Destroy the client socket before any response byte: the client sees ECONNRESET / socket hang up. */
  | { kind: 'reset' }
  /** Answer with this status and a GCS-shaped JSON error body, without contacting the target. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; message?: string }
  /** Hold the request for `ms`, then forward it normally. */
  | { kind: 'stall'; ms: number };

type FaultRule = FaultAction & {
  /** Which requests this rule applies to; default all. */
  match?: RequestMatcher;
  /** How many matching requests to fault; default 1. Infinity for "always". */
  times?: number;
  /** Let this many matching requests through first (e.g. fail the 3rd upload: skip 2). Default 0. */
  skip?: number;
};

/** Handle returned by schedule(): live counters for one rule. */
interface ScheduledFault {
  readonly rule: FaultRule;
  /** Requests this rule has faulted so far. */
  readonly fired: number;
  /** Faults left in the budget. */
  readonly remaining: number;
}

type ProxyAction = 'forward' | 'reset' | 'stall' | `status:${number}`;

interface ProxyEvent {
  method: string;
  url: string;
  action: ProxyAction;
  /** For forwarded requests: the target's status, once its response headers arrived. */
  status?: number;
}

interface FaultProxyStats {
  /** Every request that reached the proxy. */
  seen: number;
  /** Requests sent on to the target (stalled ones included). */
  forwarded: number;
  resets: number;
  stalls: number;
  /** Injected status responses, by status code. */
  statuses: Record<number, number>;
  /** Errors talking to the target (answered 502, or the client socket destroyed if headers were already sent). */
  upstreamErrors: number;
  /** One entry per request, in arrival order. */
  log: ProxyEvent[];
}

export interface FaultProxy {
  /** e.g. http://127.0.0.1:40123, usable as STORAGE_EMULATOR_HOST. */
  readonly url: string;
  readonly target: string;
  /** Adds a rule; rules are tried in the order scheduled, the first with budget left that matches wins. */
  schedule(rule: FaultRule): ScheduledFault;
  /** From now on every request gets `action` (default 503), until clear(). Checked before the rules. */
  failAll(action?: FaultAction): void;
  /** Drops all rules and the failAll mode. Counters are kept. */
  clear(): void;
  /** Zeroes the counters and the log. */
  resetStats(): void;
  /** Live counters (a snapshot copy). */
  readonly stats: FaultProxyStats;
  close(): Promise<void>;
}

/** Matchers for the GCS JSON API paths the client uses. */
export const matchers = {
  uploads: (r: RequestInfo): boolean => r.path.startsWith('/upload/'),
  downloads: (r: RequestInfo): boolean => r.path.startsWith('/download/') || /[?&]alt=media(&|$)/.test(r.url),
  lists: (r: RequestInfo): boolean => r.method === 'GET' && /^(\/storage\/v1)?\/b\/[^/]+\/o\/?$/.test(r.path),
  method:
    (m: string): RequestMatcher =>
    (r) =>
      r.method === m.toUpperCase(),
  pathPrefix:
    (p: string): RequestMatcher =>
    (r) =>
      r.path.startsWith(p),
} as const;

interface RuleState {
  rule: FaultRule;
  seenMatching: number;
  fired: number;
}

function emptyStats(): FaultProxyStats {
  return { seen: 0, forwarded: 0, resets: 0, stalls: 0, statuses: {}, upstreamErrors: 0, log: [] };
}

function statusBody(status: number, message: string): string {
  const reason = status === 429 ? 'rateLimitExceeded' : status === 503 ? 'backendError' : 'injectedFault';
  return JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const targetUrl = new URL(target);
  if (targetUrl.protocol !== 'http:') throw new Error(`fault proxy: only http targets are supported, got ${target}`);
  const agent = new http.Agent({ keepAlive: true });
  const rules: RuleState[] = [];
  let failAllAction: FaultAction | undefined;
  let stats = emptyStats();
  const sockets = new Set<Socket>();

  function choose(info: RequestInfo): FaultAction | undefined {
    if (failAllAction) return failAllAction;
    for (const st of rules) {
      const budget = st.rule.times ?? 1;
      if (st.fired >= budget) continue;
      if (st.rule.match && !st.rule.match(info)) continue;
      st.seenMatching += 1;
      if (st.seenMatching <= (st.rule.skip ?? 0)) continue;
      st.fired += 1;
      return st.rule;
    }
    return undefined;
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse, event: ProxyEvent): void {
    stats.forwarded += 1;
    const upstream = http.request(
      {
        protocol: targetUrl.protocol,
        hostname: targetUrl.hostname,
        port: targetUrl.port,
        method: req.method,
        path: req.url,
        // rawHeaders keeps names, case, order and duplicates as the client sent them (Host included).
        headers: req.rawHeaders,
        agent,
      },
      (upRes) => {
        event.status = upRes.statusCode;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, upRes.rawHeaders);
        pipeline(upRes, res, (err) => {
          if (err) res.destroy();
        });
      },
    );
    upstream.on('error', () => {
      stats.upstreamErrors += 1;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      req.resume();
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(statusBody(502, 'fault proxy: target unreachable'));
    });
    // If the client goes away, stop the upstream request too.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    pipeline(req, upstream, () => {
      // Errors surface through upstream's 'error' handler above.
    });
  }

  function injectStatus(req: http.IncomingMessage, res: http.ServerResponse, a: { status: number; retryAfterSeconds?: number; message?: string }): void {
    const body = statusBody(a.status, a.message ?? `fault proxy: injected ${a.status}`);
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json; charset=UTF-8',
      'content-length': Buffer.byteLength(body),
    };
    if (a.retryAfterSeconds !== undefined) headers['retry-after'] = String(a.retryAfterSeconds);
    // Drain the body first so the client is not cut off mid-upload.
    const send = (): void => {
      if (!res.destroyed) res.writeHead(a.status, headers).end(body);
    };
    if (req.complete) send();
    else {
      req.once('end', send);
      req.resume();
    }
  }

  const server = http.createServer((req, res) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const info: RequestInfo = {
      method: req.method ?? 'GET',
      path: q === -1 ? rawUrl : rawUrl.slice(0, q),
      url: rawUrl,
      headers: req.headers,
    };
    stats.seen += 1;
    const action = choose(info);
    const log = (a: ProxyAction): ProxyEvent => {
      const event: ProxyEvent = { method: info.method, url: rawUrl, action: a };
      stats.log.push(event);
      return event;
    };

    if (!action) {
      forward(req, res, log('forward'));
      return;
    }
    switch (action.kind) {
      case 'reset':
        stats.resets += 1;
        log('reset');
        req.socket.destroy();
        return;
      case 'status':
        stats.statuses[action.status] = (stats.statuses[action.status] ?? 0) + 1;
        log(`status:${action.status}`);
        injectStatus(req, res, action);
        return;
      case 'stall': {
        stats.stalls += 1;
        const event = log('stall');
        // The request body waits in the socket buffers meanwhile; nothing reaches the target until the delay ends.
        req.pause();
        const timer = setTimeout(() => {
          if (!req.socket.destroyed) forward(req, res, event);
        }, action.ms);
        req.socket.once('close', () => clearTimeout(timer));
        return;
      }
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    target,
    schedule(rule: FaultRule): ScheduledFault {
      const st: RuleState = { rule, seenMatching: 0, fired: 0 };
      rules.push(st);
      return {
        rule,
        get fired() {
          return st.fired;
        },
        get remaining() {
          return Math.max(0, (rule.times ?? 1) - st.fired);
        },
      };
    },
    failAll(action: FaultAction = { kind: 'status', status: 503 }): void {
      failAllAction = action;
    },
    clear(): void {
      rules.length = 0;
      failAllAction = undefined;
    },
    resetStats(): void {
      stats = emptyStats();
    },
    get stats(): FaultProxyStats {
      return { ...stats, statuses: { ...stats.statuses }, log: stats.log.map((e) => ({ ...e })) };
    },
    async close(): Promise<void> {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      agent.destroy();
    },
  };
}

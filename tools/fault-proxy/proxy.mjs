// @ts-check
/*
 * Fault-injecting, latency-shaping HTTP reverse proxy: listens on 127.0.0.1 (ephemeral port) and forwards every
 * request to `target` (the GCS emulator, or the Ray double), unless a scheduled fault claims it. Faults: reset the
 * connection before any response, or after passing part of the request body to the target (a connection that
 * breaks in the middle of an upload), answer with a status (503 bursts, 429s), or stall for N ms and then forward. Rules
 * match by a predicate on method/path and carry a count budget; failAll() makes every later request fail.
 *
 * Latency mode (for the benchmarks): a fixed delay per request (one round trip), an extra delay on a connection's
 * first request (the TCP and TLS handshakes a real client pays), and a bandwidth cap in bytes/s per direction,
 * shared by all connections like a runner's one network path. The pacing is a virtual link: each body chunk leaves
 * when the link has finished sending the chunks before it, so the rate holds on average whatever the timer jitter.
 * The clock is injectable, so tests check the proxy's own accounting in virtual time instead of the wall clock.
 *
 * Nothing is rewritten: method, URL, headers (including Host) and bodies pass through unchanged and streamed, so
 * bytes are exact in both directions. Every request is logged with its body sizes in each direction.
 *
 * Use it as STORAGE_EMULATOR_HOST=<proxy.url> for the firebase emulator, `<proxy.url>/storage/v1` for fake-gcs-server
 * (tests/helpers/gcs.ts: through()). Caveat: the servers build selfLink and mediaLink from their own address, so a
 * client that follows those URLs bypasses the proxy. Both build the resumable upload Location from the request's
 * Host header, which we pass through, so the final PUT of a resumable upload comes back through the proxy (a row of
 * tests/conformance/gcs-storage-cases.ts checks it on both). Our action uploads small files non-resumable, which
 * always goes through the proxy.
 */
import http from 'node:http';
import { pipeline, Transform } from 'node:stream';

/**
 * @typedef {{ method: string, path: string, url: string, headers: http.IncomingHttpHeaders }} RequestInfo
 * @typedef {(req: RequestInfo) => boolean} RequestMatcher
 * @typedef {{ kind: 'reset', afterBytes?: number }
 *   | { kind: 'status', status: number, retryAfterSeconds?: number, message?: string }
 *   | { kind: 'stall', ms: number }} FaultAction
 * @typedef {FaultAction & { match?: RequestMatcher, times?: number, skip?: number }} FaultRule
 * @typedef {{ readonly rule: FaultRule, readonly fired: number, readonly remaining: number }} ScheduledFault
 * @typedef {'forward' | 'reset' | 'stall' | `status:${number}`} ProxyAction
 * @typedef {{ method: string, url: string, action: ProxyAction, status?: number, time: number,
 *   bytesIn: number, bytesOut: number, done: boolean }} ProxyEvent
 * @typedef {{ requestDelayMs?: number, connectDelayMs?: number, bytesPerSecond?: number }} LatencyOptions
 * @typedef {{ now: () => number, sleep: (ms: number) => Promise<void> }} ProxyClock
 * @typedef {{ delaysApplied: number, delayMsTotal: number, connectDelays: number, connectDelayMsTotal: number,
 *   throttledBytesUp: number, throttledBytesDown: number, throttleWaitMsUp: number, throttleWaitMsDown: number }} LatencyStats
 * @typedef {{ seen: number, forwarded: number, resets: number, stalls: number, statuses: Record<number, number>,
 *   upstreamErrors: number, bytesUp: number, bytesDown: number, latency: LatencyStats, log: ProxyEvent[] }} FaultProxyStats
 */

/** @type {ProxyClock} */
const realClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Matchers for the GCS JSON API paths the client uses. */
export const matchers = Object.freeze({
  /** @type {RequestMatcher} */
  uploads: (r) => r.path.startsWith('/upload/'),
  /** @type {RequestMatcher} */
  downloads: (r) => r.path.startsWith('/download/') || /[?&]alt=media(&|$)/.test(r.url),
  /** @type {RequestMatcher} */
  lists: (r) => r.method === 'GET' && /^(\/storage\/v1)?\/b\/[^/]+\/o\/?$/.test(r.path),
  /** @param {string} m @returns {RequestMatcher} */
  method: (m) => (r) => r.method === m.toUpperCase(),
  /** @param {string} p @returns {RequestMatcher} */
  pathPrefix: (p) => (r) => r.path.startsWith(p),
});

/** @returns {LatencyStats} */
function emptyLatencyStats() {
  return {
    delaysApplied: 0,
    delayMsTotal: 0,
    connectDelays: 0,
    connectDelayMsTotal: 0,
    throttledBytesUp: 0,
    throttledBytesDown: 0,
    throttleWaitMsUp: 0,
    throttleWaitMsDown: 0,
  };
}

/** @returns {FaultProxyStats} */
function emptyStats() {
  return { seen: 0, forwarded: 0, resets: 0, stalls: 0, statuses: {}, upstreamErrors: 0, bytesUp: 0, bytesDown: 0, latency: emptyLatencyStats(), log: [] };
}

/** @param {number} status @param {string} message */
function statusBody(status, message) {
  const reason = status === 429 ? 'rateLimitExceeded' : status === 503 ? 'backendError' : 'injectedFault';
  return JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } });
}

/**
 * One direction of the network path: a chunk of n bytes occupies it for n / rate seconds, after the chunks queued
 * before it (from any connection). `reserve` returns how long the caller must hold the chunk.
 */
export class VirtualLink {
  /** @param {ProxyClock} clock */
  constructor(clock) {
    this.clock = clock;
    this.nextFree = 0;
  }

  /** @param {number} bytes @param {number} bytesPerSecond @returns {number} ms to wait */
  reserve(bytes, bytesPerSecond) {
    const now = this.clock.now();
    this.nextFree = Math.max(now, this.nextFree) + (bytes * 1000) / bytesPerSecond;
    return this.nextFree - now;
  }
}

/**
 * @param {string} target
 * @param {{ latency?: LatencyOptions | null, clock?: ProxyClock }} [options]
 */
export async function startFaultProxy(target, options = {}) {
  const targetUrl = new URL(target);
  if (targetUrl.protocol !== 'http:') throw new Error(`fault proxy: only http targets are supported, got ${target}`);
  const clock = options.clock ?? realClock;
  // A fresh loopback connection per forwarded request: reusing an idle one races with the target closing it
  // (Node servers close idle keep-alive sockets after 5 s), which under load showed up as spurious 502s.
  const agent = new http.Agent({ keepAlive: false });
  /** @type {{ rule: FaultRule, seenMatching: number, fired: number }[]} */
  const rules = [];
  /** @type {FaultAction | undefined} */
  let failAllAction;
  let stats = emptyStats();
  /** @type {LatencyOptions | null} */
  let latency = options.latency ?? null;
  const links = { up: new VirtualLink(clock), down: new VirtualLink(clock) };
  /** @type {Set<import('node:net').Socket>} */
  const sockets = new Set();
  /** Sockets that already carried a request (their handshake is paid). */
  const warm = new WeakSet();

  /** @param {RequestInfo} info @returns {FaultAction | undefined} */
  function choose(info) {
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

  /**
   * Counts a body's bytes and, with a bandwidth cap, paces them through the direction's link.
   * @param {'up' | 'down'} dir @param {ProxyEvent} event
   */
  function meter(dir, event) {
    return new Transform({
      transform(chunk, _enc, cb) {
        const n = /** @type {Buffer} */ (chunk).length;
        if (dir === 'up') {
          event.bytesIn += n;
          stats.bytesUp += n;
        } else {
          event.bytesOut += n;
          stats.bytesDown += n;
        }
        const rate = latency?.bytesPerSecond ?? 0;
        if (!(rate > 0)) return cb(null, chunk);
        const wait = links[dir].reserve(n, rate);
        const l = stats.latency;
        if (dir === 'up') {
          l.throttledBytesUp += n;
          l.throttleWaitMsUp += wait;
        } else {
          l.throttledBytesDown += n;
          l.throttleWaitMsDown += wait;
        }
        // Sub-millisecond waits are not worth a timer; the link's schedule keeps the average rate exact.
        if (wait < 1) return cb(null, chunk);
        clock.sleep(wait).then(() => cb(null, chunk), cb);
      },
    });
  }

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {ProxyEvent} event
   * @param {number} [cutAfter] pass this many body bytes to the target, then break both connections
   */
  function forward(req, res, event, cutAfter) {
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
        pipeline(upRes, meter('down', event), res, (err) => {
          event.done = true;
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
    if (cutAfter === undefined) {
      pipeline(req, meter('up', event), upstream, () => {
        // Errors surface through upstream's 'error' handler above.
      });
      return;
    }
    cutBody(req, upstream, event, cutAfter);
  }

  /**
   * Passes the first `cutAfter` body bytes to the target, and once they have left for its socket, destroys the
   * upstream request (the target sees the body end early) and the client's socket (the client sees a reset).
   * @param {http.IncomingMessage} req @param {http.ClientRequest} upstream @param {ProxyEvent} event @param {number} cutAfter
   */
  function cutBody(req, upstream, event, cutAfter) {
    const cut = () => {
      // The broken request is the fault itself, not an upstream error.
      upstream.removeAllListeners('error');
      upstream.on('error', () => {});
      upstream.destroy();
      req.socket.destroy();
    };
    req.on('data', (/** @type {Buffer} */ chunk) => {
      const keep = chunk.subarray(0, Math.max(0, cutAfter - event.bytesIn));
      event.bytesIn += keep.length;
      stats.bytesUp += keep.length;
      if (event.bytesIn < cutAfter) {
        if (!upstream.write(keep)) {
          req.pause();
          upstream.once('drain', () => req.resume());
        }
        return;
      }
      req.removeAllListeners('data');
      req.pause();
      upstream.write(keep, cut);
    });
    req.once('end', () => {
      if (event.bytesIn < cutAfter) upstream.end();
    });
  }

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res
   * @param {{ status: number, retryAfterSeconds?: number, message?: string }} a
   */
  function injectStatus(req, res, a) {
    const body = statusBody(a.status, a.message ?? `fault proxy: injected ${a.status}`);
    /** @type {http.OutgoingHttpHeaders} */
    const headers = { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(body) };
    if (a.retryAfterSeconds !== undefined) headers['retry-after'] = String(a.retryAfterSeconds);
    // Drain the body first so the client is not cut off mid-upload.
    const send = () => {
      if (!res.destroyed) res.writeHead(a.status, headers).end(body);
    };
    if (req.complete) send();
    else {
      req.once('end', send);
      req.resume();
    }
  }

  /** The latency of one request: a round trip, plus the handshakes on a new connection. @param {http.IncomingMessage} req */
  function requestLatencyMs(req) {
    if (!latency) return 0;
    let ms = 0;
    const rtt = latency.requestDelayMs ?? 0;
    if (rtt > 0) {
      stats.latency.delaysApplied += 1;
      stats.latency.delayMsTotal += rtt;
      ms += rtt;
    }
    const connect = latency.connectDelayMs ?? 0;
    if (connect > 0 && !warm.has(req.socket)) {
      stats.latency.connectDelays += 1;
      stats.latency.connectDelayMsTotal += connect;
      ms += connect;
    }
    return ms;
  }

  /**
   * @param {http.IncomingMessage} req @param {http.ServerResponse} res @param {ProxyEvent} event @param {number} ms
   * @param {number} [cutAfter]
   */
  function forwardAfter(req, res, event, ms, cutAfter) {
    if (ms <= 0) return forward(req, res, event, cutAfter);
    // The request body waits in the socket buffers meanwhile; nothing reaches the target until the delay ends.
    req.pause();
    // Per-response listener: a keep-alive socket carries many requests and must not collect one per request.
    let closed = false;
    res.once('close', () => (closed = true));
    clock.sleep(ms).then(() => {
      if (!closed && !req.socket.destroyed) forward(req, res, event, cutAfter);
    });
  }

  const server = http.createServer((req, res) => {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    /** @type {RequestInfo} */
    const info = { method: req.method ?? 'GET', path: q === -1 ? rawUrl : rawUrl.slice(0, q), url: rawUrl, headers: req.headers };
    stats.seen += 1;
    const delay = requestLatencyMs(req);
    warm.add(req.socket);
    const action = choose(info);
    /** @param {ProxyAction} a @returns {ProxyEvent} */
    const log = (a) => {
      /** @type {ProxyEvent} */
      const event = { method: info.method, url: rawUrl, action: a, time: Date.now(), bytesIn: 0, bytesOut: 0, done: false };
      stats.log.push(event);
      return event;
    };

    if (!action) {
      forwardAfter(req, res, log('forward'), delay);
      return;
    }
    switch (action.kind) {
      case 'reset':
        stats.resets += 1;
        if (action.afterBytes !== undefined) {
          forwardAfter(req, res, log('reset'), delay, action.afterBytes);
          return;
        }
        log('reset').done = true;
        req.socket.destroy();
        return;
      case 'status':
        stats.statuses[action.status] = (stats.statuses[action.status] ?? 0) + 1;
        log(`status:${action.status}`).done = true;
        injectStatus(req, res, action);
        return;
      case 'stall':
        stats.stalls += 1;
        forwardAfter(req, res, log('stall'), delay + action.ms);
        return;
    }
  });
  // A WebSocket (the Ray log tail): the upgrade request is forwarded as it came, then the two sockets are piped; what the
  // target sends after its answer counts as the event's bytesOut (frames included), paced like any body.
  server.on('upgrade', (req, socket, head) => {
    const rawUrl = req.url ?? '/';
    stats.seen += 1;
    stats.forwarded += 1;
    /** @type {ProxyEvent} */
    const event = { method: req.method ?? 'GET', url: rawUrl, action: 'forward', time: Date.now(), bytesIn: 0, bytesOut: 0, done: false };
    stats.log.push(event);
    const upstream = http.request({
      hostname: targetUrl.hostname,
      port: targetUrl.port,
      method: req.method,
      path: rawUrl,
      headers: req.rawHeaders,
      agent: false,
    });
    const end = () => {
      event.done = true;
      socket.destroy();
    };
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => {
      stats.upstreamErrors += 1;
      end();
    });
    /** The target's status line and headers, as it sent them. @param {http.IncomingMessage} res */
    const relayHead = (res) => {
      event.status = res.statusCode;
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    };
    // The target refused the upgrade: relay its plain answer.
    upstream.on('response', (res) => {
      relayHead(res);
      pipeline(res, meter('down', event), socket, () => end());
    });
    upstream.on('upgrade', (res, upSocket, upHead) => {
      relayHead(res);
      if (upHead.length > 0) upSocket.unshift(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => socket.destroy());
      sockets.add(upSocket);
      upSocket.once('close', () => sockets.delete(upSocket));
      pipeline(upSocket, meter('down', event), socket, () => end());
      pipeline(socket, meter('up', event), upSocket, () => upSocket.destroy());
    });
    upstream.end();
  });
  // Clients keep their connections (and the handshake they paid) for long, as with GCS; the 5 s default would
  // close idle ones under a client that is about to reuse them.
  server.keepAliveTimeout = 30_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  const port = /** @type {import('node:net').AddressInfo} */ (server.address()).port;

  return {
    url: `http://127.0.0.1:${port}`,
    target,
    /** @param {FaultRule} rule @returns {ScheduledFault} */
    schedule(rule) {
      const st = { rule, seenMatching: 0, fired: 0 };
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
    /** @param {FaultAction} [action] */
    failAll(action = { kind: 'status', status: 503 }) {
      failAllAction = action;
    },
    clear() {
      rules.length = 0;
      failAllAction = undefined;
    },
    /** @param {LatencyOptions | null} l */
    setLatency(l) {
      latency = l;
    },
    get latency() {
      return latency ? { ...latency } : null;
    },
    resetStats() {
      stats = emptyStats();
    },
    /** @returns {FaultProxyStats} */
    get stats() {
      return { ...stats, statuses: { ...stats.statuses }, latency: { ...stats.latency }, log: stats.log.map((e) => ({ ...e })) };
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r(undefined)));
      agent.destroy();
    },
  };
}

// Hand-written types for proxy.mjs (the root tsconfig has no allowJs/checkJs). Keep in sync with its JSDoc;
// `npx tsc -p tools` checks the JS itself.
import type { IncomingHttpHeaders } from 'node:http';

/** What the proxy knows about a request when choosing a fault. `path` excludes the query; `url` includes it. */
export interface RequestInfo {
  method: string;
  path: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export type RequestMatcher = (req: RequestInfo) => boolean;

export type FaultAction =
  /**
   * Destroy the client socket before any response byte: the client sees ECONNRESET / socket hang up. With
   * `afterBytes`, the request is forwarded first and both connections break once that many body bytes have been
   * passed to the target: an upload cut off in the middle (the target sees a body that ends early).
   */
  | { kind: 'reset'; afterBytes?: number }
  /** Answer with this status and a GCS-shaped JSON error body, without contacting the target. */
  | { kind: 'status'; status: number; retryAfterSeconds?: number; message?: string }
  /** Hold the request for `ms` (on top of any latency), then forward it normally. */
  | { kind: 'stall'; ms: number };

export type FaultRule = FaultAction & {
  /** Which requests this rule applies to; default all. */
  match?: RequestMatcher;
  /** How many matching requests to fault; default 1. Infinity for "always". */
  times?: number;
  /** Let this many matching requests through first (e.g. fail the 3rd upload: skip 2). Default 0. */
  skip?: number;
};

/** Handle returned by schedule(): live counters for one rule. */
export interface ScheduledFault {
  readonly rule: FaultRule;
  /** Requests this rule has faulted so far. */
  readonly fired: number;
  /** Faults left in the budget. */
  readonly remaining: number;
}

export type ProxyAction = 'forward' | 'reset' | 'stall' | `status:${number}`;

export interface ProxyEvent {
  method: string;
  url: string;
  action: ProxyAction;
  /** For forwarded requests: the target's status, once its response headers arrived. */
  status?: number;
  /** Date.now() when the request arrived. */
  time: number;
  /** Request body bytes passed to the target so far. */
  bytesIn: number;
  /** Response body bytes passed to the client so far (headers not counted). */
  bytesOut: number;
  /** The exchange is over (response sent, or the request refused). */
  done: boolean;
}

/** The network the proxy imitates. Zero or absent fields are off. */
export interface LatencyOptions {
  /** Added to every request before it is forwarded: one round trip. */
  requestDelayMs?: number;
  /** Added to the first request of each client connection: the TCP and TLS handshakes. */
  connectDelayMs?: number;
  /** Cap per direction, shared by all connections (request bodies up, response bodies down). */
  bytesPerSecond?: number;
}

/** The time source of the latency mode; tests pass a virtual one. */
export interface ProxyClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** The latency mode's own accounting: what it decided to apply, not what a wall clock saw. */
export interface LatencyStats {
  /** Requests that got requestDelayMs, and the sum. */
  delaysApplied: number;
  delayMsTotal: number;
  /** New connections that got connectDelayMs, and the sum. */
  connectDelays: number;
  connectDelayMsTotal: number;
  /** Body bytes paced through the cap, per direction, and the waits the pacing asked for. */
  throttledBytesUp: number;
  throttledBytesDown: number;
  throttleWaitMsUp: number;
  throttleWaitMsDown: number;
}

export interface FaultProxyStats {
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
  /** Body bytes forwarded: request bodies to the target, response bodies to the client. */
  bytesUp: number;
  bytesDown: number;
  latency: LatencyStats;
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
  /** Drops all rules and the failAll mode. Counters and the latency mode are kept. */
  clear(): void;
  /** Turns the latency mode on (or changes it) for later requests and chunks; null turns it off. */
  setLatency(latency: LatencyOptions | null): void;
  readonly latency: LatencyOptions | null;
  /** Zeroes the counters and the log. */
  resetStats(): void;
  /** Live counters (a snapshot copy). */
  readonly stats: FaultProxyStats;
  close(): Promise<void>;
}

export interface FaultProxyOptions {
  latency?: LatencyOptions | null;
  clock?: ProxyClock;
}

/** Matchers for the GCS JSON API paths the client uses. */
export declare const matchers: {
  readonly uploads: RequestMatcher;
  readonly downloads: RequestMatcher;
  readonly lists: RequestMatcher;
  method(m: string): RequestMatcher;
  pathPrefix(p: string): RequestMatcher;
};

export declare const realClock: ProxyClock;

/** One direction of the path: reserve(n, rate) returns how long a chunk of n bytes waits behind the ones before it. */
export declare class VirtualLink {
  constructor(clock: ProxyClock);
  nextFree: number;
  reserve(bytes: number, bytesPerSecond: number): number;
}

export declare function startFaultProxy(target: string, options?: FaultProxyOptions): Promise<FaultProxy>;

// @ts-check
// ray-sim: the project's one Ray Jobs REST API double. It is the tests' double and the demo's local
// "cluster". It serves what the action calls (version, submit, get, logs, stop, packages, the log
// tail) the way Ray 2.60 answers: routes, status codes, text/plain error bodies, JobDetails, the job
// state machine. tests/helpers/ray-jobs-contract.ts runs the same rows against it and against a
// real Ray head; README.md lists the differences that remain. Jobs really run: each entrypoint is a `/bin/sh -c` process in its own
// process group, with stdout and stderr merged into the job's driver log. README.md in this folder
// lists what the double cannot prove.
//
// Library: `startRaySim(options)`; CLI: `node tools/ray-sim/server.mjs --port 0`.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { isMainModule } from '../lib/process.mjs';

import { extractZip } from './zip.mjs';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

/** @typedef {'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED'} JobStatus */

/** Terminal = {STOPPED, SUCCEEDED, FAILED}. */
const TERMINAL_STATUSES = Object.freeze(['STOPPED', 'SUCCEEDED', 'FAILED']);
/** @param {string} s */
const isTerminal = (s) => TERMINAL_STATUSES.includes(s);

/** The 15 JobDetails keys in the order pydantic emits them. */
export const JOB_DETAILS_KEYS = Object.freeze([
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
]);

/** JobSubmitRequest fields of Ray 2.60, in dataclass order. */
const SUBMIT_FIELDS = [
  'entrypoint',
  'submission_id',
  'job_id',
  'runtime_env',
  'metadata',
  'entrypoint_num_cpus',
  'entrypoint_num_gpus',
  'entrypoint_memory',
  'entrypoint_resources',
  'entrypoint_label_selector',
];

/** Exact server-side texts a client may need to match. */
export const RAY_TEXT = Object.freeze({
  notFound: '404: Not Found',
  methodNotAllowed: '405: Method Not Allowed',
  internalError: '500 Internal Server Error\n\nServer got itself in trouble',
  noAgent: 'No available agent to submit job, please try again later.',
  /** @param {string} id */
  jobNotFound: (id) => `Job ${id} does not exist`,
  /** @param {string} uri */
  packageNotFound: (uri) => `Package ${uri} does not exist`,
  /** @param {string} sid */
  duplicate: (sid) => `Job with submission_id ${sid} already exists. Please use a different submission_id.`,
  runtimeEnvSetupFailed: 'runtime_env setup failed: Failed to set up runtime environment.',
});

/** Default PENDING/RUNNING/... messages. */
const DEFAULT_MESSAGES = {
  RUNNING: 'Job is currently running.',
  STOPPED: 'Job was intentionally stopped.',
  SUCCEEDED: 'Job finished successfully.',
  FAILED: 'Job failed.',
};

const MiB = 1024 * 1024;
const NUM_LOG_LINES_ON_ERROR = 10; // job_log_storage_client.py
const MAX_LOG_SIZE = 20000;
const MAX_CHUNK_LINES = 10; // utils.py file_tail_iterator
const MAX_CHUNK_CHARS = 20000;
const ID_ALPHABET = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'].filter((c) => !'IloO0'.includes(c));
const RAY_SITE = '/home/ray/anaconda3/lib/python3.11/site-packages/ray';
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// ---------------------------------------------------------------------------------------------
// Python-flavoured helpers: json.dumps, type(), repr(), tracebacks, version compare
// ---------------------------------------------------------------------------------------------

/**
 * Ray's `update_envs` (ray/_private/utils.py), run as the driver starts: each env_vars value in
 * order goes through Python's `os.path.expandvars` against the environment so far (so a later
 * value sees an earlier one), then every `${NAME}` of an unset upper-case name is dropped.
 * @param {NodeJS.ProcessEnv} base
 * @param {Record<string, string>} envVars
 * @returns {NodeJS.ProcessEnv}
 */
function expandEnvVars(base, envVars) {
  const env = { ...base };
  for (const [key, value] of Object.entries(envVars)) {
    const expanded = String(value).replace(/\$([A-Za-z0-9_]+|\{[^}]*\})/g, (whole, ref) => {
      const name = ref.startsWith('{') ? ref.slice(1, -1) : ref;
      return env[name] ?? whole;
    });
    env[key] = expanded.replace(/\$\{[A-Z0-9_]+\}/g, '');
  }
  return env;
}

/**
 * json.dumps with Python's defaults: `", "` / `": "` separators and ensure_ascii.
 * @param {unknown} v
 * @returns {string}
 */
function pyDumps(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return JSON.stringify(v);
    return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  }
  if (typeof v === 'string') {
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  }
  if (Array.isArray(v)) return `[${v.map(pyDumps).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyDumps(k)}: ${pyDumps(x)}`)
      .join(', ')}}`;
  }
  return 'null';
}

/**
 * Python's `type(x)` for a value parsed from JSON. `floatLiteral` says the JSON literal had a
 * fraction or exponent (JavaScript cannot tell 1.0 from 1 after parsing).
 * @param {unknown} v
 * @param {boolean} [floatLiteral]
 */
function pyType(v, floatLiteral = false) {
  /** @type {string} */
  let name;
  if (v === null || v === undefined) name = 'NoneType';
  else if (typeof v === 'boolean') name = 'bool';
  else if (typeof v === 'number') name = floatLiteral || !Number.isInteger(v) ? 'float' : 'int';
  else if (typeof v === 'string') name = 'str';
  else if (Array.isArray(v)) name = 'list';
  else name = 'dict';
  return `<class '${name}'>`;
}

/** @param {unknown} v @returns {string} */
function pyRepr(v) {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
}

/** @param {unknown} v */
const pyStr = (v) => (typeof v === 'string' ? v : pyRepr(v));

/** @param {number} x Python's str() of a float. */
const pyFloat = (x) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/**
 * A traceback.format_exc()-shaped text. Only the last line is meant to be exact; the frames are
 * plausible, not Ray's real file/line numbers.
 * @param {Array<[string, number, string, string?]>} frames [file under ray/, line, function, code]
 * @param {string} last
 */
function traceback(frames, last) {
  const body = frames
    .map(([file, line, fn, code]) => {
      const f = file.startsWith('<') ? file : `${RAY_SITE}/${file}`;
      return `  File "${f}", line ${line}, in ${fn}\n${code ? `    ${code}\n` : ''}`;
    })
    .join('');
  return `Traceback (most recent call last):\n${body}${last}\n`;
}

const CTOR_FRAMES = /** @type {Array<[string, number, string, string?]>} */ ([
  ['dashboard/modules/job/utils.py', 198, 'parse_and_validate_request', 'return validate_request_type(json_data, request_type)'],
  ['dashboard/modules/job/common.py', 441, 'validate_request_type', 'return request_type(**json_data)'],
]);

/** @param {string} last  A 400 body for a JobSubmitRequest constructor/`__post_init__` error. */
function submitTypeError(last, postInit = false) {
  const frames = [...CTOR_FRAMES];
  if (postInit) {
    frames.push(['<string>', 12, '__init__'], ['dashboard/modules/job/common.py', 480, '__post_init__', 'raise TypeError(']);
  }
  return traceback(frames, `TypeError: ${last}`);
}

/**
 * How the head wraps an agent error: RuntimeError("Request failed with status code N: <text>.").
 * @param {string} op  head handler name
 * @param {string} internal  JobAgentSubmissionClient method
 * @param {number} agentStatus
 * @param {string} agentText
 */
function headWrapped(op, internal, agentStatus, agentText) {
  return traceback(
    [
      ['dashboard/modules/job/job_head.py', 312, op, `resp = await job_agent_client.${internal}(...)`],
      ['dashboard/modules/job/job_head.py', 96, internal, 'await self._raise_error(resp)'],
      ['dashboard/modules/job/job_head.py', 71, '_raise_error', 'raise RuntimeError(f"Request failed with status code {status}: {error_text}.")'],
    ],
    `RuntimeError: Request failed with status code ${agentStatus}: ${agentText}.`,
  );
}

/**
 * Compares a Ray version string with major.minor (pre-release and local suffixes ignored).
 * @param {string} version @param {number} major @param {number} minor
 */
function rayVersionAtLeast(version, major, minor) {
  const m = /^(\d+)\.(\d+)/.exec(version);
  if (!m) return true; // "dev"-style strings: treat as newest
  const [ma, mi] = [Number(m[1]), Number(m[2])];
  return ma > major || (ma === major && mi >= minor);
}

/**
 * The raw JSON text of each top-level value of a (valid) JSON object, keyed by property name.
 * Used to tell `1.0` (a Python float) from `1` (an int) for entrypoint_memory.
 * @param {string} text
 * @returns {Map<string, string>}
 */
function topLevelRawValues(text) {
  /** @type {Map<string, string>} */
  const out = new Map();
  const n = text.length;
  let i = 0;
  const skipWs = () => {
    while (i < n && ' \t\n\r'.includes(text[i])) i++;
  };
  const readString = () => {
    const s = i;
    i++;
    while (i < n && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    i++;
    return text.slice(s, i);
  };
  const readValue = () => {
    const s = i;
    let depth = 0;
    while (i < n) {
      const c = text[i];
      if (c === '"') {
        readString();
        if (depth === 0) break;
        continue;
      }
      if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (depth === 0) break;
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (c === ',' && depth === 0) break;
      i++;
    }
    return text.slice(s, i).trim();
  };
  skipWs();
  if (text[i] !== '{') return out;
  i++;
  for (;;) {
    skipWs();
    if (text[i] !== '"') break;
    const key = JSON.parse(readString());
    skipWs();
    i++; // ':'
    skipWs();
    out.set(key, readValue());
    skipWs();
    if (text[i] !== ',') break;
    i++;
  }
  return out;
}

/** `raysubmit_` + 16 chars from [A-Za-z0-9] minus I l o O 0. */
function generateSubmissionId() {
  let id = 'raysubmit_';
  for (let k = 0; k < 16; k++) id += ID_ALPHABET[crypto.randomInt(ID_ALPHABET.length)];
  return id;
}

function defaultSessionName() {
  const d = new Date();
  const p = (/** @type {number} */ x, w = 2) => String(x).padStart(w, '0');
  return `session_${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(
    d.getMinutes(),
  )}-${p(d.getSeconds())}_${p(d.getMilliseconds() * 1000, 6)}_${process.pid}`;
}

/**
 * Last ≤10 lines (newlines kept) of a log, cut to its last 20,000 chars.
 * @param {string} log
 */
function logTail(log) {
  const lines = log.match(/[^\n]*\n|[^\n]+$/g) ?? [];
  return lines.slice(-NUM_LOG_LINES_ON_ERROR).join('').slice(-MAX_LOG_SIZE);
}

/** @param {string} file */
function readLogFile(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------------------------

/** @typedef {{ status: number, headers: Record<string, string>, body: string | Buffer }} SimResponse */

/** @param {number} status @param {string} body @param {Record<string, string>} [headers] @returns {SimResponse} */
const text = (status, body, headers = {}) => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
});
/** @param {unknown} value @param {number} [status] @returns {SimResponse} */
const json = (value, status = 200) => ({
  status,
  headers: { 'content-type': 'application/json; charset=utf-8' },
  body: pyDumps(value),
});
/** Python logging's default time format: `2026-12-03 09:48:49,612` (local time). */
function pyLogTime(d = new Date()) {
  const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())},${p(d.getMilliseconds(), 3)}`;
}

/** aiohttp's bare `Response()`: 200, no body and no Content-Type (as Ray 2.60 answers). @returns {SimResponse} */
const empty = () => ({ status: 200, headers: {}, body: '' });

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

/**
 * @typedef {{
 *   type: 'SUBMISSION' | 'DRIVER', job_id: string | null, submission_id: string | null,
 *   driver_info: { id: string, node_ip_address: string, pid: string } | null, status: JobStatus,
 *   entrypoint: string, message: string | null, error_type: string | null, start_time: number | null,
 *   end_time: number | null, metadata: Record<string, string> | null,
 *   runtime_env: Record<string, unknown> | null, driver_agent_http_address: string | null,
 *   driver_node_id: string | null, driver_exit_code: number | null
 * }} JobDetails
 */

/** One submission job: the record Ray keeps in GCS KV plus the sim's process bookkeeping. */
class SimJob {
  /**
   * @param {{ seq: number, submissionId: string, request: Record<string, unknown>, logPath: string, dir: string }} init
   */
  constructor(init) {
    /** @readonly */ this.seq = init.seq;
    /** @readonly */ this.submissionId = init.submissionId;
    /** The validated submit body, nulls stripped. @readonly */
    this.request = init.request;
    /** @readonly */ this.entrypoint = /** @type {string} */ (init.request.entrypoint);
    /** @type {Record<string, string> | null} */
    this.metadata = /** @type {Record<string, string> | undefined} */ (init.request.metadata) ?? null;
    /** @type {Record<string, unknown> | null} */
    this.runtimeEnv = /** @type {Record<string, unknown> | undefined} */ (init.request.runtime_env) ?? null;
    /** @type {JobStatus} */
    this.status = 'PENDING';
    /** @type {string | null} an explicit message; null means the status default */
    this.message = null;
    /** @type {string | null} */
    this.errorType = null;
    /** @type {number} */
    this.startTime = Date.now();
    /** @type {number | null} */
    this.endTime = null;
    /** @type {string | null} */
    this.driverAgentHttpAddress = null;
    /** @type {string | null} */
    this.driverNodeId = null;
    /** @type {number | null} */
    this.driverExitCode = null;
    /** The driver log file (stdout+stderr of the entrypoint). @readonly */
    this.logPath = init.logPath;
    /** A per-job directory; the entrypoint's cwd is `cwd`. @readonly */
    this.dir = init.dir;
    /** @type {string | null} */
    this.cwd = null;
    /** @type {number | null} pid (= process group id) of the `/bin/sh -c` process */
    this.pid = null;
    /** Entry names refused while unpacking working_dir (they would escape the directory). @type {string[]} */
    this.skippedZipEntries = [];
    this.stopRequested = false;
    /** The PENDING delay elapsed while the job was held. */
    this.waitingForRelease = false;
    /** @type {import('node:child_process').ChildProcess | null} */
    this.child = null;
    /** @type {NodeJS.Timeout | null} */
    this.pendingTimer = null;
    /** @type {NodeJS.Timeout | null} */
    this.startTimeoutTimer = null;
    /** @type {NodeJS.Timeout | null} */
    this.killTimer = null;
  }

  get terminal() {
    return isTerminal(this.status);
  }

  /** The PENDING default message depends on resources and runtime_env. */
  defaultMessage() {
    if (this.status !== 'PENDING') return DEFAULT_MESSAGES[this.status];
    const r = this.request;
    let msg = 'Job has not started yet.';
    const pos = (/** @type {unknown} */ x) => (typeof x === 'number' || typeof x === 'boolean') && Number(x) > 0;
    const res = r.entrypoint_resources;
    if (
      pos(r.entrypoint_num_cpus) ||
      pos(r.entrypoint_num_gpus) ||
      pos(r.entrypoint_memory) ||
      (res !== undefined && !(typeof res === 'object' && res !== null && Object.keys(res).length === 0))
    ) {
      msg += ' It may be waiting for resources (CPUs, GPUs, memory, custom resources) to become available.';
    }
    const env = this.runtimeEnv;
    if (env !== null && Object.keys(env).length > 0) msg += ' It may be waiting for the runtime environment to be set up.';
    return msg;
  }

  /** @returns {JobDetails} all 15 keys, in order */
  details() {
    return {
      type: 'SUBMISSION',
      job_id: null,
      submission_id: this.submissionId,
      driver_info: null,
      status: this.status,
      entrypoint: this.entrypoint,
      message: this.message ?? this.defaultMessage(),
      error_type: this.errorType,
      start_time: this.startTime,
      end_time: this.endTime,
      metadata: this.metadata,
      runtime_env: this.runtimeEnv,
      driver_agent_http_address: this.driverAgentHttpAddress,
      driver_node_id: this.driverNodeId,
      driver_exit_code: this.driverExitCode,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// The simulator
// ---------------------------------------------------------------------------------------------

/**
 * @typedef {{
 *   port?: number, host?: string, rayVersion?: string, rayCommit?: string, sessionName?: string,
 *   pendingDelayMs?: number, stopWaitMs?: number, startTimeoutMs?: number, tailPollMs?: number, tailIdleMs?: number,
 *   maxBodyBytes?: number, supervisorLogLines?: boolean, env?: Record<string, string>, rootDir?: string,
 *   keepFiles?: boolean, nodeIp?: string, agentPort?: number, gcsAddress?: string,
 *   log?: (line: string) => void
 * }} RaySimOptions
 * @typedef {{
 *   method: string, path: string, url: string, headers: import('node:http').IncomingHttpHeaders,
 *   body: Buffer, bodyText: string, time: number, status: number | null, responseType: string | null,
 *   outcome: string | null
 * }} RequestLogEntry
 * @typedef {(method: string, path: string) => boolean} RequestMatcher
 * @typedef {{
 *   kind: 'fail' | 'reset', remaining: number, match: RequestMatcher, when: 'before' | 'after',
 *   status: number, body: string | null, ms: number
 * }} Fault
 */

class RaySim {
  /** @param {RaySimOptions} options */
  constructor(options) {
    this.options = options;
    this.host = options.host ?? '127.0.0.1';
    this.pendingDelayMs = options.pendingDelayMs ?? 100;
    this.stopWaitMs = options.stopWaitMs ?? 3000;
    this.startTimeoutMs = options.startTimeoutMs ?? 900_000;
    this.tailPollMs = options.tailPollMs ?? 200;
    // Ray's tail idles 1 s in file_tail_iterator and 1 s (LOG_TAIL_SLEEP_S) in the job manager at
    // the end of the file (docs/reference/ray-jobs.md#p16-a-quiet-tail-has-not-caught-up).
    this.tailIdleMs = options.tailIdleMs ?? 200;
    this.maxBodyBytes = options.maxBodyBytes ?? 100 * MiB;
    /** @type {{ ray_version: string, ray_commit: string, session_name: string, version: string } | null} */
    this.versionInfo = {
      version: '4',
      ray_version: options.rayVersion ?? '2.60.0',
      ray_commit: options.rayCommit ?? crypto.createHash('sha1').update('ray-sim').digest('hex'),
      session_name: options.sessionName ?? defaultSessionName(),
    };
    this.ownsRoot = options.rootDir === undefined;
    this.rootDir = options.rootDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ray-sim-'));
    fs.mkdirSync(path.join(this.rootDir, 'logs'), { recursive: true });
    fs.mkdirSync(path.join(this.rootDir, 'jobs'), { recursive: true });
    this.nodeIp = options.nodeIp ?? '127.0.0.1';
    this.agentAddress = `http://${this.nodeIp}:${options.agentPort ?? 52365}`;
    this.nodeId = crypto.randomBytes(28).toString('hex');
    this.gcsAddress = options.gcsAddress ?? `${this.nodeIp}:6379`;
    /** @type {Map<string, SimJob>} */
    this.jobs = new Map();
    /** @type {Map<string, Buffer>} package URI → bytes ("GCS" = Ray's Global Control Store) */
    this.packages = new Map();
    /** @type {RequestLogEntry[]} */
    this.requests = [];
    /** @type {Fault[]} */
    this.faults = [];
    this.holdAll = false;
    /** @type {Set<string>} */
    this.held = new Set();
    this.events = new EventEmitter();
    this.events.setMaxListeners(0);
    this.seq = 0;
    this.closing = false;
    /** @type {Set<NodeJS.Timeout>} */
    this.timers = new Set();
    /** @type {Set<import('node:net').Socket>} */
    this.wsSockets = new Set();
    this.server = http.createServer((req, res) => {
      this.onRequest(req, res).catch((err) => {
        this.log(`internal error: ${err instanceof Error ? err.stack : String(err)}`);
        if (!res.headersSent) this.send(res, text(500, RAY_TEXT.internalError));
        else res.destroy();
      });
    });
    this.server.on('upgrade', (req, socket, head) => {
      this.onUpgrade(req, /** @type {import('node:net').Socket} */ (socket), head).catch((err) => {
        this.log(`internal error (upgrade): ${err instanceof Error ? err.stack : String(err)}`);
        socket.destroy();
      });
    });
  }

  /** @param {string} line */
  log(line) {
    this.options.log?.(line);
  }

  /** @param {() => void} fn @param {number} ms @param {boolean} [unref] */
  timer(fn, ms, unref = false) {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    if (unref) t.unref();
    this.timers.add(t);
    return t;
  }

  /** @param {NodeJS.Timeout | null} t */
  clearTimer(t) {
    if (t) {
      clearTimeout(t);
      this.timers.delete(t);
    }
  }

  errorTypesEnabled() {
    return rayVersionAtLeast(this.versionInfo?.ray_version ?? '0.0', 2, 50);
  }

  // ----- state changes -----------------------------------------------------------------------

  /**
   * @param {SimJob} job @param {JobStatus} status
   * @param {{ message?: string | null, errorType?: string | null, exitCode?: number | null }} [extra]
   */
  setStatus(job, status, extra = {}) {
    if (job.terminal) {
      // Ray asserts "Attempted to change job status from a terminal state."; terminal is final.
      this.log(`ignored ${job.submissionId}: ${job.status} -> ${status} (terminal is final)`);
      return false;
    }
    job.status = status;
    job.message = extra.message ?? null;
    job.errorType = extra.errorType && this.errorTypesEnabled() ? extra.errorType : null;
    job.driverExitCode = extra.exitCode ?? null;
    if (isTerminal(status)) {
      job.endTime = Date.now();
      this.clearTimer(job.pendingTimer);
      this.clearTimer(job.startTimeoutTimer);
      this.clearTimer(job.killTimer);
    }
    this.log(`job ${job.submissionId} -> ${status}`);
    this.events.emit('status', job.submissionId, status, job.details());
    return true;
  }

  /** @param {SimJob} job */
  isHeld(job) {
    return this.holdAll || this.held.has(job.submissionId);
  }

  /** @param {SimJob} job  The PENDING delay has elapsed: set up the runtime env and start the driver. */
  startJob(job) {
    job.pendingTimer = null;
    if (job.status !== 'PENDING' || this.closing) return;
    if (this.isHeld(job)) {
      job.waitingForRelease = true;
      return;
    }
    job.waitingForRelease = false;
    this.clearTimer(job.startTimeoutTimer);
    if (job.stopRequested) {
      this.setStatus(job, 'STOPPED');
      return;
    }
    let cwd;
    try {
      cwd = this.setupWorkingDir(job);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      this.setStatus(job, 'FAILED', {
        message: `${RAY_TEXT.runtimeEnvSetupFailed}\n${detail}`,
        errorType: 'RUNTIME_ENV_SETUP_FAILURE',
      });
      return;
    }
    job.cwd = cwd;
    const envVars = /** @type {Record<string, string>} */ (job.runtimeEnv?.env_vars ?? {});
    const metadata = { ...(job.metadata ?? {}) };
    metadata.job_submission_id = job.submissionId;
    metadata.job_name = job.metadata?.job_name ?? job.submissionId;
    /** @type {NodeJS.ProcessEnv} */
    const env = {
      ...expandEnvVars({ ...process.env, ...(this.options.env ?? {}) }, Array.isArray(envVars) ? {} : envVars),
      PYTHONUNBUFFERED: '1',
      RAY_ADDRESS: this.gcsAddress,
      RAY_JOB_CONFIG_JSON_ENV_VAR: pyDumps({ runtime_env: job.runtimeEnv ?? {}, metadata }),
    };
    const command = job.entrypoint;
    let fd;
    try {
      fd = fs.openSync(job.logPath, 'a');
      // The supervisor's own lines, as Ray 2.60 writes them into every job log.
      if (this.options.supervisorLogLines !== false)
        fs.writeSync(
          fd,
          `${pyLogTime()}\tINFO job_manager.py:581 -- Runtime env is setting up.\nRunning entrypoint for job ${job.submissionId}: ${job.entrypoint}\n`,
        );
    } catch (err) {
      this.failStart(job, err);
      return;
    }
    /** @type {import('node:child_process').ChildProcess} */
    let child;
    try {
      // Popen(entrypoint, shell=True, start_new_session=True, stdout=log, stderr=STDOUT)
      child = spawn('/bin/sh', ['-c', command], { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    } catch (err) {
      fs.closeSync(fd);
      this.failStart(job, err);
      return;
    }
    fs.closeSync(fd);
    job.child = child;
    job.pid = child.pid ?? null;
    child.on('error', (err) => {
      job.child = null;
      if (!this.closing) this.failStart(job, err);
    });
    child.on('exit', (code, signal) => this.onExit(job, code, signal));
    job.driverAgentHttpAddress = this.agentAddress;
    job.driverNodeId = this.nodeId;
    this.setStatus(job, 'RUNNING');
  }

  /** @param {SimJob} job @param {unknown} err */
  failStart(job, err) {
    const e = err instanceof Error ? err : new Error(String(err));
    this.setStatus(job, 'FAILED', {
      message: traceback([['dashboard/modules/job/job_supervisor.py', 280, 'run', 'child_process = self._exec_entrypoint(...)']], `${e.name}: ${e.message}`),
      errorType: 'JOB_ENTRYPOINT_COMMAND_START_ERROR',
    });
  }

  /** @param {SimJob} job @param {number | null} code @param {NodeJS.Signals | null} signal */
  onExit(job, code, signal) {
    job.child = null;
    this.clearTimer(job.killTimer);
    // Nothing outlives the job: whatever is left of its process group (background commands) is killed
    // now, while the group id cannot have been reused yet.
    this.signalGroup(job, 'SIGKILL');
    if (job.terminal || this.closing) return;
    if (job.stopRequested) {
      this.setStatus(job, 'STOPPED');
      return;
    }
    // Popen.returncode is -N when the process died of signal N.
    const rc = code ?? -(signal ? (os.constants.signals[signal] ?? 1) : 1);
    if (rc === 0) {
      this.setStatus(job, 'SUCCEEDED', { exitCode: 0 });
      return;
    }
    const tail = logTail(readLogFile(job.logPath));
    const message = tail
      ? `Job entrypoint command failed with exit code ${rc}, last available logs (truncated to 20,000 chars):\n${tail}`
      : `Job entrypoint command failed with exit code ${rc}. No logs available.`;
    this.setStatus(job, 'FAILED', { message, errorType: 'JOB_ENTRYPOINT_COMMAND_ERROR', exitCode: rc });
  }

  /**
   * Prepares the entrypoint's cwd: the unpacked `gcs://` working_dir package, else a fresh dir.
   * Throws (→ runtime_env setup failure) for anything the sim cannot set up.
   * @param {SimJob} job
   */
  setupWorkingDir(job) {
    const cwd = path.join(job.dir, 'working_dir');
    const wd = job.runtimeEnv?.working_dir;
    if (wd === undefined || wd === null) {
      fs.mkdirSync(cwd, { recursive: true });
      return cwd;
    }
    const uri = String(wd);
    if (!uri.startsWith('gcs://')) {
      throw new Error(`ray-sim can only set up working_dir from gcs:// packages uploaded through PUT /api/packages; got ${uri}`);
    }
    const pkg = this.packages.get(uri);
    if (!pkg) {
      throw new Error(
        `Failed to download runtime_env file package ${uri} from the GCS to the Ray worker node. ` +
          'The package may have prematurely been deleted from the GCS due to a long upload time or a problem with Ray.',
      );
    }
    const { skipped } = extractZip(pkg, cwd);
    job.skippedZipEntries = skipped;
    return cwd;
  }

  /** @param {SimJob} job @param {NodeJS.Signals} sig */
  signalGroup(job, sig) {
    if (job.pid === null) return;
    try {
      process.kill(-job.pid, sig);
    } catch {
      // ESRCH: the group is gone
    }
  }

  /** @param {SimJob} job @returns {boolean} `stopped` */
  stopJob(job) {
    if (job.terminal) return false;
    job.stopRequested = true;
    if (job.status === 'RUNNING' && job.child) {
      // SIGTERM to the process group, SIGKILL after RAY_JOB_STOP_WAIT_TIME_S
      this.signalGroup(job, 'SIGTERM');
      if (!job.killTimer) job.killTimer = this.timer(() => this.signalGroup(job, 'SIGKILL'), this.stopWaitMs);
    }
    // PENDING: STOPPED once the job would leave PENDING (a held job stays PENDING, Ray issue ray-project/ray#58353).
    return true;
  }

  /** @param {Record<string, unknown> | null} runtimeEnv @returns {string | null} a TypeError text */
  validateRuntimeEnvValues(runtimeEnv) {
    if (!runtimeEnv) return null;
    const ev = runtimeEnv.env_vars;
    if (ev !== undefined && ev !== null && !((Array.isArray(ev) || typeof ev === 'string') && ev.length === 0)) {
      if (typeof ev !== 'object' || Array.isArray(ev)) {
        return `runtime_env['env_vars'] must be of type Dict[str, str], got ${pyType(ev)}`;
      }
      for (const v of Object.values(ev)) {
        if (typeof v !== 'string') {
          return `runtime_env['env_vars'] must be of type Dict[str, str], but the value ${pyStr(v)} is of type ${pyType(v)}`;
        }
      }
    }
    const wd = runtimeEnv.working_dir;
    if (wd !== undefined && wd !== null && typeof wd !== 'string') {
      return `\`working_dir\` must be a string, got ${pyType(wd)}.`;
    }
    return null;
  }

  // ----- lookup --------------------------------------------------------------------------------

  /** Submission jobs only: the double has no driver jobs (`ray.init()` outside the Jobs API). @param {string} id */
  findJob(id) {
    return this.jobs.get(id) ?? null;
  }

  // ----- HTTP ---------------------------------------------------------------------------------

  /**
   * @param {import('node:http').IncomingMessage} req
   * @returns {Promise<{ body: Buffer, tooLarge: number | null }>}
   */
  readBody(req) {
    return new Promise((resolve, reject) => {
      /** @type {Buffer[]} */
      const chunks = [];
      let size = 0;
      let over = false;
      req.on('data', (/** @type {Buffer} */ c) => {
        size += c.length;
        if (size > this.maxBodyBytes)
          over = true; // aiohttp client_max_size; keep draining
        else chunks.push(c);
      });
      req.on('end', () => resolve({ body: over ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge: over ? size : null }));
      req.on('error', reject);
    });
  }

  /** @param {string} method @param {string} pathname @returns {Fault | null} */
  takeFault(method, pathname) {
    const i = this.faults.findIndex((f) => f.remaining > 0 && f.match(method, pathname));
    if (i < 0) return null;
    const f = this.faults[i];
    f.remaining--;
    if (f.remaining <= 0) this.faults.splice(i, 1);
    return f;
  }

  /** @param {import('node:http').ServerResponse} res @param {SimResponse} r */
  send(res, r) {
    const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
    res.writeHead(r.status, { ...r.headers, 'content-length': String(body.length) });
    res.end(body);
  }

  /** @param {Fault} f @returns {SimResponse} */
  faultResponse(f) {
    return text(f.status, f.body ?? `${f.status}: ${http.STATUS_CODES[f.status] ?? 'Error'}`);
  }

  /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
  async onRequest(req, res) {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const pathname = rawUrl.split('?')[0];
    const { body, tooLarge } = await this.readBody(req);
    /** @type {RequestLogEntry} */
    const entry = {
      method,
      path: pathname,
      url: rawUrl,
      headers: { ...req.headers },
      body,
      bodyText: body.toString('utf8'),
      time: Date.now(),
      status: null,
      responseType: null,
      outcome: null,
    };
    this.requests.push(entry);
    this.log(`${method} ${rawUrl}`);
    const fault = this.takeFault(method, pathname);
    if (fault && fault.when === 'before') return this.applyFault(fault, entry, req, res);
    const response = await this.handle(method, pathname, req.headers, body, tooLarge);
    if (fault && fault.when === 'after') return this.applyFault(fault, entry, req, res);
    if (this.closing && res.destroyed) return;
    entry.status = response.status;
    entry.responseType = response.headers['content-type'] ?? null;
    entry.outcome = 'response';
    this.send(res, response);
    this.events.emit('request', entry);
  }

  /**
   * @param {Fault} fault @param {RequestLogEntry} entry
   * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res
   */
  applyFault(fault, entry, req, res) {
    if (fault.kind === 'reset') {
      entry.outcome = 'reset';
      req.socket.destroy();
    } else {
      const r = this.faultResponse(fault);
      entry.status = r.status;
      entry.responseType = r.headers['content-type'] ?? null;
      entry.outcome = 'injected';
      this.send(res, r);
    }
    this.events.emit('request', entry);
  }

  /**
   * @param {string} pathname
   * @returns {{ route: Route, params: Record<string, string> } | null}
   */
  matchRoute(pathname) {
    const segs = pathname.split('/').slice(1);
    for (const route of ROUTES) {
      if (route.pattern.length !== segs.length) continue;
      /** @type {Record<string, string>} */
      const params = {};
      let ok = true;
      for (let k = 0; k < segs.length && ok; k++) {
        const p = route.pattern[k];
        if (p.startsWith(':')) {
          if (segs[k] === '') ok = false;
          else params[p.slice(1)] = safeDecode(segs[k]);
        } else if (p !== segs[k]) ok = false;
      }
      if (ok) return { route, params };
    }
    return null;
  }

  /**
   * @param {string} method @param {string} pathname @param {import('node:http').IncomingHttpHeaders} headers
   * @param {Buffer} body @param {number | null} tooLarge
   * @returns {Promise<SimResponse>}
   */
  async handle(method, pathname, headers, body, tooLarge) {
    const m = this.matchRoute(pathname);
    if (!m) return text(404, RAY_TEXT.notFound);
    const effective = method === 'HEAD' && m.route.methods.GET ? 'GET' : method;
    const name = m.route.methods[effective];
    if (!name) {
      const allowed = Object.keys(m.route.methods);
      if (allowed.includes('GET')) allowed.push('HEAD');
      return text(405, RAY_TEXT.methodNotAllowed, { allow: allowed.sort().join(',') });
    }
    if (tooLarge !== null && name !== 'putPackage' && (method === 'POST' || method === 'PUT')) {
      return text(413, `Maximum request body size ${this.maxBodyBytes} exceeded, actual body size ${tooLarge}`);
    }
    const p = m.params;
    switch (name) {
      case 'version':
        return this.version();
      case 'submit':
        return this.submit(body);
      case 'get':
        return this.get(p);
      case 'stop':
        return this.stop(p);
      case 'logs':
        return this.logs(p);
      case 'tail':
        return this.tail(p, headers);
      case 'getPackage':
        return this.getPackage(p);
      case 'putPackage':
        return this.putPackage(p, body, tooLarge);
    }
    return text(404, RAY_TEXT.notFound);
  }

  // ----- handlers ------------------------------------------------------------------------------

  /** @returns {SimResponse} */
  version() {
    if (!this.versionInfo) return text(404, RAY_TEXT.notFound);
    const v = this.versionInfo;
    return json({ version: v.version, ray_version: v.ray_version, ray_commit: v.ray_commit, session_name: v.session_name });
  }

  /** @param {Buffer} body @returns {SimResponse} */
  submit(body) {
    // strip_keys_with_value_none(await req.json()) runs outside the try: any failure is a plain 500.
    /** @type {unknown} */
    let data;
    let raw = '';
    try {
      raw = new TextDecoder('utf-8', { fatal: true }).decode(body);
      data = JSON.parse(raw);
    } catch {
      return text(500, RAY_TEXT.internalError);
    }
    if (typeof data !== 'object' || data === null || Array.isArray(data)) return text(500, RAY_TEXT.internalError);
    /** @type {Record<string, unknown>} */
    const req = {};
    for (const [k, v] of Object.entries(data)) if (v !== null) req[k] = v;

    // JobSubmitRequest(**json_data): the constructor rejects unknown and missing arguments first...
    const fields = SUBMIT_FIELDS;
    for (const k of Object.keys(req)) {
      if (!fields.includes(k)) return text(400, submitTypeError(`JobSubmitRequest.__init__() got an unexpected keyword argument '${k}'`));
    }
    if (!('entrypoint' in req)) {
      return text(400, submitTypeError("JobSubmitRequest.__init__() missing 1 required positional argument: 'entrypoint'"));
    }
    // ...then __post_init__ checks the types, in this order (common.py).
    const typeError = checkSubmitTypes(req, raw);
    if (typeError) return text(400, submitTypeError(typeError, true));

    // The agent uses `submission_id or job_id`, generating one when that is None.
    const a = /** @type {string | undefined} */ (req.submission_id);
    const b = /** @type {string | undefined} */ (req.job_id);
    let sid = a ? a : b;
    if (sid === undefined) sid = generateSubmissionId();
    if (this.jobs.has(sid)) {
      const agentText = traceback(
        [
          ['dashboard/modules/job/job_agent.py', 61, 'submit_job', 'submission_id = await self.get_job_manager().submit_job('],
          ['dashboard/modules/job/job_manager.py', 588, 'submit_job', 'raise ValueError('],
        ],
        `ValueError: ${RAY_TEXT.duplicate(sid)}`,
      );
      return text(500, headWrapped('submit_job', 'submit_job_internal', 400, agentText));
    }

    const seq = ++this.seq;
    const safe = sid.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 80);
    const job = new SimJob({
      seq,
      submissionId: sid,
      request: req,
      logPath: path.join(this.rootDir, 'logs', `job-driver-${encodeURIComponent(sid)}.log`),
      dir: path.join(this.rootDir, 'jobs', `${seq}-${safe}`),
    });
    fs.mkdirSync(job.dir, { recursive: true });
    this.jobs.set(sid, job);
    this.log(`job ${sid} -> PENDING`);
    this.events.emit('status', sid, 'PENDING', job.details());

    // Invalid runtime_env values fail supervisor creation right away: 200 + FAILED.
    const envError = this.validateRuntimeEnvValues(job.runtimeEnv);
    if (envError) {
      const tb = traceback(
        [
          ['dashboard/modules/job/job_manager.py', 640, 'submit_job', 'supervisor = self._supervisor_actor_cls.options('],
          ['_private/runtime_env/validation.py', 310, 'parse_and_validate_env_vars', 'raise TypeError('],
        ],
        `TypeError: ${envError}`,
      );
      this.setStatus(job, 'FAILED', {
        message: `Failed to start supervisor actor ${sid}: '${envError}'. Full traceback:\n${tb}`,
        errorType: 'JOB_SUPERVISOR_ACTOR_START_FAILURE',
      });
    } else {
      job.pendingTimer = this.timer(() => this.startJob(job), this.pendingDelayMs);
      job.startTimeoutTimer = this.timer(
        () => {
          if (job.status !== 'PENDING') return;
          this.clearTimer(job.pendingTimer);
          this.setStatus(job, 'FAILED', {
            message:
              `Job supervisor actor failed to start within ${pyFloat(this.startTimeoutMs / 1000)} seconds. ` +
              'This timeout can be configured by setting the environment variable RAY_JOB_START_TIMEOUT_SECONDS.',
            errorType: 'JOB_SUPERVISOR_ACTOR_START_TIMEOUT',
          });
        },
        this.startTimeoutMs,
        true,
      );
    }
    return json({ job_id: sid, submission_id: sid });
  }

  /** @param {Record<string, string>} params @returns {SimResponse} */
  get(params) {
    const job = this.findJob(params.id);
    if (!job) return text(404, RAY_TEXT.jobNotFound(params.id));
    return json(job.details());
  }

  /** @param {Record<string, string>} params @returns {SimResponse} */
  logs(params) {
    const job = this.findJob(params.id);
    if (!job) return text(404, RAY_TEXT.jobNotFound(params.id));
    if (job.driverAgentHttpAddress === null) return json({ logs: '' });
    return json({ logs: readLogFile(job.logPath) });
  }

  /** @param {Record<string, string>} params @returns {SimResponse} */
  stop(params) {
    const job = this.findJob(params.id);
    if (!job) return text(404, RAY_TEXT.jobNotFound(params.id));
    return json({ stopped: this.stopJob(job) });
  }

  /**
   * A plain HTTP request to the WebSocket route: aiohttp's ws.prepare() refuses it.
   * @param {Record<string, string>} params @param {import('node:http').IncomingHttpHeaders} headers
   * @returns {SimResponse}
   */
  tail(params, headers) {
    if (!this.findJob(params.id)) return text(404, RAY_TEXT.jobNotFound(params.id));
    const up = headers.upgrade === undefined ? 'None' : headerValue(headers.upgrade);
    return text(400, `No WebSocket UPGRADE hdr: ${up}\n Can "Upgrade" only to "WebSocket".`);
  }

  /** @param {Record<string, string>} params @returns {SimResponse} */
  getPackage(params) {
    const uri = `${params.protocol}://${params.name}`;
    if (params.protocol !== 'gcs') return text(500, invalidProtocol(uri));
    if (!this.packages.has(uri)) return text(404, RAY_TEXT.packageNotFound(uri));
    return empty();
  }

  /** @param {Record<string, string>} params @param {Buffer} body @param {number | null} tooLarge @returns {SimResponse} */
  putPackage(params, body, tooLarge) {
    const uri = `${params.protocol}://${params.name}`;
    const frames = /** @type {Array<[string, number, string, string?]>} */ ([
      ['dashboard/modules/job/job_head.py', 246, 'upload_package', 'data = await req.read()'],
    ]);
    if (tooLarge !== null) {
      // req.read() raises inside the handler's try: the 413 becomes a 500 traceback.
      return text(
        500,
        traceback(
          frames,
          `aiohttp.web_exceptions.HTTPRequestEntityTooLarge: Maximum request body size ${this.maxBodyBytes} exceeded, actual body size ${tooLarge}`,
        ),
      );
    }
    if (params.protocol !== 'gcs') return text(500, invalidProtocol(uri));
    if (!/\.(zip|whl)$/.test(params.name)) {
      return text(500, traceback(frames, `ValueError: package_uri (${uri}) does not end in .zip or .whl`));
    }
    this.packages.set(uri, Buffer.from(body));
    this.events.emit('package', uri);
    return empty();
  }

  // ----- WebSocket tail ---------------------------------------------------------------

  /**
   * @param {import('node:http').IncomingMessage} req @param {import('node:net').Socket} socket @param {Buffer} head
   */
  async onUpgrade(req, socket, head) {
    const method = req.method ?? 'GET';
    const rawUrl = req.url ?? '/';
    const pathname = rawUrl.split('?')[0];
    /** @type {RequestLogEntry} */
    const entry = {
      method,
      path: pathname,
      url: rawUrl,
      headers: { ...req.headers },
      body: Buffer.alloc(0),
      bodyText: '',
      time: Date.now(),
      status: null,
      responseType: null,
      outcome: null,
    };
    this.requests.push(entry);
    this.log(`${method} ${rawUrl} (upgrade)`);
    socket.on('error', () => socket.destroy());
    const fault = this.takeFault(method, pathname);
    if (fault?.kind === 'reset') {
      entry.outcome = 'reset';
      socket.destroy();
      this.events.emit('request', entry);
      return;
    }
    /** @param {SimResponse} r */
    const rawRespond = (r) => {
      entry.status = r.status;
      entry.responseType = r.headers['content-type'] ?? null;
      entry.outcome ??= 'response';
      const body = typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body;
      const hdrs = { ...r.headers, 'content-length': String(body.length), connection: 'close' };
      const lines = Object.entries(hdrs)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.end(Buffer.concat([Buffer.from(`HTTP/1.1 ${r.status} ${http.STATUS_CODES[r.status] ?? ''}\r\n${lines}\r\n`), body]));
      this.events.emit('request', entry);
    };
    if (fault?.kind === 'fail') {
      entry.outcome = 'injected';
      return rawRespond(this.faultResponse(fault));
    }
    const m = this.matchRoute(pathname);
    const isTail = m?.route.methods.GET === 'tail' && method === 'GET';
    if (!m || !isTail) {
      return rawRespond(await this.handle(method, pathname, req.headers, Buffer.alloc(0), null));
    }
    const found = this.findJob(m.params.id);
    if (!found) return rawRespond(text(404, RAY_TEXT.jobNotFound(m.params.id)));
    const key = headerValue(req.headers['sec-websocket-key']);
    if (headerValue(req.headers.upgrade).toLowerCase() !== 'websocket' || !key) {
      return rawRespond(this.tail(m.params, req.headers));
    }
    const accept = crypto
      .createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    // Ray 2.60 (aiohttp 3.14) accepts permessage-deflate, then sends no frame and closes with 1000.
    const deflate = /permessage-deflate/i.test(headerValue(req.headers['sec-websocket-extensions']));
    const ext = deflate ? 'Sec-WebSocket-Extensions: permessage-deflate\r\n' : '';
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n${ext}\r\n`);
    entry.status = 101;
    entry.outcome = 'websocket';
    this.events.emit('request', entry);
    if (deflate) {
      socket.end(wsFrame(0x8, Buffer.from([0x03, 0xe8])));
      return;
    }
    this.wsSockets.add(socket);
    socket.on('close', () => this.wsSockets.delete(socket));
    this.runTail(found.submissionId, socket, head);
  }

  /**
   * Streams the driver log as text frames of ≤10 lines / ≈20,000 chars, then closes with 1000 once the
   * job is terminal and EOF was read after that; closes with no frames if the job ended before a
   * driver was known.
   * @param {string} sid @param {import('node:net').Socket} socket @param {Buffer} head
   */
  runTail(sid, socket, head) {
    let closed = false;
    let offset = 0;
    let finishedSeen = false;
    const decoder = new StringDecoder('utf8');
    let inbuf = Buffer.from(head);
    /** @param {number} code */
    const close = (code) => {
      if (closed) return;
      closed = true;
      const payload = Buffer.alloc(2);
      payload.writeUInt16BE(code, 0);
      socket.end(wsFrame(0x8, payload));
    };
    socket.on('data', (/** @type {Buffer} */ d) => {
      inbuf = Buffer.concat([inbuf, d]);
      for (;;) {
        const frame = parseClientFrame(inbuf);
        if (!frame) break;
        inbuf = inbuf.subarray(frame.consumed);
        if (frame.opcode === 0x8) close(1000);
        else if (frame.opcode === 0x9 && !closed) socket.write(wsFrame(0xa, frame.payload));
      }
    });
    socket.on('close', () => {
      closed = true;
    });
    const tick = () => {
      if (closed || this.closing) return;
      const job = this.jobs.get(sid);
      if (!job) return close(1000);
      if (job.driverAgentHttpAddress === null) {
        if (job.terminal) return close(1000); // exited before the supervisor started: no frames
        this.timer(tick, this.tailPollMs, true);
        return;
      }
      let data = Buffer.alloc(0);
      try {
        const fd = fs.openSync(job.logPath, 'r');
        try {
          const size = fs.fstatSync(fd).size;
          if (size > offset) {
            data = Buffer.alloc(size - offset);
            fs.readSync(fd, data, 0, data.length, offset);
            offset = size;
          }
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        // no log file yet
      }
      const chunkText = decoder.write(data);
      if (chunkText.length > 0) {
        for (const chunk of chunkLines(chunkText)) socket.write(wsFrame(0x1, Buffer.from(chunk, 'utf8')));
        this.timer(tick, this.tailPollMs, true);
        return;
      }
      // At the end of the file: close once a read after the terminal status found nothing more.
      if (finishedSeen) return close(1000);
      finishedSeen = job.terminal;
      this.timer(tick, this.tailIdleMs, true);
    };
    tick();
  }

  // ----- lifecycle -----------------------------------------------------------------------------

  /** @param {number} port */
  listen(port) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, this.host, () => {
        this.server.off('error', reject);
        const addr = this.server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  }

  async close() {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    /** @type {Promise<void>[]} */
    const exits = [];
    for (const job of this.jobs.values()) {
      const child = job.child;
      // Only groups whose leader is still running: a finished job's group id may have been reused.
      if (child && child.exitCode === null && child.signalCode === null) {
        this.signalGroup(job, 'SIGKILL');
        exits.push(
          new Promise((resolve) => {
            const t = setTimeout(resolve, 2000);
            child.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
        );
      }
    }
    await Promise.all(exits);
    for (const s of this.wsSockets) s.destroy();
    await new Promise((resolve) => {
      this.server.close(() => resolve(undefined));
      this.server.closeAllConnections();
    });
    if (this.ownsRoot && !this.options.keepFiles) fs.rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/** @typedef {'version' | 'submit' | 'get' | 'stop' | 'logs' | 'tail' | 'getPackage' | 'putPackage'} HandlerName */
/** @typedef {{ pattern: string[], methods: Partial<Record<string, HandlerName>> }} Route */

/**
 * The dashboard routes the action uses, with Ray's paths. Not served (the action never
 * calls them): the job list (GET /api/jobs/), DELETE of a job, /api/authentication_mode.
 * @type {Route[]}
 */
const ROUTES = [
  { pattern: ['api', 'version'], methods: { GET: 'version' } },
  { pattern: ['api', 'jobs', ''], methods: { POST: 'submit' } },
  { pattern: ['api', 'jobs', ':id'], methods: { GET: 'get' } },
  { pattern: ['api', 'jobs', ':id', 'stop'], methods: { POST: 'stop' } },
  { pattern: ['api', 'jobs', ':id', 'logs'], methods: { GET: 'logs' } },
  { pattern: ['api', 'jobs', ':id', 'logs', 'tail'], methods: { GET: 'tail' } },
  { pattern: ['api', 'packages', ':protocol', ':name'], methods: { GET: 'getPackage', PUT: 'putPackage' } },
];

/**
 * JobSubmitRequest.__post_init__ type checks, in order (common.py). Python's bool is an int.
 * @param {Record<string, unknown>} r @param {string} raw the request text
 * @returns {string | null}
 */
function checkSubmitTypes(r, raw) {
  const isNum = (/** @type {unknown} */ v) => typeof v === 'number' || typeof v === 'boolean';
  const isDict = (/** @type {unknown} */ v) => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (typeof r.entrypoint !== 'string') return `entrypoint must be a string, got ${pyType(r.entrypoint)}`;
  if ('submission_id' in r && typeof r.submission_id !== 'string') {
    return `submission_id must be a string if provided, got ${pyType(r.submission_id)}`;
  }
  if ('job_id' in r && typeof r.job_id !== 'string') return `job_id must be a string if provided, got ${pyType(r.job_id)}`;
  if ('runtime_env' in r && !isDict(r.runtime_env)) return `runtime_env must be a dict, got ${pyType(r.runtime_env)}`;
  if ('metadata' in r) {
    if (!isDict(r.metadata)) return `metadata must be a dict, got ${pyType(r.metadata)}`;
    for (const v of Object.values(/** @type {object} */ (r.metadata))) {
      if (typeof v !== 'string') return `metadata values must be strings, got ${pyType(v)}`;
    }
  }
  if ('entrypoint_num_cpus' in r && !isNum(r.entrypoint_num_cpus)) {
    return `entrypoint_num_cpus must be a number, got ${pyType(r.entrypoint_num_cpus)}`;
  }
  if ('entrypoint_num_gpus' in r && !isNum(r.entrypoint_num_gpus)) {
    return `entrypoint_num_gpus must be a number, got ${pyType(r.entrypoint_num_gpus)}`;
  }
  if ('entrypoint_memory' in r) {
    const v = r.entrypoint_memory;
    const literal = typeof v === 'number' ? (topLevelRawValues(raw).get('entrypoint_memory') ?? '') : '';
    const isFloatLiteral = typeof v === 'number' && !/^-?\d+$/.test(literal);
    if (!(typeof v === 'boolean' || (typeof v === 'number' && !isFloatLiteral))) {
      return `entrypoint_memory must be an integer, got ${pyType(v, isFloatLiteral)}`;
    }
  }
  if ('entrypoint_resources' in r) {
    if (!isDict(r.entrypoint_resources)) return `entrypoint_resources must be a dict, got ${pyType(r.entrypoint_resources)}`;
    for (const v of Object.values(/** @type {object} */ (r.entrypoint_resources))) {
      if (!isNum(v)) return `entrypoint_resources values must be numbers, got ${pyType(v)}`;
    }
  }
  if ('entrypoint_label_selector' in r) {
    const sel = r.entrypoint_label_selector;
    if (!isDict(sel)) return `entrypoint_label_selector must be a dict, got ${pyType(sel)}`;
    for (const v of Object.values(/** @type {object} */ (sel))) {
      if (typeof v !== 'string') return `entrypoint_label_selector values must be strings, got ${pyType(v)}`;
    }
  }
  return null;
}

/** @param {string} uri */
function invalidProtocol(uri) {
  return traceback(
    [['_private/runtime_env/packaging.py', 241, 'parse_uri', 'raise ValueError(']],
    `ValueError: Invalid protocol for runtime_env URI ${uri}. ray-sim stores gcs:// packages only.`,
  );
}

/** @param {string | string[] | undefined} v */
function headerValue(v) {
  if (v === undefined) return '';
  return Array.isArray(v) ? v.join(', ') : v;
}

/** @param {string} s */
function safeDecode(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Splits new log text into WS chunks: ≤10 lines each, a line longer than 20,000 chars split. @param {string} t */
function chunkLines(t) {
  /** @type {string[]} */
  const out = [];
  const lines = (t.match(/[^\n]*\n|[^\n]+$/g) ?? []).flatMap((l) => {
    const parts = [];
    for (let k = 0; k < l.length; k += MAX_CHUNK_CHARS) parts.push(l.slice(k, k + MAX_CHUNK_CHARS));
    return parts;
  });
  let cur = [];
  let chars = 0;
  for (const l of lines) {
    if (cur.length > 0 && (cur.length >= MAX_CHUNK_LINES || chars + l.length > MAX_CHUNK_CHARS)) {
      out.push(cur.join(''));
      cur = [];
      chars = 0;
    }
    cur.push(l);
    chars += l.length;
  }
  if (cur.length > 0) out.push(cur.join(''));
  return out;
}

/** A server→client (unmasked) WebSocket frame. @param {number} opcode @param {Buffer} payload */
function wsFrame(opcode, payload) {
  const len = payload.length;
  /** @type {Buffer} */
  let header;
  if (len < 126) {
    header = Buffer.from([0x80 | opcode, len]);
  } else if (len < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | opcode;
    header[1] = 126;
    header.writeUInt16BE(len, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([header, payload]);
}

/** @param {Buffer} buf @returns {{ opcode: number, payload: Buffer, consumed: number } | null} */
function parseClientFrame(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let p = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    p = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    p = 10;
  }
  const maskLen = masked ? 4 : 0;
  if (buf.length < p + maskLen + len) return null;
  const payload = Buffer.from(buf.subarray(p + maskLen, p + maskLen + len));
  if (masked) {
    const mask = buf.subarray(p, p + 4);
    for (let k = 0; k < payload.length; k++) payload[k] ^= mask[k & 3];
  }
  return { opcode, payload, consumed: p + maskLen + len };
}

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * Starts the double on loopback. See server.d.mts for the documented types.
 * @param {RaySimOptions} [options]
 */
export async function startRaySim(options = {}) {
  const sim = new RaySim(options);
  let port;
  try {
    port = await sim.listen(options.port ?? 0);
  } catch (err) {
    await sim.close();
    throw err;
  }
  const hostForUrl = sim.host.includes(':') ? `[${sim.host}]` : sim.host;
  const url = `http://${hostForUrl}:${port}`;
  const events = sim.events;

  /**
   * @template T
   * @param {() => T | false | null | undefined} predicate
   * @param {{ timeoutMs?: number, intervalMs?: number, description?: string }} [opts]
   * @returns {Promise<T>}
   */
  function waitFor(predicate, opts = {}) {
    const timeoutMs = opts.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        clearInterval(iv);
        clearTimeout(to);
        events.off('status', check);
        events.off('request', check);
      };
      function check() {
        if (done) return;
        let v;
        try {
          v = predicate();
        } catch (err) {
          finish();
          reject(err);
          return;
        }
        if (v !== false && v !== null && v !== undefined) {
          finish();
          resolve(v);
        }
      }
      const iv = setInterval(check, opts.intervalMs ?? 20);
      const to = setTimeout(() => {
        if (done) return;
        finish();
        reject(new Error(`ray-sim waitFor timed out after ${timeoutMs} ms${opts.description ? `: ${opts.description}` : ''}`));
      }, timeoutMs);
      events.on('status', check);
      events.on('request', check);
      check();
    });
  }

  /**
   * @param {string} sid
   * @param {JobStatus | readonly JobStatus[]} want
   * @param {{ timeoutMs?: number }} [opts]
   * @returns {Promise<JobDetails>}
   */
  function waitForStatus(sid, want, opts = {}) {
    const wanted = typeof want === 'string' ? [want] : want;
    return waitFor(
      () => {
        const job = sim.jobs.get(sid);
        if (!job) return null;
        if (wanted.includes(job.status)) return job.details();
        if (job.terminal) {
          throw new Error(`job ${sid} ended ${job.status} (wanted ${wanted.join('|')}): ${job.message ?? job.defaultMessage()}`);
        }
        return null;
      },
      { timeoutMs: opts.timeoutMs, description: `job ${sid} to reach ${wanted.join('|')}` },
    );
  }

  /** @param {RequestMatcher | undefined} m */
  const matcher = (m) => m ?? (() => true);

  const control = {
    /**
     * @param {{ status: number, count?: number, match?: RequestMatcher, body?: string, when?: 'before' | 'after' }} o
     */
    failNext(o) {
      sim.faults.push({
        kind: 'fail',
        remaining: o.count ?? 1,
        match: matcher(o.match),
        when: o.when ?? 'before',
        status: o.status,
        body: o.body ?? null,
        ms: 0,
      });
    },
    /** @param {{ count?: number, match?: RequestMatcher, when?: 'before' | 'after' }} [o] */
    resetNext(o = {}) {
      sim.faults.push({
        kind: 'reset',
        remaining: o.count ?? 1,
        match: matcher(o.match),
        when: o.when ?? 'before',
        status: 0,
        body: null,
        ms: 0,
      });
    },
    clearFaults() {
      sim.faults.length = 0;
    },
    /** Cuts every open log tail WebSocket without a close frame, as a broken connection would. */
    dropTails() {
      for (const s of sim.wsSockets) s.destroy();
    },
    /** @param {string} target a submission id, or '*' for every job (current and future) @param {boolean} [hold] */
    holdPending(target, hold = true) {
      if (target === '*') {
        sim.holdAll = hold;
        if (!hold) sim.held.clear();
      } else if (hold) sim.held.add(target);
      else sim.held.delete(target);
      if (!hold) {
        for (const job of sim.jobs.values()) {
          if (job.status === 'PENDING' && job.waitingForRelease && !sim.isHeld(job)) sim.startJob(job);
        }
      }
    },
    /** @param {{ rayVersion?: string, rayCommit?: string, sessionName?: string, version?: string } | string | null} v */
    setVersion(v) {
      if (v === null) {
        sim.versionInfo = null;
        return;
      }
      const o = typeof v === 'string' ? { rayVersion: v } : v;
      const cur = sim.versionInfo ?? {
        version: '4',
        ray_version: '2.60.0',
        ray_commit: crypto.createHash('sha1').update('ray-sim').digest('hex'),
        session_name: defaultSessionName(),
      };
      sim.versionInfo = {
        version: o.version ?? cur.version,
        ray_version: o.rayVersion ?? cur.ray_version,
        ray_commit: o.rayCommit ?? cur.ray_commit,
        session_name: o.sessionName ?? cur.session_name,
      };
    },
  };

  return {
    url,
    port,
    host: sim.host,
    rootDir: sim.rootDir,
    /** @type {ReadonlyMap<string, SimJob>} */
    jobs: sim.jobs,
    /** @type {ReadonlyMap<string, Buffer>} */
    packages: sim.packages,
    /** @type {readonly RequestLogEntry[]} */
    requests: sim.requests,
    events,
    control,
    waitFor,
    waitForStatus,
    /** @param {string} sid @returns {JobDetails | undefined} */
    getJob: (sid) => sim.jobs.get(sid)?.details(),
    /** @param {string} sid */
    getLog: (sid) => {
      const job = sim.jobs.get(sid);
      return job ? readLogFile(job.logPath) : '';
    },
    close: () => sim.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node tools/ray-sim/server.mjs [options]

  --port N               listen port (0 = ephemeral; default 8265)
  --host H               listen address (default 127.0.0.1)
  --ray-version V        ray_version reported by /api/version (default 2.60.0; >= 2.50 fills error_type)
  --pending-delay-ms N   how long a job stays PENDING (default 100)
  --stop-wait-ms N       SIGTERM → SIGKILL wait on stop (default 3000)
  --start-timeout-ms N   PENDING → FAILED start timeout (default 900000)
  --root-dir DIR         where logs and job dirs go (default: a fresh temp dir, removed on exit)
  --keep-files           do not remove the root dir on exit
  --verbose              log requests and job transitions to stderr
  -h, --help`;

async function main() {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8265' },
      host: { type: 'string', default: '127.0.0.1' },
      'ray-version': { type: 'string' },
      'pending-delay-ms': { type: 'string' },
      'stop-wait-ms': { type: 'string' },
      'start-timeout-ms': { type: 'string' },
      'root-dir': { type: 'string' },
      'keep-files': { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const int = (/** @type {string | undefined} */ s, /** @type {string} */ name) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got ${s}`);
    return n;
  };
  const sim = await startRaySim({
    port: int(values.port, 'port'),
    host: values.host,
    rayVersion: values['ray-version'],
    pendingDelayMs: int(values['pending-delay-ms'], 'pending-delay-ms'),
    stopWaitMs: int(values['stop-wait-ms'], 'stop-wait-ms'),
    startTimeoutMs: int(values['start-timeout-ms'], 'start-timeout-ms'),
    rootDir: values['root-dir'],
    keepFiles: values['keep-files'],
    log: values.verbose ? (line) => process.stderr.write(`[ray-sim] ${line}\n`) : undefined,
  });
  process.stdout.write(`ray-sim listening on ${sim.url}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`ray-sim: close failed: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (isMainModule(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`ray-sim: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}

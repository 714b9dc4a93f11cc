// @ts-check
// What the stand-in CLIs share: the call record (JSON lines in the file named by FAKE_CLI_LOG)
// and the fake GCE instance state (a JSON file named by FAKE_GCLOUD_STATE).
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmdirSync, statSync, writeFileSync } from 'node:fs';

/**
 * @typedef {object} CallRecord
 * @property {'ray' | 'gcloud'} tool
 * @property {string[]} argv the arguments after the executable name
 * @property {string} cwd
 * @property {string[]} env the NAMES of the environment variables, sorted; never their values
 * @property {number} pid
 * @property {number} time ms since the epoch
 */

/**
 * @typedef {object} HttpRecord
 * @property {'ray-dashboard'} tool
 * @property {'http'} kind
 * @property {string} method
 * @property {string} path
 * @property {number | null} status
 * @property {number} time
 */

/**
 * @typedef {object} FakeInstance
 * @property {string} name
 * @property {string} zone a zone name, e.g. us-central1-a
 * @property {string} status RUNNING, STOPPING, TERMINATED, ...
 * @property {Record<string, string>} labels
 */

/** @param {object} line */
export function appendRecord(line) {
  const file = process.env.FAKE_CLI_LOG;
  if (!file) return;
  // One write per line with O_APPEND: lines of concurrent processes do not interleave.
  appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/**
 * Records one call of a stand-in CLI.
 * @param {'ray' | 'gcloud'} tool
 * @param {string[]} argv
 */
export function recordCall(tool, argv) {
  /** @type {CallRecord} */
  const rec = { tool, argv, cwd: process.cwd(), env: Object.keys(process.env).sort(), pid: process.pid, time: Date.now() };
  appendRecord(rec);
}

/**
 * Every record so far (for the stand-ins' own counters and for tests).
 * @param {string} [file]
 * @returns {Array<CallRecord | HttpRecord>}
 */
export function readRecords(file = process.env.FAKE_CLI_LOG) {
  if (!file || !existsSync(file)) return [];
  // A record being appended right now has no newline yet: read complete lines only.
  const text = readFileSync(file, 'utf8');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** @returns {FakeInstance[]} */
export function readInstances() {
  const file = process.env.FAKE_GCLOUD_STATE;
  if (!file || !existsSync(file)) return [];
  const text = readFileSync(file, 'utf8').trim();
  return text ? (JSON.parse(text).instances ?? []) : [];
}

/** @param {FakeInstance[]} instances */
export function writeInstances(instances) {
  const file = process.env.FAKE_GCLOUD_STATE;
  if (!file) return;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ instances }, null, 2));
  renameSync(tmp, file);
}

/**
 * Runs a read-modify-write of the instance state under a lock directory, so that concurrent
 * deletes (four at a time) do not lose each other's updates. A lock older than 10 s is stale.
 * @template T
 * @param {() => T} fn
 * @returns {T}
 */
export function withStateLock(fn) {
  const file = process.env.FAKE_GCLOUD_STATE;
  if (!file) return fn();
  const lock = `${file}.lock`;
  const wait = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > 10_000) rmdirSync(lock);
      } catch {
        // released meanwhile
      }
      Atomics.wait(wait, 0, 0, 10);
    }
  }
  try {
    return fn();
  } finally {
    rmdirSync(lock);
  }
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * `FAKE_RAY_SLEEP=up=5000,down=100`: how long a subcommand takes.
 * @param {string | undefined} spec
 * @param {string} key
 * @returns {number}
 */
export function scripted(spec, key) {
  for (const part of (spec ?? '').split(',')) {
    const [k, v] = part.split('=');
    if (k?.trim() === key) return Number(v ?? '0') || 0;
  }
  return 0;
}

/**
 * `FAKE_RAY_FAIL=up,down`: the subcommands that fail.
 * @param {string | undefined} spec
 * @param {string} key
 */
export function listed(spec, key) {
  return (spec ?? '')
    .split(',')
    .map((s) => s.trim())
    .includes(key);
}

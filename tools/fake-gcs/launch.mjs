// @ts-check
// Starts fake-gcs-server (built by install.mjs) on a free loopback port and stops it: the second,
// independent GCS server of the tests, beside the firebase emulator of tools/gcs-emulator/.
// http only, memory backend, loopback only; its external URL and public host are its own address,
// so the Location of a resumable upload and the selfLink/mediaLink point back at it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { stopChild } from '../lib/process.mjs';
import { FAKE_GCS_BIN, FAKE_GCS_VERSION } from './install.mjs';

const INSTALL_CMD = 'npm run setup   # or: node tools/fake-gcs/install.mjs (needs Go)';

/** @returns {Promise<number>} a port that was free a moment ago on 127.0.0.1 */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * fake-gcs-server prints its own port as given: with `-port 0` it would listen on a random port but
 * report (and use as its external URL) port 0. So we choose the port, and retry if someone took it.
 * @param {number} port
 * @param {number} startTimeoutMs
 * @returns {Promise<{ child: import('node:child_process').ChildProcess, stderr: () => string }>}
 */
async function spawnOn(port, startTimeoutMs) {
  const url = `http://127.0.0.1:${port}`;
  // FAKE_GCS_* variables would override defaults we do not pass; keep the child's config to our flags.
  /** @type {NodeJS.ProcessEnv} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('FAKE_GCS_')) env[k] = v;
  const child = spawn(
    FAKE_GCS_BIN,
    [
      '-scheme',
      'http',
      '-host',
      '127.0.0.1',
      '-port',
      String(port),
      '-backend',
      'memory',
      '-external-url',
      url,
      '-public-host',
      `127.0.0.1:${port}`,
      '-log-level',
      'warn',
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr?.on('data', (c) => (err = (err + c).slice(-16000)));
  /** @type {string | null} */
  let exited = null;
  child.once('exit', (code, signal) => (exited = `exited (code ${code}, signal ${signal})`));
  child.once('error', (e) => (exited = `could not start: ${e.message}`));
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    if (exited !== null) throw Object.assign(new Error(`fake-gcs-server ${exited}\n--- stderr ---\n${err}`), { stderr: err });
    try {
      const res = await fetch(`${url}/_internal/healthcheck`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return { child, stderr: () => err };
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`fake-gcs-server did not answer ${url}/_internal/healthcheck within ${startTimeoutMs} ms\n--- stderr ---\n${err}`);
    }
    await sleep(50);
  }
}

/**
 * @param {{ buckets?: string[], startTimeoutMs?: number }} [o]
 * @returns {Promise<{ url: string, emulatorHost: string, version: string, stop: () => Promise<void> }>}
 *   `url`: the server's origin; `emulatorHost`: STORAGE_EMULATOR_HOST as fake-gcs-server documents it for
 *   the Node client (`<origin>/storage/v1`, its ci/run-node-example.sh).
 */
export async function startFakeGcs(o = {}) {
  if (!existsSync(FAKE_GCS_BIN)) {
    throw new Error(`fake-gcs-server is not installed: ${FAKE_GCS_BIN} is missing.\nRun from the repository root: ${INSTALL_CMD}`);
  }
  const startTimeoutMs = o.startTimeoutMs ?? 15000;
  /** @type {{ child: import('node:child_process').ChildProcess, stderr: () => string } | undefined} */
  let started;
  let port = 0;
  for (let attempt = 1; !started; attempt++) {
    port = await freePort();
    try {
      started = await spawnOn(port, startTimeoutMs);
    } catch (e) {
      const stderr = /** @type {{ stderr?: string }} */ (e).stderr ?? '';
      if (attempt >= 3 || !/address already in use/i.test(stderr)) throw e;
    }
  }
  const { child } = started;
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    await stopChild(child);
  };

  try {
    for (const name of o.buckets ?? []) {
      const res = await fetch(`${url}/storage/v1/b?project=demo-test`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 200) throw new Error(`creating bucket ${name}: HTTP ${res.status} ${await res.text()}`);
    }
  } catch (e) {
    await stop();
    throw new Error(`fake-gcs-server: ${e instanceof Error ? e.message : String(e)}\n--- stderr ---\n${started.stderr()}`);
  }
  return { url, emulatorHost: `${url}/storage/v1`, version: FAKE_GCS_VERSION, stop };
}

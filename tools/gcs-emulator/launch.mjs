// @ts-check
// Starts the GCS emulator (start.cjs) as a child process on an ephemeral loopback port and
// stops it: one launcher for the tests' global setup, the demo and the benchmarks.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopChild } from '../lib/process.mjs';

const EMU_DIR = dirname(fileURLToPath(import.meta.url));
const INSTALL_CMD = 'npm ci --prefix tools/gcs-emulator --ignore-scripts --no-audit --no-fund';
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

/**
 * @param {{ buckets?: string[], projectId?: string, startTimeoutMs?: number }} [o]
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export async function startEmulator(o = {}) {
  if (!existsSync(join(EMU_DIR, 'node_modules', 'firebase-tools', 'package.json'))) {
    throw new Error(`GCS emulator not installed: tools/gcs-emulator/node_modules/firebase-tools is missing.\nRun from the repository root: ${INSTALL_CMD}`);
  }
  // Per-run data dir: the emulator leaves orphaned blobs behind.
  const dataDir = mkdtempSync(join(tmpdir(), 'bird-gcs-emu-'));
  const child = spawn(process.execPath, [join(EMU_DIR, 'start.cjs')], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      PROJECT_ID: o.projectId ?? 'demo-test',
      GCS_EMU_DATA_DIR: dataDir,
      GCS_EMU_PRECONDITIONS: '1',
      GCS_EMU_BUCKETS: '1',
      GCS_EMU_CHECKSUMS: '1',
      GCS_EMU_RESUMABLE: '1',
      GCS_EMU_CREATE_BUCKETS: (o.buckets ?? []).join(','),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (c) => (err = (err + c).slice(-16000)));

  const stop = async () => {
    await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`printed no listening line within ${o.startTimeoutMs ?? 15000} ms`)), o.startTimeoutMs ?? 15000);
      child.stdout?.on('data', (c) => {
        out += c;
        const m = LISTENING.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`exited before listening (code ${code}, signal ${signal})`));
      });
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    // Keep draining stdout so the child never blocks on a full pipe.
    child.stdout?.resume();
    return { url: /** @type {string} */ (url), stop };
  } catch (e) {
    await stop();
    throw new Error(`GCS emulator ${e instanceof Error ? e.message : String(e)}.\n--- stdout ---\n${out}\n--- stderr ---\n${err}`);
  }
}

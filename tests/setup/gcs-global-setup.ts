// vitest globalSetup: one GCS emulator (tools/gcs-emulator/start.cjs) per test run, see docs/gcs-emulator.md §9.
// It runs before the workers exist, so the env var set here is inherited by every worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the run's emulator, e.g. http://127.0.0.1:40123 (scheme included, as the client needs it). */
    gcsEmulatorHost: string;
  }
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EMU_DIR = join(ROOT, 'tools', 'gcs-emulator');
const INSTALL_CMD = 'npm ci --prefix tools/gcs-emulator --ignore-scripts --no-audit --no-fund';
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const LISTENING = /listening on (http:\/\/127\.0\.0\.1:\d+)/;

function waitForListening(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    let buf = '';
    const fail = (why: string): void => {
      cleanup();
      reject(new Error(`GCS emulator ${why}.\n--- emulator stdout ---\n${buf}\n--- emulator stderr ---\n${stderr()}`));
    };
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      const m = LISTENING.exec(buf);
      if (m?.[1]) {
        cleanup();
        resolvePromise(m[1]);
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(`exited before listening (code ${String(code)}, signal ${String(signal)})`);
    const onError = (err: Error): void => fail(`could not be spawned: ${err.message}`);
    const timer = setTimeout(() => fail(`printed no listening line within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    function cleanup(): void {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const forced = new Promise<'timeout'>((r) => {
    timer = setTimeout(() => r('timeout'), STOP_GRACE_MS);
  });
  if ((await Promise.race([exited, forced])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(join(EMU_DIR, 'node_modules', 'firebase-tools', 'package.json'))) {
    throw new Error(
      `GCS emulator not installed: tools/gcs-emulator/node_modules/firebase-tools is missing.\n` +
        `Run from the repository root: ${INSTALL_CMD}`,
    );
  }

  // Per-run data dir: the emulator leaves orphaned blobs behind (docs/gcs-emulator.md §8).
  const dataDir = await mkdtemp(join(tmpdir(), 'bird-gcs-emu-'));
  const child = spawn(process.execPath, [join(EMU_DIR, 'start.cjs')], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      PROJECT_ID: 'demo-test',
      GCS_EMU_DATA_DIR: dataDir,
      GCS_EMU_PRECONDITIONS: '1',
      GCS_EMU_BUCKETS: '1',
      GCS_EMU_CREATE_BUCKETS: 'bird-test,bird-bench',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    // Keep the tail only: enough to explain a failure.
    stderr = (stderr + c.toString('utf8')).slice(-16_000);
  });

  let url: string;
  try {
    url = await waitForListening(child, () => stderr);
  } catch (err) {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();

  process.env.STORAGE_EMULATOR_HOST = url;
  project.provide('gcsEmulatorHost', url);

  return async () => {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  };
}

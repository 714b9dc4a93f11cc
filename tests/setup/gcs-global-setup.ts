// vitest globalSetup: one GCS emulator per test run (tools/gcs-emulator/launch.mjs).
// It runs before the workers exist, so the env var set here is inherited by every worker.
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../tools/gcs-emulator/launch.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the run's emulator, e.g. http://127.0.0.1:40123 (scheme included, as the client needs it). */
    gcsEmulatorHost: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emu = await startEmulator({ buckets: ['bird-test', 'bird-bench'] });
  process.env.STORAGE_EMULATOR_HOST = emu.url;
  project.provide('gcsEmulatorHost', emu.url);
  return emu.stop;
}

// vitest globalSetup: one GCS emulator per test run (tools/gcs-emulator/launch.mjs), shared by the projects.
// It runs before the workers exist, so the env var set here is inherited by every worker.
import type { TestProject } from 'vitest/node';
import { startEmulator } from '../../tools/gcs-emulator/launch.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Base URL of the run's emulator, e.g. http://127.0.0.1:40123 (scheme included, as the client needs it). */
    gcsEmulatorHost: string;
  }
}

/** One emulator for the whole run, shared by the vitest projects (each runs this global setup). */
interface Shared {
  emulator: Promise<{ url: string; stop: () => Promise<void> }>;
  users: number;
}
const KEY = Symbol.for('bird-cloud-action.gcs-emulator');
const registry = globalThis as { [KEY]?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  registry[KEY] ??= { emulator: startEmulator({ buckets: ['bird-test', 'bird-bench'] }), users: 0 };
  const shared = registry[KEY];
  shared.users++;
  const emu = await shared.emulator;
  process.env.STORAGE_EMULATOR_HOST = emu.url;
  project.provide('gcsEmulatorHost', emu.url);
  return async () => {
    if (--shared.users > 0) return;
    delete registry[KEY];
    await emu.stop();
  };
}

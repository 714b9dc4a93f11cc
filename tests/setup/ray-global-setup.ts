// vitest globalSetup of the real-Ray tier: one single-node Ray head per test run
// (tools/ray-real/launch.mjs), shared by every tests/real/ray-*.test.ts file. It runs after the GCS
// emulator's setup, so the head (and every job it runs) inherits STORAGE_EMULATOR_HOST.
import type { TestProject } from 'vitest/node';
import { startRayHead } from '../../tools/ray-real/launch.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The real head's dashboard, e.g. http://127.0.0.1:23456 */
    rayUrl: string;
    /** Its GCS address (host:port, loopback). */
    rayGcsAddress: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const head = await startRayHead({ log: (l) => console.log(l) });
  project.provide('rayUrl', head.url);
  project.provide('rayGcsAddress', head.gcsAddress);
  return head.stop;
}

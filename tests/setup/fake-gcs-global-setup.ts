// vitest globalSetup of the fake-gcs-server tier (tests/setup/tiers.ts): one server per test run, started by
// tools/fake-gcs/launch.mjs. It leaves STORAGE_EMULATOR_HOST alone (the default setup points it at the firebase
// emulator); tests reach this server through inject('fakeGcsUrl') (tests/helpers/gcs.ts: fakeGcsServer()).
import type { TestProject } from 'vitest/node';
import { startFakeGcs } from '../../tools/fake-gcs/launch.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Origin of the run's fake-gcs-server, e.g. http://127.0.0.1:40123; STORAGE_EMULATOR_HOST is `${it}/storage/v1`. */
    fakeGcsUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startFakeGcs({ buckets: ['bird-test'] });
  project.provide('fakeGcsUrl', server.url);
  return server.stop;
}

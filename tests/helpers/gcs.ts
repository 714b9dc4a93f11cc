// Helpers for tests that talk to a GCS server: the run's firebase emulator (tests/setup/gcs-global-setup.ts,
// the default) or fake-gcs-server (tests/setup/fake-gcs-global-setup.ts, the real tier).
import { randomBytes } from 'node:crypto';
import { Storage } from '@google-cloud/storage';
import { inject } from 'vitest';
import { emulatorApiEndpoint } from '../../src/gcs/store.js';

export const TEST_PROJECT_ID = 'demo-test';

/** Base URL of the emulator, e.g. http://127.0.0.1:40123. */
export function emulatorHost(): string {
  let host: string | undefined;
  try {
    host = inject('gcsEmulatorHost');
  } catch {
    // Outside a vitest worker: fall back to the env var.
  }
  host ??= process.env.STORAGE_EMULATOR_HOST;
  if (!host) throw new Error('No GCS emulator: neither inject("gcsEmulatorHost") nor STORAGE_EMULATOR_HOST is set');
  return host;
}

/**
 * A client for the emulator, or for `host` (e.g. a fault proxy). The client reads STORAGE_EMULATOR_HOST once, in
 * its constructor, for its JSON base URL (an apiEndpoint option alone would split traffic between the two), so we
 * point the env var at `host` just for the construction.
 */
export function makeStorage(host: string = emulatorHost(), maxRetries = 1): Storage {
  const previous = process.env.STORAGE_EMULATOR_HOST;
  process.env.STORAGE_EMULATOR_HOST = host;
  try {
    // maxRetries 0 would be read as "unset" (default 3) by 7.22.0, hence at least 1. apiEndpoint as the
    // action sets it (src/gcs/store.ts), so a host ending in /storage/v1 (fake-gcs-server) works too.
    return new Storage({ projectId: TEST_PROJECT_ID, apiEndpoint: emulatorApiEndpoint(host), retryOptions: { maxRetries: Math.max(1, maxRetries) } });
  } finally {
    if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previous;
  }
}

/**
 * Creates a bucket with the JSON API's POST /b (the launcher's bucket shim on the firebase emulator; native on
 * fake-gcs-server, whose `host` ends in /storage/v1). Throws on any non-200, e.g. 409 if it exists.
 */
export async function createBucket(name: string, host: string = emulatorHost()): Promise<void> {
  const res = await fetch(`${host}/b?project=${TEST_PROJECT_ID}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (res.status !== 200) throw new Error(`createBucket(${name}): HTTP ${res.status} ${await res.text()}`);
}

/** A fresh, valid GCS bucket name: lowercase, 3-63 chars of [a-z0-9-], starting and ending alphanumeric. */
export function uniqueBucketName(prefix = 'bird'): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  const head = (clean || 'b').slice(0, 40).replace(/-+$/, '');
  return `${head}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** All object names in a bucket (optionally under a prefix), following pagination. */
export async function listAll(bucket: string, prefix?: string, storage: Storage = makeStorage()): Promise<string[]> {
  const [files] = await storage.bucket(bucket).getFiles(prefix === undefined ? {} : { prefix });
  return files.map((f) => f.name);
}

/** The bytes of one object. */
export async function readObject(bucket: string, name: string, storage: Storage = makeStorage()): Promise<Buffer> {
  const [data] = await storage.bucket(bucket).file(name).download();
  return data;
}

/** The GCS servers the tests run against. */
export type GcsServerName = 'firebase' | 'fake-gcs';

export interface GcsServer {
  name: GcsServerName;
  /** STORAGE_EMULATOR_HOST as this server documents it for the Node client; also the JSON API base URL. */
  emulatorHost: string;
  /** scheme://host:port: where uploads go (`<origin>/upload/storage/v1/...`) and what a proxy fronts. */
  origin: string;
}

/** The run's firebase emulator: STORAGE_EMULATOR_HOST is its origin (JSON routes at /b/...). */
export function firebaseServer(): GcsServer {
  const host = emulatorHost();
  return { name: 'firebase', emulatorHost: host, origin: new URL(host).origin };
}

/** The run's fake-gcs-server: STORAGE_EMULATOR_HOST is `<origin>/storage/v1`, as its Node example sets it. */
export function fakeGcsServer(): GcsServer {
  const origin = inject('fakeGcsUrl');
  return { name: 'fake-gcs', emulatorHost: `${origin}/storage/v1`, origin };
}

/** The same server reached through another origin (a fault proxy): same path, other scheme://host:port. */
export function through(server: GcsServer, origin: string): GcsServer {
  const path = new URL(server.emulatorHost).pathname.replace(/\/+$/, '');
  return { ...server, emulatorHost: `${origin}${path}`, origin };
}

/** Runs `fn` with STORAGE_EMULATOR_HOST set to `host` (for code that reads it, like RunStore's constructor). */
export function withEmulatorHost<T>(host: string, fn: () => T): T {
  const previous = process.env.STORAGE_EMULATOR_HOST;
  process.env.STORAGE_EMULATOR_HOST = host;
  try {
    return fn();
  } finally {
    if (previous === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previous;
  }
}

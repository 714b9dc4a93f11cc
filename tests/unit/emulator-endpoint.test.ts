// How the action's Storage client reads STORAGE_EMULATOR_HOST (src/gcs/store.ts): the JSON base stays what the
// variable says, uploads go to its origin, for the firebase form (<origin>) and fake-gcs-server's (<origin>/storage/v1).
import { afterEach, describe, expect, it } from 'vitest';
import { emulatorApiEndpoint, RunStore } from '../../src/gcs/store.js';

const saved = process.env.STORAGE_EMULATOR_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
  else process.env.STORAGE_EMULATOR_HOST = saved;
});

describe('emulatorApiEndpoint', () => {
  it('is undefined without the variable (real GCS), the origin otherwise', () => {
    expect(emulatorApiEndpoint(undefined)).toBeUndefined();
    expect(emulatorApiEndpoint('')).toBeUndefined();
    expect(emulatorApiEndpoint('http://127.0.0.1:9199')).toBe('http://127.0.0.1:9199');
    expect(emulatorApiEndpoint('http://127.0.0.1:4443/storage/v1')).toBe('http://127.0.0.1:4443');
    expect(emulatorApiEndpoint('http://127.0.0.1:4443/storage/v1/')).toBe('http://127.0.0.1:4443');
    // Like the SDK: no scheme means https.
    expect(emulatorApiEndpoint('localhost:4443/storage/v1')).toBe('https://localhost:4443');
  });

  it('gives RunStore the variable as JSON base and its origin as upload base, as it was when the store was made', async () => {
    const opened = async (): Promise<RunStore['bucket']['storage']> => {
      const store = new RunStore('b');
      // The SDK is loaded on first use: the variable's value at construction is the one that counts.
      process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:1';
      await store.open();
      return store.bucket.storage;
    };
    for (const [host, json, uploads] of [
      ['http://127.0.0.1:9199', 'http://127.0.0.1:9199', 'http://127.0.0.1:9199'],
      ['http://127.0.0.1:4443/storage/v1', 'http://127.0.0.1:4443/storage/v1', 'http://127.0.0.1:4443'],
    ] as const) {
      process.env.STORAGE_EMULATOR_HOST = host;
      const storage = await opened();
      expect(storage.baseUrl).toBe(json);
      expect(storage.apiEndpoint).toBe(uploads);
    }
    delete process.env.STORAGE_EMULATOR_HOST;
    const storage = await opened();
    expect(storage.baseUrl).toBe('https://storage.googleapis.com/storage/v1');
    expect(storage.apiEndpoint).toBe('https://storage.googleapis.com');
  });
});

// Hand-written types for launch.mjs (the root tsconfig has no allowJs); `npx tsc -p tools` checks the JS.
export declare function startFakeGcs(o?: { buckets?: string[]; startTimeoutMs?: number }): Promise<{
  /** The server's origin, e.g. http://127.0.0.1:40123. */
  url: string;
  /** STORAGE_EMULATOR_HOST as fake-gcs-server documents it for the Node client: `${url}/storage/v1`. */
  emulatorHost: string;
  version: string;
  stop: () => Promise<void>;
}>;

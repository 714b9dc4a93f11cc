// Hand-written types for launch.mjs (the root tsconfig has no allowJs); `npx tsc -p tools` checks the JS.
export declare const REPO_ROOT: string;
export declare const RAY: string;
export declare const VENV_PYTHON: string;
export interface RayHead {
  /** The dashboard, e.g. http://127.0.0.1:23456 */
  url: string;
  /** host:port of the GCS as `ray start` reports it; always 127.0.0.1 */
  gcsAddress: string;
  tempDir: string;
  /** pid of `ray start --block`, leader of its own process group */
  pid: number;
  ports: Record<string, number>;
  /** SIGTERM to everything it started, SIGKILL after the grace; removes the temp dir. */
  stop: () => Promise<void>;
}
export declare function startRayHead(o?: {
  numCpus?: number;
  env?: Record<string, string>;
  startTimeoutMs?: number;
  graceMs?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<RayHead>;

// Hand-written types for record.mjs (the root tsconfig has no allowJs); `npx tsc -p tools` checks the JS.
export interface CallRecord {
  tool: 'ray' | 'gcloud';
  /** The arguments after the executable name. */
  argv: string[];
  cwd: string;
  /** The NAMES of the environment variables, sorted; never their values. */
  env: string[];
  pid: number;
  time: number;
}
export interface HttpRecord {
  tool: 'ray-dashboard';
  kind: 'http';
  method: string;
  path: string;
  status: number | null;
  time: number;
}
export interface FakeInstance {
  name: string;
  /** A zone name, e.g. us-central1-a. */
  zone: string;
  status: string;
  labels: Record<string, string>;
}
export declare function appendRecord(line: object): void;
export declare function recordCall(tool: 'ray' | 'gcloud', argv: string[]): void;
export declare function readRecords(file?: string): Array<CallRecord | HttpRecord>;
export declare function readInstances(): FakeInstance[];
export declare function writeInstances(instances: FakeInstance[]): void;
export declare function withStateLock<T>(fn: () => T): T;
export declare function sleep(ms: number): Promise<void>;
export declare function scripted(spec: string | undefined, key: string): number;
export declare function listed(spec: string | undefined, key: string): boolean;

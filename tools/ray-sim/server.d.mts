// Hand-written types for server.mjs (the root tsconfig has no allowJs/checkJs). Keep in sync with the
// JSDoc in server.mjs; `npx tsc -p tools/ray-sim` checks the JS itself.
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';

export type JobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

/** Every key always present, unset ones null, in this order (as Ray 2.60 returns it). */
export interface JobDetails {
  type: 'SUBMISSION' | 'DRIVER';
  job_id: string | null;
  submission_id: string | null;
  driver_info: { id: string; node_ip_address: string; pid: string } | null;
  status: JobStatus;
  entrypoint: string;
  message: string | null;
  error_type: string | null;
  start_time: number | null;
  end_time: number | null;
  metadata: Record<string, string> | null;
  runtime_env: Record<string, unknown> | null;
  driver_agent_http_address: string | null;
  driver_node_id: string | null;
  driver_exit_code: number | null;
}

export declare const JOB_DETAILS_KEYS: readonly (keyof JobDetails)[];

/** Exact server texts, as Ray 2.60 words them. */
export declare const RAY_TEXT: {
  readonly notFound: string;
  readonly methodNotAllowed: string;
  readonly internalError: string;
  readonly noAgent: string;
  jobNotFound(id: string): string;
  packageNotFound(uri: string): string;
  duplicate(sid: string): string;
  readonly runtimeEnvSetupFailed: string;
};

/** One submission job as the sim holds it (read-only for tests). */
export interface SimJob {
  readonly seq: number;
  readonly submissionId: string;
  /** The validated submit body with null keys stripped. */
  readonly request: Readonly<Record<string, unknown>>;
  readonly entrypoint: string;
  readonly metadata: Readonly<Record<string, string>> | null;
  readonly runtimeEnv: Readonly<Record<string, unknown>> | null;
  readonly status: JobStatus;
  /** An explicit message; null means the status default (see details().message). */
  readonly message: string | null;
  readonly errorType: string | null;
  readonly startTime: number;
  readonly endTime: number | null;
  readonly driverAgentHttpAddress: string | null;
  readonly driverNodeId: string | null;
  readonly driverExitCode: number | null;
  /** The driver log file: the entrypoint's stdout and stderr, merged. */
  readonly logPath: string;
  /** Per-job directory under rootDir/jobs. */
  readonly dir: string;
  /** The entrypoint's working directory once started (the unpacked working_dir, or an empty dir). */
  readonly cwd: string | null;
  /** pid (and process-group id) of the `/bin/sh -c` process once started. */
  readonly pid: number | null;
  /** working_dir zip entries refused because they would land outside the directory. */
  readonly skippedZipEntries: readonly string[];
  readonly stopRequested: boolean;
  /** The PENDING delay has elapsed but the job is held by control.holdPending. */
  readonly waitingForRelease: boolean;
  readonly terminal: boolean;
  defaultMessage(): string;
  details(): JobDetails;
}

export interface RaySimOptions {
  /** Default 0 (ephemeral). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** `ray_version` of /api/version; default "2.60.0" (the pinned real Ray). >= 2.50 fills `error_type`. */
  rayVersion?: string;
  rayCommit?: string;
  sessionName?: string;
  /** How long a job stays PENDING before its entrypoint starts; default 100. */
  pendingDelayMs?: number;
  /** RAY_JOB_STOP_WAIT_TIME_S: SIGTERM → SIGKILL wait on stop; default 3000. */
  stopWaitMs?: number;
  /** RAY_JOB_START_TIMEOUT_SECONDS: a job still PENDING after this FAILs; default 900000. */
  startTimeoutMs?: number;
  /** WebSocket tail: the pause between reads while the log file has more; default 200. */
  tailPollMs?: number;
  /** WebSocket tail: the pause after a read that found the end of the file, Ray's 1 s + 1 s; default 2000. */
  tailIdleMs?: number;
  /** aiohttp client_max_size; default 100 MiB. */
  maxBodyBytes?: number;
  /** Write Ray's two supervisor lines ("Runtime env is setting up.", "Running entrypoint for job …")
   * at the top of every job log, as Ray 2.60 does; default true. false keeps a log to the entrypoint's
   * own output (for tests of exact log handling). */
  supervisorLogLines?: boolean;
  /** Extra environment for every entrypoint, over the sim's own process.env. */
  env?: Record<string, string>;
  /** Where logs and job directories go; default a fresh temp dir, removed by close(). */
  rootDir?: string;
  /** Keep the temp root dir on close(). */
  keepFiles?: boolean;
  /** Address reported in driver_agent_http_address (http://<nodeIp>:<agentPort>); default 127.0.0.1:52365. */
  nodeIp?: string;
  agentPort?: number;
  /** RAY_ADDRESS given to the entrypoint; default <nodeIp>:6379. */
  gcsAddress?: string;
  /** Receives one line per request and per job transition. */
  log?: (line: string) => void;
}

export interface RequestLogEntry {
  method: string;
  /** The raw path, without the query string. */
  path: string;
  /** The raw request target, query included. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  bodyText: string;
  time: number;
  /** The status sent, or null (socket reset / not answered yet). */
  status: number | null;
  /** The Content-Type sent, or null. */
  responseType: string | null;
  /** 'response' | 'injected' (failNext) | 'reset' (resetNext) | 'websocket' | null while pending. */
  outcome: string | null;
}

export type RequestMatcher = (method: string, path: string) => boolean;
/** 'before': the request is not processed. 'after': it is processed (state changes), then the fault replaces the answer. */
export type FaultTiming = 'before' | 'after';

export interface RaySimControl {
  /** The next `count` (default 1) matching requests get `status` with a text/plain `body` (default "<status>: <reason>"). */
  failNext(o: { status: number; count?: number; match?: RequestMatcher; body?: string; when?: FaultTiming }): void;
  /** The next `count` matching requests get their socket destroyed with no response. */
  resetNext(o?: { count?: number; match?: RequestMatcher; when?: FaultTiming }): void;
  clearFaults(): void;
  /** Cuts every open log tail WebSocket without a close frame, as a broken connection would. */
  dropTails(): void;
  /** Keeps a job (or '*' = every job, current and future) PENDING until released with hold=false.
   * Releasing '*' also releases the jobs held one by one. A held job that was stopped ends STOPPED
   * once released; a held job still PENDING after startTimeoutMs FAILs (supervisor start timeout). */
  holdPending(target: string, hold?: boolean): void;
  /** Changes /api/version (and the version-gated behaviour); null makes /api/version a 404. */
  setVersion(v: { rayVersion?: string; rayCommit?: string; sessionName?: string; version?: string } | string | null): void;
}

export interface WaitOptions {
  /** Default 10000. */
  timeoutMs?: number;
  /** Polling period besides the events; default 20. */
  intervalMs?: number;
  description?: string;
}

export interface RaySim {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly rootDir: string;
  readonly jobs: ReadonlyMap<string, SimJob>;
  /** Uploaded packages by URI (gcs://…), as raw bytes. */
  readonly packages: ReadonlyMap<string, Buffer>;
  /** Every request received, in arrival order. */
  readonly requests: readonly RequestLogEntry[];
  /** Emits 'status' (sid, status, details), 'request' (entry), 'package' (uri). */
  readonly events: EventEmitter;
  readonly control: RaySimControl;
  /** Resolves with the predicate's first value that is not false/null/undefined; re-checked on every
   * sim event and every intervalMs; rejects after timeoutMs or when the predicate throws. */
  waitFor<T>(predicate: () => T | false | null | undefined, opts?: WaitOptions): Promise<T>;
  /** Resolves when the job reaches one of `want`; rejects early if it ends in another terminal status. */
  waitForStatus(sid: string, want: JobStatus | readonly JobStatus[], opts?: { timeoutMs?: number }): Promise<JobDetails>;
  getJob(sid: string): JobDetails | undefined;
  /** The job's driver log as it is on disk now ('' for unknown ids). */
  getLog(sid: string): string;
  /** Kills the process groups of running entrypoints (their jobs keep their last status), stops the
   * server, removes the temp root dir. */
  close(): Promise<void>;
}

export declare function startRaySim(options?: RaySimOptions): Promise<RaySim>;
/** json.dumps with Python's default separators and ensure_ascii. */

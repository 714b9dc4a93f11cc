// Child processes of the per-run cluster (`ray`, `gcloud`): each in its own process group, its
// output streamed line by line, its environment stripped of secrets, and stoppable as a group.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { errorMessage } from '../common/errors.js';
import { KNOWN_KEYS } from '../inputs/combos.js';

/** Environment variables a child never gets: they are secrets it does not need. */
const CHILD_ENV_DENY: readonly string[] = [...KNOWN_KEYS, 'ACTIONS_RUNTIME_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'GITHUB_TOKEN', 'GH_TOKEN'];

/**
 * The environment of `ray` and `gcloud`: the runner's, minus the API keys, the runner's tokens
 * and every `INPUT_*` variable (inputs such as ray-headers may hold credentials). Google
 * credentials (GOOGLE_APPLICATION_CREDENTIALS, CLOUDSDK_*) stay: both CLIs need them, and they
 * are file paths, not secrets.
 */
export function childEnv(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const deny = new Set(CHILD_ENV_DENY);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || deny.has(name) || name.startsWith('INPUT_')) continue;
    out[name] = value;
  }
  // Python tools print progress promptly instead of in 8 KiB blocks.
  out.PYTHONUNBUFFERED = '1';
  return out;
}

/** How many of the last output lines an error quotes. */
const TAIL_LINES = 20;
const KILL_GRACE_MS = 5_000;

/** Splits a stream into lines; `flush` delivers a last line without a newline. */
function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString();
      let i = rest.indexOf('\n');
      while (i >= 0) {
        onLine(rest.slice(0, i).replace(/\r$/, ''));
        rest = rest.slice(i + 1);
        i = rest.indexOf('\n');
      }
    },
    flush() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    // Own process group (detached): the signal reaches ray's ssh children too.
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Stops a process group: SIGTERM, then SIGKILL after a grace period. Resolves when it exited. */
export async function stopChild(child: ChildProcess, graceMs = KILL_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** A started child: its output lines (also kept as a tail), stdout, and when it closed. */
export interface Tracked {
  child: ChildProcess;
  /** The last lines of stdout and stderr, merged in arrival order. */
  readonly tail: string[];
  readonly stdout: () => string;
  /** Resolves once the child closed and every line was delivered. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Every child the per-run cluster started, so a teardown can stop them all at once. */
export class ChildSet {
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly cwd: string,
    private readonly env: Record<string, string>,
  ) {}

  /**
   * Spawns `cmd` in its own process group. `onLine` gets each output line as the child wrote it
   * (untrusted text: print it through Log.untrusted). A child that cannot start closes with a line
   * that says why.
   */
  spawn(cmd: string, args: readonly string[], onLine?: (line: string) => void): Tracked {
    const tail: string[] = [];
    let stdout = '';
    const deliver = (line: string): void => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine?.(line);
    };
    const child = spawn(cmd, [...args], { cwd: this.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.children.add(child);
    const out = lineSplitter(deliver);
    const err = lineSplitter(deliver);
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      out.push(d);
    });
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => deliver(`could not start ${cmd}: ${errorMessage(e)}`));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => {
        out.flush();
        err.flush();
        this.children.delete(child);
        resolve({ code, signal });
      }),
    );
    return { child, tail, stdout: () => stdout, closed };
  }

  /** Stops every running child (SIGTERM, then SIGKILL). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((c) => stopChild(c)));
  }

  /** Kills every running child at once (a second signal abandons the teardown). */
  killAll(): void {
    for (const c of this.children) killGroup(c, 'SIGKILL');
  }

  get size(): number {
    return this.children.size;
  }
}

/** A free TCP port on loopback (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

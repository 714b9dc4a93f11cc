// The per-run cluster's dashboard, forwarded to the runner: `ray dashboard --port <port> <yaml>`
// keeps an SSH tunnel to the head's port 8265 open until it is stopped. The forward is ready once
// GET /api/version answers through it; one that dies on its own later (an SSH drop) is restarted.
import { HttpClient } from '@actions/http-client';
import type { Log } from '../common/log.js';
import { sleep } from '../common/time.js';
import { type ChildSet, freePort, hasExited, stopChild, type Tracked } from './process.js';

export interface ForwardOptions {
  /** Local port; default a free one. */
  port?: number;
  /** How long to wait for /api/version through the forward; default 5 min. */
  readyTimeoutMs?: number;
  /** Between readiness checks; default 250 ms (a GET of a local port, so cheap; the step waits on it). */
  pollMs?: number;
  /** Restarts of a forward that died on its own after it was ready; default 5. */
  maxRestarts?: number;
  /** The pause before a restart; default 2 s. */
  restartDelayMs?: number;
}

/** The forward could not be made ready: the CLI exited first or the deadline passed. */
export class ForwardError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly tail: readonly string[],
  ) {
    super(tail.length > 0 ? `${message}\n${tail.map((l) => `  ${l}`).join('\n')}` : message);
    this.name = 'ForwardError';
  }
}

export class DashboardForward {
  /** `http://127.0.0.1:<port>`: the address for the Ray Jobs client. */
  readonly url: string;
  private current: Tracked | null = null;
  private stopped = false;
  private restartCount = 0;
  private readonly http = new HttpClient('bird-cloud-action', [], { allowRetries: false, socketTimeout: 5_000, keepAlive: false });

  private constructor(
    readonly port: number,
    private readonly rayCli: string,
    private readonly yamlPath: string,
    private readonly children: ChildSet,
    private readonly log: Log,
    private readonly o: ForwardOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  /** Starts the forward and resolves once the dashboard answers through it. */
  static async open(rayCli: string, yamlPath: string, children: ChildSet, log: Log, options: ForwardOptions = {}): Promise<DashboardForward> {
    const forward = new DashboardForward(options.port ?? (await freePort()), rayCli, yamlPath, children, log, options);
    await forward.waitReady();
    return forward;
  }

  get command(): string {
    return [this.rayCli, ...this.args].join(' ');
  }

  get restarts(): number {
    return this.restartCount;
  }

  private get args(): string[] {
    return ['dashboard', '--port', String(this.port), this.yamlPath];
  }

  private start(): Tracked {
    this.current = this.children.spawn(this.rayCli, this.args, (line) => this.log.untrusted(`[ray dashboard] ${line}`));
    return this.current;
  }

  /** The Ray version the dashboard reports, or null while it does not answer. */
  private async version(): Promise<string | null> {
    try {
      const res = await this.http.get(`${this.url}/api/version`);
      const body = await res.readBody();
      if (res.message.statusCode !== 200) return null;
      const v = JSON.parse(body) as { ray_version?: unknown };
      return typeof v.ray_version === 'string' ? v.ray_version : 'unknown';
    } catch {
      return null;
    }
  }

  private async waitReady(): Promise<void> {
    const t = this.start();
    const readyMs = this.o.readyTimeoutMs ?? 5 * 60_000;
    const deadline = Date.now() + readyMs;
    for (;;) {
      const version = await this.version();
      if (version !== null) {
        this.log.info(`dashboard: Ray ${version} answers at ${this.url} (forwarded by ${this.command})`);
        this.watch(t);
        return;
      }
      if (hasExited(t.child)) {
        // Let the last output lines arrive before quoting them.
        await Promise.race([t.closed, sleep(2_000)]);
        throw new ForwardError(`${this.command} exited with ${t.child.exitCode ?? t.child.signalCode} before the dashboard answered`, t.child.exitCode, t.tail);
      }
      if (Date.now() > deadline) {
        await stopChild(t.child);
        throw new ForwardError(`${this.command}: GET ${this.url}/api/version did not answer within ${Math.round(readyMs / 1000)} s`, null, t.tail);
      }
      await sleep(this.o.pollMs ?? 250);
    }
  }

  /** After it was ready: a forward that dies on its own is started again, a few times. */
  private watch(tracked: Tracked): void {
    const max = this.o.maxRestarts ?? 5;
    tracked.child.once('exit', (code, signal) => {
      if (this.stopped) return;
      if (this.restartCount >= max) {
        this.log.warning(
          `${this.command} exited (${code ?? signal}) and was restarted ${this.restartCount} times already; the dashboard is no longer forwarded`,
        );
        return;
      }
      this.restartCount++;
      this.log.warning(`${this.command} exited (${code ?? signal}); restarting the port forward (${this.restartCount}/${max})`);
      setTimeout(() => {
        if (!this.stopped) this.watch(this.start());
      }, this.o.restartDelayMs ?? 2_000).unref();
    });
  }

  /** Stops the forward (idempotent). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.current) await stopChild(this.current.child);
  }
}

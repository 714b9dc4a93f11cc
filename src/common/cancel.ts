// One ordered cleanup path for a cancelled step. The runner cancels a step with SIGINT, then
// SIGTERM. On the first signal the wait stops (the abort signal), then the registered cleanup
// steps run in order (stop the Ray job, then tear down the per-run cluster), then the step fails
// and exits. A second signal abandons what is left and exits at once: the post step and the
// cluster's self-delete timer take over (docs/reference/per-run-cluster.md).
import { errorMessage } from './errors.js';
import type { Log } from './log.js';

/** The order cleanup steps run in: the job stops before its cluster goes; the job summary, which says so, last. */
export const CleanupOrder = { StopJob: 10, Teardown: 20, Comment: 80, Summary: 90 } as const;

export interface CleanupStep {
  /** Lower runs first (see CleanupOrder). */
  order: number;
  name: string;
  /** Does the cleanup; may return a sentence for the step's failure message. */
  run(signal: NodeJS.Signals): Promise<string | undefined>;
  /** A second signal: drop the work in flight at once (e.g. kill the CLIs). */
  abandon?(): void;
  /** How long the step may take before the next one starts; default 60 s. */
  timeoutMs?: number;
}

/** What `process` offers for signals; injectable for tests. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface CancellationOptions {
  log: Log;
  /** Fails the step with a message; default: the caller's core.setFailed. */
  fail: (message: string) => void;
  /** Default process.exit. */
  exit?: (code: number) => void;
  proc?: SignalSource;
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export class Cancellation {
  private readonly controller = new AbortController();
  private readonly steps = new Set<CleanupStep>();
  private first: NodeJS.Signals | null = null;
  private cleanup: Promise<void> | null = null;
  private readonly proc: SignalSource;
  private readonly exit: (code: number) => void;
  private readonly handler = (signal: NodeJS.Signals): void => this.onSignal(signal);

  constructor(private readonly options: CancellationOptions) {
    this.proc = options.proc ?? process;
    this.exit = options.exit ?? ((code: number) => process.exit(code));
  }

  /** Aborts on the first signal: long waits listen to it. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The first signal received, or null. */
  get cancelled(): NodeJS.Signals | null {
    return this.first;
  }

  /** Resolves once the cleanup that a signal started has run (the process exits then). */
  get finished(): Promise<void> {
    return this.cleanup ?? Promise.resolve();
  }

  install(): void {
    for (const s of SIGNALS) this.proc.on(s, this.handler);
  }

  uninstall(): void {
    for (const s of SIGNALS) this.proc.off(s, this.handler);
  }

  /** Registers a cleanup step until the returned function removes it. */
  add(step: CleanupStep): () => void {
    this.steps.add(step);
    return () => {
      this.steps.delete(step);
    };
  }

  private ordered(): CleanupStep[] {
    return [...this.steps].sort((a, b) => a.order - b.order);
  }

  private onSignal(signal: NodeJS.Signals): void {
    if (this.first) {
      const left = this.ordered();
      this.options.log.warning(
        `${signal} again: abandoning the cleanup${left.length > 0 ? ` (${left.map((s) => s.name).join(', ')})` : ''}; the post step takes over`,
      );
      for (const step of left) step.abandon?.();
      this.exit(1);
      return;
    }
    this.first = signal;
    const steps = this.ordered();
    this.options.log.info(
      `${signal}: cancelled${steps.length > 0 ? `; ${steps.map((s) => s.name).join(', then ')} before exiting (a second signal abandons it)` : ''}`,
    );
    this.controller.abort();
    this.cleanup = this.runSteps(signal, steps);
  }

  private async runSteps(signal: NodeJS.Signals, steps: readonly CleanupStep[]): Promise<void> {
    const notes: string[] = [];
    for (const step of steps) {
      let timer: NodeJS.Timeout | undefined;
      const timeoutMs = step.timeoutMs ?? 60_000;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`${step.name} did not finish within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
        timer.unref();
      });
      try {
        const note = await Promise.race([step.run(signal), timeout]);
        if (note) notes.push(note);
      } catch (e) {
        this.options.log.warning(`${step.name} failed: ${errorMessage(e)}`);
      } finally {
        clearTimeout(timer);
      }
    }
    this.options.fail(`cancelled (${signal})${notes.length > 0 ? `; ${notes.join('; ')}` : ''}`);
    this.exit(1);
  }
}

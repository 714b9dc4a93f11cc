// One retry mechanism for GCS and Ray calls: exponential backoff with jitter per operation,
// and a budget shared by all operations of a step, so a dead backend fails fast instead of
// every queued operation retrying on its own.
import { errorMessage } from './errors.js';
import { type Clock, systemClock } from './time.js';

export class RetryBudget {
  private readonly initial: number;
  constructor(private remaining: number) {
    this.initial = remaining;
  }
  /** A long wait refills it after each healthy poll: the budget bounds a bad spell, not the hours. */
  refill(): void {
    this.remaining = this.initial;
  }
  /** Takes one retry from the budget; false when it is spent. */
  take(): boolean {
    if (this.remaining <= 0) return false;
    this.remaining--;
    return true;
  }
  get left(): number {
    return this.remaining;
  }
}

export interface RetryPolicy {
  /** Attempts per operation, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
  budget: RetryBudget;
  /** What the backoff sleeps on; default systemClock (a test passes a clock that moves at once). */
  clock?: Clock;
}

export class RetryExhaustedError extends Error {
  constructor(
    message: string,
    override readonly cause: unknown,
    readonly attempts: number,
  ) {
    super(message);
    this.name = 'RetryExhaustedError';
  }
}

/** Runs `op`; retries while `retryable(error)` holds, the attempts last and the budget allows. */
export async function withRetry<T>(
  what: string,
  op: () => Promise<T>,
  retryable: (e: unknown) => boolean,
  policy: RetryPolicy,
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (e) {
      if (!retryable(e)) throw e;
      if (attempt >= policy.attempts || !policy.budget.take()) {
        const why = attempt >= policy.attempts ? `${attempt} attempts` : 'the retry budget of this step is spent';
        throw new RetryExhaustedError(`${what} failed after ${why}: ${errorMessage(e)}`, e, attempt);
      }
      const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      const delay = Math.round(cap / 2 + Math.random() * (cap / 2));
      onRetry?.(e, attempt, delay);
      await (policy.clock ?? systemClock).sleep(delay);
    }
  }
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNREFUSED',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A connection-level failure (reset, refused, timeout), where a retry may succeed. */
export function isNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const o = error as { code?: unknown; message?: unknown; cause?: unknown };
  if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return true;
  if (typeof o.message === 'string' && /socket hang up|network timeout|ECONNRESET|ECONNREFUSED|premature close/i.test(o.message)) return true;
  return o.cause !== undefined && o.cause !== error && isNetworkError(o.cause);
}

// A clock for in-process tests of long waits: each sleep moves it forward at once, so a wait of
// minutes (a no-progress deadline, a retry backoff) runs in the time its polls take. `realMs` lets
// each sleep also take a little real time, for a wait on something real (a job writing its rows).
import type { Clock } from '../../src/common/time.js';

export interface VirtualClock extends Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[];
}

export function virtualClock(o: { startMs?: number; realMs?: number } = {}): VirtualClock {
  const realMs = o.realMs ?? 0;
  let now = o.startMs ?? Date.now();
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) return;
      sleeps.push(ms);
      now += ms;
      // Yield to I/O, as a real sleep would.
      await new Promise<void>((resolve) => (realMs > 0 ? setTimeout(resolve, Math.min(ms, realMs)) : setImmediate(resolve)));
    },
  };
}

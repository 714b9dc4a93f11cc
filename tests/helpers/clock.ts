// A clock for in-process tests of long waits: each sleep moves it forward at once, so a wait of
// minutes (a no-progress deadline) runs in the time its polls take.
import type { Clock } from '../../src/common/time.js';

export interface VirtualClock extends Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[];
}

export function virtualClock(startMs = Date.now()): VirtualClock {
  let now = startMs;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) return;
      sleeps.push(ms);
      now += ms;
      // Yield to I/O, as a real sleep would.
      await new Promise<void>((resolve) => setImmediate(resolve));
    },
  };
}

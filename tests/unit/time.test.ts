import { describe, expect, it } from 'vitest';
import { formatDuration, sleep } from '../../src/common/time.js';

describe('formatDuration', () => {
  it('reads well from milliseconds to hours', () => {
    expect([0, 850, 4200, 59_600, 61_000, 192_000, 3_600_000, 3_723_000].map(formatDuration)).toEqual([
      '0 ms',
      '850 ms',
      '4.2 s',
      '59.6 s',
      '1m 01s',
      '3m 12s',
      '1h 00m 00s',
      '1h 02m 03s',
    ]);
  });

  it('never prints a negative duration', () => {
    expect(formatDuration(-5)).toBe('0 ms');
  });
});

describe('sleep', () => {
  it('ends at once when its signal aborts', async () => {
    const ac = new AbortController();
    const slept = sleep(3_600_000, ac.signal);
    ac.abort();
    await expect(slept).resolves.toBeUndefined();
  });

  it('does not wait when the signal is already aborted', async () => {
    await expect(sleep(3_600_000, AbortSignal.abort())).resolves.toBeUndefined();
  });
});

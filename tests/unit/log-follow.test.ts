// The pure parts of following a job log (src/ray/log-follow.ts): what a poll prints, how a reopened
// tail skips what was seen, the fallback's fetch schedule, and the unreachable verdict's words.
import { describe, expect, it } from 'vitest';
import { isFetchPoll, LogBuffer, shownText, skipReplayed } from '../../src/ray/log-follow.js';
import { unreachableReason } from '../../src/ray/wait.js';

describe('LogBuffer', () => {
  it('gives what arrived since the last take, in order, once', () => {
    const b = new LogBuffer(100);
    expect(b.take()).toBeNull();
    b.push('a\n');
    b.push('');
    b.push('b\nc');
    expect(b.take()).toEqual({ total: 5, text: 'a\nb\nc' });
    expect(b.take()).toBeNull();
    b.push('\nd\n');
    expect(b.take()).toEqual({ total: 3, text: '\nd\n' });
  });

  it('keeps only the last `max` characters of a burst, and counts the rest', () => {
    const b = new LogBuffer(10);
    for (let i = 0; i < 1000; i++) b.push(`${String(i).padStart(4, '0')}\n`);
    const news = b.take();
    expect(news).toEqual({ total: 5000, text: '0998\n0999\n' });
    expect(shownText(news ?? { total: 0, text: '' })).toBe('… 4990 characters left out …\n0998\n0999\n');
  });

  it('prints a whole poll as it came when nothing was left out', () => {
    expect(shownText({ total: 4, text: 'ab\n\n' })).toBe('ab\n\n');
  });
});

describe('skipReplayed: a reopened tail starts again at the top of the log', () => {
  it('drops whole frames, then the seen part of the frame that crosses into new text', () => {
    let replay = 7;
    const out: string[] = [];
    for (const frame of ['abc', 'def', 'ghij', 'kl']) {
      const r = skipReplayed(frame, replay);
      replay = r.replay;
      out.push(r.fresh);
    }
    expect(out).toEqual(['', '', 'hij', 'kl']);
    expect(replay).toBe(0);
  });

  it('passes everything when nothing was seen', () => {
    expect(skipReplayed('x\n', 0)).toEqual({ fresh: 'x\n', replay: 0 });
  });
});

describe('the fallback fetch schedule', () => {
  it('fetches at polls 1, 2, 4, 8, …: about log₂(polls) fetches', () => {
    const polls = Array.from({ length: 200 }, (_, k) => k + 1).filter(isFetchPoll);
    expect(polls).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
    expect(isFetchPoll(0)).toBe(false);
  });

  it('fetches under 3× the final size of a log that grows evenly, with the final fetch', () => {
    const total = 200;
    const sizeAt = (poll: number) => poll * 1000;
    const fetched = Array.from({ length: total }, (_, k) => k + 1)
      .filter((p) => isFetchPoll(p) || p === total)
      .reduce((n, p) => n + sizeAt(p), 0);
    expect(fetched).toBeLessThan(3 * sizeAt(total));
  });
});

describe('the unreachable verdict', () => {
  it('names the address, the failure and the rows in', () => {
    expect(unreachableReason('http://10.0.0.5:8265', 'GET api/jobs/x failed after 6 attempts: connect ECONNREFUSED 10.0.0.5:8265', 3, 10, 2)).toBe(
      'the Ray dashboard at http://10.0.0.5:8265 stopped answering (GET api/jobs/x failed after 6 attempts: connect ECONNREFUSED 10.0.0.5:8265); 3/10 instances have a row for attempt 2',
    );
  });
});

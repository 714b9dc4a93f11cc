import { describe, expect, it } from 'vitest';
import { parsePorcelainZ } from '../../src/preflight/worktree.js';

describe('porcelain -z parsing', () => {
  it('reads status, path, and both sides of a rename', () => {
    const out = ' M src/a.py\0R  src/new.py\0old/x.py\0?? audited_gold/q sql.sql\0A  uv.lock\0';
    expect(parsePorcelainZ(out)).toEqual([
      { status: ' M', path: 'src/a.py' },
      { status: 'R ', path: 'src/new.py' },
      { status: 'R ', path: 'old/x.py' },
      { status: '??', path: 'audited_gold/q sql.sql' },
      { status: 'A ', path: 'uv.lock' },
    ]);
  });

  it('keeps odd characters in paths as they are', () => {
    expect(parsePorcelainZ('?? src/line\nbreak.py\0')).toEqual([{ status: '??', path: 'src/line\nbreak.py' }]);
  });
});

// The stand-in's command line is the real runner's: exactly its flags, argparse's exit 2 for any
// other (an abbreviation included), before the secrets file is touched.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, VENV_PYTHON } from '../../tools/ray-real/launch.mjs';
import { removeDir, tempDir } from '../helpers/action.js';

const STANDIN = join(REPO_ROOT, 'tools', 'ray-real', 'standin', 'ray_app.py');
const REQUIRED = [
  '--run-id',
  'r1',
  '--attempt',
  '1',
  '--framework',
  'pydantic_ai',
  '--query-mode',
  'raw',
  '--mode',
  'a-interact',
  '--agent-model',
  'anthropic/x',
  '--instance-ids',
  'a_1',
];
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) removeDir(d);
});

function run(args: string[]) {
  const cwd = tempDir('bird-standin');
  dirs.push(cwd);
  writeFileSync(join(cwd, 's.json'), '{"ANTHROPIC_API_KEY": "v"}');
  // No BIRD_RUNS_BUCKET and no Ray: a run that gets past argparse fails later, with another code.
  const r = spawnSync(VENV_PYTHON, [STANDIN, ...args, '--secrets-file', 's.json'], { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status, stderr: r.stderr, secretsLeft: existsSync(join(cwd, 's.json')) };
}

describe('the in-cluster stand-in: argparse', () => {
  it.each([
    ['an unknown flag', [...REQUIRED, '--workers', '2'], 'unrecognized arguments: --workers 2'],
    ['an abbreviation', [...REQUIRED, '--num-act', '2'], 'unrecognized arguments: --num-act 2'],
    ['a non-int --num-actors', [...REQUIRED, '--num-actors', 'two'], "argument --num-actors: invalid int value: 'two'"],
    ['a missing required flag', REQUIRED.slice(2), 'the following arguments are required: --run-id'],
    ['a value for --strict', [...REQUIRED, '--strict=yes'], 'argument --strict: ignored explicit argument'],
  ])('refuses %s with exit 2 and leaves the secrets file alone', (_name, args, message) => {
    const r = run(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.secretsLeft).toBe(true);
  });

  it('takes every flag of the real runner, --no-prompt-cache included, gets past argparse, reads and deletes the secrets file', () => {
    const all = [
      ...REQUIRED,
      '--ray-job-id',
      'j',
      '--user-sim-model',
      'm',
      '--patience',
      '3',
      '--max-depth',
      '2',
      '--num-actors',
      '4',
      '--strict',
      '--use-audited-gold-sql',
      '--no-prompt-cache',
      '--slayer-setup',
      'pre-encoded',
      '--slayer-storage-root',
      '/data/slayer_models',
    ];
    const r = run(all);
    // Past argparse and the secrets check, it stops at the missing bucket (exit 4), before any Ray call.
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('BIRD_RUNS_BUCKET is not set');
    expect(r.secretsLeft).toBe(false);
  });
});

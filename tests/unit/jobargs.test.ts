import { describe, expect, it } from 'vitest';
import { buildJobArgs, entrypoint, shellQuote, submissionId } from '../../src/plan/job-args.js';
import type { RunManifest } from '../../src/plan/manifest.js';
import { abbreviatedJobArgs } from '../../src/results/summary.js';

const m = {
  run_id: 'r1',
  framework: 'pydantic_ai',
  query_mode: 'slayer',
  mode: 'a-interact',
  agent_model: 'anthropic/claude-sonnet-4-5',
  user_sim_model: 'anthropic/claude-haiku-4-5-20251001',
  patience: 3,
  max_depth: 3,
  strict: true,
  use_audited_gold_sql: false,
  prompt_cache: false,
  slayer_setup: 'pre-encoded',
  slayer_storage_root: '/data/slayer_models',
  render_inputs: { workers: 3, actors_per_worker: 5 } as RunManifest['render_inputs'],
};

describe('job arguments (docs/reference/job.md#arguments)', () => {
  it('are in the documented order, with num-actors = workers × actors', () => {
    expect(buildJobArgs(m, 2, ['a_1', 'b_2'], { withSecrets: true })).toEqual([
      '--run-id',
      'r1',
      '--attempt',
      '2',
      '--ray-job-id',
      'bird-r1-a2',
      '--framework',
      'pydantic_ai',
      '--query-mode',
      'slayer',
      '--mode',
      'a-interact',
      '--agent-model',
      'anthropic/claude-sonnet-4-5',
      '--user-sim-model',
      'anthropic/claude-haiku-4-5-20251001',
      '--patience',
      '3',
      '--max-depth',
      '3',
      '--num-actors',
      '15',
      '--instance-ids',
      'a_1,b_2',
      '--strict',
      '--no-prompt-cache',
      '--slayer-setup',
      'pre-encoded',
      '--slayer-storage-root',
      '/data/slayer_models',
      '--secrets-file',
      'bird_interact_secrets.json',
    ]);
  });

  it('leaves out the secrets file when no key is needed', () => {
    expect(buildJobArgs(m, 1, ['a'], { withSecrets: false })).not.toContain('--secrets-file');
  });

  it('derives the submission id from run id and attempt', () => {
    expect(submissionId('20261125t0907-agno-raw-abcdef', 3)).toBe('bird-20261125t0907-agno-raw-abcdef-a3');
  });

  it('quotes each argument for the shell', () => {
    expect(shellQuote('plain-value_1.2/x')).toBe('plain-value_1.2/x');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('$(rm -rf /)')).toBe("'$(rm -rf /)'");
    expect(entrypoint('python app.py ', ['--x', 'a b'])).toBe("python app.py --x 'a b'");
  });
});

describe('the job arguments in the log', () => {
  it('abbreviates the instance ids after five, with the count, and leaves the rest as is', () => {
    const ids = Array.from({ length: 54 }, (_, i) => `db_${i + 1}`);
    const args = ['--run-id', 'r', '--instance-ids', ids.join(','), '--workers', '2'];
    expect(abbreviatedJobArgs(args)).toBe('--run-id r --instance-ids db_1,db_2,db_3,db_4,db_5,… (54 ids) --workers 2');
    expect(abbreviatedJobArgs(['--instance-ids', 'a_1,b_2'])).toBe('--instance-ids a_1,b_2');
    expect(abbreviatedJobArgs(['--run-id', 'r'])).toBe('--run-id r');
  });
});

// The in-cluster command line (docs/reference/job.md#arguments), built from the manifest so reruns use its values.
import type { RunManifest } from './manifest.js';

/** Where the job finds the secrets file: the root of its working_dir package (see ray/secrets). */
export const SECRETS_FILE = 'bird_interact_secrets.json';
export const DEFAULT_ENTRYPOINT_PREFIX = 'python /app/bird-interact-agents/src/bird_interact_agents/cloud/ray_app.py';

/** Deterministic per run and attempt, so a retried submit can never start a second job. */
export function submissionId(runId: string, attempt: number): string {
  return `bird-${runId}-a${attempt}`;
}

type ArgSource = Pick<
  RunManifest,
  | 'run_id'
  | 'framework'
  | 'query_mode'
  | 'mode'
  | 'agent_model'
  | 'user_sim_model'
  | 'patience'
  | 'max_depth'
  | 'strict'
  | 'use_audited_gold_sql'
  | 'prompt_cache'
  | 'slayer_setup'
  | 'slayer_storage_root'
  | 'render_inputs'
>;

export function buildJobArgs(m: ArgSource, attempt: number, instanceIds: readonly string[], o: { withSecrets: boolean }): string[] {
  const args = [
    '--run-id',
    m.run_id,
    '--attempt',
    String(attempt),
    '--ray-job-id',
    submissionId(m.run_id, attempt),
    '--framework',
    m.framework,
    '--query-mode',
    m.query_mode,
    '--mode',
    m.mode,
    '--agent-model',
    m.agent_model,
    '--user-sim-model',
    m.user_sim_model,
    '--patience',
    String(m.patience),
    '--max-depth',
    String(m.max_depth),
    '--num-actors',
    String(m.render_inputs.workers * m.render_inputs.actors_per_worker),
    '--instance-ids',
    instanceIds.join(','),
  ];
  if (m.strict) args.push('--strict');
  if (m.use_audited_gold_sql) args.push('--use-audited-gold-sql');
  args.push(m.prompt_cache ? '--prompt-cache' : '--no-prompt-cache');
  args.push('--slayer-setup', m.slayer_setup, '--slayer-storage-root', m.slayer_storage_root);
  // Python appends the secrets file only when there is at least one key.
  if (o.withSecrets) args.push('--secrets-file', SECRETS_FILE);
  return args;
}

/** POSIX shell quoting: every argument single-quoted, `'` as `'\''` (what shlex.join does). */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function entrypoint(prefix: string, args: readonly string[]): string {
  return [prefix.trim(), ...args.map(shellQuote)].join(' ');
}

// The in-cluster command line (docs/reference/job.md#arguments), built from the manifest so reruns use its values.
import type { RunManifest } from './manifest.js';

/** Where the job finds the secrets file: the root of its working_dir package (see ray/secrets). */
export const SECRETS_FILE = 'bird_interact_secrets.json';

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

export function buildJobArgs(
  manifest: ArgSource,
  attempt: number,
  instanceIds: readonly string[],
  options: { withSecrets: boolean /** A run-scoped storage root instead of the manifest's. */; slayerStorageRoot?: string },
): string[] {
  const args = [
    '--run-id',
    manifest.run_id,
    '--attempt',
    String(attempt),
    '--ray-job-id',
    submissionId(manifest.run_id, attempt),
    '--framework',
    manifest.framework,
    '--query-mode',
    manifest.query_mode,
    '--mode',
    manifest.mode,
    '--agent-model',
    manifest.agent_model,
    '--user-sim-model',
    manifest.user_sim_model,
    '--patience',
    String(manifest.patience),
    '--max-depth',
    String(manifest.max_depth),
    '--num-actors',
    String(manifest.render_inputs.workers * manifest.render_inputs.actors_per_worker),
    '--instance-ids',
    instanceIds.join(','),
  ];
  if (manifest.strict) args.push('--strict');
  if (manifest.use_audited_gold_sql) args.push('--use-audited-gold-sql');
  args.push(manifest.prompt_cache ? '--prompt-cache' : '--no-prompt-cache');
  args.push('--slayer-setup', manifest.slayer_setup, '--slayer-storage-root', options.slayerStorageRoot ?? manifest.slayer_storage_root);
  // Python appends the secrets file only when there is at least one key.
  if (options.withSecrets) args.push('--secrets-file', SECRETS_FILE);
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

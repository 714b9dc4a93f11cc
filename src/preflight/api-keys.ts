// API keys (docs/reference/combos.md#api-keys): read from the environment, masked at once, never part of the plan.
import * as core from '@actions/core';
import { Inputs } from '../common/constants.js';
import type { Problem } from '../common/errors.js';
import type { KeyNeeds } from '../inputs/combos.js';
import type { CommonSettings } from '../inputs/settings.js';

export interface ApiKeys {
  /** Key name → value; kept out of the plan, the manifest and every log. */
  values: ReadonlyMap<string, string>;
  /** Required names that are unset or empty, sorted. */
  missing: string[];
}

function readApiKeys(names: readonly string[], env: NodeJS.ProcessEnv = process.env): ApiKeys {
  const values = new Map<string, string>();
  const missing: string[] = [];
  for (const name of [...names].sort()) {
    const v = env[name];
    if (v === undefined || v.trim() === '') {
      missing.push(name);
      continue;
    }
    // Mask what was given and what is sent: a secret pasted with a newline is trimmed.
    core.setSecret(v);
    if (v.trim() !== v) core.setSecret(v.trim());
    values.set(name, v.trim());
  }
  return { values, missing };
}

/**
 * Python's opening words, then each key with the input that needs it, plus the two causes users
 * actually hit (docs/reference/combos.md#api-keys).
 */
function missingKeysMessage(missing: readonly string[], needs: KeyNeeds): string {
  const named = missing.map((k) => {
    const why = needs.get(k) ?? [];
    return why.length > 0 ? `${k} (for ${why.join('; ')})` : k;
  });
  return (
    `missing API key env vars for job submission: ${named.join(', ')}. ` +
    'Pass each one to this step with `env:` (e.g. `ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}`). ' +
    'On a pull request from a fork GitHub passes secrets as empty strings: run the eval from a branch of this repository, or skip the step for forks.'
  );
}

/** Problems with a team's runtime_env given the keys this run must deliver. */
function runtimeEnvProblem(runtimeEnv: Record<string, unknown>, keyValues: Iterable<string>, o: { needsPackage: boolean }): string | null {
  if (o.needsPackage && runtimeEnv.working_dir !== undefined) {
    return "sets working_dir, which this action uses for the job package (the API keys file, and the checkout's src/ with code: checkout); ship other code with pip or py_modules instead";
  }
  // Compare with the raw strings too: JSON escaping would hide a value with quotes or backslashes.
  const text = JSON.stringify(runtimeEnv);
  const raw: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'string') raw.push(v);
    else if (v && typeof v === 'object') for (const x of Object.values(v)) collect(x);
  };
  collect(runtimeEnv);
  for (const v of keyValues)
    if (v && (text.includes(v) || raw.some((r) => r.includes(v))))
      return 'contains the value of a secret (an API key, a ray-headers value or the token); keys reach the job only through the secrets file';
  return null;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** The existing cluster's address when keys would go to it over plain http to another host, else null. */
function insecureAddress(d: Pick<CommonSettings['dispatch'], 'cluster' | 'rayAddress' | 'allowInsecureRayAddress'>): string | null {
  if (d.cluster !== 'existing' || d.allowInsecureRayAddress || !d.rayAddress) return null;
  let url: URL;
  try {
    url = new URL(d.rayAddress);
  } catch {
    return null;
  }
  return url.protocol === 'http:' && !LOOPBACK.has(url.hostname) && !url.hostname.startsWith('127.') ? d.rayAddress : null;
}

/**
 * The keys a run needs, read and masked, and what is wrong: a missing key (apart, since a dry run
 * only warns about it), or a runtime-env that would collide with the keys package or carries a
 * secret value. Submit and rerun share it.
 */
export function readRunKeys(
  needs: KeyNeeds,
  s: Pick<CommonSettings, 'dispatch' | 'report'>,
  env: NodeJS.ProcessEnv = process.env,
): { keys: ApiKeys; missing: Problem | null; problems: Problem[] } {
  const names = [...needs.keys()];
  const keys = readApiKeys(names, env);
  const problems: Problem[] = [];
  const missing = keys.missing.length > 0 ? { input: 'env', message: missingKeysMessage(keys.missing, needs) } : null;
  const secrets = [...keys.values.values(), ...Object.values(s.dispatch.rayHeaders), s.report.token];
  const envProblem = runtimeEnvProblem(s.dispatch.runtimeEnv, secrets, { needsPackage: names.length > 0 || s.dispatch.code === 'checkout' });
  if (envProblem) problems.push({ input: Inputs.RuntimeEnv, message: envProblem, fix: 'remove that part of runtime-env' });
  const insecure = insecureAddress(s.dispatch);
  if (keys.values.size > 0 && insecure) {
    problems.push({
      input: Inputs.RayAddress,
      message: `'${insecure}' is plain http to a host that is not loopback, and the keys package would cross the network unencrypted`,
      fix: 'use an https address (a proxy or ingress in front of the dashboard), or set allow-insecure-ray-address: true when the network between the runner and the cluster is trusted',
    });
  }
  return { keys, missing, problems };
}

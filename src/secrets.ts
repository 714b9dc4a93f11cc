// API keys (domain §3): read from the environment, masked at once, never part of the plan.
import * as core from '@actions/core';

export interface ApiKeys {
  /** Key name → value; kept out of the plan, the manifest and every log. */
  values: ReadonlyMap<string, string>;
  /** Required names that are unset or empty, sorted. */
  missing: string[];
}

export function readApiKeys(names: readonly string[], env: NodeJS.ProcessEnv = process.env): ApiKeys {
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

/** Python's wording, plus the two causes users actually hit. */
export function missingKeysMessage(missing: readonly string[]): string {
  return (
    `missing API key env vars for job submission: [${missing.map((k) => `'${k}'`).join(', ')}]. ` +
    'Pass each one to this step with `env:` (e.g. `ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}`). ' +
    'On a pull request from a fork GitHub passes secrets as empty strings: run the eval from a branch of this repository, or skip the step for forks.'
  );
}

// Generates the parts of .github/workflows/bird-eval.yml that mirror action.yml: the workflow_call
// inputs and outputs, the submit job's outputs, and the `with:` that passes every input through
// (to the submit's action step, and to the preflight job's dry run of it).
// Run `node scripts/sync-bird-eval.mjs` after changing action.yml's inputs or outputs;
// tests/unit/workflows.test.ts fails when the two drift apart.
//
// Type mapping (docs/usage.md): an input whose action.yml default is "true"/"false" becomes
// `type: boolean` with that boolean default; one whose default is a whole number becomes
// `type: number` with that number; every other input is `type: string` with the same default
// (or none). Passed back with `${{ inputs.x }}`, booleans and numbers arrive as the same strings.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIRD_EVAL = '.github/workflows/bird-eval.yml';

/** Inputs passed to the action from somewhere other than the same-named workflow input. */
export const PASS_THROUGH_OVERRIDES = {
  // A secret when given: the input stays for parity, but a secret keeps the headers out of the run's inputs.
  'ray-headers': '${{ secrets.RAY_HEADERS || inputs.ray-headers }}',
  // action.yml's default is `${{ github.token }}`; the called workflow's own token when left empty.
  'github-token': '${{ inputs.github-token || github.token }}',
};

/**
 * The preflight job's dry run (the first job of a new submit) gets the same inputs as the submit,
 * except these: it is always a dry run, and an on-the-fly combo's SLayer setup is made by the
 * encode that runs after it, so it is not checked there (the submit checks it).
 */
export const PREFLIGHT_OVERRIDES = {
  'dry-run': 'true',
  'check-artifacts': "${{ inputs.slayer-setup != 'on-the-fly' && inputs.check-artifacts }}",
};

/** The workflow_call type of an action input, from its default. */
export function workflowType(actionDefault) {
  if (actionDefault === 'true' || actionDefault === 'false') return 'boolean';
  if (typeof actionDefault === 'string' && /^\d+$/.test(actionDefault)) return 'number';
  return 'string';
}

const PLAIN = /^[A-Za-z0-9_/][\w/.@-]*$/;
const YAML_WORDS = /^(true|false|yes|no|on|off|null|~|[-+]?\d[\d._]*(e[-+]?\d+)?)$/i;
const quote = (s) => JSON.stringify(s);
const scalar = (s) => (PLAIN.test(s) && !YAML_WORDS.test(s) ? s : quote(s));

function inputBlock(name, spec, indent) {
  const pad = ' '.repeat(indent);
  const type = workflowType(spec.default);
  const lines = [`${pad}${name}:`, `${pad}  description: ${quote(spec.description ?? '')}`, `${pad}  type: ${type}`, `${pad}  required: false`];
  const d = spec.default;
  if (d !== undefined) {
    if (type !== 'string') lines.push(`${pad}  default: ${d}`);
    else if (d.includes('\n')) {
      if (!d.endsWith('\n') || d.slice(0, -1).includes('\n\n')) throw new Error(`${name}: only simple block defaults are supported`);
      lines.push(
        `${pad}  default: |`,
        ...d
          .slice(0, -1)
          .split('\n')
          .map((l) => `${pad}    ${l}`),
      );
    } else lines.push(`${pad}  default: ${scalar(d)}`);
  }
  return lines.join('\n');
}

/** The five generated blocks, from action.yml's text. */
export function blocks(actionText) {
  const action = parse(actionText);
  const inputs = Object.entries(action.inputs ?? {});
  const outputs = Object.entries(action.outputs ?? {});
  return {
    'action-inputs': inputs.map(([n, s]) => inputBlock(n, s ?? {}, 6)).join('\n'),
    'action-outputs': outputs
      .map(([n, s]) => [`      ${n}:`, `        description: ${quote(s?.description ?? '')}`, `        value: \${{ jobs.submit.outputs.${n} }}`].join('\n'))
      .join('\n'),
    'submit-outputs': outputs.map(([n]) => `      ${n}: \${{ steps.bird.outputs.${n} }}`).join('\n'),
    'action-with': inputs.map(([n]) => `          ${n}: ${PASS_THROUGH_OVERRIDES[n] ?? `\${{ inputs.${n} }}`}`).join('\n'),
    'preflight-with': inputs.map(([n]) => `          ${n}: ${PREFLIGHT_OVERRIDES[n] ?? PASS_THROUGH_OVERRIDES[n] ?? `\${{ inputs.${n} }}`}`).join('\n'),
  };
}

/** bird-eval.yml with its generated blocks rewritten from action.yml. */
export function renderBirdEval(workflowText, actionText) {
  let out = workflowText;
  for (const [name, body] of Object.entries(blocks(actionText))) {
    const re = new RegExp(`(^[ \\t]*# ${name}:start[^\\n]*\\n)[\\s\\S]*?(^[ \\t]*# ${name}:end)`, 'm');
    if (!re.test(out)) throw new Error(`${BIRD_EVAL} has no '# ${name}:start' / '# ${name}:end' markers`);
    out = out.replace(re, (_, start, end) => `${start}${body ? `${body}\n` : ''}${end}`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = join(ROOT, BIRD_EVAL);
  const before = readFileSync(path, 'utf8');
  const after = renderBirdEval(before, readFileSync(join(ROOT, 'action.yml'), 'utf8'));
  if (process.argv.includes('--check')) {
    if (before !== after) {
      console.error(`${BIRD_EVAL} is out of step with action.yml: run node scripts/sync-bird-eval.mjs`);
      process.exit(1);
    }
  } else {
    writeFileSync(path, after);
    console.log(`${BIRD_EVAL}: inputs, outputs and the pass-through regenerated from action.yml`);
  }
}

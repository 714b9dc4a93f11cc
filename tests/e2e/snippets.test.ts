// The snippets a newcomer copies first run as written: the README's minimal use and
// examples/pr-dry-run.yml. Each action step is taken from the YAML, its `with:` and `env:`
// interpolated as GitHub does, and run through the built action on a demo evaluation repo that
// commits its dataset file (evals/mini_interact.jsonl) and has no mini-interact data beside it.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { git } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, removeDir, runAction, TEST_KEYS, warnings } from '../helpers/action.js';
import { type Ctx, interpolate } from '../helpers/gha-expr.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SELF = 'org/bird-cloud-action@v1';

interface Step {
  uses?: string;
  with?: Record<string, string | number | boolean>;
  env?: Record<string, string>;
}
interface Workflow {
  permissions?: Record<string, string>;
  jobs: Record<string, { permissions?: Record<string, string>; steps?: Step[] }>;
}

/** The README's YAML block that uses the action. */
function readmeSnippet(): Workflow {
  const blocks = [...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes(`uses: ${SELF}\n`));
  if (!block) throw new Error(`README.md has no yaml block with uses: ${SELF}`);
  return parse(block) as Workflow;
}

const sources: Array<[string, () => Workflow]> = [
  ['the README minimal use', readmeSnippet],
  ['examples/pr-dry-run.yml', () => parse(readFileSync(join(ROOT, 'examples', 'pr-dry-run.yml'), 'utf8')) as Workflow],
];

function steps(doc: Workflow): Step[] {
  return Object.values(doc.jobs).flatMap((j) => j.steps ?? []);
}

/** What the step hands the action: each `with:` and `env:` value interpolated with these secrets. */
function asRun(step: Step, secrets: Record<string, string>): { inputs: Record<string, string>; env: Record<string, string> } {
  const ctx: Ctx = { secrets, vars: {}, inputs: {}, github: { event_name: 'pull_request' } };
  const each = (o: Record<string, string | number | boolean> = {}) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, interpolate(v, ctx)]));
  return { inputs: each(step.with), env: each(step.env) };
}

describe.each(sources)('%s runs as written', (_name, load) => {
  let repo: ReturnType<typeof demoRepo>;
  let step: Step;
  beforeAll(() => {
    const doc = load();
    const found = steps(doc).find((s) => s.uses === SELF);
    if (!found) throw new Error(`no step uses ${SELF}`);
    step = found;
    // The snippet's ids: the demo repo has these DBs, three ids each.
    repo = demoRepo(['alien', 'credit', 'households', 'polar'], 3);
    const dataset = String(step.with?.['dataset-file']);
    mkdirSync(join(repo.workspace, 'evals'), { recursive: true });
    copyFileSync(repo.datasetFile, join(repo.workspace, dataset));
    git(repo.workspace, ['add', '-A']);
    git(repo.workspace, ['commit', '-q', '-m', 'the dataset map']);
    // Nothing outside the checkout: the dry run must not need the mini-interact data.
    rmSync(repo.miniInteractRoot, { recursive: true });
  });
  afterAll(() => removeDir(repo.root));

  it('asks for no cloud: read-only contents, no id-token, a pinned checkout without kept credentials, a dry run', () => {
    const doc = load();
    const perms = [doc.permissions, ...Object.values(doc.jobs).map((j) => j.permissions)].filter((p) => p !== undefined);
    for (const p of perms) expect(p).toEqual({ contents: 'read' });
    const checkout = steps(doc).find((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkout?.uses).toMatch(/^actions\/checkout@[0-9a-f]{40}$/);
    expect(checkout?.with?.['persist-credentials']).toBe(false);
    expect(step.with?.['dry-run']).toBe(true);
    expect(steps(doc).map((s) => s.uses)).not.toContain(expect.stringMatching(/google-github-actions\/auth/));
  });

  it('passes with the key secrets set, and plans the DBs of its ids', async () => {
    const { inputs, env } = asRun(step, { ANTHROPIC_API_KEY: TEST_KEYS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_KEYS.OPENAI_API_KEY });
    const r = await runAction({ workspace: repo.workspace, inputs, env });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    const dbs = [...new Set(inputs['instance-ids'].split(',').map((id) => id.replace(/_\d+$/, '')))].sort();
    expect(JSON.parse(r.outputs.dbs)).toEqual(dbs);
    expect(warnings(r)).not.toContain('missing API key');
  });

  it('passes on a fork pull request (empty secrets), warning about the keys', async () => {
    const { inputs, env } = asRun(step, {});
    expect(env).toEqual({ ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' });
    const r = await runAction({ workspace: repo.workspace, inputs, env });
    expect(errors(r)).toBe('');
    expect(r.exitCode).toBe(0);
    expect(warnings(r)).toContain('missing API key env vars for job submission: ANTHROPIC_API_KEY');
  });
});

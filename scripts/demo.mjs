// The main job end to end on an embedded local default: a demo evaluation repo built from
// the repo's copy of the real SLayer fixtures, run through the built action as the runner does.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

setup();
const { makeDemoRepo } = await import('../tools/demo/demo-repo.mjs');
const { runStep } = await import('../tools/harness/run-action.mjs');

const dir = join(ROOT, '.tmp', 'demo');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const repo = makeDemoRepo({ dir, idsPerDb: 2 });
console.log(`demo: evaluation repo with ${repo.dbs.length} DBs and ${repo.allIds.length} instances at ${repo.workspace}`);

// Demo key values: the action reads keys from the environment and masks them.
const env = { ANTHROPIC_API_KEY: 'demo-anthropic-key', OPENAI_API_KEY: 'demo-openai-key' };
const inputs = {
  framework: 'pydantic_ai',
  'query-mode': 'slayer',
  mode: 'a-interact',
  'agent-model': 'anthropic/claude-sonnet-4-5',
  'instance-ids': repo.allIds.join(','),
  'dry-run': 'true',
};
const r = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs, env, runnerTemp: join(dir, 'runner-temp') });
process.stdout.write(r.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::')).join('\n'));
process.stderr.write(r.stderr);
console.log('\n--- job summary ---\n' + r.summary);
console.log('--- outputs ---');
for (const [k, v] of Object.entries(r.outputs)) console.log(`${k}: ${v}`);
if (r.exitCode !== 0) {
  console.error(`demo: the action failed (exit ${r.exitCode})`);
  process.exit(1);
}
const plan = JSON.parse(readFileSync(r.outputs['plan-file'], 'utf8'));
console.log(`\ndemo: dry run planned ${plan.artifacts.reduce((n, a) => n + a.files.length, 0)} files in ${plan.dbs.length} DBs; the plan is ${r.outputs['plan-file']}`);

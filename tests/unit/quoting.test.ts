// The entrypoint is a shell command (docs/reference/ray-jobs.md#entrypoint-and-environment): every argument must reach the
// in-cluster program exactly, whatever it holds. Proved with a real /bin/sh and a stub python.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildJobArgs, entrypoint } from '../../src/plan/job-args.js';
import type { RunManifest } from '../../src/plan/manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'quoting-'));
const stub = join(dir, 'python');
writeFileSync(stub, `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)));\n`);
chmodSync(stub, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nasty = [
  "it's",
  'say "hi"',
  '$(touch /tmp/pwned-by-bird)',
  '`id`',
  'a; rm -rf /',
  'line1\nline2',
  '  spaced  out  ',
  '$HOME ${PATH} \\ \\\\ * ? [a] ~ # & | < > !',
  '',
  '\'"\'"',
];

function manifestWith(v: string): RunManifest {
  return {
    run_id: v,
    framework: v,
    mode: v,
    query_mode: v,
    agent_model: v,
    user_sim_model: v,
    patience: 3,
    max_depth: 3,
    strict: true,
    use_audited_gold_sql: true,
    prompt_cache: true,
    slayer_setup: v,
    slayer_storage_root: v,
    render_inputs: { workers: 2, actors_per_worker: 3 } as RunManifest['render_inputs'],
  } as RunManifest;
}

function runThroughShell(cmd: string): string[] {
  return JSON.parse(execFileSync('/bin/sh', ['-c', cmd], { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env.PATH}` } })) as string[];
}

describe('entrypoint quoting through /bin/sh -c', () => {
  it.each(nasty.map((v) => [JSON.stringify(v), v]))('every string field survives %s', (_label, v) => {
    const args = buildJobArgs(manifestWith(v), 1, [v, `${v}-2`], { withSecrets: true });
    expect(runThroughShell(entrypoint('python app.py', args))).toEqual(['app.py', ...args]);
  });

  it('runs nothing that a value holds', () => {
    const marker = join(dir, 'pwned');
    const args = buildJobArgs(manifestWith(`$(touch ${marker})`), 1, [`\`touch ${marker}\``], { withSecrets: false });
    runThroughShell(entrypoint('python app.py', args));
    expect(() => execFileSync('test', ['-e', marker])).toThrow();
  });
});

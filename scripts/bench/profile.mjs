// Where the 27-DB submit spends its time: wall-clock phases from the arrival times of the action's log lines, and a
// V8 CPU profile (`node --cpu-prof`) of the built action, summed by category. Also the dry run after Node starts.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmtMs, fmtRuns, ROOT, runOurs, startStack, stats, submitInputs, table } from './common.mjs';

/** The dry run of 27 DBs, after Node starts. */
const DRY_GOAL_MS = 500;

/** Log lines that end each phase, in order. */
const MARKS = [
  { phase: 'Node start, bundle load, inputs, keys', re: /^::add-mask::/ },
  { phase: 'preflight: settings, git status, dataset, md5 of every file, plan', re: /^run id: / },
  { phase: 'plan printed, plan file, listing of the run prefix and the other remote checks', re: /^uploading \d+ files/ },
  { phase: 'upload and manifest', re: /^manifest committed: / },
  { phase: 'the printed command, outputs, summary, exit', re: null },
];

function phases(run) {
  const out = [];
  let from = 0;
  for (const m of MARKS) {
    const hit = m.re ? run.lines.find((l) => m.re.test(l.text)) : { t: run.ms };
    if (!hit) throw new Error(`profile: no log line for "${m.phase}"`);
    out.push(hit.t - from);
    from = hit.t;
  }
  return out;
}

/**
 * A `node` for the harness that writes a CPU profile into `dir`. A Node wrapper, not a shell script: sh drops the
 * runner's `INPUT_GCS-BUCKET`-style variables (not shell names), and NODE_OPTIONS refuses --cpu-prof.
 */
function profilingNode(dir) {
  mkdirSync(dir, { recursive: true });
  const wrapper = join(dir, 'node-cpu-prof.mjs');
  writeFileSync(
    wrapper,
    `#!${process.execPath}\nimport { spawnSync } from 'node:child_process';\n` +
      `const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', ${JSON.stringify(dir)}, '--cpu-prof-interval', '200', ...process.argv.slice(2)], { stdio: 'inherit' });\n` +
      'process.exit(r.status ?? 1);\n',
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/**
 * Where the SDK's pure-JS CRC32C `update` is in the bundle (it checksums every byte of a File.save upload with
 * validation 'crc32c'): the file of dist/ (the entry or a chunk ncc split off) and the 0-based line, found by its doc
 * comment; null if no file has it (the action's own uploads run none).
 */
function crc32cLine() {
  for (const f of readdirSync(join(ROOT, 'dist')).filter((x) => x.endsWith('.js'))) {
    const lines = readFileSync(join(ROOT, 'dist', f), 'utf8').split('\n');
    const doc = lines.findIndex((l) => l.includes('Calculates a CRC32C from a provided buffer'));
    if (doc >= 0) return { file: `dist/${f}`, line: lines.findIndex((l, i) => i > doc && /^\s*update\(/.test(l)) };
  }
  return null;
}

/** Self time of a .cpuprofile by category, in ms, and the heaviest functions of the bundle. */
function summarizeProfile(file) {
  const crcLine = crc32cLine();
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cats = new Map();
  const funcs = new Map();
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  const category = (id) => {
    const leaf = byId.get(id).callFrame;
    if (leaf.functionName === '(idle)') return 'idle: waiting on the network, git and timers';
    if (leaf.functionName === '(garbage collector)') return 'garbage collection';
    if (leaf.functionName === '(program)') return 'V8 and Node internals outside JS (compilation, bootstrap)';
    if (crcLine && leaf.url.endsWith(crcLine.file) && leaf.lineNumber === crcLine.line) return "CRC32C in JS (the SDK's validation of File.save uploads)";
    if (/internal\/crypto\/hash/.test(leaf.url) || (/^(update|digest)$/.test(leaf.functionName) && /crypto/.test(leaf.url))) return 'md5 hashing';
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur).callFrame;
      if (/^(walkDb|hashFile|md5File)$/.test(f.functionName)) return 'preflight file walk (stat, read)';
      if (/^(dirtyPaths|repoRoot|insideRepo|imageTag)$/.test(f.functionName)) return 'git';
      if (/^(uploadArtifacts|uploadOne|multipartUpload|attempt|send|initiate)$/.test(f.functionName)) return 'upload (request path, reads)';
      if (/^(commitManifest|probeRun|listRun|judgeRun|setupMismatches)$/.test(f.functionName)) return 'listing and manifest';
      if (f.functionName === '__nccwpck_require__' || /node:internal\/modules/.test(f.url)) return 'bundle load (module evaluation)';
    }
    return 'other JS: the SDK and HTTP client (run after an await, so no caller on the stack), settings, plan, logging';
  };
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    add(cats, category(p.samples[i]), us / 1000);
    const f = byId.get(p.samples[i]).callFrame;
    const bundle = /dist\/(\d+\.)?index\.js$/.exec(f.url);
    if (bundle) add(funcs, `${f.functionName || '(anonymous)'} (${bundle[0]}:${f.lineNumber + 1})`, us / 1000);
  }
  return {
    totalMs: (p.endTime - p.startTime) / 1000,
    cats: [...cats].sort((a, b) => b[1] - a[1]),
    top: [...funcs].sort((a, b) => b[1] - a[1]).slice(0, 8),
  };
}

/** Wall-clock phases of `runs` submits and one CPU profile, on one tree. */
async function profileTree(tree, runs, flags, node, dir, say) {
  const samples = [];
  let profile;
  const onStack = async (fn) => {
    const stack = await startStack(flags.latency);
    try {
      return await fn(stack);
    } finally {
      await stack.stop();
    }
  };
  const submit = (stack, bucket, n) =>
    runOurs({
      repo: tree.repo,
      node: n,
      inputs: submitInputs(tree.repo, { 'gcs-bucket': bucket, 'run-id': `bench-prof-${Date.now().toString(36)}` }),
      env: { STORAGE_EMULATOR_HOST: stack.proxy.url },
    });
  // The large tree gets a fresh emulator per run (it keeps every body on disk).
  const each =
    tree.kind === 'small'
      ? async (fn) =>
          onStack(async (stack) => {
            for (let i = 0; i <= runs; i++) await fn(stack, i);
          })
      : async (fn) => {
          for (let i = 0; i <= runs; i++) await onStack((stack) => fn(stack, i));
        };
  await each(async (stack, i) => {
    if (i === runs) {
      await submit(stack, await stack.bucket(), node);
      profile = summarizeProfile(
        join(
          dir,
          readdirSync(dir).find((f) => f.endsWith('.cpuprofile')),
        ),
      );
      for (const f of readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'))) rmSync(join(dir, f));
      return;
    }
    const r = await submit(stack, await stack.bucket());
    samples.push({ ms: r.ms, phases: phases(r) });
    say(`profile: ${tree.kind} tree submit run ${i + 1}/${runs}: ${fmtMs(r.ms)}`);
  });
  const total = stats(samples.map((s) => s.ms));
  const phaseRows = MARKS.map((m, k) => {
    const st = stats(samples.map((s) => s.phases[k]));
    return [m.phase, fmtRuns(st, fmtMs), `${((st.median / total.median) * 100).toFixed(0)}%`];
  });
  return { tree, runs, total, phaseRows, profile };
}

const catRows = (s) => s.cats.map(([c, v]) => [c, fmtMs(v), `${((v / s.totalMs) * 100).toFixed(0)}%`]);

export async function profileSubmit({ trees, flags, tmp, say }) {
  const dir = join(tmp, `cpu-prof-${Date.now()}`);
  const node = profilingNode(dir);
  const perTree = [];
  for (const tree of trees)
    perTree.push(await profileTree(tree, tree.kind === 'small' ? Math.max(3, flags.runs) : Math.max(1, flags.largeRuns), flags, node, dir, say));

  // The dry run: the profile starts before the bundle is loaded, so its length is the run after Node starts.
  const tree = trees[0];
  const runs = Math.max(3, flags.runs);
  const dryInputs = submitInputs(tree.repo, { 'dry-run': 'true', 'run-id': 'bench-dry' });
  const dryWall = [];
  const dryProf = [];
  const bare = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    bare.push(Number(process.hrtime.bigint() - t) / 1e6);
    dryWall.push((await runOurs({ repo: tree.repo, inputs: dryInputs })).ms);
    await runOurs({ repo: tree.repo, node, inputs: dryInputs });
    const f = readdirSync(dir).find((x) => x.endsWith('.cpuprofile'));
    dryProf.push(summarizeProfile(join(dir, f)));
    rmSync(join(dir, f));
  }
  rmSync(dir, { recursive: true, force: true });
  const dryAfter = stats(dryProf.map((d) => d.totalMs));
  const dryLoad = stats(dryProf.map((d) => d.cats.find(([c]) => c.startsWith('bundle load'))?.[1] ?? 0));
  const md = [
    '## Where the 27-DB submit spends its time',
    '',
    `The built action, a whole submit with cluster: none, runner-like network (${flags.latencyLabel}). ` +
      'Wall-clock phases: the arrival time of the log line that ends each phase, median (min–max) of the runs. ' +
      'CPU profile: one more such submit under `node --cpu-prof --cpu-prof-interval 200`, self time by category (a sample counts for the innermost phase function on its stack; idle is time the event loop waited). ' +
      'Command: `npm run bench -- --only profile`.',
    '',
    ...perTree.flatMap((t) => [
      `### ${t.tree.kind} tree (${t.tree.files} files, ${(t.tree.bytes / 1e6).toFixed(t.tree.bytes < 10e6 ? 2 : 0)} MB), ${t.runs} run(s)`,
      '',
      table(['phase (ends at the log line)', 'time', 'share'], [...t.phaseRows, ['whole submit, spawn to exit', fmtRuns(t.total, fmtMs), '100%']]),
      '',
      `CPU profile (${fmtMs(t.profile.totalMs)} profiled):`,
      '',
      table(['category', 'self time', 'share'], catRows(t.profile)),
      '',
      `Heaviest functions of the bundle by self time: ${t.profile.top.map(([f, v]) => `${f} ${fmtMs(v)}`).join('; ')}.`,
      '',
    ]),
    '### The dry run of 27 DBs after Node starts',
    '',
    `\`node dist/index.js\` with dry-run: true through tools/harness, ${runs} runs each: spawn to exit ${fmtRuns(stats(dryWall), fmtMs)}; \`node -e 0\` ${fmtRuns(stats(bare), fmtMs)}; ` +
      `measured after Node starts (the length of its CPU profile, which begins before the bundle is loaded; profiled runs, so slightly slower) **${fmtRuns(dryAfter, fmtMs)}**, of which bundle load ${fmtRuns(dryLoad, fmtMs)}. ` +
      (dryAfter.median < DRY_GOAL_MS
        ? `Goal (under ${fmtMs(DRY_GOAL_MS)} after Node starts): met.`
        : `Goal (under ${fmtMs(DRY_GOAL_MS)} after Node starts): missed by ${fmtMs(dryAfter.median - DRY_GOAL_MS)}.`),
    '',
    'Profile of one dry run by category:',
    '',
    table(['category', 'self time', 'share'], catRows([...dryProf].sort((a, b) => a.totalMs - b.totalMs)[Math.floor(dryProf.length / 2)])),
    '',
  ].join('\n');
  return { md, perTree };
}

// Where the 27-DB submit spends its time: wall-clock phases from the arrival times of the action's log lines, and a
// V8 CPU profile (`node --cpu-prof`) of the built action, summed by category. Also the dry run after Node starts.
import { chmodSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fmtMs, fmtRuns, runOurs, startStack, stats, submitInputs, table } from './common.mjs';

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

/** A `node` for the harness that writes a CPU profile into `dir`. */
function profilingNode(dir) {
  mkdirSync(dir, { recursive: true });
  const wrapper = join(dir, 'node-cpu-prof.sh');
  writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" --cpu-prof --cpu-prof-dir="${dir}" --cpu-prof-interval 200 "$@"\n`);
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Self time of a .cpuprofile by category, in ms, and the heaviest functions of the bundle. */
export function summarizeProfile(file) {
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
    if (/internal\/crypto\/hash/.test(leaf.url) || /^(update|digest)$/.test(leaf.functionName) && /crypto/.test(leaf.url)) return 'md5 hashing';
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur).callFrame;
      if (/^(walkDb|hashFile|md5File)$/.test(f.functionName)) return 'preflight file walk (stat, read)';
      if (/^(dirtyPaths|repoRoot|insideRepo|imageTag)$/.test(f.functionName)) return 'git';
      if (/^(uploadArtifacts|uploadOne)$/.test(f.functionName)) return 'upload (SDK request path, reads)';
      if (/^(commitManifest|probeRun)$/.test(f.functionName)) return 'listing and manifest';
      if (f.functionName === '__nccwpck_require__' || /node:internal\/modules/.test(f.url)) return 'bundle load (module evaluation)';
    }
    return 'other JS (settings, plan, logging, SDK, HTTP)';
  };
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i + 1] ?? 0;
    add(cats, category(p.samples[i]), us / 1000);
    const f = byId.get(p.samples[i]).callFrame;
    if (f.url.includes('dist/index.js')) add(funcs, `${f.functionName || '(anonymous)'} (dist/index.js:${f.lineNumber + 1})`, us / 1000);
  }
  return {
    totalMs: (p.endTime - p.startTime) / 1000,
    cats: [...cats].sort((a, b) => b[1] - a[1]),
    top: [...funcs].sort((a, b) => b[1] - a[1]).slice(0, 8),
  };
}

export async function profileSubmit({ trees, flags, tmp, say }) {
  const tree = trees[0];
  const runs = Math.max(3, flags.runs);
  const stack = await startStack(flags.latency);
  try {
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const r = await runOurs({ repo: tree.repo, inputs: submitInputs(tree.repo, { 'gcs-bucket': await stack.bucket(), 'run-id': `bench-prof-${Date.now().toString(36)}-${i}` }), env: { STORAGE_EMULATOR_HOST: stack.proxy.url } });
      samples.push({ ms: r.ms, phases: phases(r) });
      say(`profile: submit run ${i + 1}/${runs}: ${fmtMs(r.ms)}`);
    }
    const total = stats(samples.map((s) => s.ms));
    const phaseRows = MARKS.map((m, k) => {
      const st = stats(samples.map((s) => s.phases[k]));
      return [m.phase, fmtRuns(st, fmtMs), `${((st.median / total.median) * 100).toFixed(0)}%`];
    });

    const dir = join(tmp, `cpu-prof-${Date.now()}`);
    const node = profilingNode(dir);
    const clear = () => readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).forEach((f) => rmSync(join(dir, f)));
    const profileOf = () => join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')));
    await runOurs({ repo: tree.repo, node, inputs: submitInputs(tree.repo, { 'gcs-bucket': await stack.bucket(), 'run-id': `bench-cpuprof-${Date.now().toString(36)}` }), env: { STORAGE_EMULATOR_HOST: stack.proxy.url } });
    const submit = summarizeProfile(profileOf());
    clear();

    // The dry run: the profile starts once Node has bootstrapped, so its length is the run after Node starts.
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
      dryProf.push(summarizeProfile(profileOf()));
      clear();
    }
    rmSync(dir, { recursive: true, force: true });
    const dryAfter = stats(dryProf.map((d) => d.totalMs));
    const dryLoad = stats(dryProf.map((d) => d.cats.find(([c]) => c.startsWith('bundle load'))?.[1] ?? 0));
    const catRows = (s) => s.cats.map(([c, v]) => [c, fmtMs(v), `${((v / s.totalMs) * 100).toFixed(0)}%`]);
    const md = [
      '## Where the 27-DB submit spends its time',
      '',
      `The built action, a whole submit of the small tree (${tree.files} files) with cluster: none, runner-like network (${flags.latencyLabel}). ` +
        `Wall-clock phases: the arrival time of the log line that ends each phase, median (min–max) of ${runs} runs; command: \`npm run bench -- --only profile\`.`,
      '',
      table(['phase (ends at the log line)', 'time', 'share'], [...phaseRows, ['whole submit, spawn to exit', fmtRuns(total, fmtMs), '100%']]),
      '',
      `CPU profile of one such submit (\`node --cpu-prof --cpu-prof-interval 200 dist/index.js\` through tools/harness): ${fmtMs(submit.totalMs)} profiled, self time by category ` +
        '(a sample counts for the innermost phase function on its stack; idle is time the event loop waited):',
      '',
      table(['category', 'self time', 'share'], catRows(submit)),
      '',
      `Heaviest functions of the bundle by self time: ${submit.top.map(([f, v]) => `${f} ${fmtMs(v)}`).join('; ')}.`,
      '',
      `### The dry run of 27 DBs after Node starts`,
      '',
      `\`node dist/index.js\` with dry-run: true through tools/harness, ${runs} runs each: spawn to exit ${fmtRuns(stats(dryWall), fmtMs)}; \`node -e 0\` ${fmtRuns(stats(bare), fmtMs)}; ` +
        `measured after Node starts (the length of its CPU profile, which begins once Node has bootstrapped; profiled runs, so slightly slower) **${fmtRuns(dryAfter, fmtMs)}**, of which bundle load ${fmtRuns(dryLoad, fmtMs)}. ` +
        (dryAfter.median < 1000 ? 'Goal (under 1 s after Node starts): met.' : `Goal (under 1 s after Node starts): missed by ${fmtMs(dryAfter.median - 1000)}.`),
      '',
      'Profile of one dry run by category:',
      '',
      table(['category', 'self time', 'share'], catRows(dryProf[Math.floor(dryProf.length / 2)])),
      '',
    ].join('\n');
    return { md, phaseRows, submit };
  } finally {
    await stack.stop();
  }
}

// Upload columns side by side and the upload-concurrency table: each column a whole process, on one emulator per
// batch (small tree) or per run (large tree: the emulator keeps every body on disk), through the proxy with and
// without the latency mode.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { timedProcess } from '../../tools/bench/proc.mjs';
import { fmtMB, fmtMiB, fmtRuns, fmtS, ROOT, runOurs, startStack, stats, submitInputs, table } from './common.mjs';

const BENCH = join(ROOT, 'tools', 'bench');
const CONCURRENCIES = [8, 16, 32, 64, 100];
/** The action's default; the columns table runs ours at it. */
const OUR_DEFAULT = 32;
/** Goals of the whole-process submit against the columns of the same run, and the large tree's memory bound. */
const GOAL_VS_UCS = 0.5;
const GOAL_VS_RAW = 1.6;
const RSS_BOUND = 300e6;

/** The Python tier's interpreter, or why the column is skipped. */
export function findPython() {
  const py = process.env.BENCH_PYTHON || join(ROOT, 'tools', 'python', '.venv', 'bin', 'python');
  if (!existsSync(py)) return { skip: 'skipped: install with npm run setup' };
  const r = spawnSync(py, ['-c', 'import google.cloud.storage as s; print(s.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) return { skip: `skipped: ${relative(ROOT, py)} has no google-cloud-storage (install with npm run setup)` };
  return { python: py, version: r.stdout.trim() };
}

let seq = 0;
/** The gist of a failure for a table note: the action's error annotation, else the first line. */
function firstLine(e) {
  const text = e instanceof Error ? e.message : String(e);
  const annotation = /::error::([^\n]*)/.exec(text);
  return (annotation ? annotation[1] : text.split('\n')[0]).replace(/%0A/g, ' ').slice(0, 300);
}
const runId = (tag) => `bench-${tag}-${Date.now().toString(36)}-${seq++}`;

function checkCount(tree, stdout, what) {
  const last = stdout.trim().split('\n').pop() ?? '';
  let got;
  try {
    got = JSON.parse(last);
  } catch {
    throw new Error(`${what}: no result line:\n${stdout.slice(-2000)}`);
  }
  if (got.files !== tree.files || got.bytes !== tree.bytes)
    throw new Error(`${what}: uploaded ${got.files} files/${got.bytes} B, expected ${tree.files}/${tree.bytes}`);
}

/** @returns {{ key: string, label: string, command: string, skip?: string, run: Function }[]} */
function columns(python) {
  const node = (script, conc, label) => ({
    command: `node tools/bench/${script} --root <tree> --bucket <fresh> --prefix <p> --concurrency ${conc}`,
    run: async ({ tree, bucket, host }) => {
      const p = await timedProcess(
        process.execPath,
        [join(BENCH, script), '--root', tree.root, '--bucket', bucket, '--prefix', runId('p'), '--concurrency', String(conc)],
        { env: { ...process.env, STORAGE_EMULATOR_HOST: host } },
      );
      if (p.code !== 0) throw new Error(`${label} failed (exit ${p.code}):\n${p.stderr.slice(-3000)}`);
      checkCount(tree, p.stdout, label);
      return { ms: p.ms, peakRss: p.peakRss };
    },
  });
  return [
    {
      key: 'ours',
      label: 'ours',
      command: `node dist/index.js through tools/harness (a 27-DB submit: preflight, upload, manifest; cluster: none; upload-concurrency ${OUR_DEFAULT})`,
      run: ({ tree, bucket, host, concurrency = OUR_DEFAULT }) => runOursUpload(tree, bucket, host, concurrency),
    },
    { key: 'raw', label: 'raw ceiling', ...node('raw-upload.mjs', 32, 'raw ceiling') },
    { key: 'naive', label: 'naive SDK', ...node('naive-sdk.mjs', 8, 'naive SDK') },
    { key: 'ucs', label: 'upload-cloud-storage model', ...node('ucs-model.mjs', 100, 'UCS model') },
    python.skip
      ? {
          key: 'python',
          label: 'Python submitter model',
          command: 'tools/python/.venv/bin/python tools/bench/python_submitter.py',
          skip: python.skip,
          run: async () => ({}),
        }
      : {
          key: 'python',
          label: 'Python submitter model',
          command: `${process.env.BENCH_PYTHON ? '$BENCH_PYTHON' : 'tools/python/.venv/bin/python'} tools/bench/python_submitter.py --root <tree> --bucket <fresh> --prefix <p> --threads 32 (google-cloud-storage ${python.version})`,
          run: async ({ tree, bucket, host }) => {
            const p = await timedProcess(
              python.python,
              [join(BENCH, 'python_submitter.py'), '--root', tree.root, '--bucket', bucket, '--prefix', runId('py'), '--threads', '32'],
              { env: { ...process.env, STORAGE_EMULATOR_HOST: host } },
            );
            if (p.code !== 0) throw new Error(`Python model failed (exit ${p.code}):\n${p.stderr.slice(-3000)}`);
            checkCount(tree, p.stdout, 'Python model');
            return { ms: p.ms, peakRss: p.peakRss };
          },
        },
  ];
}

async function runOursUpload(tree, bucket, host, concurrency) {
  const r = await runOurs({
    repo: tree.repo,
    inputs: submitInputs(tree.repo, { 'gcs-bucket': bucket, 'run-id': runId('o'), 'upload-concurrency': String(concurrency) }),
    env: { STORAGE_EMULATOR_HOST: host },
  });
  if (r.outputs['uploaded-files'] !== String(tree.files)) throw new Error(`ours uploaded ${r.outputs['uploaded-files']} files, expected ${tree.files}`);
  return { ms: r.ms, peakRss: r.peakRss };
}

/**
 * Runs `fn(stack, i)` `runs` times on the given network: one stack for all runs of the small tree, a fresh one per
 * run of the large tree.
 */
async function onStacks(tree, latency, runs, fn) {
  let stack = tree.kind === 'small' ? await startStack(latency) : null;
  try {
    for (let i = 0; i < runs; i++) {
      if (tree.kind === 'large') stack = await startStack(latency);
      try {
        await fn(stack, i);
      } finally {
        if (tree.kind === 'large') await stack.stop();
      }
    }
  } finally {
    if (tree.kind === 'small') await stack.stop();
  }
}

const NETWORKS = (flags) => [
  { key: 'loopback', label: 'loopback (proxy, no latency)', latency: null },
  { key: 'runner', label: `runner-like (${flags.latencyLabel})`, latency: flags.latency },
];

/** Section 2: the columns. Returns the markdown and the raw samples (the concurrency table reuses ours at 32). */
export async function uploadColumns({ trees, flags, python, say }) {
  const cols = columns(python);
  const samples = new Map(); // `${tree}/${net}/${col}` → [{ms, peakRss, requests, bytesUp}]
  const failures = [];
  for (const tree of trees) {
    const runs = tree.kind === 'small' ? flags.runs : flags.largeRuns;
    for (const net of NETWORKS(flags)) {
      await onStacks(tree, net.latency, runs, async (stack, i) => {
        // Every column once per round, so a busy spell of the machine hits all of them alike.
        for (const col of cols) {
          if (col.skip) continue;
          const bucket = await stack.bucket();
          stack.proxy.resetStats();
          const k = `${tree.kind}/${net.key}/${col.key}`;
          if (!samples.has(k)) samples.set(k, []);
          let r;
          try {
            r = await col.run({ tree, bucket, host: stack.proxy.url });
          } catch (e) {
            // One failed run is a finding, not the end of the bench: the cell says how many failed and why.
            failures.push(`${k} run ${i + 1}: ${firstLine(e)}`);
            say(`upload ${k} run ${i + 1}/${runs} FAILED: ${firstLine(e)}`);
            continue;
          }
          const s = stack.proxy.stats;
          samples.get(k).push({ ...r, requests: s.seen, bytesUp: s.bytesUp });
          say(`upload ${k} run ${i + 1}/${runs}: ${fmtS(r.ms)}, ${s.seen} requests, peak RSS ${fmtMiB(r.peakRss)}`);
        }
      });
    }
  }

  const med = (k, f = (x) => x.ms) => (samples.get(k)?.length ? stats(samples.get(k).map(f)) : null);
  const failed = (k) => failures.filter((f) => f.startsWith(`${k} `)).length;
  const ratio = (a, b) => (a && b ? (a.median / b.median).toFixed(2) : 'n/a');
  const rows = [];
  const misses = [];
  for (const tree of trees) {
    for (const net of NETWORKS(flags)) {
      const cell = (c) => {
        if (c.skip) return c.skip;
        const k = `${tree.kind}/${net.key}/${c.key}`;
        const st = med(k);
        const f = failed(k);
        return `${st ? fmtRuns(st) : ''}${f ? ` (${f} run(s) failed)` : ''}`;
      };
      const oursSt = med(`${tree.kind}/${net.key}/ours`);
      const rawSt = med(`${tree.kind}/${net.key}/raw`);
      rows.push([
        `${tree.kind} (${tree.files} files, ${fmtMB(tree.bytes)})`,
        net.label,
        ...cols.map(cell),
        ratio(oursSt, med(`${tree.kind}/${net.key}/ucs`)),
        ratio(oursSt, rawSt),
      ]);
      const ours = oursSt?.median ?? NaN;
      const raw = rawSt?.median ?? NaN;
      const ucs = med(`${tree.kind}/${net.key}/ucs`)?.median ?? NaN;
      if (ours / raw > GOAL_VS_RAW)
        misses.push(
          `${tree.kind} tree, ${net.key}: ours/raw ${(ours / raw).toFixed(2)}, the goal is ≤ ${GOAL_VS_RAW}: ${fmtS(ours - raw * GOAL_VS_RAW)} too slow`,
        );
      if (ours / ucs > GOAL_VS_UCS)
        misses.push(
          `${tree.kind} tree, ${net.key}: ours/UCS ${(ours / ucs).toFixed(2)}, the goal is ≤ ${GOAL_VS_UCS}: ${fmtS(ours - ucs * GOAL_VS_UCS)} too slow`,
        );
    }
  }
  const traffic = [];
  const rssRows = [];
  for (const tree of trees) {
    traffic.push([
      tree.kind,
      ...cols.map((c) => {
        const s = samples.get(`${tree.kind}/runner/${c.key}`);
        return s?.length ? `${s[0].requests} req, ${fmtMB(s[0].bytesUp)}` : (c.skip ?? 'no run');
      }),
    ]);
    rssRows.push([
      tree.kind,
      ...cols.map((c) => {
        const st = med(`${tree.kind}/runner/${c.key}`, (x) => x.peakRss);
        return st ? fmtRuns(st, fmtMiB) : (c.skip ?? '');
      }),
    ]);
  }
  // The memory bound: every run of ours on the large tree, on either network, under RSS_BOUND.
  const largeRss = NETWORKS(flags).flatMap((n) => (samples.get(`large/${n.key}/ours`) ?? []).map((x) => x.peakRss));
  const rssCheck = largeRss.length
    ? `Memory: the highest peak RSS of ours on the large tree (${largeRss.length} run(s), both networks) is ${fmtMiB(Math.max(...largeRss))} (${fmtMB(Math.max(...largeRss))}); ` +
      (Math.max(...largeRss) < RSS_BOUND
        ? `the bound is ${fmtMB(RSS_BOUND)}: **met**.`
        : `the bound is ${fmtMB(RSS_BOUND)}: **missed** by ${fmtMB(Math.max(...largeRss) - RSS_BOUND)}.`)
    : 'Memory: the large tree was not run.';
  const runsText = trees.map((t) => `${t.kind} tree: ${t.kind === 'small' ? flags.runs : flags.largeRuns} run(s) per cell`).join(', ');
  const md = [
    '## Upload: ours against the alternatives, side by side',
    '',
    `Each cell: wall time of the whole process from spawn to exit, median (min–max) of several runs (${runsText}), each run into a fresh bucket. ` +
      'All columns run in the same round, one after another, on the same GCS emulator (one per network for the small tree, a fresh one per run for the large tree) and through the same proxy (tools/fault-proxy): ' +
      `"loopback" is the proxy with no latency, "runner-like" adds ${flags.latencyLabel}. ` +
      `The large tree is the small one plus one ${fmtMiB(40 * 2 ** 20)} file of random bytes in each DB, generated at bench time in a temp dir. ` +
      'ours/UCS and ours/raw are ratios of the medians (below 1: ours is faster).',
    '',
    table(['tree', 'network', ...cols.map((c) => c.label), 'ours/UCS', 'ours/raw'], rows),
    '',
    'Commands (STORAGE_EMULATOR_HOST = the proxy):',
    '',
    ...cols.map((c) => `- ${c.label}: \`${c.command}\``),
    '',
    'Requests and request-body bytes each column sent for one upload (runner-like, first run; the proxy counts them):',
    '',
    table(['tree', ...cols.map((c) => c.label)], traffic),
    '',
    'Peak RSS of each process (VmHWM sampled from /proc every 10 ms; runner-like network):',
    '',
    table(['tree', ...cols.map((c) => c.label)], rssRows),
    '',
    rssCheck,
    '',
    failures.length ? `Failed runs (left out of the medians):\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : '',
    misses.length
      ? `Goals missed:\n\n${misses.map((m) => `- ${m}`).join('\n')}\n`
      : `Goals met: ours at most ${GOAL_VS_RAW}× the raw ceiling and ${GOAL_VS_UCS}× the upload-cloud-storage model everywhere.\n`,
    'Why ours is slower than the raw ceiling (see the profile section for the figures): it is a whole submit, not only an upload: Node start and the bundle load, ' +
      'the preflight (git status, an md5 of every file), and the remote checks (bucket, listing of the run prefix) come before the first upload and the manifest after the last. ' +
      'Small files: one multipart POST per file (the md5 declared in its metadata part) where raw sends one media POST, through the retry wrapper and the upload pool, whose CPU per request shows when requests are many and small; the emulator parses each multipart body and checks its md5 on the same cores. ' +
      "Large files: streamed from disk as a resumable session (one more round trip to open it) with the preflight's md5 declared for the server to check, not hashed again and with no client-side CRC32C, " +
      'all on the same two cores as the emulator, which verifies the md5 of every body. ' +
      'The other columns do less: raw hashes nothing, the SDK columns skip the preflight and the create-only checks, UCS gzips (fewer bytes on the small tree, much CPU on incompressible large files).',
    '',
  ].join('\n');
  return { md, samples };
}

/** Section 3: ours at each upload-concurrency, runner-like network, both trees. */
export async function concurrencyTable({ trees, flags, say, samples }) {
  const res = new Map();
  const failures = [];
  const st = (k, f) => (res.get(k).length ? stats(res.get(k).map(f)) : { n: 0, median: NaN, min: NaN, max: NaN, mean: NaN });
  for (const tree of trees) {
    const runs = tree.kind === 'small' ? flags.runs : flags.largeRuns;
    for (const c of CONCURRENCIES) {
      const k = `${tree.kind}/${c}`;
      const reuse = c === OUR_DEFAULT ? samples?.get(`${tree.kind}/runner/ours`) : undefined;
      if (reuse) {
        res.set(k, reuse);
        continue;
      }
      res.set(k, []);
      await onStacks(tree, flags.latency, runs, async (stack, i) => {
        let r;
        try {
          r = await runOursUpload(tree, await stack.bucket(), stack.proxy.url, c);
        } catch (e) {
          failures.push(`${k} run ${i + 1}: ${firstLine(e)}`);
          say(`concurrency ${k} run ${i + 1}/${runs} FAILED: ${firstLine(e)}`);
          return;
        }
        res.get(k).push(r);
        say(`concurrency ${k} run ${i + 1}/${runs}: ${fmtS(r.ms)}, peak RSS ${fmtMiB(r.peakRss)}`);
      });
    }
  }
  const rows = CONCURRENCIES.map((c) => [
    String(c),
    ...trees.flatMap((t) => {
      const k = `${t.kind}/${c}`;
      const time = st(k, (x) => x.ms);
      const rss = st(k, (x) => x.peakRss);
      const f = failures.filter((x) => x.startsWith(`${k} `)).length;
      if (!time.n) return [`all ${f} run(s) failed`, '', ''];
      return [`${fmtRuns(time)}${f ? ` (${f} run(s) failed)` : ''}`, `${(t.bytes / (time.median / 1000) / 1e6).toFixed(1)} MB/s`, fmtMiB(rss.median)];
    }),
  ]);
  const best = trees.map((t) => {
    const by = CONCURRENCIES.map((c) => ({ c, ms: st(`${t.kind}/${c}`, (x) => x.ms).median, rss: st(`${t.kind}/${c}`, (x) => x.peakRss).median })).filter(
      (x) => !Number.isNaN(x.ms),
    );
    const fastest = by.reduce((a, b) => (b.ms < a.ms ? b : a));
    return { tree: t.kind, fastest, by };
  });
  // The value whose worst slowdown against the fastest of each tree is smallest (the smaller value on a tie).
  const slowdown = (c) => Math.max(...best.map((b) => (b.by.find((x) => x.c === c)?.ms ?? Infinity) / b.fastest.ms));
  const choice = CONCURRENCIES.reduce((a, c) => (slowdown(c) < slowdown(a) ? c : a));
  const large = best.find((b) => b.tree === 'large');
  return {
    md: [
      '## upload-concurrency of ours (runner-like network)',
      '',
      `The whole submit as in the columns table (\`node dist/index.js\` through tools/harness, cluster: none), with \`upload-concurrency\` set; ${flags.latencyLabel}; median (min–max) of the runs; the ${OUR_DEFAULT} row is the "ours" cell of the table above. Peak RSS is the median of the runs.`,
      '',
      table(['upload-concurrency', ...trees.flatMap((t) => [`${t.kind}: time`, `${t.kind}: rate`, `${t.kind}: peak RSS`])], rows),
      '',
      ...best.map((b) => `- ${b.tree} tree: fastest at ${b.fastest.c} (${fmtS(b.fastest.ms)}); ${b.by.map((x) => `${x.c}: ${fmtS(x.ms)}`).join(', ')}.`),
      `- The smallest worst-case slowdown against the fastest on ${trees.length > 1 ? 'each tree' : 'the small tree (the large one was not run)'}: **${choice}** (${slowdown(choice).toFixed(2)}× the fastest at worst)` +
        (choice !== undefined && large ? ` (large tree peak RSS there: ${fmtMiB(large.by.find((x) => x.c === choice).rss)}).` : '.'),
      '',
      ...(failures.length ? ['Failed runs (left out of the medians):', '', ...failures.map((f) => `- ${f}`), ''] : []),
    ].join('\n'),
    best,
    choice,
  };
}

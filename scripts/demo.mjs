// The main job end to end on an embedded local default: a demo evaluation repo built from the
// repo's copy of the real SLayer fixtures, submitted through the built action as the runner
// does, against a real GCS JSON-API emulator on loopback and a Ray engine. Where the Python
// tier is installed (`npm run setup` does it when python3 is present) the engine is a real
// single-node Ray head on loopback running the in-cluster stand-in
// (tools/ray-real/standin/ray_app.py) as a real Ray job; elsewhere it is the Ray Jobs API
// simulator running the demo worker (tools/ray-sim/README.md says what that does not prove).
// BIRD_DEMO_ENGINE=sim forces the simulator.
//
// The step's log streams as it runs, shown as the runner's page shows it: each group a heading
// with its lines folded (BIRD_DEMO_VERBOSE=1 unfolds them; RUNNER_DEBUG=1 adds the debug lines).
// The job summary goes to .tmp/demo/summary.md with an HTML rendering beside it, and the run's
// objects are copied to .tmp/demo/bucket/ before the emulator stops, so they can be read after.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT, setup } from './setup.mjs';

const started = process.hrtime.bigint();
const elapsedMs = () => Number(process.hrtime.bigint() - started) / 1e6;
let printed = 0;
let firstLineMs = -1;
/** Every line the demo prints goes through here, so it can say how many it printed and how soon. */
const say = (/** @type {string} */ text) => {
  if (firstLineMs < 0) firstLineMs = elapsedMs();
  printed += text.split('\n').length;
  console.log(text);
};
say('demo: setting up (npm run setup; the first time installs the dependencies) ...');

setup();
const { makeDemoRepo } = await import('../tools/demo/demo-repo.mjs');
const { consoleView, startStep } = await import('../tools/harness/run-action.mjs');
const { startEmulator } = await import('../tools/gcs-emulator/launch.mjs');
const { startRaySim } = await import('../tools/ray-sim/server.mjs');
const { RAY, VENV_PYTHON, startRayHead } = await import('../tools/ray-real/launch.mjs');

const BUCKET = 'bird-demo-runs';
const dir = join(ROOT, '.tmp', 'demo');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const repo = makeDemoRepo({ dir, idsPerDb: 2 });
say(`demo: evaluation repo with ${repo.dbs.length} DBs and ${repo.allIds.length} instances at ${relative(process.cwd(), repo.workspace)}`);

const emu = await startEmulator({ buckets: [BUCKET] });
say(`demo: GCS emulator at ${emu.url} with bucket ${BUCKET}`);
const real = process.env.BIRD_DEMO_ENGINE !== 'sim' && existsSync(RAY);
/** @type {{ url: string, prefix: string, runtimeEnv: Record<string, unknown> | null, close: () => Promise<void> }} */
let engine;
if (real) {
  // A real Ray head; its jobs inherit STORAGE_EMULATOR_HOST, the rest comes in the job's runtime_env.
  say('demo: starting a local Ray head (tools/python/.venv) ...');
  const head = await startRayHead({ env: { STORAGE_EMULATOR_HOST: emu.url } });
  say(`demo: engine: real Ray, a single-node head at ${head.url}, running the in-cluster stand-in as a Ray job`);
  engine = {
    url: head.url,
    prefix: `${VENV_PYTHON} ${join(ROOT, 'tools', 'ray-real', 'standin', 'ray_app.py')}`,
    runtimeEnv: {
      env_vars: {
        BIRD_RUNS_BUCKET: BUCKET,
        BIRD_DATA_PATH: repo.datasetFile,
        BIRD_STANDIN_HEARTBEAT_S: '1',
        BIRD_STANDIN_EXPECT_SECRET_KEYS: 'ANTHROPIC_API_KEY',
      },
    },
    close: head.stop,
  };
} else {
  // The simulated cluster: each job runs the demo worker, which writes rows to the emulator.
  const sim = await startRaySim({
    env: {
      BIRD_RUNS_BUCKET: BUCKET,
      STORAGE_EMULATOR_HOST: emu.url,
      BIRD_DATA_PATH: repo.datasetFile,
      BIRD_DEMO_ROW_DELAY_MS: '60',
      BIRD_DEMO_HEARTBEAT_MS: '1000',
    },
  });
  const why =
    process.env.BIRD_DEMO_ENGINE === 'sim' ? 'BIRD_DEMO_ENGINE=sim' : 'Ray is not installed here (npm run setup installs it where python3 is present)';
  say(`demo: engine: the Ray Jobs API simulator at ${sim.url} (${why}); a stand-in for a cluster, not a cluster`);
  engine = { url: sim.url, prefix: `${process.execPath} ${join(ROOT, 'tools', 'ray-sim', 'demo-worker.mjs')}`, runtimeEnv: null, close: () => sim.close() };
}

/** Copies every object under `prefix` to `<dest>/<name>` (names checked to stay inside `dest`). */
async function mirror(prefix, dest) {
  const list = await fetch(`${emu.url}/b/${BUCKET}/o?prefix=${encodeURIComponent(prefix)}&fields=items(name)`);
  const names = ((await list.json()).items ?? []).map((/** @type {{ name: string }} */ i) => i.name);
  for (const name of names) {
    const file = join(dest, name);
    if (relative(dest, file).startsWith('..')) continue;
    const res = await fetch(`${emu.url}/download/storage/v1/b/${BUCKET}/o/${encodeURIComponent(name)}?alt=media`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  }
  return names;
}

let failed = false;
try {
  // Demo key values: the action reads keys from the environment and masks them.
  const env = { ANTHROPIC_API_KEY: 'demo-anthropic-key', OPENAI_API_KEY: 'demo-openai-key', STORAGE_EMULATOR_HOST: emu.url };
  const inputs = {
    framework: 'pydantic_ai',
    'query-mode': 'slayer',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': repo.allIds.join(','),
    'gcs-bucket': BUCKET,
    cluster: 'existing',
    'ray-address': engine.url,
    'entrypoint-prefix': engine.prefix,
    wait: 'true',
    'poll-interval-seconds': '1',
    ...(engine.runtimeEnv ? { 'runtime-env': JSON.stringify(engine.runtimeEnv), 'cluster-scratch-root': join(dir, 'data') } : {}),
  };
  say('demo: running the action (dist/index.js) as the runner does; its log follows\n');
  const debug = process.env.RUNNER_DEBUG === '1' || process.env.ACTIONS_STEP_DEBUG === 'true';
  const show = consoleView({ debug, fold: process.env.BIRD_DEMO_VERBOSE !== '1' });
  const step = startStep({
    actionDir: ROOT,
    workspace: repo.workspace,
    inputs,
    env: { ...env, ...(debug ? { RUNNER_DEBUG: '1' } : {}) },
    runnerTemp: join(dir, 'runner-temp'),
  });
  const lines = createInterface({ input: /** @type {import('node:stream').Readable} */ (step.child.stdout) });
  lines.on('line', (line) => {
    for (const out of show(line)) say(`  ${out}`);
  });
  const r = await step.result;
  if (r.stderr.trim()) process.stderr.write(r.stderr);

  const summaryFile = join(dir, 'summary.md');
  writeFileSync(summaryFile, r.summary);
  const { writeMarkdownPage } = await import('../tools/render/markdown.mjs');
  const htmlFile = writeMarkdownPage(r.summary, join(dir, 'summary.html'), { title: 'bird-cloud-action demo: job summary' });
  say('');
  if (r.exitCode !== 0) {
    failed = true;
    say(`demo: the action failed (exit ${r.exitCode})`);
  } else {
    const runId = r.outputs['run-id'];
    const bucketDir = join(dir, 'bucket');
    const names = await mirror(`runs/${runId}/`, bucketDir);
    const runDir = relative(process.cwd(), join(bucketDir, 'runs', runId));
    say(
      `demo: outputs: run-id ${runId}, ${r.outputs['uploaded-files']} files uploaded, job ${r.outputs['job-status']}, phase-1 rate ${r.outputs['phase1-rate']} (the phase1-rate output)`,
    );
    say(`demo: the job summary is ${relative(process.cwd(), summaryFile)} (open ${relative(process.cwd(), htmlFile)} in a browser)`);
    say(`demo: the ${names.length} objects the run wrote to gs://${BUCKET}/runs/${runId}/ are copied to ${runDir}/; look at them with`);
    say(`  find ${runDir} -maxdepth 3 | head -20`);
    say(`  cat ${runDir}/manifest.json`);
    say(`  on real GCS: gcloud storage ls --recursive gs://<bucket>/runs/${runId}/`);
  }
  say(`demo: engine used: ${real ? 'real Ray (local single-node head)' : 'Ray Jobs API simulator'}`);
} finally {
  await engine.close();
  await emu.stop();
}
say(`demo: ${printed + 1} lines printed, the first after ${Math.round(firstLineMs)} ms, in ${(elapsedMs() / 1000).toFixed(1)} s`);
process.exit(failed ? 1 : 0);

// The main job end to end on an embedded local default: a demo evaluation repo built from the
// repo's copy of the real SLayer fixtures, submitted through the built action as the runner
// does, against a real GCS JSON-API emulator on loopback and a Ray engine. Where the Python
// tier is installed (`npm run setup` does it when python3 is present) the engine is a real
// single-node Ray head on loopback running the in-cluster stand-in
// (tools/ray-real/standin/ray_app.py) as a real Ray job; elsewhere it is the Ray Jobs API
// simulator running the demo worker (tools/ray-sim/README.md says what that does not prove).
// BIRD_DEMO_ENGINE=sim forces the simulator.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, setup } from './setup.mjs';

setup();
const { makeDemoRepo } = await import('../tools/demo/demo-repo.mjs');
const { runStep } = await import('../tools/harness/run-action.mjs');
const { startEmulator } = await import('../tools/gcs-emulator/launch.mjs');
const { startRaySim } = await import('../tools/ray-sim/server.mjs');
const { RAY, VENV_PYTHON, startRayHead } = await import('../tools/ray-real/launch.mjs');

const BUCKET = 'bird-demo-runs';
const dir = join(ROOT, '.tmp', 'demo');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const repo = makeDemoRepo({ dir, idsPerDb: 2 });
console.log(`demo: evaluation repo with ${repo.dbs.length} DBs and ${repo.allIds.length} instances at ${repo.workspace}`);

const emu = await startEmulator({ buckets: [BUCKET] });
console.log(`demo: GCS emulator at ${emu.url} with bucket ${BUCKET}`);
const real = process.env.BIRD_DEMO_ENGINE !== 'sim' && existsSync(RAY);
/** @type {{ url: string, prefix: string, runtimeEnv: Record<string, unknown> | null, close: () => Promise<void> }} */
let engine;
if (real) {
  // A real Ray head; its jobs inherit STORAGE_EMULATOR_HOST, the rest comes in the job's runtime_env.
  console.log('demo: starting a local Ray head (tools/python/.venv) ...');
  const head = await startRayHead({ env: { STORAGE_EMULATOR_HOST: emu.url } });
  const version = (await (await fetch(`${head.url}/api/version`)).json()).ray_version;
  console.log(`demo: engine: real Ray ${version}, a single-node head at ${head.url} (GCS ${head.gcsAddress}), running the in-cluster stand-in as a Ray job`);
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
  console.log(`demo: engine: the Ray Jobs API simulator at ${sim.url} (${why}); a stand-in for a cluster, not a cluster`);
  engine = { url: sim.url, prefix: `${process.execPath} ${join(ROOT, 'tools', 'ray-sim', 'demo-worker.mjs')}`, runtimeEnv: null, close: () => sim.close() };
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
  const r = await runStep({ actionDir: ROOT, workspace: repo.workspace, inputs, env, runnerTemp: join(dir, 'runner-temp') });
  // The runner hides ::add-mask:: lines and file lists; show the rest of the log.
  const log = r.stdout.split('\n').filter((l) => !l.startsWith('::add-mask::') && !/^ {2}\S+ {2}\d+ B {2}md5=/.test(l));
  console.log(log.join('\n'));
  process.stderr.write(r.stderr);
  console.log(`--- job summary ---\n${r.summary}`);
  console.log('--- outputs ---');
  for (const [k, v] of Object.entries(r.outputs)) console.log(`${k}: ${k === 'dbs' ? `${JSON.parse(v).length} DBs` : v}`);
  if (r.exitCode !== 0) {
    failed = true;
    console.error(`demo: the action failed (exit ${r.exitCode})`);
  } else {
    const runId = r.outputs['run-id'];
    const list = await fetch(`${emu.url}/b/${BUCKET}/o?prefix=${encodeURIComponent(`runs/${runId}/`)}&fields=items(name)`);
    const names = ((await list.json()).items ?? []).map((i) => i.name);
    console.log(`\ndemo: ${names.length} objects under gs://${BUCKET}/runs/${runId}/ , e.g.`);
    const pick = (re) => names.find((n) => re.test(n));
    for (const n of [pick(/manifest\.json$/), pick(/status\.json$/), pick(/slayer_setup\/.*\/alien\//), pick(/\/rows\//), pick(/\/logs\//)].filter(Boolean))
      console.log(`  gs://${BUCKET}/${n}`);
    console.log(`\nList them yourself while an emulator runs (node tools/gcs-emulator/start.cjs):`);
    console.log(
      `  curl -s "$STORAGE_EMULATOR_HOST/b/${BUCKET}/o?prefix=runs/${runId}/" | node -e "for (const i of JSON.parse(require('fs').readFileSync(0)).items) console.log(i.name)"`,
    );
    console.log(`and on real GCS: gcloud storage ls -r gs://<bucket>/runs/${runId}/`);
    const plan = JSON.parse(readFileSync(r.outputs['plan-file'], 'utf8'));
    console.log(`demo: the plan is ${r.outputs['plan-file']} (${plan.dbs.length} DBs)`);
  }
  console.log(`demo: engine used: ${real ? 'real Ray (local single-node head)' : 'Ray Jobs API simulator'}`);
} finally {
  await engine.close();
  await emu.stop();
}
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// @ts-check
// A stand-in for the in-cluster runner `ray_app.py` (docs/conformance.md), for the simulator demo and tests: set
// the action's entrypoint prefix to `node <abs path>/tools/ray-sim/demo-worker.mjs`.
//
// It takes exactly the real runner's flags (argparse-style: `--flag value` or `--flag=value`, unknown flags → exit
// 2), reads and deletes the secrets file without ever printing a value, then for every instance id
// writes a result row and a log to the runs bucket and heartbeats `status.json`.
// It evaluates nothing: outcomes are scripted (BIRD_DEMO_OUTCOMES) or a deterministic function of the
// instance id.
//
// Environment:
//   BIRD_RUNS_BUCKET         the GCS bucket (required); STORAGE_EMULATOR_HOST is honoured
//   BIRD_DATA_PATH           optional JSONL dataset: lines {instance_id, selected_database}
//   BIRD_DEMO_OUTCOMES       optional JSON map iid → "pass" | "phase1" | "fail" | "error" | "hang"
//   BIRD_DEMO_ROW_DELAY_MS   optional delay before each row (default 0)
//   BIRD_DEMO_HEARTBEAT_MS   status.json heartbeat period (default 30000, like the real runner)
//   GOOGLE_CLOUD_PROJECT     optional project id for the Storage client
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isMainModule } from '../lib/process.mjs';

const PROG = 'ray_app.py';
export const FRAMEWORKS = Object.freeze(['claude_sdk', 'pydantic_ai', 'pydantic_ai_recursive', 'pydantic_ai_otf_encode', 'mcp_agent', 'agno', 'smolagents']);
export const OUTCOMES = Object.freeze(['pass', 'phase1', 'fail', 'error', 'hang']);

/**
 * @typedef {{ dest: string, kind: 'str' | 'int' | 'true' | 'false', required?: boolean,
 *   choices?: readonly string[], default?: string | number | boolean }} FlagSpec
 */

/** The real runner's flags, in order (tools/ray-real/standin/ray_app.py has the same set). @type {Record<string, FlagSpec>} */
const FLAGS = {
  '--run-id': { dest: 'runId', kind: 'str', required: true },
  '--attempt': { dest: 'attempt', kind: 'int', required: true },
  '--ray-job-id': { dest: 'rayJobId', kind: 'str', default: 'unknown' },
  '--framework': { dest: 'framework', kind: 'str', required: true, choices: FRAMEWORKS },
  '--query-mode': { dest: 'queryMode', kind: 'str', required: true, choices: ['raw', 'slayer'] },
  '--mode': { dest: 'mode', kind: 'str', required: true, choices: ['a-interact', 'c-interact', 'oracle'] },
  '--agent-model': { dest: 'agentModel', kind: 'str', required: true },
  '--user-sim-model': { dest: 'userSimModel', kind: 'str', default: 'anthropic/claude-haiku-4-5-20251001' },
  '--patience': { dest: 'patience', kind: 'int', default: 3 },
  '--max-depth': { dest: 'maxDepth', kind: 'int', default: 3 },
  '--num-actors': { dest: 'numActors', kind: 'int', default: 1 },
  '--instance-ids': { dest: 'instanceIds', kind: 'str', required: true },
  '--strict': { dest: 'strict', kind: 'true', default: false },
  '--use-audited-gold-sql': { dest: 'useAuditedGoldSql', kind: 'true', default: false },
  '--prompt-cache': { dest: 'promptCache', kind: 'true', default: true },
  '--no-prompt-cache': { dest: 'promptCache', kind: 'false' },
  '--slayer-setup': { dest: 'slayerSetup', kind: 'str', default: 'pre-encoded', choices: ['pre-encoded', 'on-the-fly'] },
  '--slayer-storage-root': { dest: 'slayerStorageRoot', kind: 'str', default: '/data/slayer_models' },
  '--secrets-file': { dest: 'secretsFile', kind: 'str' },
};

/**
 * @typedef {{
 *   runId: string, attempt: number, rayJobId: string, framework: string, queryMode: string, mode: string,
 *   agentModel: string, userSimModel: string, patience: number, maxDepth: number, numActors: number,
 *   instanceIds: string[], strict: boolean, useAuditedGoldSql: boolean, promptCache: boolean,
 *   slayerSetup: string, slayerStorageRoot: string, secretsFile: string | null
 * }} WorkerArgs
 */

export class UsageError extends Error {}

const USAGE = `usage: ${PROG} [-h] --run-id RUN_ID --attempt ATTEMPT [--ray-job-id RAY_JOB_ID] --framework FRAMEWORK
                 --query-mode {raw,slayer} --mode {a-interact,c-interact,oracle} --agent-model AGENT_MODEL
                 [--user-sim-model USER_SIM_MODEL] [--patience PATIENCE] [--max-depth MAX_DEPTH]
                 [--num-actors NUM_ACTORS] --instance-ids INSTANCE_IDS [--strict] [--use-audited-gold-sql]
                 [--prompt-cache | --no-prompt-cache] [--slayer-setup {pre-encoded,on-the-fly}]
                 [--slayer-storage-root SLAYER_STORAGE_ROOT] [--secrets-file SECRETS_FILE]`;

/**
 * argparse-like parsing of exactly the real runner's flags. Throws UsageError with argparse's wording.
 * (argparse's prefix abbreviations are not accepted.)
 * @param {readonly string[]} argv
 * @returns {WorkerArgs | 'help'}
 */
export function parseWorkerArgs(argv) {
  /** @type {Record<string, unknown>} */
  const out = {};
  /** @type {string[]} */
  const extras = [];
  const seen = new Set();
  for (let i = 0; i < argv.length; i++) {
    const tok = argv[i];
    if (tok === '-h' || tok === '--help') return 'help';
    const eq = tok.startsWith('--') ? tok.indexOf('=') : -1;
    const flag = eq > 0 ? tok.slice(0, eq) : tok;
    const spec = Object.hasOwn(FLAGS, flag) ? FLAGS[flag] : undefined;
    if (!spec) {
      extras.push(tok);
      continue;
    }
    seen.add(spec.dest);
    if (spec.kind === 'true' || spec.kind === 'false') {
      if (eq > 0) throw new UsageError(`argument ${flag}: ignored explicit argument '${tok.slice(eq + 1)}'`);
      out[spec.dest] = spec.kind === 'true';
      continue;
    }
    /** @type {string} */
    let value;
    if (eq > 0) value = tok.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && !/^-\d/.test(next) && next !== '-')) {
        throw new UsageError(`argument ${flag}: expected one argument`);
      }
      value = next;
      i++;
    }
    if (spec.kind === 'int') {
      if (!/^\s*[-+]?\d+\s*$/.test(value)) throw new UsageError(`argument ${flag}: invalid int value: '${value}'`);
      out[spec.dest] = Number.parseInt(value, 10);
    } else {
      if (spec.choices && !spec.choices.includes(value)) {
        throw new UsageError(`argument ${flag}: invalid choice: '${value}' (choose from ${spec.choices.map((c) => `'${c}'`).join(', ')})`);
      }
      out[spec.dest] = value;
    }
  }
  const missing = Object.entries(FLAGS)
    .filter(([, s]) => s.required && !seen.has(s.dest))
    .map(([f]) => f);
  if (missing.length > 0) throw new UsageError(`the following arguments are required: ${missing.join(', ')}`);
  if (extras.length > 0) throw new UsageError(`unrecognized arguments: ${extras.join(' ')}`);
  for (const s of Object.values(FLAGS)) {
    if (!(s.dest in out)) out[s.dest] = s.default ?? null;
  }
  const ids = String(out.instanceIds)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return /** @type {WorkerArgs} */ ({ ...out, instanceIds: ids });
}

/**
 * The scripted or default outcome of one instance. Default: a fixed function of sha256(id):
 * about 50 % pass, 20 % phase1, 20 % fail, 10 % error; never "hang".
 * @param {string} iid @param {Record<string, string>} scripted
 */
export function outcomeFor(iid, scripted) {
  const s = scripted[iid];
  if (s !== undefined) return s;
  const b = createHash('sha256').update(iid).digest()[0] % 10;
  return b < 5 ? 'pass' : b < 7 ? 'phase1' : b < 9 ? 'fail' : 'error';
}

/** @param {string} outcome */
function rowFields(outcome) {
  switch (outcome) {
    case 'pass':
      return { phase1_passed: true, phase2_passed: true, total_reward: 1.0, error: null, submission_status: 'submitted' };
    case 'phase1':
      return { phase1_passed: true, phase2_passed: false, total_reward: 0.5, error: null, submission_status: 'submitted' };
    case 'fail':
      return { phase1_passed: false, phase2_passed: false, total_reward: 0.0, error: null, submission_status: 'submitted' };
    default:
      return {
        phase1_passed: false,
        phase2_passed: false,
        total_reward: 0.0,
        error: 'demo-worker: simulated agent error',
        submission_status: 'error',
      };
  }
}

/** @param {string | undefined} file @returns {Map<string, string>} */
function loadDataset(file) {
  /** @type {Map<string, string>} */
  const map = new Map();
  if (!file) return map;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      const row = JSON.parse(line);
      if (row && typeof row.instance_id === 'string' && typeof row.selected_database === 'string') {
        map.set(row.instance_id, row.selected_database);
      }
    } catch {
      // not a JSON line: ignored, like a row without the two keys
    }
  }
  return map;
}

/**
 * Reads the secrets file, deletes it (even when it does not parse), and returns the key names.
 * The values go into process.env for the (simulated) agents; they are never printed.
 * @param {string} file
 */
function loadSecrets(file) {
  const abs = path.resolve(file);
  /** @type {string} */
  let raw;
  try {
    raw = fs.readFileSync(abs, 'utf8');
  } catch (err) {
    throw new Error(`secrets file ${file} could not be read: ${/** @type {NodeJS.ErrnoException} */ (err).code ?? 'error'}`);
  }
  fs.rmSync(abs, { force: true });
  /** @type {unknown} */
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`secrets file ${file} is not valid JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`secrets file ${file} must hold a JSON object of key to value`);
  }
  const names = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') throw new Error(`secrets file ${file}: the value of ${k} is not a string`);
    process.env[k] = v;
    names.push(k);
  }
  return names.sort();
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** @param {string} name @param {number} fallback */
function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`);
  return n;
}

/** @param {string[]} argv */
async function main(argv) {
  /** @type {WorkerArgs | 'help'} */
  let args;
  try {
    args = parseWorkerArgs(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`${USAGE}\n${PROG}: error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const say = (/** @type {string} */ line) => process.stdout.write(`[demo-worker] ${line}\n`);

  const secretNames = args.secretsFile ? loadSecrets(args.secretsFile) : [];
  if (args.secretsFile) say(`loaded ${secretNames.length} secret(s) from ${args.secretsFile} and deleted it: ${secretNames.join(', ') || '(none)'}`);

  const bucketName = process.env.BIRD_RUNS_BUCKET;
  if (!bucketName) throw new Error('BIRD_RUNS_BUCKET is not set');
  /** @type {Record<string, string>} */
  let scripted = {};
  if (process.env.BIRD_DEMO_OUTCOMES) {
    const parsed = JSON.parse(process.env.BIRD_DEMO_OUTCOMES);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('BIRD_DEMO_OUTCOMES must be a JSON object');
    for (const [k, v] of Object.entries(parsed)) {
      if (typeof v !== 'string' || !OUTCOMES.includes(v)) throw new Error(`BIRD_DEMO_OUTCOMES[${k}] must be one of ${OUTCOMES.join(', ')}`);
    }
    scripted = parsed;
  }
  const rowDelay = envInt('BIRD_DEMO_ROW_DELAY_MS', 0);
  const heartbeatMs = envInt('BIRD_DEMO_HEARTBEAT_MS', 30_000);
  const dbOf = loadDataset(process.env.BIRD_DATA_PATH);

  const { Storage } = await import('@google-cloud/storage');
  const project = process.env.GOOGLE_CLOUD_PROJECT;
  const storage = new Storage(project ? { projectId: project } : {});
  const bucket = storage.bucket(bucketName);
  const prefix = `runs/${args.runId}`;
  /** @param {string} name @param {string} body @param {string} contentType */
  const put = (name, body, contentType) => bucket.file(name).save(body, { resumable: false, contentType });

  const ids = args.instanceIds;
  let rowsDone = 0;
  /** @type {Promise<unknown>} */
  let statusChain = Promise.resolve();
  /** @param {string | null} terminal */
  const writeStatus = (terminal) => {
    const body = JSON.stringify({
      ray_job_id: args.rayJobId,
      last_heartbeat_ts: Date.now() / 1000,
      rows_done: rowsDone,
      rows_total: ids.length,
      terminal_state: terminal,
      attempt: args.attempt,
    });
    statusChain = statusChain.catch(() => undefined).then(() => put(`${prefix}/status.json`, body, 'application/json'));
    return statusChain;
  };

  say(`run ${args.runId} attempt ${args.attempt} ray job ${args.rayJobId}: ${ids.length} instance(s), ${args.numActors} actor(s)`);
  await writeStatus(null);
  const heartbeat = setInterval(() => {
    writeStatus(null).catch((err) => say(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}`));
  }, heartbeatMs);

  try {
    let next = 0;
    const worker = async () => {
      while (next < ids.length) {
        const iid = ids[next++];
        if (rowDelay > 0) await sleep(rowDelay);
        const outcome = outcomeFor(iid, scripted);
        const database = dbOf.get(iid) ?? '';
        if (outcome === 'hang') {
          say(`instance ${iid} db=${database || '-'} is hanging (scripted)`);
          await new Promise(() => setInterval(() => undefined, 1 << 30));
        }
        const fields = rowFields(outcome);
        const row = { instance_id: iid, database, ...fields, attempt: args.attempt, demo_outcome: outcome };
        const log = [
          `demo-worker: instance ${iid} database=${database} attempt=${args.attempt} ray_job_id=${args.rayJobId}`,
          `framework=${args.framework} query_mode=${args.queryMode} mode=${args.mode}`,
          `agent_model=${args.agentModel} user_sim_model=${args.userSimModel}`,
          `patience=${args.patience} max_depth=${args.maxDepth} strict=${args.strict} use_audited_gold_sql=${args.useAuditedGoldSql} prompt_cache=${args.promptCache}`,
          `slayer_setup=${args.slayerSetup} slayer_storage_root=${args.slayerStorageRoot}`,
          `api keys available: ${secretNames.join(', ') || '(none)'}`,
          `outcome=${outcome} phase1_passed=${fields.phase1_passed} phase2_passed=${fields.phase2_passed} total_reward=${fields.total_reward}`,
          '',
        ].join('\n');
        await put(`${prefix}/logs/${iid}/attempt-${args.attempt}.log`, log, 'text/plain');
        await put(`${prefix}/rows/${iid}/attempt-${args.attempt}.json`, JSON.stringify(row), 'application/json');
        rowsDone++;
        say(`row ${rowsDone}/${ids.length} ${iid} db=${database || '-'} outcome=${outcome} reward=${fields.total_reward}`);
      }
    };
    const actors = Math.max(1, Math.min(args.numActors, ids.length));
    await Promise.all(Array.from({ length: actors }, worker));
  } catch (err) {
    clearInterval(heartbeat);
    await writeStatus('error').catch(() => undefined);
    throw err;
  }
  clearInterval(heartbeat);
  await writeStatus('done');
  say(`done: ${rowsDone}/${ids.length} row(s) written to gs://${bucketName}/${prefix}/`);
  return 0;
}

if (isMainModule(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`[demo-worker] error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}

// Shared fixtures for the per-run cluster tests: a manifest with real render_inputs, and the
// stand-in ray/gcloud CLIs on a PATH of their own.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunManifest } from '../../src/plan/manifest.js';
import { installFakeClis } from '../../tools/fake-cli/install.mjs';
import { type CallRecord, type FakeInstance, type HttpRecord, readRecords } from '../../tools/fake-cli/record.mjs';

export const IMAGE_URI = 'us-central1-docker.pkg.dev/bird-proj/bird-interact-runner/runner:0123456789ab-ba9876543210';

export function clusterManifest(o: { runId?: string; render?: Partial<RunManifest['render_inputs']> } = {}): RunManifest {
  return {
    run_id: o.runId ?? '20261125t0907-pydanticai-raw-a1b2c3',
    framework: 'pydantic_ai',
    mode: 'a-interact',
    query_mode: 'raw',
    agent_model: 'anthropic/claude-sonnet-4-5',
    user_sim_model: 'anthropic/claude-haiku-4-5-20251001',
    instance_ids: ['db_a_1', 'db_b_1'],
    patience: 3,
    strict: false,
    use_audited_gold_sql: false,
    max_depth: 3,
    prompt_cache: true,
    slayer_setup: 'pre-encoded',
    slayer_storage_root: '/data/slayer_models',
    render_inputs: {
      workers: 4,
      actors_per_worker: 4,
      worker_type: 'e2-standard-4',
      zone: 'us-central1-a',
      worker_sa: 'bird-interact-runner@bird-proj.iam.gserviceaccount.com',
      max_runtime_hours: 8,
      image_uri: IMAGE_URI,
      project: 'bird-proj',
      region: 'us-central1',
      ...o.render,
    },
    github: {
      repository: 'octo/eval-repo',
      sha: '0123456789abcdef0123456789abcdef01234567',
      ref: 'refs/heads/main',
      workflow_run_url: 'https://github.com/octo/eval-repo/actions/runs/4242',
      event: 'workflow_dispatch',
      pr_number: null,
    },
    slayer_artifacts: { kind: null, dbs: {} },
    dispatch: { cluster: 'ephemeral' },
    dirty: false,
    instance_databases: { db_a_1: 'db_a', db_b_1: 'db_b' },
  };
}

export interface FakeCliEnv {
  binDir: string;
  logFile: string;
  stateFile: string;
  /** PATH with the stand-ins first, plus FAKE_CLI_LOG and FAKE_GCLOUD_STATE. */
  env: Record<string, string>;
  records(): Array<CallRecord | HttpRecord>;
  calls(): CallRecord[];
  setInstances(list: FakeInstance[]): void;
}

export function fakeCliEnv(root: string): FakeCliEnv {
  mkdirSync(root, { recursive: true });
  const { binDir } = installFakeClis(join(root, 'bin'));
  const logFile = join(root, 'calls.jsonl');
  const stateFile = join(root, 'gce.json');
  writeFileSync(logFile, '');
  writeFileSync(stateFile, JSON.stringify({ instances: [] }));
  return {
    binDir,
    logFile,
    stateFile,
    env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, FAKE_CLI_LOG: logFile, FAKE_GCLOUD_STATE: stateFile },
    records: () => readRecords(logFile),
    calls: () => readRecords(logFile).filter((r): r is CallRecord => 'argv' in r),
    setInstances: (list) => writeFileSync(stateFile, JSON.stringify({ instances: list })),
  };
}

/** `ray up`, `ray dashboard`, `gcloud compute instances list`: a readable call sequence. */
export function callSummary(records: ReadonlyArray<CallRecord | HttpRecord>): string[] {
  return records.map((r) => ('argv' in r ? `${r.tool} ${r.argv.slice(0, r.tool === 'gcloud' ? 3 : 1).join(' ')}` : `http ${r.method} ${r.path}`));
}

/**
 * Inputs of an ephemeral run for the action-level tests, once main.ts wires the cluster: the
 * stand-ins come from `fake.env` (pass it as the step's env, with PATH), the image is given so no
 * tag is computed, and the job runs the demo worker on the double that `ray dashboard` serves.
 */
export function ephemeralInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    cluster: 'ephemeral',
    'gcp-project': 'bird-proj',
    'image-uri': IMAGE_URI,
    'ray-cli': 'ray',
    workers: '2',
    'poll-interval-seconds': '1',
    ...extra,
  };
}

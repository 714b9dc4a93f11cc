// The mixed run of the results tests: rows as the cluster (tools/ray-sim/demo-worker.mjs) writes
// them, for the unit tests (as latest rows) and the e2e tests (written to the GCS emulator).
import type { Storage } from '@google-cloud/storage';
import type { GithubContext } from '../../src/common/github-context.js';
import { type LatestRow, parseRow, type Row, rowRefs } from '../../src/gcs/rows.js';
import { makeStorage } from './gcs.js';

export const MIXED_IDS = ['alien_1', 'alien_2', 'alien_3', 'credit_1', 'credit_2', 'credit_3', 'cybermarket_1', 'cybermarket_2'];
export const MIXED_DBS: Record<string, string> = {
  alien_1: 'alien',
  alien_2: 'alien',
  alien_3: 'alien',
  credit_1: 'credit',
  credit_2: 'credit',
  credit_3: 'credit',
  cybermarket_1: 'cybermarket',
  cybermarket_2: 'cybermarket',
};

function row(iid: string, attempt: number, outcome: 'pass' | 'phase1' | 'fail' | 'error', error?: string): Row {
  const base = { instance_id: iid, database: MIXED_DBS[iid], attempt, demo_outcome: outcome };
  switch (outcome) {
    case 'pass':
      return { ...base, phase1_passed: true, phase2_passed: true, total_reward: 1.0, error: null, submission_status: 'submitted' };
    case 'phase1':
      return { ...base, phase1_passed: true, phase2_passed: false, total_reward: 0.7, error: null, submission_status: 'submitted' };
    case 'fail':
      return { ...base, phase1_passed: false, phase2_passed: false, total_reward: 0.0, error: null, submission_status: 'submitted' };
    default:
      // A synthetic error row (docs/reference/gcs-layout.md#synthetic-error-rows): empty database, never submitted.
      return {
        ...base,
        database: '',
        phase1_passed: false,
        phase2_passed: false,
        total_reward: 0.0,
        error: error ?? 'actor-lost',
        submission_status: 'never_submitted',
      };
  }
}

/**
 * Object name (relative to runs/<id>/rows/) → bytes. alien_3 was retried: attempt 1 lost its
 * actor, attempt 2 passed. credit_3's row is not JSON. cybermarket_2 has no row at all.
 */
function mixedRows(errorText = 'actor-lost'): Array<[iid: string, attempt: number, bytes: string]> {
  const j = (r: Row): string => JSON.stringify(r);
  return [
    ['alien_1', 1, j(row('alien_1', 1, 'pass'))],
    ['alien_2', 1, j(row('alien_2', 1, 'phase1'))],
    ['alien_3', 1, j(row('alien_3', 1, 'error', 'actor-lost'))],
    ['alien_3', 2, j(row('alien_3', 2, 'pass'))],
    ['credit_1', 1, j(row('credit_1', 1, 'fail'))],
    ['credit_2', 1, j(row('credit_2', 1, 'error', errorText))],
    ['credit_3', 1, '{"instance_id": "credit_3", "phase1_pa'],
    ['cybermarket_1', 1, j(row('cybermarket_1', 1, 'pass'))],
  ];
}

/** The latest row per instance of mixedRows, as rows.ts latestRows would return it. */
export function mixedLatest(runId = 'mixed'): Map<string, LatestRow> {
  const rows = mixedRows();
  const bytes = new Map(rows.map(([iid, a, b]) => [`runs/${runId}/rows/${iid}/attempt-${a}.json`, b]));
  const out = new Map<string, LatestRow>();
  for (const [iid, list] of rowRefs(bytes.keys())) {
    const ref = list[list.length - 1];
    out.set(iid, { ref, row: parseRow(Buffer.from(bytes.get(ref.name) ?? '')) });
  }
  return out;
}

export const MIXED_MANIFEST = {
  framework: 'pydantic_ai',
  mode: 'a-interact',
  query_mode: 'slayer',
  agent_model: 'anthropic/claude-sonnet-4-5',
  user_sim_model: 'anthropic/claude-haiku-4-5-20251001',
  slayer_setup: 'pre-encoded',
};

/** A manifest as the action writes it (with the instance → DB map), or as Python wrote it (without). */
function manifestJson(runId: string, python = false, combo: Partial<typeof MIXED_MANIFEST> = {}): string {
  const c = { ...MIXED_MANIFEST, ...combo };
  const m: Record<string, unknown> = {
    run_id: runId,
    framework: c.framework,
    mode: c.mode,
    query_mode: c.query_mode,
    agent_model: c.agent_model,
    user_sim_model: c.user_sim_model,
    instance_ids: python ? MIXED_IDS.join(',') : MIXED_IDS,
    patience: 3,
    strict: false,
    use_audited_gold_sql: false,
    max_depth: 3,
    prompt_cache: true,
    slayer_setup: c.slayer_setup,
    slayer_storage_root: '/data/slayer_models',
    render_inputs: {
      workers: 4,
      actors_per_worker: 4,
      worker_type: 'e2-standard-4',
      zone: 'us-central1-a',
      worker_sa: 'sa@p.iam.gserviceaccount.com',
      max_runtime_hours: 8,
      image_uri: 'img',
      project: 'p',
      region: 'us-central1',
    },
  };
  if (!python) m.instance_databases = MIXED_DBS;
  return JSON.stringify(m, null, 2);
}

export interface WriteRunOptions {
  python?: boolean;
  /** The manifest's combo and models, over MIXED_MANIFEST's. */
  combo?: Partial<typeof MIXED_MANIFEST>;
  errorText?: string;
  /** status.json's content, or null for none. */
  status?: Record<string, unknown> | null;
  storage?: Storage;
  /** Rows to write instead of mixedRows(). */
  rows?: Array<[iid: string, attempt: number, bytes: string]>;
}

/** Writes the manifest, the rows and status.json of a run to a bucket of the emulator. */
export async function writeRun(bucket: string, runId: string, o: WriteRunOptions = {}): Promise<void> {
  const b = (o.storage ?? makeStorage()).bucket(bucket);
  const put = (name: string, body: string): Promise<void> => b.file(name).save(body, { resumable: false, contentType: 'application/json' });
  await put(`runs/${runId}/manifest.json`, manifestJson(runId, o.python, o.combo));
  for (const [iid, attempt, bytes] of o.rows ?? mixedRows(o.errorText)) await put(`runs/${runId}/rows/${iid}/attempt-${attempt}.json`, bytes);
  const status =
    o.status === undefined
      ? { ray_job_id: `bird-${runId}-a2`, last_heartbeat_ts: 1_700_000_000.5, rows_done: 1, rows_total: 1, terminal_state: 'done', attempt: 2 }
      : o.status;
  if (status) await put(`runs/${runId}/status.json`, JSON.stringify(status));
}

export function prContext(pr: number | null = 7): GithubContext {
  return {
    repository: 'octo-org/bird-evals',
    sha: '0123456789abcdef0123456789abcdef01234567',
    ref: pr === null ? 'refs/heads/main' : `refs/pull/${pr}/merge`,
    workflow_run_url: 'https://github.com/octo-org/bird-evals/actions/runs/42',
    event: pr === null ? 'push' : 'pull_request',
    pr_number: pr,
  };
}

// A stored manifest is untrusted: anyone who can write the bucket (the cluster's service account,
// so any code the cluster runs) can change it. On a rerun, a report or a stop, every field that
// reaches a shell, a URL, a token, the job's argv or the choice of keys is checked as strictly as
// the input it came from, and refused when it fails; other fields only warn, so runs written by
// the Python tools stay usable (docs/reference/manifest.md).
import type { Problem } from '../common/errors.js';
import { comboRejection, EVAL_MODES, isFramework, QUERY_MODES } from '../inputs/combos.js';
import { IN_CLUSTER_PATH } from '../inputs/gce.js';
import { listIds } from '../inputs/instance-ids.js';
import { MODEL } from '../inputs/reader.js';
import { runIdProblem } from '../inputs/run-id.js';
import { dbNameProblem } from '../preflight/dataset.js';
import type { RunManifest } from './manifest.js';

export interface ManifestTrust {
  /** Fields that would steer a command, a request or the keys: the run is refused. */
  refused: string[];
  /** Fields that only reach text people read: a warning. */
  warnings: string[];
}

const isInt = (v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;

/** An instance id the job's argv and the rows' object names can carry. */
function idProblem(id: unknown): boolean {
  return typeof id !== 'string' || id === '' || /[,\s\0]/.test(id) || id.includes('/');
}

/**
 * Checks a stored manifest before a rerun (or a report) uses it. `runId` is the run the inputs
 * named: a manifest of another run id is refused.
 */
export function checkStoredManifest(m: RunManifest, runId: string): ManifestTrust {
  const refused: string[] = [];
  const warnings: string[] = [];
  const field = (name: string, value: unknown): string => `${name} ${JSON.stringify(value)?.slice(0, 120)}`;
  if (m.run_id !== runId) refused.push(`${field('run_id', m.run_id)} is not the run '${runId}'`);
  if (runIdProblem(String(m.run_id))) refused.push(`${field('run_id', m.run_id)} is not a valid run id`);
  if (typeof m.framework !== 'string' || !isFramework(m.framework)) refused.push(`${field('framework', m.framework)} is not a known framework`);
  if (!(QUERY_MODES as readonly unknown[]).includes(m.query_mode)) refused.push(`${field('query_mode', m.query_mode)} is not raw or slayer`);
  if (!(EVAL_MODES as readonly unknown[]).includes(m.mode)) refused.push(`${field('mode', m.mode)} is not a-interact, c-interact or oracle`);
  if (refused.length === 0) {
    const combo = comboRejection({ framework: m.framework, queryMode: m.query_mode, mode: m.mode, slayerSetup: String(m.slayer_setup) });
    if (combo) refused.push(`the combo is not one the cluster runs: ${combo}`);
  }
  for (const name of ['agent_model', 'user_sim_model'] as const) {
    if (typeof m[name] !== 'string' || !MODEL.test(m[name])) refused.push(`${field(name, m[name])} is not a LiteLLM model name`);
  }
  if (!Array.isArray(m.instance_ids) || m.instance_ids.length === 0) refused.push('instance_ids is not a list of instance ids');
  else {
    const bad = m.instance_ids.filter(idProblem).map((id) => JSON.stringify(id));
    if (bad.length > 0) refused.push(`instance_ids holds ids the job cannot take: ${listIds(bad)}`);
  }
  if (!isInt(m.patience, 0)) refused.push(`${field('patience', m.patience)} is not a whole number`);
  if (!isInt(m.max_depth, 1)) refused.push(`${field('max_depth', m.max_depth)} is not a whole number of at least 1`);
  for (const name of ['strict', 'use_audited_gold_sql', 'prompt_cache'] as const) {
    if (typeof m[name] !== 'boolean') refused.push(`${field(name, m[name])} is not a boolean`);
  }
  if (typeof m.slayer_storage_root !== 'string' || !IN_CLUSTER_PATH.test(m.slayer_storage_root)) {
    refused.push(`${field('slayer_storage_root', m.slayer_storage_root)} is not an in-cluster path of plain characters`);
  }
  const ri = m.render_inputs;
  if (typeof ri !== 'object' || ri === null || !isInt(ri.workers, 1) || !isInt(ri.actors_per_worker, 1)) {
    refused.push('render_inputs.workers and render_inputs.actors_per_worker must be whole numbers of at least 1');
  }
  const dbs = m.instance_databases;
  if (dbs !== undefined && (typeof dbs !== 'object' || dbs === null)) warnings.push('instance_databases is not an object; the report groups by the rows');
  else if (dbs) {
    const bad = Object.values(dbs).filter((db) => typeof db !== 'string' || dbNameProblem(db) !== null);
    if (bad.length > 0) warnings.push(`instance_databases names DBs that are not plain folder names: ${listIds(bad.map((b) => JSON.stringify(b)))}`);
  }
  return { refused, warnings };
}

/** The problems of a manifest a rerun or a stop must refuse, blamed on the input that named the run. */
export function refusedManifest(trust: ManifestTrust, input: string, uri: string): Problem[] {
  return trust.refused.map((why) => ({
    input,
    message: `the stored manifest ${uri} is not one this action runs: ${why}`,
    fix: 'check who can write the bucket (only the workflow should write manifests); start a new run',
  }));
}

// Instance id → database, through the dataset JSONL (docs/reference/inputs.md#instance-ids-and-databases). Never split the id: DB names hold `_`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { Inputs } from '../common/constants.js';
import type { ProblemList } from '../common/errors.js';
import { listIds } from '../inputs/instance-ids.js';

/** The dataset is read whole: a file larger than this is not the dataset (a mistaken path, or /dev/zero). */
const DATASET_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Where the mini-interact data and its dataset are (docs/reference/inputs.md#the-mini-interact-data): the inputs, else BIRD_DB_PATH /
 * BIRD_DATA_PATH, else `<workspace>/../mini-interact` — as the Python tools resolve them.
 */
export function dataPaths(workspace: string, env: NodeJS.ProcessEnv, rootInput = '', datasetInput = ''): { miniInteractRoot: string; datasetFile: string } {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(workspace, p));
  const miniInteractRoot = abs(rootInput || env.BIRD_DB_PATH || resolve(workspace, '..', 'mini-interact'));
  return { miniInteractRoot, datasetFile: abs(datasetInput || env.BIRD_DATA_PATH || resolve(miniInteractRoot, 'mini_interact.jsonl')) };
}

/** A DB name is one plain path segment: it becomes a folder and a GCS prefix. */
const DB_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function dbNameProblem(db: string): string | null {
  if (db === '') return 'is empty';
  if (db === '.' || db === '..' || db.includes('/') || db.includes('\\') || !DB_NAME.test(db)) return `'${db}' is not a single safe path segment`;
  return null;
}

export interface DatasetMapping {
  /** instance id → database, for the requested ids, in request order. */
  instanceDbs: Record<string, string>;
  /** The distinct databases, sorted. */
  dbs: string[];
}

/** Reads the dataset and maps the requested ids; records every problem and returns what it could. */
export function mapInstances(datasetFile: string, ids: readonly string[], problems: ProblemList): DatasetMapping {
  const empty: DatasetMapping = { instanceDbs: {}, dbs: [] };
  const where = 'put the mini-interact data in place before this step, or set dataset-file (or mini-interact-root) to where mini_interact.jsonl is';
  if (!existsSync(datasetFile)) {
    problems.add(Inputs.DatasetFile, `dataset file '${datasetFile}' does not exist`, where);
    return empty;
  }
  const st = statSync(datasetFile);
  if (!st.isFile()) {
    problems.add(Inputs.DatasetFile, `'${datasetFile}' is not a regular file`, where);
    return empty;
  }
  if (st.size > DATASET_MAX_BYTES) {
    problems.add(Inputs.DatasetFile, `'${datasetFile}' has ${st.size} bytes, more than a dataset of ${DATASET_MAX_BYTES} bytes`, where);
    return empty;
  }
  const wanted = new Set(ids);
  const found = new Map<string, string>();
  const lines = readFileSync(datasetFile, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      problems.add(Inputs.DatasetFile, `line ${i + 1} of '${datasetFile}' is not JSON`, 'fix or regenerate the dataset file');
      return;
    }
    if (typeof row !== 'object' || row === null) return;
    const rec = row as Record<string, unknown>;
    const id = rec.instance_id;
    if (typeof id !== 'string' || !wanted.has(id) || found.has(id)) return;
    found.set(id, typeof rec.selected_database === 'string' ? rec.selected_database : '');
  });

  const unknown = ids.filter((id) => !found.has(id));
  if (unknown.length > 0) {
    problems.add(
      Inputs.InstanceIds,
      `${unknown.length} instance id(s) not in the dataset '${datasetFile}': ${listIds(unknown)}`,
      'remove them, or point dataset-file at the dataset that holds them',
    );
  }
  const instanceDbs: Record<string, string> = {};
  for (const id of ids) {
    const db = found.get(id);
    if (db === undefined) continue;
    const p = dbNameProblem(db);
    if (p) {
      problems.add(Inputs.DatasetFile, `selected_database of instance '${id}' ${p}`, 'fix that line of the dataset file');
      continue;
    }
    instanceDbs[id] = db;
  }
  return { instanceDbs, dbs: [...new Set(Object.values(instanceDbs))].sort() };
}

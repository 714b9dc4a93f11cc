// Which code a run evaluates. On an existing cluster the job would otherwise run the code inside
// the cluster's image while the manifest records the checkout's sha: with `code: checkout` the
// checkout's src/ travels in the job's working_dir package, the job runs that tree's ray_app.py,
// and the driver and every actor import it (PYTHONPATH). Dependencies cannot travel this way.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CodeFile } from '../ray/job-package.js';

/** Where the checkout's package lives in the evaluation repo (a src layout). */
export const CODE_DIR = 'src';
/** The in-cluster program, relative to the job's working directory (the unpacked package). */
const CHECKOUT_ENTRYPOINT_PREFIX = 'python src/bird_interact_agents/cloud/ray_app.py';
const IMAGE_ENTRYPOINT_PREFIX = 'python /app/bird-interact-agents/src/bird_interact_agents/cloud/ray_app.py';

export interface CodePlan {
  source: 'checkout' | 'image';
  /** The checkout's commit (recorded either way; with `image` it is not what runs). */
  sha: string;
  /** The repository root the files are read from at dispatch. */
  root: string;
  /** `src/...` paths and sizes; empty for `image`. */
  files: Array<{ path: string; size: number }>;
}

/** The entrypoint prefix: the input when given (it always wins), else the ray_app.py of the code source. */
export function entrypointPrefixFor(given: string, source: CodePlan['source']): string {
  if (given.trim() !== '') return given;
  return source === 'checkout' ? CHECKOUT_ENTRYPOINT_PREFIX : IMAGE_ENTRYPOINT_PREFIX;
}

/** The files of a checkout plan, read at dispatch. */
export function readCodeFiles(code: CodePlan): Promise<CodeFile[]> {
  return Promise.all(code.files.map(async (f) => ({ path: f.path, data: await readFile(join(code.root, ...f.path.split('/'))) })));
}

// The Ray Jobs API double (tools/ray-sim) set up as a "cluster" whose jobs run the demo worker.
import { join } from 'node:path';
import { REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { type RaySim, type RaySimOptions, startRaySim } from '../../tools/ray-sim/server.mjs';
import { emulatorHost } from './gcs.js';

const DEMO_WORKER = join(REPO_ROOT, 'tools', 'ray-sim', 'demo-worker.mjs');
export const WORKER_PREFIX = `${process.execPath} ${DEMO_WORKER}`;

export interface ClusterOptions {
  bucket: string;
  datasetFile?: string;
  outcomes?: Record<string, 'pass' | 'phase1' | 'fail' | 'error' | 'hang'>;
  rowDelayMs?: number;
  sim?: RaySimOptions;
}

export function startCluster(o: ClusterOptions): Promise<RaySim> {
  const env: Record<string, string> = { BIRD_RUNS_BUCKET: o.bucket, STORAGE_EMULATOR_HOST: emulatorHost(), BIRD_DEMO_HEARTBEAT_MS: '200' };
  if (o.datasetFile) env.BIRD_DATA_PATH = o.datasetFile;
  if (o.outcomes) env.BIRD_DEMO_OUTCOMES = JSON.stringify(o.outcomes);
  if (o.rowDelayMs !== undefined) env.BIRD_DEMO_ROW_DELAY_MS = String(o.rowDelayMs);
  return startRaySim({ pendingDelayMs: 50, stopWaitMs: 500, ...o.sim, env: { ...env, ...o.sim?.env } });
}

/** Inputs that send the run to the double, running the demo worker, and wait fast. */
export function clusterInputs(sim: RaySim, extra: Record<string, string> = {}): Record<string, string> {
  return { cluster: 'existing', 'ray-address': sim.url, 'entrypoint-prefix': WORKER_PREFIX, 'poll-interval-seconds': '1', ...extra };
}

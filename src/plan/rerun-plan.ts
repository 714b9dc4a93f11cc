// The rerun plan (docs/reference/reruns-and-progress.md#reruns): everything comes from the stored manifest; only the unfinished
// instances go into the next attempt, and nothing is uploaded.
import { Inputs } from '../common/constants.js';
import { ProblemsError } from '../common/errors.js';
import { highestAttempt, latestRows, parseStatus, unfinished } from '../gcs/rows.js';
import { parseManifest } from '../gcs/run-state.js';
import { type RunStore, runPaths } from '../gcs/store.js';
import { artifactFor, type Framework, type QueryMode, requiredKeys, type SlayerSetup } from '../inputs/combos.js';
import { type RunManifest, withPythonDefaults } from './manifest.js';
import { checkStoredManifest, refusedManifest } from './manifest-trust.js';

export interface RerunPlan {
  kind: 'rerun';
  runId: string;
  attempt: number;
  manifest: RunManifest;
  /** Instances of the manifest without a successful latest row, in manifest order. */
  unfinished: string[];
  done: number;
  requiredKeys: string[];
  artifact: string | null;
  /** Stored fields that only reach text people read, and failed their check. */
  warnings: string[];
}

export async function planRerun(store: RunStore, runId: string): Promise<RerunPlan> {
  const bytes = await store.read(runPaths.manifest(runId));
  if (bytes === null) {
    throw new ProblemsError(
      [
        {
          input: Inputs.RerunRunId,
          message: `run '${runId}' has no manifest at ${store.uri(runPaths.manifest(runId))}: it was never committed`,
          fix: `check the run id and gcs-bucket; to finish an interrupted upload, submit again with run-id: ${runId}`,
        },
      ],
      'rerun refused',
    );
  }
  const manifest = withPythonDefaults(parseManifest(store, runId, bytes) as RunManifest & Record<string, unknown>);
  if (!manifest.run_id) manifest.run_id = runId;
  const trust = checkStoredManifest(manifest, runId);
  const refused = refusedManifest(trust, Inputs.RerunRunId, store.uri(runPaths.manifest(runId)));
  if (refused.length > 0) throw new ProblemsError(refused, 'rerun refused');
  const { refs, latest } = await latestRows(store, runId);
  const status = parseStatus(await store.read(runPaths.status(runId)));
  // The last dispatched attempt may have written no row at all: status.json remembers it.
  const attempt = Math.max(highestAttempt(refs), typeof status?.attempt === 'number' ? status.attempt : 0) + 1;
  const todo = unfinished(manifest.instance_ids, latest);
  // From the checked combo, never from the stored summary: the artifact names the prefix checked.
  const artifact = artifactFor(manifest.framework as Framework, manifest.query_mode as QueryMode, manifest.slayer_setup as SlayerSetup);
  const stored = manifest.slayer_artifacts?.kind ?? null;
  if (stored !== null && stored !== artifact)
    trust.warnings.push(`slayer_artifacts.kind ${JSON.stringify(stored)} is not the combo's artifact (${artifact ?? 'none'}); using the combo's`);
  return {
    kind: 'rerun',
    runId,
    attempt,
    manifest,
    unfinished: todo,
    done: manifest.instance_ids.length - todo.length,
    requiredKeys: requiredKeys({ agentModel: manifest.agent_model, userSimModel: manifest.user_sim_model }, manifest.query_mode),
    artifact,
    warnings: trust.warnings,
  };
}

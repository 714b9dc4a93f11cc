// Run ids (docs/reference/run-ids.md#format): `<ts>-<slug>-<query_mode>-<token>`, short enough for GCE node names.
import { randomBytes } from 'node:crypto';

export const GCE_NAME_MAX = 63;
export const RUN_ID_MAX = 35;
export const RUN_ID_PATTERN = /^[a-z0-9][-a-z0-9]*[a-z0-9]$/;
/** A GCE instance name: a letter first, then lowercase letters, digits and dashes. */
export const GCE_NAME_PATTERN = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

function timestamp(now: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}t${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
}

/** Mints a run id; `token` is injectable so tests can pin it. */
export function mintRunId(framework: string, queryMode: string, now: Date = new Date(), token: string = randomBytes(3).toString('hex')): string {
  const fixed = `${timestamp(now)}--${queryMode}-${token}`.length;
  const slug = framework
    .replace(/_/g, '')
    .toLowerCase()
    .slice(0, Math.max(1, RUN_ID_MAX - fixed));
  return `${timestamp(now)}-${slug}-${queryMode}-${token}`;
}

/** The problem with a given run id, or null when it is valid. */
export function runIdProblem(runId: string): string | null {
  if (runId.length > RUN_ID_MAX) return `run id '${runId}' is ${runId.length} characters; at most ${RUN_ID_MAX} fit GCE node names`;
  if (!RUN_ID_PATTERN.test(runId)) return `run id '${runId}' must match ${RUN_ID_PATTERN.source} (lowercase letters, digits and inner dashes)`;
  return null;
}

/** The longest node name Ray makes for a run id (used by tests and the cluster YAML). */
export function workerNodeName(runId: string, uuid8 = 'abcdef12'): string {
  return `ray-${runId}-worker-${uuid8}-compute`;
}

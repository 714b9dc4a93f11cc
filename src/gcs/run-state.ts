// What the bucket already holds for a run: probed once in the preflight, before any write,
// and the manifest commit that closes a submit (docs/reference/gcs-layout.md#the-commit-point, docs/reference/manifest.md).
import { Inputs } from '../common/constants.js';
import { errorMessage, errorStatus, ProblemsError } from '../common/errors.js';
import { RetryExhaustedError } from '../common/retry.js';
import { type ArtifactSummary, planIdentity, type RunManifest, serializeManifest } from '../plan/manifest.js';
import { dbDigest } from '../preflight/artifacts.js';
import { AUTH_HINT, isPreconditionFailed, type RemoteObject, type RunStore, runPaths } from './store.js';

export interface RemoteRun {
  objects: Map<string, RemoteObject>;
  /** `same`: a manifest of this very plan is already committed (a repeated submit). */
  manifest: 'absent' | 'same';
}

/** A listing that failed, as a problem of gcs-bucket: no such bucket, no access, or else. */
export function listingError(store: RunStore, prefix: string, e: unknown, title = 'preflight failed'): ProblemsError {
  const status = errorStatus(e instanceof RetryExhaustedError ? e.cause : e);
  const where = store.uri(prefix);
  const msg = errorMessage(e);
  if (status === 404) {
    return new ProblemsError(
      [
        {
          input: Inputs.GcsBucket,
          message: `bucket '${store.bucketName}' does not exist (listing ${where} answered 404)`,
          fix: 'check the bucket name in gcs-bucket, or create the bucket',
        },
      ],
      title,
    );
  }
  if (status === 401 || status === 403 || /default credentials|could not load the default|invalid_grant|unauthorized/i.test(msg)) {
    return new ProblemsError([{ input: Inputs.GcsBucket, message: `these credentials cannot list ${where}: ${msg}`, fix: AUTH_HINT }], title);
  }
  return new ProblemsError(
    [{ input: Inputs.GcsBucket, message: `cannot list ${where}: ${msg}`, fix: `check the network and the bucket name; ${AUTH_HINT}` }],
    title,
  );
}

/** Parses a stored manifest; a corrupt one is an error that names the object. */
export function parseManifest(store: RunStore, runId: string, bytes: Buffer): RunManifest {
  try {
    return JSON.parse(bytes.toString('utf8')) as RunManifest;
  } catch {
    throw new Error(
      `${store.uri(runPaths.manifest(runId))} is not valid JSON (fix: check the run id and gcs-bucket; a damaged manifest cannot be rerun or reported, so start a new run)`,
    );
  }
}

function otherPlanError(store: RunStore, runId: string): Error {
  return new ProblemsError(
    [
      {
        input: Inputs.RunId,
        message: `run '${runId}' already has a manifest for another plan (${store.uri(runPaths.manifest(runId))})`,
        fix: `to continue that run, use rerun-run-id: ${runId}; to start a new run, leave run-id empty (or choose a new one)`,
      },
    ],
    'preflight failed',
  );
}

/** What one listing of a run's prefix found: the objects, and the manifest's bytes when there is one. */
export interface RunListing {
  objects: Map<string, RemoteObject>;
  manifest: Buffer | null;
}

/**
 * Lists the run's prefix once and reads its manifest if listed. Reads only, so it may run while the preflight's
 * checks are still going (no write happens before all of them have passed).
 */
export async function listRun(store: RunStore, runId: string): Promise<RunListing> {
  let objects: Map<string, RemoteObject>;
  try {
    objects = await store.list(runPaths.prefix(runId));
  } catch (e) {
    throw listingError(store, runPaths.prefix(runId), e);
  }
  const manifest = objects.has(runPaths.manifest(runId)) ? await store.read(runPaths.manifest(runId)) : null;
  return { objects, manifest };
}

/** What the bucket holds for this plan; refuses a committed manifest of another plan. */
export function judgeRun(store: RunStore, manifest: RunManifest, listing: RunListing): RemoteRun {
  const { objects } = listing;
  if (listing.manifest === null) return { objects, manifest: 'absent' };
  if (planIdentity(parseManifest(store, manifest.run_id, listing.manifest)) !== planIdentity(manifest)) throw otherPlanError(store, manifest.run_id);
  return { objects, manifest: 'same' };
}

/** Lists the run's prefix once; refuses a committed manifest of another plan. */
export async function probeRun(store: RunStore, manifest: RunManifest): Promise<RemoteRun> {
  return judgeRun(store, manifest, await listRun(store, manifest.run_id));
}

/** Writes the manifest create-only: the commit point of a submit. */
export async function commitManifest(store: RunStore, manifest: RunManifest): Promise<'written' | 'same'> {
  const name = runPaths.manifest(manifest.run_id);
  try {
    await store.write(name, Buffer.from(serializeManifest(manifest)), { ifGenerationMatch: 0, contentType: 'application/json' });
    return 'written';
  } catch (e) {
    if (!isPreconditionFailed(e)) throw e;
    const bytes = await store.read(name);
    if (bytes && planIdentity(parseManifest(store, manifest.run_id, bytes)) === planIdentity(manifest)) return 'same';
    throw otherPlanError(store, manifest.run_id);
  }
}

/**
 * Compares the objects under a run's setup prefix with the per-DB digests of a manifest (one
 * listing). Returns one line per DB that is missing, incomplete or different; empty when equal.
 */
export async function setupMismatches(store: RunStore, runId: string, artifact: string, expected: ArtifactSummary['dbs']): Promise<string[]> {
  const prefix = runPaths.setupPrefix(runId, artifact);
  const listing = await store.list(prefix);
  const byDb = new Map<string, Array<{ path: string; size: number; md5: string }>>();
  for (const o of listing.values()) {
    const rel = o.name.slice(prefix.length);
    const slash = rel.indexOf('/');
    if (slash <= 0) continue;
    const db = rel.slice(0, slash);
    const list = byDb.get(db) ?? [];
    list.push({ path: rel.slice(slash + 1), size: o.size, md5: o.md5 });
    byDb.set(db, list);
  }
  const out: string[] = [];
  for (const [db, want] of Object.entries(expected)) {
    const have = byDb.get(db) ?? [];
    if (have.length === 0) out.push(`${db}: no objects under ${store.uri(`${prefix + db}/`)}`);
    else if (dbDigest(have) !== want.digest) out.push(`${db}: ${have.length} object(s) whose content differs from the ${want.files} file(s) of the manifest`);
  }
  return out;
}

/**
 * Python's bucket policy deletes runs/ objects after 30 days: the setup must still be there,
 * whole. A manifest the action wrote has per-DB digests to compare with; a Python one only
 * allows a check that the prefix is not empty.
 */
export async function checkSetupStillThere(
  store: RunStore,
  plan: { runId: string; artifact: string | null; manifest: Pick<RunManifest, 'slayer_artifacts'> },
): Promise<void> {
  if (!plan.artifact) return;
  const dbs = plan.manifest.slayer_artifacts?.dbs;
  if (dbs && Object.keys(dbs).length > 0) {
    const bad = await setupMismatches(store, plan.runId, plan.artifact, dbs);
    if (bad.length > 0) {
      throw new ProblemsError(
        [
          {
            input: Inputs.RerunRunId,
            message: `the SLayer setup of run '${plan.runId}' is no longer what its manifest recorded (runs/ objects expire after 30 days):\n    ${bad.join('\n    ')}`,
            fix: 'start a new run instead of a rerun',
          },
        ],
        'rerun refused',
      );
    }
    return;
  }
  const prefix = runPaths.setupPrefix(plan.runId, plan.artifact);
  if (!(await store.anyUnder(prefix))) {
    throw new ProblemsError(
      [
        {
          input: Inputs.RerunRunId,
          message: `the SLayer setup of run '${plan.runId}' is gone (${store.uri(prefix)} is empty; runs/ objects expire after 30 days)`,
          fix: 'start a new run instead of a rerun',
        },
      ],
      'rerun refused',
    );
  }
}

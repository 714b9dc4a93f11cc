// The preflight: every check of a new submit, with no side effects. It returns the plan.
import { join } from 'node:path';
import { imageTag, imageUri } from '../cluster/image-tag.js';
import { registryAccess } from '../cluster/registry.js';
import { Inputs } from '../common/constants.js';
import { errorMessage, ProblemList } from '../common/errors.js';
import { readGithubContext } from '../common/github-context.js';
import type { Log } from '../common/log.js';
import { artifactFor, keyNeeds } from '../inputs/combos.js';
import { listIds } from '../inputs/instance-ids.js';
import { mintRunId } from '../inputs/run-id.js';
import type { SubmitSettings } from '../inputs/settings.js';
import { buildPlan, type RunPlan, type WorktreeReport } from '../plan/plan.js';
import { type ApiKeys, readRunKeys } from './api-keys.js';
import { type DbArtifact, missingSetupMessage, presenceProblem, SymlinkEscapeError, walkDb } from './artifacts.js';
import { planCode } from './code.js';
import { mapInstances } from './dataset.js';
import { dirtyPaths, GitError, insideRepo, repoRoot } from './worktree.js';

export interface Preflight {
  plan: RunPlan;
  keys: ApiKeys;
}

const ARTIFACT_INPUT = {
  slayer_models: Inputs.SlayerModelsRoot,
  slayer_otf_cache: Inputs.OtfCacheRoot,
  slayer_models_otf: Inputs.ModelsOtfRoot,
} as const;

/** The worktree report, and the artifact's dirty paths grouped by DB (for one warning per DB). */
async function checkWorktree(
  s: SubmitSettings,
  artifactDirs: ReadonlyMap<string, string>,
  problems: ProblemList,
): Promise<{ report: WorktreeReport; dirtyByDb: Map<string, string[]> }> {
  const report: WorktreeReport = { dirty: [], artifactDirty: [], allowDirty: s.allowDirty };
  const dirtyByDb = new Map<string, string[]>();
  let root: string;
  try {
    root = await repoRoot(s.workspace);
  } catch (e) {
    problems.add('worktree', e instanceof GitError ? e.message : errorMessage(e));
    return { report, dirtyByDb };
  }
  report.dirty = (await dirtyPaths(root, s.trackedInputs)).map((e) => e.path);
  // Artifact dirs outside the repository (an OTF cache in RUNNER_TEMP) are not git's business.
  const inRepo = new Map<string, string>();
  for (const [db, dir] of artifactDirs) {
    const rel = insideRepo(root, dir);
    if (rel !== null && rel !== '.') inRepo.set(db, rel);
  }
  report.artifactDirty = (await dirtyPaths(root, [...inRepo.values()])).map((e) => e.path);
  for (const path of report.artifactDirty) {
    const db = [...inRepo].find(([, rel]) => path === rel || path.startsWith(`${rel}/`))?.[0];
    if (db !== undefined) dirtyByDb.set(db, [...(dirtyByDb.get(db) ?? []), path]);
  }
  return { report, dirtyByDb };
}

/** One warning per DB whose artifact has uncommitted changes; the paths at debug level. */
function warnDirtyArtifacts(log: Log, kind: string, dirtyByDb: ReadonlyMap<string, string[]>, missingDbs: ReadonlySet<string>): void {
  for (const [db, paths] of dirtyByDb) {
    // A DB whose artifact is missing has its own error; its deleted files need no warning.
    if (missingDbs.has(db)) continue;
    log.warning(
      `${db}: ${paths.length} uncommitted change(s) in its ${kind} artifact; the run uses the files as they are and the manifest records their digest`,
    );
    for (const p of paths) log.debug(`uncommitted in ${db}'s artifact: ${p}`);
  }
}

/**
 * The image of a per-run cluster (docs/reference/per-run-cluster.md#image-tag): the given image-uri, or the content-addressed
 * tag of the git-tracked inputs and the dataset. Local only: the registry is asked later.
 */
async function runImage(s: SubmitSettings, worktree: WorktreeReport, problems: ProblemList): Promise<string> {
  const g = s.dispatch.gce;
  if (s.dispatch.cluster !== 'ephemeral') return '';
  if (g.imageUri) {
    const access = registryAccess(g.imageUri, { project: s.gcpProject, extraHosts: g.imageRegistries });
    if ('problem' in access)
      problems.add(Inputs.ImageUri, access.problem, 'push the image to Artifact Registry of gcp-project, or name its registry host in image-registries');
    return g.imageUri;
  }
  try {
    const { tag } = await imageTag({
      repoRoot: await repoRoot(s.workspace),
      miniInteractRoot: s.miniInteractRoot,
      dirty: s.allowDirty && worktree.dirty.length > 0,
    });
    return imageUri({ region: g.region, project: s.gcpProject, tag });
  } catch (e) {
    problems.add(Inputs.ImageUri, `cannot compute the content-addressed image tag: ${errorMessage(e)}`, 'fix the cause, or give image-uri');
    return '';
  }
}

export async function preflight(log: Log, submit: SubmitSettings, env: NodeJS.ProcessEnv = process.env): Promise<Preflight> {
  const problems = new ProblemList();
  if (submit.duplicateIds.length > 0) log.warning(`${submit.idSource.input}: dropped duplicate instance ids: ${listIds(submit.duplicateIds)}`);

  const mapping = mapInstances(submit.datasetFile, submit.instanceIds, problems);

  const needs = keyNeeds(submit, submit.queryMode);
  const keyNames = [...needs.keys()];
  const { keys, missing: missingKeys, problems: keyProblems } = readRunKeys(needs, submit, env);
  for (const p of keyProblems) problems.add(p.input, p.message, p.fix);
  // A dry run of a pull request from a fork gets every secret empty: it still checks the rest.
  if (missingKeys && submit.dryRun) log.warning(`${missingKeys.message} (a dry run checks everything else and passes; a real submit fails on this)`);
  else if (missingKeys) problems.add(missingKeys.input, missingKeys.message, missingKeys.fix);

  const kind = artifactFor(submit.framework, submit.queryMode, submit.slayerSetup);
  const artifacts: DbArtifact[] = [];

  const artifactDirs = new Map(kind ? mapping.dbs.map((db) => [db, join(submit.artifactRoots[kind], db)] as const) : []);
  const { report: worktree, dirtyByDb } = await checkWorktree(submit, artifactDirs, problems);
  if (worktree.dirty.length > 0) {
    const msg = `uncommitted changes under image-input paths: [${worktree.dirty.map((p) => `'${p}'`).join(', ')}]`;
    if (submit.allowDirty) {
      log.warning(`${msg} (allow-dirty is true: the run is recorded as dirty)`);
    } else {
      for (const p of worktree.dirty) log.error('uncommitted change under a tracked input', { file: p });
      problems.add(Inputs.TrackedInputs, msg, 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)');
    }
  }

  if (kind && !submit.checkArtifacts) {
    // Settings allow this in a dry run only: the on-the-fly encode has not built them yet.
    log.notice(
      `check-artifacts is false: the ${kind} setup of ${mapping.dbs.length} DB(s) under ${submit.artifactRoots[kind]} was not checked; the submit checks it after the encode`,
    );
    warnDirtyArtifacts(log, kind, dirtyByDb, new Set());
  } else if (kind) {
    const missing: Array<[string, string]> = [];
    for (const db of mapping.dbs) {
      const why = await presenceProblem(kind, join(submit.artifactRoots[kind], db));
      if (why) missing.push([db, why]);
    }
    warnDirtyArtifacts(log, kind, dirtyByDb, new Set(missing.map(([db]) => db)));
    if (missing.length > 0) {
      problems.add(
        ARTIFACT_INPUT[kind],
        missingSetupMessage(kind, submit.artifactRoots[kind], missing, submit.framework, submit.slayerSetup),
        kind === 'slayer_models'
          ? 'commit the DB models under slayer_models/, or set slayer-models-root'
          : 'run the otf-encode workflow (or build it locally) before this step',
      );
    } else {
      for (const db of mapping.dbs) {
        try {
          artifacts.push(await walkDb(join(submit.artifactRoots[kind], db), db));
        } catch (e) {
          if (!(e instanceof SymlinkEscapeError)) throw e;
          problems.add(ARTIFACT_INPUT[kind], e.message, 'replace the symlink with the file itself, or point it inside the DB directory');
        }
      }
    }
  }

  const image = await runImage(submit, worktree, problems);
  const code = await planCode(log, submit.dispatch, submit.workspace, env);
  for (const p of code.problems) problems.add(p.input, p.message, p.fix);

  problems.throwIfAny('preflight failed');
  const runId = submit.runId ?? mintRunId(submit.framework, submit.queryMode);
  const plan = buildPlan({
    code: code.plan,
    settings: submit,
    runId,
    artifactKind: kind,
    artifacts,
    instanceDbs: mapping.instanceDbs,
    dbs: mapping.dbs,
    requiredKeys: keyNames,
    worktree,
    github: readGithubContext(env),
    imageUri: image,
  });
  return { plan, keys };
}

// The inputs of a new submit: the combo, the models, the instance ids, the run values and the
// local artifact roots.
import { isAbsolute } from 'node:path';
import { Defaults, Inputs } from '../common/constants.js';
import { dataPaths } from '../preflight/dataset.js';
import { type ArtifactKind, comboRejection, EVAL_MODES, FRAMEWORKS, type Framework, isFramework, QUERY_MODES, type SlayerSetup } from './combos.js';
import { ACTORS_PER_WORKER_MAX, IN_CLUSTER_PATH, MACHINE_TYPE, WORKERS_MAX } from './gce.js';
import { readInstanceIds } from './instance-ids.js';
import { absolute, MODEL, type Reader } from './reader.js';
import { runIdProblem } from './run-id.js';
import type { CommonSettings, SubmitSettings } from './settings.js';

/** Parses a new submit's own inputs; problems go to the reader's list. */
export function parseSubmit(reader: Reader, env: NodeJS.ProcessEnv, common: CommonSettings): SubmitSettings {
  const problems = reader.problems;
  const workspace = common.workspace;
  const frameworkRaw = reader.str(Inputs.Framework);
  if (!frameworkRaw)
    problems.add(Inputs.Framework, 'is required for a new submit and is empty', `set framework to one of: ${Object.keys(FRAMEWORKS).join(', ')}`);
  else if (!isFramework(frameworkRaw))
    problems.add(Inputs.Framework, `unknown framework '${frameworkRaw}'`, `use one of: ${Object.keys(FRAMEWORKS).join(', ')}`);
  const queryMode = reader.oneOf(Inputs.QueryMode, QUERY_MODES);
  const mode = reader.oneOf(Inputs.Mode, EVAL_MODES);
  const slayerSetup = (reader.str(Inputs.SlayerSetup) || Defaults.slayerSetup) as SlayerSetup;
  // The combo rules validate slayer-setup themselves (rule 3), so they run on the raw value.
  if (isFramework(frameworkRaw) && QUERY_MODES.includes(queryMode) && EVAL_MODES.includes(mode)) {
    const rejection = comboRejection({ framework: frameworkRaw, queryMode, mode, slayerSetup });
    if (rejection) problems.add(Inputs.SlayerSetup, rejection, 'see the combo table in the README (SLayer combos)');
  }

  const agentModel = reader.required(Inputs.AgentModel, 'set agent-model to a LiteLLM-style provider/model, e.g. anthropic/claude-sonnet-4-5');
  const userSimModel = reader.str(Inputs.UserSimModel) || Defaults.userSimModel;
  for (const [name, model] of [
    [Inputs.AgentModel, agentModel],
    [Inputs.UserSimModel, userSimModel],
  ] as const) {
    if (model && !MODEL.test(model))
      problems.add(
        name,
        `'${model}' is not a LiteLLM model name`,
        'use provider/model made of letters, digits and . _ : / @ + -, e.g. anthropic/claude-sonnet-4-5',
      );
  }

  const ids = readInstanceIds({
    inlineInput: Inputs.InstanceIds,
    fileInput: Inputs.InstanceIdsFile,
    inline: reader.str(Inputs.InstanceIds),
    file: reader.str(Inputs.InstanceIdsFile),
    workspace,
  });
  for (const p of ids.problems) problems.add(p.input, p.message, p.fix);

  const { miniInteractRoot, datasetFile } = dataPaths(workspace, env, reader.str(Inputs.MiniInteractRoot), reader.str(Inputs.DatasetFile));

  const patience = reader.int(Inputs.Patience, Defaults.patience, 0);
  const maxDepth = reader.int(Inputs.MaxDepth, Defaults.maxDepth, 1);
  const strict = reader.bool(Inputs.Strict, false);
  const useAuditedGoldSql = reader.bool(Inputs.UseAuditedGoldSql, false);
  const promptCache = reader.bool(Inputs.PromptCache, true);
  const workers = reader.int(Inputs.Workers, Defaults.workers, 1, WORKERS_MAX);
  const actorsPerWorker = reader.int(Inputs.ActorsPerWorker, Defaults.actorsPerWorker, 1, ACTORS_PER_WORKER_MAX);
  const workerType = reader.str(Inputs.WorkerType) || Defaults.workerType;
  if (!MACHINE_TYPE.test(workerType)) problems.add(Inputs.WorkerType, `'${workerType}' is not a GCE machine type`, 'use a machine type such as e2-standard-4');
  const maxRuntimeHours = reader.int(Inputs.MaxRuntimeHours, Defaults.maxRuntimeHours, 1, 72);
  const slayerStorageRoot = reader.str(Inputs.SlayerStorageRoot) || Defaults.slayerStorageRoot;
  if (!IN_CLUSTER_PATH.test(slayerStorageRoot))
    problems.add(
      Inputs.SlayerStorageRoot,
      `'${slayerStorageRoot}' is not an absolute in-cluster path of plain characters`,
      `keep the default ${Defaults.slayerStorageRoot}`,
    );

  const runIdRaw = reader.str(Inputs.RunId);
  if (runIdRaw) {
    const p = runIdProblem(runIdRaw);
    if (p) problems.add(Inputs.RunId, p, 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes');
  }

  const trackedInputs = reader.lines(Inputs.TrackedInputs, Defaults.trackedInputs);
  for (const t of trackedInputs) {
    if (isAbsolute(t) || t.split('/').includes('..'))
      problems.add(Inputs.TrackedInputs, `'${t}' must be a path inside the repository`, 'use repo-relative paths such as src/');
  }
  const allowDirty = reader.bool(Inputs.AllowDirty, false);
  if (allowDirty && common.dispatch.cluster === 'ephemeral' && !common.dispatch.wait) {
    problems.add(
      Inputs.AllowDirty,
      'allow-dirty and wait: false are mutually exclusive on a per-run cluster (a detached dirty run could never be reproduced or torn down by a rerun)',
      'set wait: true, or commit the changes',
    );
  }

  const artifactRoots: Record<ArtifactKind, string> = {
    slayer_models: absolute(reader.str(Inputs.SlayerModelsRoot) || 'slayer_models', workspace),
    slayer_otf_cache: absolute(reader.str(Inputs.OtfCacheRoot) || env.BIRD_OTF_CACHE_ROOT || 'slayer_otf_cache', workspace),
    slayer_models_otf: absolute(reader.str(Inputs.ModelsOtfRoot) || env.BIRD_SLAYER_MODELS_OTF_ROOT || 'slayer_models_otf', workspace),
  };

  // Only a preflight ahead of the on-the-fly encode may skip the artifacts: a real submit uploads
  // them, so it always checks them.
  const checkArtifacts = reader.bool(Inputs.CheckArtifacts, true);
  if (!checkArtifacts && !common.dryRun) {
    problems.add(
      Inputs.CheckArtifacts,
      'check-artifacts is false but dry-run is false: a real submit uploads the SLayer artifacts, so it always checks them',
      'remove check-artifacts (or set it to true); check-artifacts: false is only for a dry run (dry-run: true) that runs before the on-the-fly encode builds the artifacts',
    );
  }

  return {
    kind: 'submit',
    framework: frameworkRaw as Framework,
    queryMode,
    mode,
    slayerSetup,
    agentModel,
    userSimModel,
    instanceIds: ids.ids,
    duplicateIds: ids.duplicates,
    idSource: ids.source,
    datasetFile,
    miniInteractRoot,
    patience,
    maxDepth,
    strict,
    useAuditedGoldSql,
    promptCache,
    workers,
    actorsPerWorker,
    workerType,
    maxRuntimeHours,
    slayerStorageRoot,
    runId: runIdRaw || null,
    trackedInputs,
    allowDirty,
    artifactRoots,
    checkArtifacts,
    ...common,
  };
}

import { describe, expect, it } from 'vitest';
import { Inputs } from '../../src/common/constants.js';
import { ProblemsError } from '../../src/common/errors.js';
import { parseSettings, type SubmitSettings } from '../../src/inputs/settings.js';

const base: Partial<Record<Inputs, string>> = {
  [Inputs.Framework]: 'pydantic_ai',
  [Inputs.QueryMode]: 'raw',
  [Inputs.Mode]: 'a-interact',
  [Inputs.AgentModel]: 'anthropic/claude-sonnet-4-5',
  [Inputs.InstanceIds]: 'a_1, b_2 ,a_1',
  [Inputs.DryRun]: 'true',
};

function parse(over: Partial<Record<Inputs, string>> = {}, env: NodeJS.ProcessEnv = { GITHUB_WORKSPACE: '/ws/repo', RUNNER_TEMP: '/rt' }) {
  const all = { ...base, ...over };
  const s = parseSettings(
    (name) => all[name] ?? '',
    env,
    () => {},
  );
  if (s.kind !== 'submit') throw new Error('expected a submit');
  return s as SubmitSettings;
}

describe('settings', () => {
  it('applies the documented defaults', () => {
    const s = parse();
    expect(s).toMatchObject({
      slayerSetup: 'pre-encoded',
      userSimModel: 'anthropic/claude-haiku-4-5-20251001',
      patience: 3,
      maxDepth: 3,
      strict: false,
      useAuditedGoldSql: false,
      promptCache: true,
      workers: 4,
      actorsPerWorker: 4,
      workerType: 'e2-standard-4',
      maxRuntimeHours: 8,
      slayerStorageRoot: '/data/slayer_models',
      runId: null,
      uploadConcurrency: 32,
      miniInteractRoot: '/ws/mini-interact',
      datasetFile: '/ws/mini-interact/mini_interact.jsonl',
      trackedInputs: ['src/', 'audited_gold/', 'uv.lock', 'pyproject.toml', 'Dockerfile.cloud'],
      checkArtifacts: true,
    });
    expect(s.artifactRoots).toEqual({
      slayer_models: '/ws/repo/slayer_models',
      slayer_otf_cache: '/ws/repo/slayer_otf_cache',
      slayer_models_otf: '/ws/repo/slayer_models_otf',
    });
  });

  it('de-duplicates ids in first-seen order and reports the duplicates', () => {
    const s = parse();
    expect(s.instanceIds).toEqual(['a_1', 'b_2']);
    expect(s.duplicateIds).toEqual(['a_1']);
  });

  it('takes the roots from the environment as the Python tools do', () => {
    const s = parse({}, { GITHUB_WORKSPACE: '/ws/repo', BIRD_DB_PATH: '/data/mi', BIRD_OTF_CACHE_ROOT: '/c', BIRD_SLAYER_MODELS_OTF_ROOT: '/o' });
    expect(s.datasetFile).toBe('/data/mi/mini_interact.jsonl');
    expect(s.artifactRoots.slayer_otf_cache).toBe('/c');
    expect(s.artifactRoots.slayer_models_otf).toBe('/o');
    expect(parse({}, { GITHUB_WORKSPACE: '/ws/repo', BIRD_DATA_PATH: '/d.jsonl' }).datasetFile).toBe('/d.jsonl');
  });

  it('accepts the YAML boolean spellings and nothing else', () => {
    for (const v of ['true', 'True', 'TRUE']) expect(parse({ [Inputs.Strict]: v }).strict).toBe(true);
    for (const v of ['false', 'False', 'FALSE']) expect(parse({ [Inputs.Strict]: v }).strict).toBe(false);
    for (const v of ['yes', '1', 'on', 'ture']) expect(() => parse({ [Inputs.Strict]: v })).toThrow(ProblemsError);
  });

  it('collects every problem into one error', () => {
    try {
      parse({ [Inputs.Patience]: 'NaN', [Inputs.Workers]: '0', [Inputs.RunId]: 'X', [Inputs.TrackedInputs]: '../up', [Inputs.GcsBucket]: 'Bad_Bucket!' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemsError);
      expect((e as ProblemsError).problems.map((p) => p.input)).toEqual([
        Inputs.GcsBucket,
        Inputs.Patience,
        Inputs.Workers,
        Inputs.RunId,
        Inputs.TrackedInputs,
      ]);
      expect((e as ProblemsError).message).toMatch(/^5 input problems:\n {2}- gcs-bucket: 'Bad_Bucket!' is not a valid bucket name/);
    }
  });

  it('check-artifacts: false only in a dry run; a real submit is refused, naming both inputs and the fix', () => {
    expect(parse({ [Inputs.CheckArtifacts]: 'false' }).checkArtifacts).toBe(false);
    try {
      parse({ [Inputs.CheckArtifacts]: 'false', [Inputs.DryRun]: 'false', [Inputs.GcsBucket]: 'runs' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemsError);
      const problems = (e as ProblemsError).problems;
      expect(problems.map((p) => p.input)).toEqual([Inputs.CheckArtifacts]);
      expect(problems[0].message).toBe('check-artifacts is false but dry-run is false: a real submit uploads the SLayer artifacts, so it always checks them');
      expect(problems[0].fix).toContain('only for a dry run (dry-run: true) that runs before the on-the-fly encode');
    }
    expect(parse({ [Inputs.CheckArtifacts]: 'true', [Inputs.DryRun]: 'false', [Inputs.GcsBucket]: 'runs' }).checkArtifacts).toBe(true);
  });

  it('cluster-scratch-root: an absolute path of plain characters; a $ (which Ray would expand in env_vars) is refused', () => {
    expect(parse({ [Inputs.ClusterScratchRoot]: '/scratch/bird/' }).dispatch.clusterScratchRoot).toBe('/scratch/bird');
    for (const bad of ['/scratch/$HOME', '/scratch/${RUN}', 'relative/path', '/a b']) {
      try {
        parse({ [Inputs.ClusterScratchRoot]: bad });
        expect.unreachable(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(ProblemsError);
        const problems = (e as ProblemsError).problems;
        expect(problems.map((p) => p.input)).toEqual([Inputs.ClusterScratchRoot]);
        expect(problems[0].message).toBe(`'${bad}' is not an absolute in-cluster path of plain characters`);
      }
    }
  });

  it('strips gs:// from the bucket', () => {
    expect(parse({ [Inputs.GcsBucket]: 'gs://my-runs/' }).gcsBucket).toBe('my-runs');
  });
});

describe('list-runs and trend-runs', () => {
  const parseAny = (inputs: Partial<Record<Inputs, string>>) =>
    parseSettings(
      (name) => inputs[name] ?? '',
      { GITHUB_WORKSPACE: '/ws/repo', RUNNER_TEMP: '/rt' },
      () => {},
    );
  const problems = (inputs: Partial<Record<Inputs, string>>): string => {
    try {
      parseAny(inputs);
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemsError);
      return (e as Error).message;
    }
    throw new Error('expected the inputs to be refused');
  };

  it('list-runs is a mode of its own: the count, the bucket, and trend-runs (0 when unset)', () => {
    const s = parseAny({ [Inputs.ListRuns]: '20', [Inputs.GcsBucket]: 'gs://runs-bucket/' });
    expect(s).toMatchObject({ kind: 'list', count: 20, gcsBucket: 'runs-bucket', report: { trendRuns: 0 } });
    expect(parseAny({ [Inputs.ListRuns]: '100', [Inputs.GcsBucket]: 'b-1', [Inputs.TrendRuns]: '14' })).toMatchObject({
      count: 100,
      report: { trendRuns: 14 },
    });
  });

  it('refuses a count out of 1 to 100, no bucket, and a second mode input', () => {
    expect(problems({ [Inputs.ListRuns]: '101', [Inputs.GcsBucket]: 'b-1' })).toMatch(/list-runs: 101 is out of range.*from 1 to 100/);
    expect(problems({ [Inputs.ListRuns]: 'ten', [Inputs.GcsBucket]: 'b-1' })).toMatch(/list-runs: 'ten' is not a whole number/);
    expect(problems({ [Inputs.ListRuns]: '5' })).toMatch(/gcs-bucket: is required for list-runs/);
    expect(problems({ [Inputs.ListRuns]: '5', [Inputs.StopRunId]: 'run-1', [Inputs.GcsBucket]: 'b-1' })).toMatch(
      /stop-run-id \('run-1'\) and list-runs \('5'\) are all set/,
    );
  });

  it('trend-runs takes 0 to 30 in every mode that reports', () => {
    expect(parseAny({ [Inputs.ReportRunId]: 'run-1', [Inputs.GcsBucket]: 'b-1', [Inputs.TrendRuns]: '30' })).toMatchObject({
      kind: 'report',
      report: { trendRuns: 30 },
    });
    expect(parse({ [Inputs.TrendRuns]: '0' }).report.trendRuns).toBe(0);
    expect(problems({ [Inputs.ReportRunId]: 'run-1', [Inputs.GcsBucket]: 'b-1', [Inputs.TrendRuns]: '31' })).toMatch(/trend-runs: 31 is out of range/);
  });
});

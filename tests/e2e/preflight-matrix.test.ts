// The bad-input matrix: the built action, run as the runner does, on a real git repo.
// Each case asserts the exact problem and that nothing was written outside RUNNER_TEMP.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoRepo } from '../../tools/demo/demo-repo.mjs';
import { git } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, everythingWritten, removeDir, runAction, TEST_KEYS, treeSnapshot, validInputs, warnings } from '../helpers/action.js';

const DBS = ['alien', 'credit', 'news'];
type Repo = DemoRepo & { root: string };

interface Case {
  name: string;
  inputs?: (repo: Repo) => Record<string, string>;
  env?: Record<string, string | undefined>;
  /** Changes the repo before the run; such cases get a repo of their own. */
  mutate?: (repo: Repo) => void;
  /** Exact text the error annotation must contain. */
  error: string | string[];
}

/** A real submit that the preflight stops before any request: the keys are checked only then. */
const REAL_SUBMIT = { 'dry-run': 'false', 'gcs-bucket': 'bird-runs-never-reached', cluster: 'none' };

const otf =
  (framework: string, extra: Record<string, string> = {}) =>
  (r: Repo) =>
    validInputs(r, { framework, 'slayer-setup': 'on-the-fly', ...extra });

function writeOtf(r: Repo, root: string, marker: string | null, kbRows: string | null): void {
  for (const db of r.dbs) {
    const d = join(r.workspace, root, db);
    mkdirSync(join(d, 'models', db), { recursive: true });
    writeFileSync(join(d, 'models', db, 't.yaml'), 'name: t\n');
    if (marker) writeFileSync(join(d, marker), '0123456789abcdef');
    if (kbRows !== null) writeFileSync(join(d, '_kb_rows.json'), kbRows);
  }
}

const cases: Case[] = [
  // Combo rules (docs/reference/combos.md#combo-rules), in rule order, plus value sets.
  {
    name: 'rule 1: otf_encode needs on-the-fly',
    inputs: (r) => validInputs(r, { framework: 'pydantic_ai_otf_encode' }),
    error: 'slayer-setup: framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup pre-encoded',
  },
  {
    name: 'rule 1 wins over rule 3',
    inputs: (r) => validInputs(r, { framework: 'pydantic_ai_otf_encode', 'slayer-setup': 'foo' }),
    error: 'slayer-setup: framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup foo',
  },
  {
    name: 'rule 3: unknown setup',
    inputs: (r) => validInputs(r, { 'slayer-setup': 'half-baked' }),
    error: "slayer-setup: slayer-setup must be 'pre-encoded' or 'on-the-fly'; got 'half-baked'",
  },
  {
    name: 'rule 4: on-the-fly with claude_sdk',
    inputs: otf('claude_sdk'),
    error:
      'slayer-setup: slayer-setup on-the-fly is only supported with framework pydantic_ai_recursive or framework pydantic_ai_otf_encode; got framework claude_sdk',
  },
  {
    name: 'rule 5: on-the-fly with raw',
    inputs: otf('pydantic_ai_recursive', { 'query-mode': 'raw' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with query-mode slayer; got query-mode raw',
  },
  {
    name: 'rule 6: on-the-fly with c-interact',
    inputs: otf('pydantic_ai_recursive', { mode: 'c-interact' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with mode a-interact; got mode c-interact',
  },
  {
    name: 'rule 6: on-the-fly with oracle',
    inputs: otf('pydantic_ai_otf_encode', { mode: 'oracle' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with mode a-interact; got mode oracle',
  },
  {
    name: 'unknown framework',
    inputs: (r) => validInputs(r, { framework: 'langchain' }),
    error:
      "framework: unknown framework 'langchain' (fix: use one of: claude_sdk, pydantic_ai, pydantic_ai_recursive, pydantic_ai_otf_encode, mcp_agent, agno, smolagents)",
  },
  { name: 'empty framework', inputs: (r) => validInputs(r, { framework: '' }), error: 'framework: is required for a new submit and is empty' },
  { name: 'bad query-mode', inputs: (r) => validInputs(r, { 'query-mode': 'sql' }), error: "query-mode: 'sql' is not one of raw, slayer" },
  { name: 'bad mode', inputs: (r) => validInputs(r, { mode: 'b-interact' }), error: "mode: 'b-interact' is not one of a-interact, c-interact, oracle" },
  {
    name: 'a model name with shell characters',
    inputs: (r) => validInputs(r, { 'agent-model': 'anthropic/x$(id)' }),
    error: "agent-model: 'anthropic/x$(id)' is not a LiteLLM model name",
  },
  { name: 'missing agent-model', inputs: (r) => validInputs(r, { 'agent-model': '' }), error: 'agent-model: is required for a new submit and is empty' },

  // Instance ids.
  {
    name: 'empty id list',
    inputs: (r) => validInputs(r, { 'instance-ids': ' , ,' }),
    error: 'instance-ids: resolved to an empty list (no ids parsed from `instance-ids` or `instance-ids-file`)',
  },
  {
    name: 'unknown ids',
    inputs: (r) => validInputs(r, { 'instance-ids': `alien_1,nope_7,credit_2,ghost_1` }),
    error: "instance-ids: 2 instance id(s) not in the dataset '",
  },
  {
    name: 'unknown ids are listed',
    inputs: (r) => validInputs(r, { 'instance-ids': `alien_1,nope_7,credit_2,ghost_1` }),
    error: "mini_interact.jsonl': nope_7, ghost_1",
  },
  {
    name: 'both id inputs',
    inputs: (r) => validInputs(r, { 'instance-ids-file': 'ids.txt' }),
    error: "instance-ids: both instance-ids and instance-ids-file ('ids.txt') are set",
  },
  { name: 'no id input', inputs: (r) => validInputs(r, { 'instance-ids': '' }), error: 'instance-ids: neither instance-ids nor instance-ids-file is set' },
  {
    name: 'missing ids file',
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'eval/ids.txt' }),
    error: "instance-ids-file: file 'eval/ids.txt' does not exist",
  },
  {
    name: 'empty ids file',
    mutate: (r) => writeFileSync(join(r.workspace, 'ids.txt'), '  \n\n '),
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'ids.txt' }),
    error: 'instance-ids-file: resolved to an empty list',
  },
  {
    name: 'id with a comma in the ids file',
    mutate: (r) => writeFileSync(join(r.workspace, 'ids.txt'), 'alien_1 alien_2,credit_1\n'),
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'ids.txt' }),
    error: 'instance-ids-file: ids contain a comma: alien_2,credit_1',
  },

  // API keys (docs/reference/combos.md#api-keys): names only, sorted, each with the input that needs
  // it, and the fork hint. A real submit fails on them (a dry run only warns, below), before any write.
  {
    name: 'missing anthropic key',
    env: { ANTHROPIC_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error:
      'env: missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001). Pass each one',
  },
  {
    name: 'missing openai key in slayer mode',
    env: { OPENAI_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model). Pass',
  },
  {
    name: 'both keys missing, sorted',
    env: { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error:
      'missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001), OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model). Pass',
  },
  {
    name: 'empty key (fork PR)',
    env: { ANTHROPIC_API_KEY: '' },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: ['missing API key env vars for job submission: ANTHROPIC_API_KEY (for', 'On a pull request from a fork GitHub passes secrets as empty strings'],
  },
  {
    name: 'whitespace-only key',
    env: { OPENAI_API_KEY: '   ' },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for query-mode slayer',
  },
  {
    name: 'openrouter key',
    env: { OPENROUTER_API_KEY: undefined },
    inputs: (r) => validInputs(r, { ...REAL_SUBMIT, 'agent-model': 'openrouter/meta/llama-3' }),
    error: 'missing API key env vars for job submission: OPENROUTER_API_KEY (for agent-model openrouter/meta/llama-3). Pass',
  },
  {
    name: 'gpt user-sim in raw mode needs openai',
    env: { OPENAI_API_KEY: undefined },
    inputs: (r) => validInputs(r, { ...REAL_SUBMIT, 'query-mode': 'raw', 'user-sim-model': 'gpt-4o-mini' }),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for user-sim-model gpt-4o-mini). Pass',
  },

  // Run ids (docs/reference/run-ids.md#format).
  { name: 'uppercase run id', inputs: (r) => validInputs(r, { 'run-id': 'Run-1' }), error: "run-id: run id 'Run-1' must match ^[a-z0-9][-a-z0-9]*[a-z0-9]$" },
  { name: 'underscore in run id', inputs: (r) => validInputs(r, { 'run-id': 'run_1' }), error: "run-id: run id 'run_1' must match" },
  {
    name: '36-character run id',
    inputs: (r) => validInputs(r, { 'run-id': 'a'.repeat(36) }),
    error: `run-id: run id '${'a'.repeat(36)}' is 36 characters; at most 35 fit GCE node names`,
  },
  { name: 'leading dash', inputs: (r) => validInputs(r, { 'run-id': '-run1' }), error: "run-id: run id '-run1' must match" },
  { name: 'trailing dash', inputs: (r) => validInputs(r, { 'run-id': 'run1-' }), error: "run-id: run id 'run1-' must match" },

  // Numbers and booleans.
  {
    name: 'NaN patience',
    inputs: (r) => validInputs(r, { patience: 'three' }),
    error: "patience: 'three' is not a whole number (fix: use a whole number from 0 up)",
  },
  { name: 'fractional max-depth', inputs: (r) => validInputs(r, { 'max-depth': '2.5' }), error: "max-depth: '2.5' is not a whole number" },
  { name: 'negative workers', inputs: (r) => validInputs(r, { workers: '-1' }), error: 'workers: -1 is out of range (fix: use a whole number from 1 to 256)' },
  {
    name: 'workers above the cap',
    inputs: (r) => validInputs(r, { workers: '257' }),
    error: 'workers: 257 is out of range (fix: use a whole number from 1 to 256)',
  },
  {
    name: 'actors-per-worker above the cap',
    inputs: (r) => validInputs(r, { 'actors-per-worker': '65' }),
    error: 'actors-per-worker: 65 is out of range (fix: use a whole number from 1 to 64)',
  },
  { name: 'zero max-depth', inputs: (r) => validInputs(r, { 'max-depth': '0' }), error: 'max-depth: 0 is out of range' },
  {
    name: 'max-runtime-hours 73',
    inputs: (r) => validInputs(r, { 'max-runtime-hours': '73' }),
    error: 'max-runtime-hours: 73 is out of range (fix: use a whole number from 1 to 72)',
  },
  {
    name: 'upload-concurrency 0',
    inputs: (r) => validInputs(r, { 'upload-concurrency': '0' }),
    error: 'upload-concurrency: 0 is out of range (fix: use a whole number from 1 to 256)',
  },
  { name: 'typo boolean strict', inputs: (r) => validInputs(r, { strict: 'ture' }), error: "strict: 'ture' is not a boolean (fix: use true or false)" },
  { name: 'yes is not a boolean', inputs: (r) => validInputs(r, { 'prompt-cache': 'yes' }), error: "prompt-cache: 'yes' is not a boolean" },
  { name: 'typo boolean dry-run', inputs: (r) => validInputs(r, { 'dry-run': 'treu' }), error: "dry-run: 'treu' is not a boolean" },
  { name: 'bad machine type', inputs: (r) => validInputs(r, { 'worker-type': 'E2_STANDARD' }), error: "worker-type: 'E2_STANDARD' is not a GCE machine type" },
  { name: 'bucket required without dry-run', inputs: (r) => validInputs(r, { 'dry-run': 'false' }), error: 'gcs-bucket: is required unless dry-run is true' },
  {
    name: 'all problems at once',
    inputs: (r) => validInputs(r, { patience: 'x', strict: 'nope', 'run-id': 'BAD', framework: 'zzz' }),
    error: [
      '4 input problems:',
      "framework: unknown framework 'zzz'",
      "patience: 'x' is not a whole number",
      "strict: 'nope' is not a boolean",
      "run-id: run id 'BAD' must match",
    ],
  },

  // Dispatch and per-run cluster inputs.
  {
    name: 'existing cluster without an address',
    inputs: (r) => validInputs(r, { cluster: 'existing' }),
    error: 'ray-address: is required when cluster is existing',
  },
  { name: 'unknown cluster mode', inputs: (r) => validInputs(r, { cluster: 'kuberay' }), error: "cluster: 'kuberay' is not one of none, existing, ephemeral" },
  {
    name: 'address with credentials',
    inputs: (r) => validInputs(r, { cluster: 'existing', 'ray-address': 'https://user:pw@ray.example.com' }),
    error: 'ray-address: carries credentials in the URL (fix: move them into ray-headers (masked)',
  },
  {
    name: 'ray-headers not JSON, value kept out',
    inputs: (r) => validInputs(r, { 'ray-headers': 'Bearer sk-ant-TESTSECRET-4f1d9c2b7a' }),
    error: 'ray-headers: is not valid JSON (fix: give a JSON object',
  },
  {
    name: 'runtime-env working_dir taken by the keys file',
    inputs: (r) => validInputs(r, { 'runtime-env': '{"working_dir": "gs://b/code.zip"}' }),
    error: 'runtime-env: sets working_dir, which this action uses for the job package (the API keys file',
  },
  {
    name: 'runtime-env env_vars not strings',
    inputs: (r) => validInputs(r, { 'runtime-env': '{"env_vars": {"N": 3}}' }),
    error: 'runtime-env: env_vars must be an object of string values',
  },
  {
    name: 'zone outside the region',
    inputs: (r) => validInputs(r, { region: 'europe-west4', zone: 'us-central1-b' }),
    error: "zone: zone 'us-central1-b' is not in region 'europe-west4'",
  },
  { name: 'bad region', inputs: (r) => validInputs(r, { region: 'US' }), error: "region: 'US' is not a GCE region" },
  { name: 'ephemeral without a project', inputs: (r) => validInputs(r, { cluster: 'ephemeral' }), error: 'gcp-project: is required when cluster is ephemeral' },
  {
    name: 'allow-dirty with a detached per-run cluster',
    inputs: (r) => validInputs(r, { cluster: 'ephemeral', 'gcp-project': 'my-project', 'allow-dirty': 'true', wait: 'false' }),
    error: 'allow-dirty: allow-dirty and wait: false are mutually exclusive on a per-run cluster',
  },
  { name: 'wait-timeout-minutes 0', inputs: (r) => validInputs(r, { 'wait-timeout-minutes': '0' }), error: 'wait-timeout-minutes: 0 is out of range' },
  {
    name: 'invalid rerun run id',
    inputs: (_r) => ({ 'rerun-run-id': 'Not_Valid', 'gcs-bucket': 'bucket-x' }),
    error: "rerun-run-id: run id 'Not_Valid' must match",
  },
  { name: 'rerun without a bucket', inputs: () => ({ 'rerun-run-id': 'run-1' }), error: 'gcs-bucket: is required for a rerun or a report' },

  // DB names from the dataset.
  ...(
    [
      ['..', "selected_database of instance 'evil_1' '..' is not a single safe path segment"],
      ['a/b', "selected_database of instance 'evil_1' 'a/b' is not a single safe path segment"],
      ['', "selected_database of instance 'evil_1' is empty"],
    ] as const
  ).map(
    ([db, error]): Case => ({
      name: `dataset DB name ${JSON.stringify(db)}`,
      mutate: (r) => appendFileSync(r.datasetFile, `${JSON.stringify({ instance_id: 'evil_1', selected_database: db })}\n`),
      inputs: (r) => validInputs(r, { 'instance-ids': 'alien_1,evil_1' }),
      error: `dataset-file: ${error}`,
    }),
  ),
  { name: 'dataset file missing', inputs: (r) => validInputs(r, { 'dataset-file': 'no/such.jsonl' }), error: 'dataset-file: dataset file' },

  // Artifacts (docs/reference/combos.md#artifacts-and-presence-markers) and their paths (docs/reference/gcs-layout.md#setup-uploads).
  {
    name: 'symlink out of a DB dir',
    mutate: (r) => symlinkSync('/etc/hostname', join(r.workspace, 'slayer_models', 'credit', 'leak.yaml')),
    error: 'slayer-models-root: credit/leak.yaml is a symlink that leaves the DB directory',
  },
  {
    name: 'a DB folder that is a symlink out of the artifact root',
    mutate: (r) => {
      rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true });
      symlinkSync('..', join(r.workspace, 'slayer_models', 'news'));
    },
    error: 'slayer-models-root: news is a symlink that leaves the artifact root',
  },
  {
    name: 'missing DB dir (combo 1)',
    mutate: (r) => rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true }),
    error: 'cloud slayer: local SLayer setup missing for news (is missing) under ',
  },
  {
    name: 'empty DB dir (combo 1)',
    mutate: (r) => {
      rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true });
      mkdirSync(join(r.workspace, 'slayer_models', 'news'));
    },
    error: 'local SLayer setup missing for news (is empty)',
  },
  {
    name: 'missing _cache_fp.txt (combo 2), every DB listed',
    mutate: (r) => writeOtf(r, 'slayer_otf_cache', null, '[]'),
    inputs: otf('pydantic_ai_recursive'),
    error:
      'local SLayer setup missing for alien (has no _cache_fp.txt (the build did not finish)), credit (has no _cache_fp.txt (the build did not finish)), news (has no _cache_fp.txt (the build did not finish))',
  },
  {
    name: 'missing _reference_fp.txt (combo 3)',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', null, '[]'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'models-otf-root: cloud slayer: local SLayer setup missing for alien (has no _reference_fp.txt',
  },
  {
    name: 'corrupt _kb_rows.json (combo 3)',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', '[{"a": 1'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has a _kb_rows.json that is not valid JSON)',
  },
  {
    name: '_kb_rows.json not a list (combo 3)',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', '{"rows": []}'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has a _kb_rows.json that is not a JSON list)',
  },
  {
    name: 'missing _kb_rows.json (combo 3)',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', null),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has no _kb_rows.json)',
  },

  {
    name: 'check-artifacts: false in a real submit (a dry run only)',
    inputs: (r) => validInputs(r, { 'check-artifacts': 'false', 'dry-run': 'false', 'gcs-bucket': 'runs' }),
    error: 'check-artifacts: check-artifacts is false but dry-run is false: a real submit uploads the SLayer artifacts, so it always checks them',
  },

  // The clean-worktree check (docs/reference/inputs.md#clean-worktree).
  {
    name: 'modified tracked input',
    mutate: (r) => appendFileSync(join(r.workspace, 'pyproject.toml'), '# edit\n'),
    error: "tracked-inputs: uncommitted changes under image-input paths: ['pyproject.toml']",
  },
  {
    name: 'staged change',
    mutate: (r) => {
      writeFileSync(join(r.workspace, 'src', 'bird_interact_agents', 'new.py'), 'x = 1\n');
      git(r.workspace, ['add', '-A']);
    },
    error: "uncommitted changes under image-input paths: ['src/bird_interact_agents/new.py']",
  },
  {
    name: 'untracked file',
    mutate: (r) => writeFileSync(join(r.workspace, 'audited_gold', 'q.sql'), 'select 1;\n'),
    error: "uncommitted changes under image-input paths: ['audited_gold/q.sql']",
  },
  {
    name: 'renamed in',
    mutate: (r) => git(r.workspace, ['mv', 'slayer_models/_notes/alien.md', 'src/alien.md']),
    error: "uncommitted changes under image-input paths: ['src/alien.md']",
  },
  {
    name: 'renamed out',
    mutate: (r) => git(r.workspace, ['mv', 'src/bird_interact_agents/__init__.py', 'init.py']),
    error: "uncommitted changes under image-input paths: ['src/bird_interact_agents/__init__.py']",
  },
  {
    name: 'not a git repository',
    mutate: (r) => rmSync(join(r.workspace, '.git'), { recursive: true }),
    error: 'is not a git repository. Fix: check out the evaluation repo with actions/checkout',
  },
];

describe('preflight rejects bad input and changes nothing', () => {
  let shared: Repo;
  beforeAll(() => {
    shared = demoRepo(DBS);
  });
  afterAll(() => removeDir(shared.root));

  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const repo = c.mutate ? demoRepo(DBS) : shared;
    try {
      c.mutate?.(repo);
      const before = treeSnapshot(repo.root);
      const r = await runAction({ workspace: repo.workspace, inputs: (c.inputs ?? validInputs)(repo), env: { ...TEST_KEYS, ...c.env } });
      expect(r.exitCode).toBe(1);
      const err = errors(r);
      for (const e of Array.isArray(c.error) ? c.error : [c.error]) expect(err).toContain(e);
      expect(err).toMatch(/^bird-cloud-action: /m);
      // Nothing outside RUNNER_TEMP, and no plan file inside it either.
      expect(treeSnapshot(repo.root)).toEqual(before);
      expect(readdirSync(r.runnerTemp)).toEqual(['_runner_file_commands']);
      expect(r.outputs).toEqual({});
      for (const v of Object.values(TEST_KEYS)) expect(everythingWritten(r)).not.toContain(v);
    } finally {
      if (repo !== shared) removeDir(repo.root);
    }
  });
});

describe('a deleted DB artifact', () => {
  it('is one error naming the DB, not a warning per deleted file', async () => {
    const repo = demoRepo(DBS);
    try {
      rmSync(join(repo.workspace, 'slayer_models', 'news'), { recursive: true });
      const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS });
      expect(r.exitCode).toBe(1);
      expect(errors(r)).toContain('local SLayer setup missing for news (is missing)');
      expect(r.annotations.filter((a) => a.level === 'warning')).toEqual([]);
    } finally {
      removeDir(repo.root);
    }
  });
});

describe('preflight accepts what it should', () => {
  it('drops duplicate ids with a warning', async () => {
    const repo = demoRepo(DBS);
    try {
      const r = await runAction({
        workspace: repo.workspace,
        inputs: validInputs(repo, { 'instance-ids': 'alien_1,credit_1,alien_1,credit_1,news_2' }),
        env: TEST_KEYS,
      });
      expect(r.exitCode).toBe(0);
      expect(warnings(r)).toContain('instance-ids: dropped duplicate instance ids: alien_1, credit_1');
      expect(r.outputs.dbs).toBe('["alien","credit","news"]');
    } finally {
      removeDir(repo.root);
    }
  });

  it('a dry run with empty key secrets (a fork PR) warns naming the keys, checks the rest and passes; the plan still lists the keys', async () => {
    const repo = demoRepo(DBS);
    try {
      const empty = { ...TEST_KEYS, ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' };
      const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: empty });
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      expect(warnings(r)).toContain(
        'missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001), OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model).',
      );
      expect(warnings(r)).toContain('(a dry run checks everything else and passes; a real submit fails on this)');
      const plan = JSON.parse(readFileSync(r.outputs['plan-file'], 'utf8')) as { requiredKeys: string[] };
      expect(plan.requiredKeys).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
      // Everything else is still checked: an unknown id fails the same dry run.
      const bad = await runAction({ workspace: repo.workspace, inputs: validInputs(repo, { 'instance-ids': 'alien_1,nosuch_9' }), env: empty });
      expect(bad.exitCode).toBe(1);
      expect(errors(bad)).toContain("instance-ids: 1 instance id(s) not in the dataset '");
      expect(warnings(bad)).toContain('missing API key env vars for job submission: ANTHROPIC_API_KEY');
    } finally {
      removeDir(repo.root);
    }
  });

  it('check-artifacts: false in a dry run: an on-the-fly combo before its encode plans every DB, checks the rest, and says what it skipped', async () => {
    const repo = demoRepo(DBS);
    try {
      const inputs = otf('pydantic_ai_recursive', { 'check-artifacts': 'false' })(repo);
      const r = await runAction({ workspace: repo.workspace, inputs, env: TEST_KEYS });
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      expect(r.outputs.dbs).toBe('["alien","credit","news"]');
      expect(r.outputs.artifact).toBe('slayer_otf_cache');
      const notice = r.annotations.find((a) => a.level === 'notice' && a.message.startsWith('check-artifacts is false'));
      expect(notice?.message).toBe(
        `check-artifacts is false: the slayer_otf_cache setup of 3 DB(s) under ${join(repo.workspace, 'slayer_otf_cache')} was not checked; the submit checks it after the encode`,
      );
      const plan = JSON.parse(readFileSync(r.outputs['plan-file'], 'utf8')) as { artifacts: unknown[]; dbs: string[] };
      expect(plan.artifacts).toEqual([]);
      // The other checks still run: a bad id fails this dry run as any other.
      const badId = await runAction({ workspace: repo.workspace, inputs: { ...inputs, 'instance-ids': 'alien_1,nosuch_1' }, env: TEST_KEYS });
      expect(badId.exitCode).toBe(1);
      expect(errors(badId)).toContain("instance-ids: 1 instance id(s) not in the dataset '");
      // Without it, the same dry run fails on the missing setup.
      const checked = await runAction({ workspace: repo.workspace, inputs: otf('pydantic_ai_recursive')(repo), env: TEST_KEYS });
      expect(checked.exitCode).toBe(1);
      expect(errors(checked)).toContain('local SLayer setup missing for alien (is missing)');
    } finally {
      removeDir(repo.root);
    }
  });

  it('ignores ignored files under tracked inputs', async () => {
    const repo = demoRepo(DBS);
    try {
      mkdirSync(join(repo.workspace, 'src', '__pycache__'));
      writeFileSync(join(repo.workspace, 'src', '__pycache__', 'x.pyc'), 'bytecode');
      const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS });
      expect(r.exitCode).toBe(0);
      expect(errors(r)).toBe('');
    } finally {
      removeDir(repo.root);
    }
  });

  it('allow-dirty turns the failure into a warning and records the run as dirty', async () => {
    const repo = demoRepo(DBS);
    try {
      appendFileSync(join(repo.workspace, 'uv.lock'), '# local\n');
      renameSync(join(repo.workspace, 'audited_gold', 'README.md'), join(repo.workspace, 'audited_gold', 'README2.md'));
      const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo, { 'allow-dirty': 'true' }), env: TEST_KEYS });
      expect(r.exitCode).toBe(0);
      expect(warnings(r)).toContain(
        "uncommitted changes under image-input paths: ['audited_gold/README.md', 'audited_gold/README2.md', 'uv.lock'] (allow-dirty is true",
      );
      const plan = JSON.parse((await import('node:fs')).readFileSync(r.outputs['plan-file'], 'utf8')) as { manifest: { dirty: boolean } };
      expect(plan.manifest.dirty).toBe(true);
    } finally {
      removeDir(repo.root);
    }
  });

  it('warns, but does not fail, on uncommitted changes to a selected DB model', async () => {
    const repo = demoRepo(DBS);
    try {
      appendFileSync(join(repo.workspace, 'slayer_models', 'credit', 'datasources', 'credit.yaml'), '# local edit\n');
      writeFileSync(join(repo.workspace, 'slayer_models', 'credit', 'extra.yaml'), 'name: extra\n');
      const r = await runAction({ workspace: repo.workspace, inputs: validInputs(repo), env: TEST_KEYS });
      expect(r.exitCode).toBe(0);
      // One warning for the DB, whatever the number of files; the paths only at debug level.
      const w = r.annotations.filter((a) => a.level === 'warning' && a.message.includes('uncommitted change'));
      expect(w.map((a) => a.message)).toEqual([
        'credit: 2 uncommitted change(s) in its slayer_models artifact; the run uses the files as they are and the manifest records their digest',
      ]);
      expect(r.stdout).toContain("::debug::uncommitted in credit's artifact: slayer_models/credit/datasources/credit.yaml");
    } finally {
      removeDir(repo.root);
    }
  });
});

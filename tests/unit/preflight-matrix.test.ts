// The bad-input matrix, in-process: each case goes through the settings parser (parseSettings, with
// action.yml's defaults for every input the case leaves out, as the runner passes them) and, when
// the settings pass, through the preflight, on a real git repository. Each case asserts where it is
// caught, the problem's input, its bad value and its fix, the step's error as the runner shows it,
// and that nothing was written: the repository unchanged, RUNNER_TEMP empty, no key value in anything
// printed. tests/e2e/bad-input.test.ts runs one case per kind of failure through the built action.
import { appendFileSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ERROR_PREFIX } from '../../src/common/constants.js';
import { errorMessage, ProblemsError } from '../../src/common/errors.js';
import { type MemoryLog, memoryLog } from '../../src/common/log.js';
import { parseSettings, type SubmitSettings } from '../../src/inputs/settings.js';
import { type Preflight, preflight } from '../../src/preflight/preflight.js';
import type { DemoRepo } from '../../tools/demo/demo-repo.mjs';
import { git } from '../../tools/demo/demo-repo.mjs';
import { copyRepo, removeDir, TEST_KEYS, tempDir, templateRepo, treeSnapshot, validInputs } from '../helpers/action.js';
import { actionInputs } from '../helpers/inputs.js';

const DBS = ['alien', 'credit', 'news'];
type Repo = DemoRepo & { root: string };

interface Case {
  name: string;
  inputs?: (repo: Repo) => Record<string, string>;
  env?: Record<string, string | undefined>;
  /** Changes the repo before the run; such cases get a copy of their own. */
  mutate?: (repo: Repo) => void;
  /** Where it is caught: the settings parser (nothing read yet) or the preflight. */
  stage: 'settings' | 'preflight';
  /** The input (or area) the problem names. */
  input: string;
  /** The problem's fix; for a problem without one, the text of its message that says how to fix it. */
  fix: string;
  /** Exact text the step's error must contain: the input and the bad value. */
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
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: (r) => validInputs(r, { framework: 'pydantic_ai_otf_encode' }),
    error: 'slayer-setup: framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup pre-encoded',
  },
  {
    name: 'rule 1 wins over rule 3',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: (r) => validInputs(r, { framework: 'pydantic_ai_otf_encode', 'slayer-setup': 'foo' }),
    error: 'slayer-setup: framework pydantic_ai_otf_encode requires slayer-setup on-the-fly; got slayer-setup foo',
  },
  {
    name: 'rule 3: unknown setup',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: (r) => validInputs(r, { 'slayer-setup': 'half-baked' }),
    error: "slayer-setup: slayer-setup must be 'pre-encoded' or 'on-the-fly'; got 'half-baked'",
  },
  {
    name: 'rule 4: on-the-fly with claude_sdk',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: otf('claude_sdk'),
    error:
      'slayer-setup: slayer-setup on-the-fly is only supported with framework pydantic_ai_recursive or framework pydantic_ai_otf_encode; got framework claude_sdk',
  },
  {
    name: 'rule 5: on-the-fly with raw',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: otf('pydantic_ai_recursive', { 'query-mode': 'raw' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with query-mode slayer; got query-mode raw',
  },
  {
    name: 'rule 6: on-the-fly with c-interact',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: otf('pydantic_ai_recursive', { mode: 'c-interact' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with mode a-interact; got mode c-interact',
  },
  {
    name: 'rule 6: on-the-fly with oracle',
    stage: 'settings',
    input: 'slayer-setup',
    fix: 'see the combo table in the README (SLayer combos)',
    inputs: otf('pydantic_ai_otf_encode', { mode: 'oracle' }),
    error: 'slayer-setup: slayer-setup on-the-fly is only supported with mode a-interact; got mode oracle',
  },
  {
    name: 'unknown framework',
    stage: 'settings',
    input: 'framework',
    fix: 'use one of: claude_sdk, pydantic_ai, pydantic_ai_recursive, pydantic_ai_otf_encode, mcp_agent, agno, smolagents',
    inputs: (r) => validInputs(r, { framework: 'langchain' }),
    error:
      "framework: unknown framework 'langchain' (fix: use one of: claude_sdk, pydantic_ai, pydantic_ai_recursive, pydantic_ai_otf_encode, mcp_agent, agno, smolagents)",
  },
  {
    name: 'empty framework',
    stage: 'settings',
    input: 'framework',
    fix: 'set framework to one of: claude_sdk, pydantic_ai, pydantic_ai_recursive, pydantic_ai_otf_encode, mcp_agent, agno, smolagents',
    inputs: (r) => validInputs(r, { framework: '' }),
    error: 'framework: is required for a new submit and is empty',
  },
  {
    name: 'bad query-mode',
    stage: 'settings',
    input: 'query-mode',
    fix: 'set query-mode to one of: raw, slayer',
    inputs: (r) => validInputs(r, { 'query-mode': 'sql' }),
    error: "query-mode: 'sql' is not one of raw, slayer",
  },
  {
    name: 'bad mode',
    stage: 'settings',
    input: 'mode',
    fix: 'set mode to one of: a-interact, c-interact, oracle',
    inputs: (r) => validInputs(r, { mode: 'b-interact' }),
    error: "mode: 'b-interact' is not one of a-interact, c-interact, oracle",
  },
  {
    name: 'a model name with shell characters',
    stage: 'settings',
    input: 'agent-model',
    fix: 'use provider/model made of letters, digits and . _ : / @ + -, e.g. anthropic/claude-sonnet-4-5',
    inputs: (r) => validInputs(r, { 'agent-model': 'anthropic/x$(id)' }),
    error: "agent-model: 'anthropic/x$(id)' is not a LiteLLM model name",
  },
  {
    name: 'missing agent-model',
    stage: 'settings',
    input: 'agent-model',
    fix: 'set agent-model to a LiteLLM-style provider/model, e.g. anthropic/claude-sonnet-4-5',
    inputs: (r) => validInputs(r, { 'agent-model': '' }),
    error: 'agent-model: is required for a new submit and is empty',
  },

  // Instance ids.
  {
    name: 'empty id list',
    stage: 'settings',
    input: 'instance-ids',
    fix: 'give at least one instance id',
    inputs: (r) => validInputs(r, { 'instance-ids': ' , ,' }),
    error: 'instance-ids: resolved to an empty list (no ids parsed from `instance-ids` or `instance-ids-file`)',
  },
  {
    name: 'unknown ids',
    stage: 'preflight',
    input: 'instance-ids',
    fix: 'remove them, or point dataset-file at the dataset that holds them',
    inputs: (r) => validInputs(r, { 'instance-ids': `alien_1,nope_7,credit_2,ghost_1` }),
    error: "instance-ids: 2 instance id(s) not in the dataset '",
  },
  {
    name: 'unknown ids are listed',
    stage: 'preflight',
    input: 'instance-ids',
    fix: 'remove them, or point dataset-file at the dataset that holds them',
    inputs: (r) => validInputs(r, { 'instance-ids': `alien_1,nope_7,credit_2,ghost_1` }),
    error: "mini_interact.jsonl': nope_7, ghost_1",
  },
  {
    name: 'both id inputs',
    stage: 'settings',
    input: 'instance-ids',
    fix: 'set exactly one of them',
    inputs: (r) => validInputs(r, { 'instance-ids-file': 'ids.txt' }),
    error: "instance-ids: both instance-ids and instance-ids-file ('ids.txt') are set",
  },
  {
    name: 'no id input',
    stage: 'settings',
    input: 'instance-ids',
    fix: 'give a comma list in instance-ids, or a file of whitespace-separated ids in instance-ids-file',
    inputs: (r) => validInputs(r, { 'instance-ids': '' }),
    error: 'instance-ids: neither instance-ids nor instance-ids-file is set',
  },
  {
    name: 'missing ids file',
    stage: 'settings',
    input: 'instance-ids-file',
    fix: 'commit the ids file, or give a path relative to the workspace',
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'eval/ids.txt' }),
    error: "instance-ids-file: file 'eval/ids.txt' does not exist",
  },
  {
    name: 'empty ids file',
    stage: 'settings',
    input: 'instance-ids-file',
    fix: 'give at least one instance id',
    mutate: (r) => writeFileSync(join(r.workspace, 'ids.txt'), '  \n\n '),
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'ids.txt' }),
    error: 'instance-ids-file: resolved to an empty list',
  },
  {
    name: 'id with a comma in the ids file',
    stage: 'settings',
    input: 'instance-ids-file',
    fix: 'the cluster splits --instance-ids on commas; fix the ids',
    mutate: (r) => writeFileSync(join(r.workspace, 'ids.txt'), 'alien_1 alien_2,credit_1\n'),
    inputs: (r) => validInputs(r, { 'instance-ids': '', 'instance-ids-file': 'ids.txt' }),
    error: 'instance-ids-file: ids contain a comma: alien_2,credit_1',
  },

  // API keys (docs/reference/combos.md#api-keys): names only, sorted, each with the input that needs
  // it, and the fork hint. A real submit fails on them (a dry run only warns), before any write.
  {
    name: 'missing anthropic key',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { ANTHROPIC_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error:
      'env: missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001). Pass each one',
  },
  {
    name: 'missing openai key in slayer mode',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { OPENAI_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model). Pass',
  },
  {
    name: 'both keys missing, sorted',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { OPENAI_API_KEY: undefined, ANTHROPIC_API_KEY: undefined },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error:
      'missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001), OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model). Pass',
  },
  {
    name: 'empty key (fork PR)',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { ANTHROPIC_API_KEY: '' },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: ['missing API key env vars for job submission: ANTHROPIC_API_KEY (for', 'On a pull request from a fork GitHub passes secrets as empty strings'],
  },
  {
    name: 'whitespace-only key',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { OPENAI_API_KEY: '   ' },
    inputs: (r) => validInputs(r, REAL_SUBMIT),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for query-mode slayer',
  },
  {
    name: 'openrouter key',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { OPENROUTER_API_KEY: undefined },
    inputs: (r) => validInputs(r, { ...REAL_SUBMIT, 'agent-model': 'openrouter/meta/llama-3' }),
    error: 'missing API key env vars for job submission: OPENROUTER_API_KEY (for agent-model openrouter/meta/llama-3). Pass',
  },
  {
    name: 'gpt user-sim in raw mode needs openai',
    stage: 'preflight',
    input: 'env',
    fix: 'Pass each one to this step with `env:`',
    env: { OPENAI_API_KEY: undefined },
    inputs: (r) => validInputs(r, { ...REAL_SUBMIT, 'query-mode': 'raw', 'user-sim-model': 'gpt-4o-mini' }),
    error: 'missing API key env vars for job submission: OPENAI_API_KEY (for user-sim-model gpt-4o-mini). Pass',
  },

  // Run ids (docs/reference/run-ids.md#format).
  {
    name: 'uppercase run id',
    stage: 'settings',
    input: 'run-id',
    fix: 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes',
    inputs: (r) => validInputs(r, { 'run-id': 'Run-1' }),
    error: "run-id: run id 'Run-1' must match ^[a-z0-9][-a-z0-9]*[a-z0-9]$",
  },
  {
    name: 'underscore in run id',
    stage: 'settings',
    input: 'run-id',
    fix: 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes',
    inputs: (r) => validInputs(r, { 'run-id': 'run_1' }),
    error: "run-id: run id 'run_1' must match",
  },
  {
    name: '36-character run id',
    stage: 'settings',
    input: 'run-id',
    fix: 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes',
    inputs: (r) => validInputs(r, { 'run-id': 'a'.repeat(36) }),
    error: `run-id: run id '${'a'.repeat(36)}' is 36 characters; at most 35 fit GCE node names`,
  },
  {
    name: 'leading dash',
    stage: 'settings',
    input: 'run-id',
    fix: 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes',
    inputs: (r) => validInputs(r, { 'run-id': '-run1' }),
    error: "run-id: run id '-run1' must match",
  },
  {
    name: 'trailing dash',
    stage: 'settings',
    input: 'run-id',
    fix: 'leave run-id empty to mint one, or use at most 35 lowercase letters, digits and inner dashes',
    inputs: (r) => validInputs(r, { 'run-id': 'run1-' }),
    error: "run-id: run id 'run1-' must match",
  },

  // Numbers and booleans.
  {
    name: 'NaN patience',
    stage: 'settings',
    input: 'patience',
    fix: 'use a whole number from 0 up',
    inputs: (r) => validInputs(r, { patience: 'three' }),
    error: "patience: 'three' is not a whole number (fix: use a whole number from 0 up)",
  },
  {
    name: 'fractional max-depth',
    stage: 'settings',
    input: 'max-depth',
    fix: 'use a whole number from 1 up',
    inputs: (r) => validInputs(r, { 'max-depth': '2.5' }),
    error: "max-depth: '2.5' is not a whole number",
  },
  {
    name: 'negative workers',
    stage: 'settings',
    input: 'workers',
    fix: 'use a whole number from 1 to 256',
    inputs: (r) => validInputs(r, { workers: '-1' }),
    error: 'workers: -1 is out of range (fix: use a whole number from 1 to 256)',
  },
  {
    name: 'workers above the cap',
    stage: 'settings',
    input: 'workers',
    fix: 'use a whole number from 1 to 256',
    inputs: (r) => validInputs(r, { workers: '257' }),
    error: 'workers: 257 is out of range (fix: use a whole number from 1 to 256)',
  },
  {
    name: 'actors-per-worker above the cap',
    stage: 'settings',
    input: 'actors-per-worker',
    fix: 'use a whole number from 1 to 64',
    inputs: (r) => validInputs(r, { 'actors-per-worker': '65' }),
    error: 'actors-per-worker: 65 is out of range (fix: use a whole number from 1 to 64)',
  },
  {
    name: 'zero max-depth',
    stage: 'settings',
    input: 'max-depth',
    fix: 'use a whole number from 1 up',
    inputs: (r) => validInputs(r, { 'max-depth': '0' }),
    error: 'max-depth: 0 is out of range',
  },
  {
    name: 'max-runtime-hours 73',
    stage: 'settings',
    input: 'max-runtime-hours',
    fix: 'use a whole number from 1 to 72',
    inputs: (r) => validInputs(r, { 'max-runtime-hours': '73' }),
    error: 'max-runtime-hours: 73 is out of range (fix: use a whole number from 1 to 72)',
  },
  {
    name: 'upload-concurrency 0',
    stage: 'settings',
    input: 'upload-concurrency',
    fix: 'use a whole number from 1 to 256',
    inputs: (r) => validInputs(r, { 'upload-concurrency': '0' }),
    error: 'upload-concurrency: 0 is out of range (fix: use a whole number from 1 to 256)',
  },
  {
    name: 'typo boolean strict',
    stage: 'settings',
    input: 'strict',
    fix: 'use true or false',
    inputs: (r) => validInputs(r, { strict: 'ture' }),
    error: "strict: 'ture' is not a boolean (fix: use true or false)",
  },
  {
    name: 'yes is not a boolean',
    stage: 'settings',
    input: 'prompt-cache',
    fix: 'use true or false',
    inputs: (r) => validInputs(r, { 'prompt-cache': 'yes' }),
    error: "prompt-cache: 'yes' is not a boolean",
  },
  {
    name: 'typo boolean dry-run',
    stage: 'settings',
    input: 'dry-run',
    fix: 'use true or false',
    inputs: (r) => validInputs(r, { 'dry-run': 'treu' }),
    error: "dry-run: 'treu' is not a boolean",
  },
  {
    name: 'bad machine type',
    stage: 'settings',
    input: 'worker-type',
    fix: 'use a machine type such as e2-standard-4',
    inputs: (r) => validInputs(r, { 'worker-type': 'E2_STANDARD' }),
    error: "worker-type: 'E2_STANDARD' is not a GCE machine type",
  },
  {
    name: 'bucket required without dry-run',
    stage: 'settings',
    input: 'gcs-bucket',
    fix: 'set gcs-bucket to the runs bucket (name only, without gs://)',
    inputs: (r) => validInputs(r, { 'dry-run': 'false' }),
    error: 'gcs-bucket: is required unless dry-run is true',
  },
  {
    name: 'all problems at once',
    stage: 'settings',
    input: 'framework',
    fix: 'use one of: claude_sdk, pydantic_ai, pydantic_ai_recursive, pydantic_ai_otf_encode, mcp_agent, agno, smolagents',
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
    stage: 'settings',
    input: 'ray-address',
    fix: 'set ray-address to the Ray dashboard URL, e.g. http://ray-head:8265',
    inputs: (r) => validInputs(r, { cluster: 'existing' }),
    error: 'ray-address: is required when cluster is existing',
  },
  {
    name: 'unknown cluster mode',
    stage: 'settings',
    input: 'cluster',
    fix: 'set cluster to one of: none, existing, ephemeral',
    inputs: (r) => validInputs(r, { cluster: 'kuberay' }),
    error: "cluster: 'kuberay' is not one of none, existing, ephemeral",
  },
  {
    name: 'address with credentials',
    stage: 'settings',
    input: 'ray-address',
    fix: 'move them into ray-headers (masked), e.g. {"Authorization": "Bearer <token>"}',
    inputs: (r) => validInputs(r, { cluster: 'existing', 'ray-address': 'https://user:pw@ray.example.com' }),
    error: 'ray-address: carries credentials in the URL (fix: move them into ray-headers (masked)',
  },
  {
    name: 'ray-headers not JSON, value kept out',
    stage: 'settings',
    input: 'ray-headers',
    fix: 'give a JSON object, e.g. {"key": "value"}',
    inputs: (r) => validInputs(r, { 'ray-headers': 'Bearer sk-ant-TESTSECRET-4f1d9c2b7a' }),
    error: 'ray-headers: is not valid JSON (fix: give a JSON object',
  },
  {
    name: 'runtime-env working_dir taken by the keys file',
    stage: 'preflight',
    input: 'runtime-env',
    fix: 'remove that part of runtime-env',
    inputs: (r) => validInputs(r, { 'runtime-env': '{"working_dir": "gs://b/code.zip"}' }),
    error: 'runtime-env: sets working_dir, which this action uses for the job package (the API keys file',
  },
  {
    name: 'runtime-env env_vars not strings',
    stage: 'settings',
    input: 'runtime-env',
    fix: 'quote every env_vars value',
    inputs: (r) => validInputs(r, { 'runtime-env': '{"env_vars": {"N": 3}}' }),
    error: 'runtime-env: env_vars must be an object of string values',
  },
  {
    name: 'zone outside the region',
    stage: 'settings',
    input: 'zone',
    fix: 'use a zone of europe-west4, or set region to us-central1',
    inputs: (r) => validInputs(r, { region: 'europe-west4', zone: 'us-central1-b' }),
    error: "zone: zone 'us-central1-b' is not in region 'europe-west4'",
  },
  {
    name: 'bad region',
    stage: 'settings',
    input: 'region',
    fix: 'use a region such as us-central1',
    inputs: (r) => validInputs(r, { region: 'US' }),
    error: "region: 'US' is not a GCE region",
  },
  {
    name: 'ephemeral without a project',
    stage: 'settings',
    input: 'gcp-project',
    fix: 'set gcp-project to the project the per-run cluster runs in',
    inputs: (r) => validInputs(r, { cluster: 'ephemeral' }),
    error: 'gcp-project: is required when cluster is ephemeral',
  },
  {
    name: 'allow-dirty with a detached per-run cluster',
    stage: 'settings',
    input: 'allow-dirty',
    fix: 'set wait: true, or commit the changes',
    inputs: (r) => validInputs(r, { cluster: 'ephemeral', 'gcp-project': 'my-project', 'allow-dirty': 'true', wait: 'false' }),
    error: 'allow-dirty: allow-dirty and wait: false are mutually exclusive on a per-run cluster',
  },
  {
    name: 'wait-timeout-minutes 0',
    stage: 'settings',
    input: 'wait-timeout-minutes',
    fix: 'use a whole number from 1 to 4320',
    inputs: (r) => validInputs(r, { 'wait-timeout-minutes': '0' }),
    error: 'wait-timeout-minutes: 0 is out of range',
  },
  {
    name: 'invalid rerun run id',
    stage: 'settings',
    input: 'rerun-run-id',
    fix: 'give the run id of an existing run, as in its manifest',
    inputs: (_r) => ({ 'rerun-run-id': 'Not_Valid', 'gcs-bucket': 'bucket-x' }),
    error: "rerun-run-id: run id 'Not_Valid' must match",
  },
  {
    name: 'rerun without a bucket',
    stage: 'settings',
    input: 'gcs-bucket',
    fix: 'set gcs-bucket to the runs bucket (name only, without gs://)',
    inputs: () => ({ 'rerun-run-id': 'run-1' }),
    error: 'gcs-bucket: is required for a rerun or a report',
  },

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
      stage: 'preflight',
      input: 'dataset-file',
      fix: 'fix that line of the dataset file',
      mutate: (r) => appendFileSync(r.datasetFile, `${JSON.stringify({ instance_id: 'evil_1', selected_database: db })}\n`),
      inputs: (r) => validInputs(r, { 'instance-ids': 'alien_1,evil_1' }),
      error: `dataset-file: ${error}`,
    }),
  ),
  {
    name: 'dataset file missing',
    stage: 'preflight',
    input: 'dataset-file',
    fix: 'put the mini-interact data in place before this step, or set dataset-file (or mini-interact-root) to where mini_interact.jsonl is',
    inputs: (r) => validInputs(r, { 'dataset-file': 'no/such.jsonl' }),
    error: 'dataset-file: dataset file',
  },

  // Artifacts (docs/reference/combos.md#artifacts-and-presence-markers) and their paths (docs/reference/gcs-layout.md#setup-uploads).
  {
    name: 'symlink out of a DB dir',
    stage: 'preflight',
    input: 'slayer-models-root',
    fix: 'replace the symlink with the file itself, or point it inside the DB directory',
    mutate: (r) => symlinkSync('/etc/hostname', join(r.workspace, 'slayer_models', 'credit', 'leak.yaml')),
    error: 'slayer-models-root: credit/leak.yaml is a symlink that leaves the DB directory',
  },
  {
    name: 'a DB folder that is a symlink out of the artifact root',
    stage: 'preflight',
    input: 'slayer-models-root',
    fix: 'replace the symlink with the file itself, or point it inside the DB directory',
    mutate: (r) => {
      rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true });
      symlinkSync('..', join(r.workspace, 'slayer_models', 'news'));
    },
    error: 'slayer-models-root: news is a symlink that leaves the artifact root',
  },
  {
    name: 'missing DB dir (combo 1)',
    stage: 'preflight',
    input: 'slayer-models-root',
    fix: 'commit the DB models under slayer_models/, or set slayer-models-root',
    mutate: (r) => rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true }),
    error: 'cloud slayer: local SLayer setup missing for news (is missing) under ',
  },
  {
    name: 'empty DB dir (combo 1)',
    stage: 'preflight',
    input: 'slayer-models-root',
    fix: 'commit the DB models under slayer_models/, or set slayer-models-root',
    mutate: (r) => {
      rmSync(join(r.workspace, 'slayer_models', 'news'), { recursive: true });
      mkdirSync(join(r.workspace, 'slayer_models', 'news'));
    },
    error: 'local SLayer setup missing for news (is empty)',
  },
  {
    name: 'missing _cache_fp.txt (combo 2), every DB listed',
    stage: 'preflight',
    input: 'otf-cache-root',
    fix: 'run the otf-encode workflow (or build it locally) before this step',
    mutate: (r) => writeOtf(r, 'slayer_otf_cache', null, '[]'),
    inputs: otf('pydantic_ai_recursive'),
    error:
      'local SLayer setup missing for alien (has no _cache_fp.txt (the build did not finish)), credit (has no _cache_fp.txt (the build did not finish)), news (has no _cache_fp.txt (the build did not finish))',
  },
  {
    name: 'missing _reference_fp.txt (combo 3)',
    stage: 'preflight',
    input: 'models-otf-root',
    fix: 'run the otf-encode workflow (or build it locally) before this step',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', null, '[]'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'models-otf-root: cloud slayer: local SLayer setup missing for alien (has no _reference_fp.txt',
  },
  {
    name: 'corrupt _kb_rows.json (combo 3)',
    stage: 'preflight',
    input: 'models-otf-root',
    fix: 'run the otf-encode workflow (or build it locally) before this step',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', '[{"a": 1'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has a _kb_rows.json that is not valid JSON)',
  },
  {
    name: '_kb_rows.json not a list (combo 3)',
    stage: 'preflight',
    input: 'models-otf-root',
    fix: 'run the otf-encode workflow (or build it locally) before this step',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', '{"rows": []}'),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has a _kb_rows.json that is not a JSON list)',
  },
  {
    name: 'missing _kb_rows.json (combo 3)',
    stage: 'preflight',
    input: 'models-otf-root',
    fix: 'run the otf-encode workflow (or build it locally) before this step',
    mutate: (r) => writeOtf(r, 'slayer_models_otf', '_reference_fp.txt', null),
    inputs: otf('pydantic_ai_otf_encode'),
    error: 'alien (has no _kb_rows.json)',
  },
  {
    name: 'check-artifacts: false in a real submit (a dry run only)',
    stage: 'settings',
    input: 'check-artifacts',
    fix: 'remove check-artifacts (or set it to true); check-artifacts: false is only for a dry run (dry-run: true) that runs before the on-the-fly encode builds the artifacts',
    inputs: (r) => validInputs(r, { 'check-artifacts': 'false', 'dry-run': 'false', 'gcs-bucket': 'runs' }),
    error: 'check-artifacts: check-artifacts is false but dry-run is false: a real submit uploads the SLayer artifacts, so it always checks them',
  },

  // The clean-worktree check (docs/reference/inputs.md#clean-worktree).
  {
    name: 'modified tracked input',
    stage: 'preflight',
    input: 'tracked-inputs',
    fix: 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)',
    mutate: (r) => appendFileSync(join(r.workspace, 'pyproject.toml'), '# edit\n'),
    error: "tracked-inputs: uncommitted changes under image-input paths: ['pyproject.toml']",
  },
  {
    name: 'staged change',
    stage: 'preflight',
    input: 'tracked-inputs',
    fix: 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)',
    mutate: (r) => {
      writeFileSync(join(r.workspace, 'src', 'bird_interact_agents', 'new.py'), 'x = 1\n');
      git(r.workspace, ['add', '-A']);
    },
    error: "uncommitted changes under image-input paths: ['src/bird_interact_agents/new.py']",
  },
  {
    name: 'untracked file',
    stage: 'preflight',
    input: 'tracked-inputs',
    fix: 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)',
    mutate: (r) => writeFileSync(join(r.workspace, 'audited_gold', 'q.sql'), 'select 1;\n'),
    error: "uncommitted changes under image-input paths: ['audited_gold/q.sql']",
  },
  {
    name: 'renamed in',
    stage: 'preflight',
    input: 'tracked-inputs',
    fix: 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)',
    mutate: (r) => git(r.workspace, ['mv', 'slayer_models/_notes/alien.md', 'src/alien.md']),
    error: "uncommitted changes under image-input paths: ['src/alien.md']",
  },
  {
    name: 'renamed out',
    stage: 'preflight',
    input: 'tracked-inputs',
    fix: 'commit or revert those changes, or set allow-dirty: true to run anyway (recorded in the manifest)',
    mutate: (r) => git(r.workspace, ['mv', 'src/bird_interact_agents/__init__.py', 'init.py']),
    error: "uncommitted changes under image-input paths: ['src/bird_interact_agents/__init__.py']",
  },
  {
    name: 'not a git repository',
    stage: 'preflight',
    input: 'worktree',
    fix: 'Fix: check out the evaluation repo with actions/checkout before this step',
    mutate: (r) => rmSync(join(r.workspace, '.git'), { recursive: true }),
    error: 'is not a git repository. Fix: check out the evaluation repo with actions/checkout',
  },
];

/** What one in-process step printed and failed with. */
interface Outcome {
  stage: Case['stage'];
  error: unknown;
  log: MemoryLog;
  /** Everything written to stdout (where @actions/core writes its commands), in order. */
  stdout: string;
  /** The warnings with the file each points at, as the annotations carry it. */
  warningsAt: Array<{ message: string; file?: string }>;
}

/** The step as main.ts runs it, up to the end of the preflight: parse, then preflight. */
async function runStep(inputs: Record<string, string>, env: NodeJS.ProcessEnv): Promise<Outcome & { result: Preflight | null }> {
  const log = memoryLog();
  const warningsAt: Outcome['warningsAt'] = [];
  const warning = log.warning;
  log.warning = (message, where) => {
    warningsAt.push({ message, file: where?.file });
    warning(message, where);
  };
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  let stage: Case['stage'] = 'settings';
  try {
    const settings = parseSettings(actionInputs(inputs), env);
    stage = 'preflight';
    if (settings.kind !== 'submit') throw new Error(`expected a new submit, got ${settings.kind}`);
    return { stage, error: null, log, stdout: chunks.join(''), warningsAt, result: await preflight(log, settings, env) };
  } catch (e) {
    return { stage, error: e, log, stdout: chunks.join(''), warningsAt, result: null };
  } finally {
    write.mockRestore();
  }
}

/** The runner's environment of the step, with the case's changes (undefined removes a variable). */
function stepEnv(repo: Repo, runnerTemp: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GITHUB_WORKSPACE: repo.workspace, RUNNER_TEMP: runnerTemp, ...TEST_KEYS };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** The error annotations as the runner shows them: logged errors, then main.ts's setFailed. */
function stepErrors(o: Outcome): string {
  return [...o.log.errors, `${ERROR_PREFIX}: ${errorMessage(o.error)}`].join('\n');
}

let template: Repo;
let runnerTemp: string;
beforeAll(() => {
  template = templateRepo(DBS);
  runnerTemp = tempDir('runner-temp');
});
afterAll(() => {
  removeDir(template.root);
  removeDir(runnerTemp);
});

describe('preflight rejects bad input and changes nothing', () => {
  it('has at least 77 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(77);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const repo = c.mutate ? copyRepo(template) : template;
    try {
      c.mutate?.(repo);
      const before = treeSnapshot(repo.root);
      const o = await runStep((c.inputs ?? validInputs)(repo), stepEnv(repo, runnerTemp, c.env));
      expect(o.error).toBeInstanceOf(ProblemsError);
      expect(o.stage).toBe(c.stage);
      const problem = (o.error as ProblemsError).problems.find((p) => p.input === c.input);
      expect(problem, `a problem about ${c.input}`).toBeDefined();
      if (problem?.fix !== undefined) expect(problem.fix).toBe(c.fix);
      else expect(problem?.message).toContain(c.fix);
      const err = stepErrors(o);
      for (const e of Array.isArray(c.error) ? c.error : [c.error]) expect(err).toContain(e);
      expect(err).toMatch(/^bird-cloud-action: /m);
      // Nothing in the repository, nothing in RUNNER_TEMP, no key value in what was printed.
      expect(treeSnapshot(repo.root)).toEqual(before);
      expect(readdirSync(runnerTemp)).toEqual([]);
      const printed = [o.stdout.replace(/^::add-mask::.*$/gm, ''), ...o.log.lines, err].join('\n');
      for (const v of Object.values(TEST_KEYS)) expect(printed).not.toContain(v);
    } finally {
      if (repo !== template) removeDir(repo.root);
    }
  });
});

describe('preflight accepts what it should', () => {
  async function accepted(repo: Repo, extra: Record<string, string> = {}): Promise<Outcome & { result: Preflight }> {
    const o = await runStep(validInputs(repo, extra), stepEnv(repo, runnerTemp));
    expect(o.error).toBeNull();
    if (!o.result) throw new Error('no plan');
    return { ...o, result: o.result };
  }

  it('drops duplicate ids with a warning', async () => {
    const { log, result } = await accepted(template, { 'instance-ids': 'alien_1,credit_1,alien_1,credit_1,news_2' });
    expect(log.warnings).toContain('instance-ids: dropped duplicate instance ids: alien_1, credit_1');
    expect(result.plan.dbs).toEqual(['alien', 'credit', 'news']);
    expect((result.plan.settings as SubmitSettings).instanceIds).toEqual(['alien_1', 'credit_1', 'news_2']);
  });

  it('a dry run with empty key secrets (a fork PR) warns naming the keys, checks the rest and passes; the plan still lists the keys', async () => {
    const empty = { ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' };
    const o = await runStep(validInputs(template), stepEnv(template, runnerTemp, empty));
    expect(o.error).toBeNull();
    expect(o.log.warnings).toEqual([
      'missing API key env vars for job submission: ANTHROPIC_API_KEY (for agent-model anthropic/claude-sonnet-4-5; user-sim-model anthropic/claude-haiku-4-5-20251001), OPENAI_API_KEY (for query-mode slayer: SLayer embeds with OpenAI, whatever the agent model). ' +
        'Pass each one to this step with `env:` (e.g. `ANTHROPIC_API_KEY: ${{ secrets.ANTHROPIC_API_KEY }}`). ' +
        'On a pull request from a fork GitHub passes secrets as empty strings: run the eval from a branch of this repository, or skip the step for forks. ' +
        '(a dry run checks everything else and passes; a real submit fails on this)',
    ]);
    expect(o.result?.plan.requiredKeys).toEqual(['ANTHROPIC_API_KEY', 'OPENAI_API_KEY']);
    // Everything else is still checked: an unknown id fails the same dry run.
    const bad = await runStep(validInputs(template, { 'instance-ids': 'alien_1,nosuch_9' }), stepEnv(template, runnerTemp, empty));
    expect(bad.error).toBeInstanceOf(ProblemsError);
    expect(stepErrors(bad)).toContain("instance-ids: 1 instance id(s) not in the dataset '");
    expect(bad.log.warnings.join('\n')).toContain('missing API key env vars for job submission: ANTHROPIC_API_KEY');
  });

  it('check-artifacts: false in a dry run: an on-the-fly combo before its encode plans every DB, checks the rest, and says what it skipped', async () => {
    const inputs = otf('pydantic_ai_recursive', { 'check-artifacts': 'false' })(template);
    const o = await runStep(inputs, stepEnv(template, runnerTemp));
    expect(o.error).toBeNull();
    expect(o.result?.plan.dbs).toEqual(['alien', 'credit', 'news']);
    expect(o.result?.plan.artifacts).toEqual([]);
    expect(o.log.lines).toContain(
      `notice: check-artifacts is false: the slayer_otf_cache setup of 3 DB(s) under ${join(template.workspace, 'slayer_otf_cache')} was not checked; the submit checks it after the encode`,
    );
    // The other checks still run: a bad id fails this dry run as any other.
    const badId = await runStep({ ...inputs, 'instance-ids': 'alien_1,nosuch_1' }, stepEnv(template, runnerTemp));
    expect(stepErrors(badId)).toContain("instance-ids: 1 instance id(s) not in the dataset '");
    // Without it, the same dry run fails on the missing setup.
    const checked = await runStep(otf('pydantic_ai_recursive')(template), stepEnv(template, runnerTemp));
    expect(stepErrors(checked)).toContain('local SLayer setup missing for alien (is missing)');
  });

  it('a deleted DB artifact is one error naming the DB, not a warning per deleted file', async () => {
    const repo = copyRepo(template);
    try {
      rmSync(join(repo.workspace, 'slayer_models', 'news'), { recursive: true });
      const o = await runStep(validInputs(repo), stepEnv(repo, runnerTemp));
      expect(stepErrors(o)).toContain('local SLayer setup missing for news (is missing)');
      expect(o.log.warnings).toEqual([]);
    } finally {
      removeDir(repo.root);
    }
  });

  it('ignores ignored files under tracked inputs', async () => {
    const repo = copyRepo(template);
    try {
      mkdirSync(join(repo.workspace, 'src', '__pycache__'));
      writeFileSync(join(repo.workspace, 'src', '__pycache__', 'x.pyc'), 'bytecode');
      const { log, result } = await accepted(repo);
      expect(log.errors).toEqual([]);
      expect(log.warnings).toEqual([]);
      expect(result.plan.manifest.dirty).toBe(false);
    } finally {
      removeDir(repo.root);
    }
  });

  it('allow-dirty turns the failure into a warning and records the run as dirty', async () => {
    const repo = copyRepo(template);
    try {
      appendFileSync(join(repo.workspace, 'uv.lock'), '# local\n');
      renameSync(join(repo.workspace, 'audited_gold', 'README.md'), join(repo.workspace, 'audited_gold', 'README2.md'));
      const { log, result } = await accepted(repo, { 'allow-dirty': 'true' });
      expect(log.warnings).toContain(
        "uncommitted changes under image-input paths: ['audited_gold/README.md', 'audited_gold/README2.md', 'uv.lock'] (allow-dirty is true: the run is recorded as dirty)",
      );
      expect(log.errors).toEqual([]);
      expect(result.plan.manifest.dirty).toBe(true);
    } finally {
      removeDir(repo.root);
    }
  });

  it('warns once per DB, but does not fail, on uncommitted changes to a selected DB model; the paths at debug level', async () => {
    const repo = copyRepo(template);
    try {
      appendFileSync(join(repo.workspace, 'slayer_models', 'credit', 'datasources', 'credit.yaml'), '# local edit\n');
      writeFileSync(join(repo.workspace, 'slayer_models', 'credit', 'extra.yaml'), 'name: extra\n');
      const { log } = await accepted(repo);
      expect(log.errors).toEqual([]);
      expect(log.warnings).toEqual([
        'credit: 2 uncommitted change(s) in its slayer_models artifact; the run uses the files as they are and the manifest records their digest',
      ]);
      expect(log.lines.join('\n')).toContain("uncommitted in credit's artifact: slayer_models/credit/datasources/credit.yaml");
    } finally {
      removeDir(repo.root);
    }
  });
});

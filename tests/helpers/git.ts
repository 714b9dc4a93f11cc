// Git in a temp repository, apart from the machine's own git config: a fixed identity, no global or
// system config (a signing or hook setting there would change what the tests see).
import { execFileSync } from 'node:child_process';

export const GIT_ENV = {
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.com',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.com',
} as const;

/** Runs git in `cwd` with GIT_ENV; returns its stdout. */
export function gitIn(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, ...GIT_ENV }, stdio: 'pipe' });
}

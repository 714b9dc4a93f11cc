// The GitHub run context recorded in the manifest and the job metadata, read from the runner env.
import { readFileSync } from 'node:fs';

export interface GithubContext {
  repository: string;
  sha: string;
  ref: string;
  workflow_run_url: string;
  event: string;
  pr_number: number | null;
}

export function readGithubContext(env: NodeJS.ProcessEnv = process.env): GithubContext {
  const server = env.GITHUB_SERVER_URL || 'https://github.com';
  const repository = env.GITHUB_REPOSITORY || '';
  const runUrl = repository && env.GITHUB_RUN_ID ? `${server}/${repository}/actions/runs/${env.GITHUB_RUN_ID}` : '';
  let prNumber: number | null = null;
  if (env.GITHUB_EVENT_PATH) {
    try {
      const payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as { pull_request?: { number?: unknown } };
      if (typeof payload.pull_request?.number === 'number') prNumber = payload.pull_request.number;
    } catch {
      // No or unreadable event file: the run is not a PR as far as we can tell.
    }
  }
  return {
    repository,
    sha: env.GITHUB_SHA || '',
    ref: env.GITHUB_REF || '',
    workflow_run_url: runUrl,
    event: env.GITHUB_EVENT_NAME || '',
    pr_number: prNumber,
  };
}

// The PR comment: one comment per key (render.ts commentKey: the workflow, the combo and the
// models), found again by its hidden marker and updated in place. Every failure here is a
// warning: the report never fails because of the comment.
import type { getOctokit } from '@actions/github';
import { Inputs } from '../common/constants.js';
import { errorMessage, errorStatus } from '../common/errors.js';
import type { GithubContext } from '../common/github-context.js';
import type { Log } from '../common/log.js';

export interface CommentTarget {
  owner: string;
  repo: string;
  /** The pull request's number (PRs are issues for comments). */
  issueNumber: number;
}

export type CommentOutcome =
  | { kind: 'created'; id: number; url: string }
  | { kind: 'updated'; id: number; url: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'failed'; status: number | null; message: string };

/** `auto`: comment when the event is a pull request (pull_request, pull_request_target). */
export type CommentOnPr = boolean | 'auto';

const PERMISSION_HINT =
  'the token needs `pull-requests: write`: add `permissions: { contents: read, pull-requests: write }` to the job ' +
  '(on pull requests from forks the GITHUB_TOKEN is read-only and cannot comment)';

/** Pure: where to comment, or why not (`warn` when the user asked for a comment that cannot be made). */
export function commentTarget(
  commentOnPr: CommentOnPr,
  github: Pick<GithubContext, 'repository' | 'pr_number' | 'event'>,
  token: string,
): { target: CommentTarget } | { skip: string; warn: boolean } {
  if (commentOnPr === false) return { skip: `${Inputs.CommentOnPr} is false`, warn: false };
  if (github.pr_number === null) {
    const why = `the event '${github.event || 'unknown'}' has no pull request`;
    return commentOnPr === 'auto' ? { skip: why, warn: false } : { skip: `${Inputs.CommentOnPr} is true, but ${why}`, warn: true };
  }
  const [owner, repo, ...rest] = github.repository.split('/');
  if (!owner || !repo || rest.length > 0) return { skip: `GITHUB_REPOSITORY '${github.repository}' is not owner/name`, warn: true };
  if (token.trim() === '') return { skip: `${Inputs.GithubToken} is empty (pass \${{ github.token }})`, warn: true };
  return { target: { owner, repo, issueNumber: github.pr_number } };
}

export interface UpsertOptions {
  token: string;
  target: CommentTarget;
  /** The hidden marker; our comment is the first one whose body starts with it. */
  marker: string;
  body: string;
  /** The REST API root; default GITHUB_API_URL (read now), else https://api.github.com. */
  apiUrl?: string;
  /** The whole exchange is aborted after this long (default 60 s). */
  timeoutMs?: number;
  log: Log;
}

function failureMessage(what: string, target: CommentTarget, e: unknown): { status: number | null; message: string } {
  const status = errorStatus(e) ?? null;
  const msg = errorMessage(e, { withStatus: false }).split('\n')[0];
  const head = `bird-cloud-action: could not ${what} the results comment on PR #${target.issueNumber}`;
  if (status === 403) return { status, message: `${head}: GitHub answered 403 (${msg}); ${PERMISSION_HINT}. The report itself is complete.` };
  if (status === 404)
    return {
      status,
      message: `${head}: GitHub answered 404 (${msg}); check the repository and that the token can see it (it needs \`pull-requests: write\`). The report itself is complete.`,
    };
  return { status, message: `${head}: ${status !== null ? `HTTP ${status}: ` : ''}${msg}. The report itself is complete; the comment is skipped.` };
}

/** The login the workflow's own token (an installation token, `ghs_…`) writes comments as. */
const WORKFLOW_TOKEN_LOGIN = 'github-actions[bot]';

type Octokit = ReturnType<typeof getOctokit>;

/**
 * Who the token writes as. A personal token can ask `GET /user`; the workflow's token cannot (403)
 * and writes as github-actions[bot]. Anything else is unknown (null): then no comment is updated.
 */
async function tokenIdentity(octokit: Octokit, token: string): Promise<string | null> {
  try {
    return (await octokit.rest.users.getAuthenticated()).data.login;
  } catch (e) {
    const status = errorStatus(e);
    return token.startsWith('ghs_') && (status === 403 || status === 401) ? WORKFLOW_TOKEN_LOGIN : null;
  }
}

/**
 * Finds our comment, one with the marker written by the token's own identity, and updates it, or
 * creates one. A comment with the marker by anyone else is never touched. Never throws.
 */
export async function upsertComment(options: UpsertOptions): Promise<CommentOutcome> {
  const baseUrl = (options.apiUrl || process.env.GITHUB_API_URL || 'https://api.github.com').replace(/\/+$/, '');
  const quiet = (): void => undefined;
  const { owner, repo, issueNumber } = options.target;
  let step = 'list the comments to find';
  try {
    // Loaded here, not with the bundle: most steps post no comment
    // (docs/benchmarks.md#dry-run-of-27-dbs-491-files-and-bundle-cold-start).
    const [{ getOctokit: octokitFor }, { defaults: githubDefaults }] = await Promise.all([import('@actions/github'), import('@actions/github/lib/utils')]);
    const octokit = octokitFor(options.token, {
      baseUrl,
      request: { ...githubDefaults.request, signal: AbortSignal.timeout(options.timeoutMs ?? 60_000) },
      log: { debug: quiet, info: quiet, warn: (m: string) => options.log.info(`github: ${m}`), error: (m: string) => options.log.info(`github: ${m}`) },
    });
    const identity = await tokenIdentity(octokit, options.token);
    const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner, repo, issue_number: issueNumber, per_page: 100 });
    const ours =
      identity === null ? undefined : comments.find((c) => typeof c.body === 'string' && c.body.startsWith(options.marker) && c.user?.login === identity);
    if (ours) {
      step = 'update';
      const { data } = await octokit.rest.issues.updateComment({ owner, repo, comment_id: ours.id, body: options.body });
      options.log.info(`updated the results comment on PR #${issueNumber}: ${data.html_url}`);
      return { kind: 'updated', id: data.id, url: data.html_url };
    }
    step = 'create';
    const { data } = await octokit.rest.issues.createComment({ owner, repo, issue_number: issueNumber, body: options.body });
    options.log.info(`created the results comment on PR #${issueNumber}: ${data.html_url}`);
    return { kind: 'created', id: data.id, url: data.html_url };
  } catch (e) {
    const f = failureMessage(step, options.target, e);
    options.log.warning(f.message);
    return { kind: 'failed', ...f };
  }
}

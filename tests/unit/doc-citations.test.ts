// Everything a reader needs is in the repository: every cited docs/ page and heading exists,
// and nothing cites an outside document, this project's issue numbers or people's roles. The
// scanner (tests/helpers/doc-citations.ts) is tested on seeded text first, so it can fail.
import { describe, expect, it } from 'vitest';
import { formatFindings, githubSlug, headingAnchors, type ReadRepoFile, ROOT, repoFiles, scanRepo, scanText } from '../helpers/doc-citations.js';

/** The scanner and this test hold the forbidden forms as seeds, on purpose. */
const SELF = ['tests/unit/doc-citations.test.ts', 'tests/helpers/doc-citations.ts'];

const DOCS: Record<string, string> = {
  'docs/reference/gcs-layout.md': '# The runs bucket\n\n## Setup uploads\n\n```\n## Not a heading\n```\n',
  'docs/reference/ray-jobs.md': '# Ray\n\n### P8: large logs\n\n## Submit\n\n## Submit\n',
  'docs/usage.md': '# Use it\n\n### Per-run cluster (`cluster: ephemeral`)\n',
};
/**
 * The names of documents that are not in the repository, put together at run time so that this
 * file, which a fresh clone has, names none of them itself.
 */
const md = (name: string): string => `${name}.md`;
const OUTSIDE = ['..', 'shared', 'docs'].join('/');

const read: ReadRepoFile = (path) => DOCS[path] ?? null;
const scan = (file: string, text: string): string[] => scanText(file, text, read).map((f) => f.problem);

describe('GitHub heading anchors', () => {
  it.each([
    ['Setup uploads', 'setup-uploads'],
    ['P8: large logs', 'p8-large-logs'],
    ['Per-run cluster (`cluster: ephemeral`)', 'per-run-cluster-cluster-ephemeral'],
    ['`otf-encode.yml` and the OTF cache', 'otf-encodeyml-and-the-otf-cache'],
    ["GitHub's language service", 'githubs-language-service'],
    ['A [linked](https://example.com) heading', 'a-linked-heading'],
    ['snake_case stays', 'snake_case-stays'],
  ])('%s → %s', (heading, slug) => {
    expect(githubSlug(heading)).toBe(slug);
  });

  it('numbers repeated headings and ignores fenced code', () => {
    expect([...headingAnchors(DOCS['docs/reference/ray-jobs.md'])]).toEqual(['ray', 'p8-large-logs', 'submit', 'submit-1']);
    expect(headingAnchors(DOCS['docs/reference/gcs-layout.md']).has('not-a-heading')).toBe(false);
  });
});

describe('the scanner on seeded text', () => {
  it('accepts citations of existing pages and headings', () => {
    expect(scan('src/a.ts', '// the rules: docs/reference/gcs-layout.md#setup-uploads and docs/reference/ray-jobs.md#p8-large-logs')).toEqual([]);
    expect(scan('src/a.ts', '// see docs/reference/ray-jobs.md and docs/reference/ray-jobs.md#submit-1')).toEqual([]);
    expect(scan('tools/x/README.md', 'the [rule](../../docs/reference/gcs-layout.md#setup-uploads)')).toEqual([]);
    expect(scan('docs/results.md', 'see [usage](usage.md#per-run-cluster-cluster-ephemeral) and [here](#)')).toEqual([]);
  });

  it('fails a cited page that does not exist', () => {
    expect(scan('src/a.ts', '// docs/reference/nowhere.md#setup-uploads')).toEqual(['cites docs/reference/nowhere.md, which does not exist']);
    expect(scan('tools/x/README.md', '[x](../../docs/gone.md)')).toEqual(['cites docs/gone.md, which does not exist']);
    expect(scan('docs/results.md', '[x](reference/gone.md)')).toEqual(['cites docs/reference/gone.md, which does not exist']);
  });

  it('fails an anchor that is not a heading of the page', () => {
    expect(scan('src/a.ts', '// docs/reference/gcs-layout.md#setup-upload')).toEqual([
      'cites docs/reference/gcs-layout.md#setup-upload, which is not a heading of docs/reference/gcs-layout.md',
    ]);
    expect(scan('src/a.ts', '// docs/reference/gcs-layout.md#not-a-heading')).toHaveLength(1);
    expect(scan('docs/reference/gcs-layout.md', 'see [below](#nowhere)')).toEqual([
      'cites docs/reference/gcs-layout.md#nowhere, which is not a heading of docs/reference/gcs-layout.md',
    ]);
  });

  it.each([
    ['// the layout (domain §6)', 'cites the domain document'],
    ['// as Domain §12.4 says', 'cites the domain document'],
    [`// see ${md('domain')}`, 'cites the domain document'],
    [`// see ${OUTSIDE}/${md('domain')} §2`, 'cites a path outside the repository'],
    [`// see /work/${OUTSIDE.slice(3)}/${md('tooling')}`, 'cites a path outside the repository'],
    [`// routes (${md('ray-jobs-api')} §1)`, 'cites a document that is not in the repository'],
    [`// the runner contract (${md('tooling')} §6)`, 'cites a document that is not in the repository'],
    [`// the shims (${md('gcs-emulator')} §5)`, 'cites a document that is not in the repository'],
    [`// as ${md('style')} says`, 'cites a document that is not in the repository'],
    ['// for the lead to place', 'names a role'],
    ['// the DECISION of the page', 'cites "the DECISION"'],
    ['// the PR comment (issue 6)', 'cites an issue number'],
    ['// fixed in issue #12', 'cites an issue number'],
    ['// see issues 3', 'cites an issue number'],
    ['// the verdicts (§10)', 'a section sign'],
  ])('fails %s', (line, problem) => {
    const problems = scan('src/a.ts', line);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.startsWith(problem))).toBe(true);
  });

  it.each([
    '// a stop of a PENDING job may do nothing (Ray issue ray-project/ray#58353)',
    '// https://github.com/ray-project/ray/issues/58353',
    '// see docs/reference/ray-jobs.md#p8-large-logs',
    "// { domain: 'global', reason: 'conditionNotMet' }",
    '// P25, P50 and P75 are percentiles',
    '// the results comment on PR #7',
    '// the leading slash',
    '// RFC 9110 §15.5',
  ])('passes %s', (line) => {
    expect(scan('src/a.ts', line)).toEqual([]);
  });

  it('lets the reference pages name their siblings without the docs/reference/ prefix, and no outside page anywhere', () => {
    expect(scan('docs/reference/README.md', '| [ray-jobs.md](ray-jobs.md) | [runner.md](runner.md) |')).toEqual([
      'cites docs/reference/runner.md, which does not exist', // only because the seed has no runner.md
    ]);
    expect(scan('docs/reference/README.md', `see ${md('ray-jobs-api')}`)).toHaveLength(1);
    expect(scan('docs/usage.md', `see ${md('tooling')}`)).toHaveLength(1);
  });
});

describe('the repository', () => {
  it('cites only pages and headings it has, outside src/', () => {
    const files = repoFiles(ROOT, ['tools', 'tests', 'docs', 'scripts', 'README.md', 'action.yml', '.github', 'examples', 'otf-keys'], SELF);
    expect(files.length).toBeGreaterThan(50);
    const findings = scanRepo(ROOT, files);
    expect(findings, formatFindings(findings)).toEqual([]);
  });

  it('cites only pages and headings it has, in src/', () => {
    const files = repoFiles(ROOT, ['src']);
    expect(files.length).toBeGreaterThan(20);
    const findings = scanRepo(ROOT, files);
    expect(findings, formatFindings(findings)).toEqual([]);
  });
});

// The citation scanner behind tests/unit/doc-citations.test.ts: every document the repository
// cites must be in it (a path under docs/ with an anchor that is one of its headings), and
// nothing may cite what a reader of the repository cannot open (outside documents, this
// project's issue numbers, people's roles). Rules and reasons: docs/reference/README.md#citing-these-pages.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Finding {
  /** Repository-relative path, with `/`. */
  file: string;
  line: number;
  problem: string;
  /** The text that was found. */
  text: string;
}

/** Reads a repository file by its `/` path; null when there is none. */
export type ReadRepoFile = (path: string) => string | null;

/** GitHub's heading anchor: lowercase, punctuation and symbols dropped, each space a `-`. */
export function githubSlug(heading: string): string {
  const text = heading
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
}

/** The anchors of a markdown file's ATX headings, with GitHub's `-1`, `-2` for repeats. */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fence: string | null = null;
  for (const line of markdown.split('\n')) {
    const f = /^ {0,3}(```+|~~~+)/.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const h = /^ {0,3}#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$/.exec(line);
    if (!h) continue;
    const base = githubSlug(h[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

interface Rule {
  re: RegExp;
  problem: string;
}

/** What nobody reading the repository can follow. Upstream forms (`ray-project/ray#58353`, URLs) pass. */
const FORBIDDEN: readonly Rule[] = [
  { re: /\.\.\/shared\b|\bshared\/docs\b/, problem: 'cites a path outside the repository' },
  { re: /\b[Dd]omain(?:\.md\b|[ \t]*§)/, problem: 'cites the domain document, which is not in the repository (use docs/reference/)' },
  { re: /\bray-jobs-api\.md\b/, problem: 'cites a document that is not in the repository (the Jobs API notes are docs/reference/ray-jobs.md)' },
  { re: /(?<![\w/-])(?:tooling|gcs-emulator|style)\.md\b/, problem: 'cites a document that is not in the repository' },
  { re: /\bthe lead\b/i, problem: 'names a role instead of saying the reason' },
  { re: /\bDECISION\b/, problem: 'cites "the DECISION" of an outside document; state the design decision in place' },
  { re: /\b[Ii]ssues?[ \t]+#?\d+/, problem: 'cites an issue number without its repository (write e.g. ray-project/ray#58353)' },
  { re: /(?<!\bRFC[ \t]?\d+[ \t]?)§/, problem: 'a section sign without a document in the repository' },
];

/** `docs/….md`, alone or as the end of a `../` path, with its anchor. */
const DOC_PATH = /(?<![\w-])((?:\.\.\/)*)(docs\/[\w./-]*?\.md)(#[\w-]*)?/g;
/** A markdown link to a relative `.md` target, or to an anchor of the same file. */
const MD_LINK = /\]\((?!https?:|mailto:|\/)([^)\s#]*\.md)?(#[^)\s]*)?\)/g;

/** Scans one file's text. `file` is repository-relative with `/`. */
export function scanText(file: string, text: string, read: ReadRepoFile): Finding[] {
  const findings: Finding[] = [];
  const anchorsOf = new Map<string, Set<string> | null>();
  const anchors = (path: string): Set<string> | null => {
    if (!anchorsOf.has(path)) {
      const body = read(path);
      anchorsOf.set(path, body === null ? null : headingAnchors(body));
    }
    return anchorsOf.get(path) ?? null;
  };
  const check = (line: number, shown: string, path: string, anchor: string | undefined): void => {
    const a = anchors(path);
    if (a === null) findings.push({ file, line, problem: `cites ${path}, which does not exist`, text: shown });
    else if (anchor !== undefined && anchor !== '#' && !a.has(anchor.slice(1))) {
      findings.push({ file, line, problem: `cites ${path}${anchor}, which is not a heading of ${path}`, text: shown });
    }
  };
  const isMarkdown = file.endsWith('.md');
  const lines = text.split('\n');
  lines.forEach((lineText, i) => {
    const n = i + 1;
    for (const m of lineText.matchAll(DOC_PATH)) {
      const before = lineText.slice(0, m.index);
      // `x/docs/a.md` is some other folder's docs/, unless the path climbs with `../`.
      if (m[1] === '' && before.endsWith('/')) continue;
      const path = m[1] ? posix.normalize(posix.join(posix.dirname(file), m[1] + m[2])) : m[2];
      check(n, m[0], path, m[3]);
    }
    if (isMarkdown) {
      for (const m of lineText.matchAll(MD_LINK)) {
        if (m[1] === undefined && (m[2] === undefined || m[2] === '#')) continue;
        if (m[1] !== undefined && /(?:^|\/)docs\//.test(m[1])) continue; // a docs/ path: checked above
        const path = m[1] === undefined ? file : posix.normalize(posix.join(posix.dirname(file), m[1]));
        check(n, m[0], path, m[2]);
      }
    }
    for (const rule of FORBIDDEN) {
      const m = rule.re.exec(lineText);
      if (m) findings.push({ file, line: n, problem: rule.problem, text: lineText.trim() });
    }
  });
  return findings;
}

// .go and .venv: the Go module cache and Python venvs that `npm run setup` installs under tools/ (git-ignored, not ours).
const SKIP_DIRS = new Set(['node_modules', 'dist', 'lib', 'fixtures', '.git', '.tmp', '.lint', '__snapshots__', '.go', '.venv']);
const SCANNED = /\.(?:ts|mts|cts|js|mjs|cjs|md|ya?ml|json|sh)$/;

/** The repository-relative files under `paths` (files or folders) that the check reads. */
export function repoFiles(root: string, paths: readonly string[], exclude: readonly string[] = []): string[] {
  const out: string[] = [];
  const visit = (abs: string): void => {
    const rel = relative(root, abs).split(sep).join('/');
    if (!existsSync(abs) || exclude.includes(rel)) return;
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs).sort()) if (!SKIP_DIRS.has(name)) visit(join(abs, name));
      return;
    }
    if (SCANNED.test(rel) && !rel.endsWith('package-lock.json')) out.push(rel);
  };
  for (const p of paths) visit(join(root, p));
  return out;
}

/** Scans files of the repository at `root`. */
export function scanRepo(root: string, files: readonly string[]): Finding[] {
  const read: ReadRepoFile = (path) => {
    const abs = join(root, ...path.split('/'));
    return existsSync(abs) && statSync(abs).isFile() ? readFileSync(abs, 'utf8') : null;
  };
  return files.flatMap((f) => scanText(f, readFileSync(join(root, ...f.split('/')), 'utf8'), read));
}

export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${f.file}:${f.line}: ${f.problem}\n    ${f.text}`).join('\n');
}

/** The repository root, from this file's place in it. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

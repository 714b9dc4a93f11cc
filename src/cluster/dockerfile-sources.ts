// What a Dockerfile reads from its build context (docs/image-tag.md#what-the-dockerfile-copies):
// the sources of COPY and ADD, and RUN bind mounts, so the image tag can hash them. Pure: text in,
// context paths out. Follows BuildKit's Dockerfile syntax (https://docs.docker.com/reference/dockerfile/):
// parser directives, line continuations, comments inside continuations, JSON and shell forms,
// flags, heredocs.

/** A problem in the Dockerfile that keeps the tag from knowing what it copies; the message names the fix. */
class DockerfileSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DockerfileSourceError';
  }
}

/** One path or pattern of the build context that an instruction reads. */
export interface ContextSource {
  /** Relative to the context root, posix, cleaned (no `.`, `..`, `//`, leading `/`); `''` is the whole context. May hold glob characters. */
  path: string;
  /** The instruction keyword, upper case: COPY, ADD or RUN. */
  instruction: string;
  /** 1-based line where the instruction starts. */
  line: number;
}

const DIRECTIVE = /^#[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$/;
const REMOTE = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/|git@)/;
const HEREDOC = /^\d*<<(-?)(["']?)([^"'<\s]+)\2$/;

function isBlankOrComment(line: string): boolean {
  const t = line.replace(/^[ \t]+/, '');
  return t === '' || t.startsWith('#');
}

/** The escape character of the `# escape=` parser directive (default backslash); directives stop at the first other line. */
function escapeChar(lines: readonly string[]): string {
  let esc = '\\';
  for (const line of lines) {
    const m = DIRECTIVE.exec(line);
    if (!m) break;
    if (m[1].toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) esc = m[2];
  }
  return esc;
}

/**
 * `.` and `..` resolved with the context root as the top (a `..` there stays at the root, as
 * BuildKit keeps every source inside the context), `//` and a leading `/` dropped.
 */
export function cleanContextPath(p: string): string {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return out.join('/');
}

function unquote(word: string): string {
  const m = /^"(.*)"$/.exec(word) ?? /^'(.*)'$/.exec(word);
  return m ? m[1] : word;
}

/** Leading `--flag[=value]` words, then the rest. */
function splitFlags(rest: string): { flags: string[]; args: string } {
  const flags: string[] = [];
  let r = rest.trimStart();
  while (r.startsWith('--')) {
    const m = /^(\S+)\s*/.exec(r);
    if (!m) break;
    flags.push(m[1]);
    r = r.slice(m[0].length);
  }
  return { flags, args: r };
}

/** JSON form (an array of strings) when it parses as one, else words split on whitespace (shell form). */
function argList(args: string): { words: string[]; json: boolean } {
  const t = args.trim();
  if (t.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) return { words: parsed as string[], json: true };
    } catch {
      // Not JSON: BuildKit falls back to the shell form too.
    }
  }
  return { words: t.split(/[ \t]+/).filter(Boolean), json: false };
}

function hasVariable(word: string, esc: string): boolean {
  for (let i = 0; i < word.length; i++) {
    if (word[i] === esc) i++;
    else if (word[i] === '$') return true;
  }
  return false;
}

/**
 * The context paths the Dockerfile reads: every source of COPY and ADD (flags such as `--chown`
 * skipped, JSON or shell form), and the `source` of every `RUN --mount=type=bind` (the default
 * type). Not included, since they do not read the context: `COPY --from=<stage or image>`, a
 * bind mount with `from=`, heredoc sources (`COPY <<EOF`, their text is the Dockerfile's own),
 * and remote ADD sources (URLs, `git@`), which no hash of the repository can cover.
 * A source that uses a variable (`$X`, `${X}`) is an error: its files are not known before the build.
 */
export function dockerfileContextSources(text: string, fileName = 'Dockerfile'): ContextSource[] {
  const lines = text
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const esc = escapeChar(lines);
  const escapeRe = esc === '\\' ? '\\\\' : esc;
  const continuation = new RegExp(`${escapeRe}[ \\t]*$`);
  const out: ContextSource[] = [];
  let i = 0;
  while (i < lines.length) {
    const startLine = i + 1;
    const first = lines[i++];
    if (isBlankOrComment(first)) continue;

    // One logical line: a continued line goes on past blank and comment lines.
    let logical = '';
    let cur: string | undefined = first;
    while (cur !== undefined) {
      const m = continuation.exec(cur);
      if (!m) {
        logical += cur;
        break;
      }
      // BuildKit joins the lines as they are: no space is added.
      logical += cur.slice(0, m.index);
      cur = undefined;
      while (i < lines.length) {
        const next = lines[i++];
        if (!isBlankOrComment(next)) {
          cur = next;
          break;
        }
      }
    }

    const m = /^[ \t]*(\S+)(?:[ \t]+([\s\S]*))?$/.exec(logical);
    if (!m) continue;
    const keyword = m[1].toUpperCase();
    if (keyword !== 'COPY' && keyword !== 'ADD' && keyword !== 'RUN') continue;
    const { flags, args } = splitFlags(m[2] ?? '');
    const { words, json } = argList(args);

    // Heredoc bodies follow the instruction line: skip them, so their text is never read as instructions.
    if (!json) {
      for (const w of words) {
        const h = HEREDOC.exec(w);
        if (!h) continue;
        const strip = h[1] === '-';
        while (i < lines.length) {
          const body = lines[i++];
          if ((strip ? body.replace(/^\t+/, '') : body) === h[3]) break;
        }
      }
    }

    const where = `${fileName} line ${startLine} (${keyword})`;
    const add = (raw: string): void => {
      if (hasVariable(raw, esc)) {
        throw new DockerfileSourceError(
          `${where} reads '${raw}' from the build context through a variable, so the image tag cannot tell which files it copies. Fix: write the source path literally.`,
        );
      }
      // The escape character quotes the next one (`\$` is a dollar), as in BuildKit's word processing.
      const unescaped = raw.replace(new RegExp(`${escapeRe}(.)`, 'gs'), '$1');
      out.push({ path: cleanContextPath(unescaped), instruction: keyword, line: startLine });
    };

    if (keyword === 'RUN') {
      for (const f of flags) {
        const fm = /^--mount=(.*)$/.exec(f);
        if (!fm) continue;
        const fields = new Map<string, string>();
        for (const field of fm[1].split(',')) {
          const eq = field.indexOf('=');
          fields.set((eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase(), eq < 0 ? 'true' : unquote(field.slice(eq + 1).trim()));
        }
        if ((fields.get('type') ?? 'bind') !== 'bind' || fields.has('from')) continue;
        add(fields.get('source') ?? fields.get('src') ?? '');
      }
      continue;
    }

    if (flags.some((f) => /^--from(=|$)/.test(f))) continue;
    if (words.length < 2) continue; // Docker refuses it at build time.
    for (const w of words.slice(0, -1)) {
      const src = json ? w : unquote(w);
      if (!json && HEREDOC.test(w)) continue;
      if (REMOTE.test(src)) continue;
      add(src);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Matching files of the context against the sources.

const GLOB = /[*?[]/;

/** The leading components of a source without glob characters: what to ask git for ('' = the whole context). */
export function literalPrefix(path: string): string {
  const parts = path === '' ? [] : path.split('/');
  const k = parts.findIndex((p) => GLOB.test(p));
  return (k < 0 ? parts : parts.slice(0, k)).join('/');
}

const componentCache = new Map<string, RegExp>();

/** One path component of a Go `filepath.Match` pattern as a regex: `*`, `?`, `[...]` (negated by `^` or `!`), `\` escapes. */
function componentRegex(pattern: string): RegExp {
  const cached = componentCache.get(pattern);
  if (cached) return cached;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += pattern[++i].replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = pattern.slice(i + 1, end);
        const negate = body.startsWith('^') || body.startsWith('!');
        if (negate) body = body.slice(1);
        re += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
        i = end;
      }
    } else re += c.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
  }
  const compiled = new RegExp(`^${re}$`, 's');
  componentCache.set(pattern, compiled);
  return compiled;
}

/**
 * Does the source copy this file? True when the file is the source or lies under it (a directory
 * source copies its whole tree), matching glob characters component by component; a `**`
 * component matches any number of components.
 */
export function sourceCopies(source: string, file: string): boolean {
  if (source === '') return true;
  const pat = source.split('/');
  const parts = file.split('/');
  if (!GLOB.test(source)) return pat.length <= parts.length && pat.every((p, k) => p === parts[k]);
  const go = (pi: number, fi: number): boolean => {
    if (pi === pat.length) return true;
    if (pat[pi] === '**') {
      for (let k = fi; k <= parts.length; k++) if (go(pi + 1, k)) return true;
      return false;
    }
    return fi < parts.length && componentRegex(pat[pi]).test(parts[fi]) && go(pi + 1, fi + 1);
  };
  return go(0, 0);
}

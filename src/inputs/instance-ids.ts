// Instance ids, one definition for the action and the otf-keys sub-action: a comma list
// (`instance-ids`) or a file of whitespace-separated ids (`instance-ids-file`), exactly one of the
// two. Duplicates are dropped with a warning: they made the Python "done" count unreachable.
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Problem } from '../common/errors.js';

/** An ids file larger than this is not an ids file (a mistaken path, or /dev/zero). */
const IDS_FILE_MAX_BYTES = 16 * 1024 * 1024;
/** How many ids an error or warning lists before it gives the count. */
const IDS_SHOWN = 20;

/** `a, b, c` for at most IDS_SHOWN ids, then `… and N more (M in all)`. */
export function listIds(ids: readonly string[], shown = IDS_SHOWN): string {
  if (ids.length <= shown) return ids.join(', ');
  return `${ids.slice(0, shown).join(', ')}, … and ${ids.length - shown} more (${ids.length} in all)`;
}

export interface IdSource {
  input: string;
  /** The ids file, resolved, when the file input was used. */
  file?: string;
}

export interface InstanceIds {
  /** De-duplicated, in first-seen order. */
  ids: string[];
  duplicates: string[];
  source: IdSource;
  problems: Problem[];
}

export interface IdInputs {
  /** The names of the two inputs, as the action (or sub-action) calls them. */
  inlineInput: string;
  fileInput: string;
  inline: string;
  file: string;
  workspace: string;
}

/** Reads a file of ids, or says why it cannot: it must be a regular file of at most 16 MiB. */
function readIdsFile(input: string, file: string, path: string, problems: Problem[]): string | null {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    problems.push({
      input,
      message: `file '${file}' does not exist (resolved to ${path})`,
      fix: 'commit the ids file, or give a path relative to the workspace',
    });
    return null;
  }
  if (!st.isFile()) {
    problems.push({ input, message: `'${file}' is not a regular file (resolved to ${path})`, fix: 'give a file of whitespace-separated instance ids' });
    return null;
  }
  if (st.size > IDS_FILE_MAX_BYTES) {
    problems.push({
      input,
      message: `'${file}' has ${st.size} bytes, more than an ids file of ${IDS_FILE_MAX_BYTES} bytes`,
      fix: 'give a file of whitespace-separated instance ids',
    });
    return null;
  }
  return readFileSync(path, 'utf8');
}

export function readInstanceIds(inputs: IdInputs): InstanceIds {
  const problems: Problem[] = [];
  const inline = inputs.inline.trim();
  const file = inputs.file.trim();
  let raw: string[] | null = null;
  let source: IdSource = { input: inputs.inlineInput };
  if (inline && file) {
    problems.push({
      input: inputs.inlineInput,
      message: `both ${inputs.inlineInput} and ${inputs.fileInput} ('${file}') are set`,
      fix: 'set exactly one of them',
    });
  } else if (!inline && !file) {
    problems.push({
      input: inputs.inlineInput,
      message: `neither ${inputs.inlineInput} nor ${inputs.fileInput} is set`,
      fix: `give a comma list in ${inputs.inlineInput}, or a file of whitespace-separated ids in ${inputs.fileInput}`,
    });
  } else if (inline) {
    raw = inline.split(',').map((s) => s.trim());
    const spaced = raw.filter((id) => /\s/.test(id));
    if (spaced.length > 0) {
      problems.push({
        input: inputs.inlineInput,
        message: `${listIds(spaced.map((id) => `'${id}'`))} contain${spaced.length === 1 ? 's' : ''} whitespace`,
        fix: `separate the ids with commas, e.g. alien_1,credit_3 (a file in ${inputs.fileInput} may use spaces or newlines)`,
      });
      raw = raw.flatMap((id) => id.split(/\s+/));
    }
  } else {
    const path = isAbsolute(file) ? file : resolve(inputs.workspace, file);
    source = { input: inputs.fileInput, file: path };
    const text = readIdsFile(inputs.fileInput, file, path, problems);
    if (text !== null) raw = text.split(/\s+/);
  }
  const seen = new Set<string>();
  const ids: string[] = [];
  const duplicates: string[] = [];
  for (const id of (raw ?? []).filter(Boolean)) {
    if (seen.has(id)) {
      if (!duplicates.includes(id)) duplicates.push(id);
      continue;
    }
    seen.add(id);
    ids.push(id);
  }
  if (raw !== null && ids.length === 0) {
    problems.push({
      input: source.input,
      message: `resolved to an empty list (no ids parsed from \`${inputs.inlineInput}\` or \`${inputs.fileInput}\`)`,
      fix: 'give at least one instance id',
    });
  }
  const withComma = ids.filter((id) => id.includes(','));
  if (withComma.length > 0) {
    problems.push({
      input: source.input,
      message: `ids contain a comma: ${listIds(withComma)}`,
      fix: 'the cluster splits --instance-ids on commas; fix the ids',
    });
  }
  return { ids, duplicates, source, problems };
}

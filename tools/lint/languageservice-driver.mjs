// Validates workflows and action.yml files with GitHub's language service (docs/linting.md, docs/reference/runner.md#workflow-linters).
// Usage (from the repo root, through the esbuild bundle that scripts/lint.sh builds into .lint/):
//   GHA_SELF_ACTION=org/bird-cloud-action node .lint/languageservice-driver.mjs action.yml .github/workflows/ci.yml
// The path sets the document type: .github/workflows/*.yml is a workflow, [*/]action.yml an action.
// Prints `file:line:col: severity: message` (1-based) and exits 1 on any error, 2 on a usage error.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { registerLogger, validate } from '@actions/languageservice';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { isMap, isScalar, isSeq, LineCounter, parse, parseDocument } from 'yaml';

const root = process.cwd(); // the repo root: local `uses:` paths resolve from here
const self = (process.env.GHA_SELF_ACTION || 'org/bird-cloud-action').toLowerCase();
const internal = []; // the language service logs a crash and returns no diagnostics: count it as an error
registerLogger({ error: (m) => internal.push(m), warn() {}, info() {}, log() {} });

/** Metadata of an action of this repo (`dir` relative to the root), or undefined without an action.yml. */
function localAction(dir) {
  const file = ['action.yml', 'action.yaml'].map((f) => join(root, dir, f)).find((f) => existsSync(f));
  if (!file) return undefined;
  const { name = dir, description = '', inputs, outputs } = parse(readFileSync(file, 'utf8')) ?? {};
  return { name, description, inputs: inputs ?? {}, outputs: outputs ?? {} };
}
const actionsMetadataProvider = {
  // Ours (`org/bird-cloud-action[/subdir]@ref`) from this checkout; any other action without inputs, so its
  // `with:` is not checked (undefined would give "Unable to resolve action"). 0.3.61 never asks about `./dir`.
  async fetchActionMetadata(ref) {
    if (`${ref.owner}/${ref.name}`.toLowerCase() === self) return localAction(ref.path ?? '.');
    return { name: `${ref.owner}/${ref.name}`, description: '' };
  },
};
const fileProvider = {
  // Reusable workflows: local (`./.github/workflows/x.yml`) and ours (`org/bird-cloud-action/...@ref`) from this
  // checkout. Another repository's can't be fetched offline: the service reports "Unable to find reusable workflow".
  async getFileContent(ref) {
    if ('repository' in ref && `${ref.owner}/${ref.repository}`.toLowerCase() !== self) throw new Error('offline');
    return { name: ref.path, content: readFileSync(join(root, ref.path), 'utf8') };
  },
};

/** The language service skips `uses: ./dir` steps; check their `with:` keys against ./dir/action.yml the same way. */
function checkLocalUses(text) {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const found = [];
  const at = (node) => lines.linePos(node.range?.[0] ?? 0);
  const jobs = doc.get('jobs');
  const stepLists = isMap(jobs) ? jobs.items.map((j) => (isMap(j.value) ? j.value.get('steps') : undefined)) : [];
  for (const step of stepLists.flatMap((s) => (isSeq(s) ? s.items : []))) {
    const uses = isMap(step) ? step.get('uses', true) : undefined;
    if (!isScalar(uses) || typeof uses.value !== 'string' || !/^\.[\\/]/.test(uses.value)) continue;
    const meta = localAction(uses.value);
    if (!meta) {
      found.push({ ...at(uses), severity: 2, message: `No action.yml in '${uses.value}' here (checked out at run time?)` });
      continue;
    }
    const w = step.get('with', true);
    const given = isMap(w) ? w.items.filter((p) => isScalar(p.key)) : [];
    for (const p of given) {
      if (!(String(p.key.value) in meta.inputs)) found.push({ ...at(p.key), severity: 1, message: `Invalid action input '${p.key.value}'` });
    }
    const names = new Set(given.map((p) => String(p.key.value)));
    const missing = Object.entries(meta.inputs).filter(([n, i]) => i?.required === true && i.default === undefined && !names.has(n));
    for (const [n] of missing) found.push({ ...at(isMap(w) ? w : step), severity: 1, message: `Missing required input \`${n}\`` });
  }
  return found;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node languageservice-driver.mjs FILE...  (workflows under .github/workflows/, action.yml files)');
  process.exit(2);
}
let errors = 0;
for (const file of files) {
  const path = resolve(file);
  const isWorkflow = /\.github\/workflows\/[^/]+\.ya?ml$/.test(path);
  if (!isWorkflow && !/\/action\.ya?ml$/.test(path)) {
    console.error(`${file}: not a workflow (.github/workflows/*.yml) or an action (action.yml): type unknown`);
    process.exit(2);
  }
  const text = readFileSync(path, 'utf8');
  const doc = TextDocument.create(pathToFileURL(path).href, 'yaml', 1, text);
  const diagnostics = (await validate(doc, { fileProvider, actionsMetadataProvider })).map((d) => ({
    line: d.range.start.line + 1,
    col: d.range.start.character + 1,
    severity: d.severity ?? 1, // parser errors come without a severity: they are errors
    message: d.message,
  }));
  if (isWorkflow) diagnostics.push(...checkLocalUses(text));
  for (const m of internal.splice(0)) diagnostics.push({ line: 1, col: 1, severity: 1, message: `language service failed: ${m}` });
  for (const d of diagnostics.sort((a, b) => a.line - b.line || a.col - b.col)) {
    const level = d.severity === 1 ? 'error' : d.severity === 2 ? 'warning' : 'info';
    if (d.severity <= 2) console.log(`${file}:${d.line}:${d.col}: ${level}: ${d.message}`);
    if (d.severity === 1) errors++;
  }
}
process.exit(errors > 0 ? 1 : 0);

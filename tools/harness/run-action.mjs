// @ts-check
// Runs a JavaScript action the way the GitHub runner does (docs/reference/runner.md#runner-contract): INPUT_* env from
// `with:` plus action.yml defaults, fresh file-command files per step, cwd = workspace, and
// the post step with STATE_* from the main step. Used by the tests and the demo.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

/** @typedef {{ level: 'error'|'warning'|'notice', message: string, props: Record<string,string> }} Annotation */

/**
 * Parses a file-command file with the runner's grammar: `NAME=VALUE` lines or heredocs.
 * @param {string} text
 * @returns {Record<string, string>}
 */
function parseFileCommands(text) {
  /** @type {Record<string, string>} */
  const out = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc;
      const body = [];
      i++;
      while (i < lines.length && lines[i] !== delim) body.push(lines[i++]);
      if (i >= lines.length) throw new Error(`Matching delimiter not found '${delim}'`);
      out[name] = body.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`Invalid file-command line: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/**
 * @typedef {object} RunnerCommand
 * @property {string} command
 * @property {Record<string, string>} properties
 * @property {string} data
 * @property {'v2'|'legacy'} form
 */

/** The commands the runner registers (actions/runner ActionCommandManager), lower-case. */
const REGISTERED = [
  'add-mask',
  'add-matcher',
  'add-path',
  'debug',
  'echo',
  'endgroup',
  'error',
  'group',
  'notice',
  'remove-matcher',
  'save-state',
  'set-env',
  'set-output',
  'stop-commands',
  'warning',
];

/** @param {string} s */
const unescapeData = (s) => s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
/** @param {string} s */
const unescapeProperty = (s) => unescapeData(s).replace(/%3A/g, ':').replace(/%2C/g, ',');

/**
 * One output line as the runner reads it: `::cmd k=v,k=v::data` after trimming (v2), else a
 * legacy `##[cmd k=v;k=v]data` anywhere in the line.
 * @param {string} line
 * @param {Set<string>} registered
 * @returns {RunnerCommand | null}
 */
function parseCommandLine(line, registered) {
  const input = line.trim();
  if (input.startsWith('::')) {
    const end = input.indexOf('::', 2);
    if (end >= 0) {
      const info = input.slice(2, end);
      const space = info.indexOf(' ');
      const command = (space < 0 ? info : info.slice(0, space)).toLowerCase();
      if (registered.has(command)) {
        /** @type {Record<string, string>} */
        const properties = {};
        if (space >= 0) {
          for (const kv of info.slice(space + 1).split(',')) {
            const eq = kv.indexOf('=');
            if (eq > 0) properties[kv.slice(0, eq)] = unescapeProperty(kv.slice(eq + 1));
          }
        }
        return { command, properties, data: unescapeData(input.slice(end + 2)), form: 'v2' };
      }
    }
  }
  const prefix = line.indexOf('##[');
  if (prefix < 0) return null;
  const rb = line.indexOf(']', prefix);
  if (rb < 0) return null;
  const info = line.slice(prefix + 3, rb);
  const space = info.indexOf(' ');
  const command = (space < 0 ? info : info.slice(0, space)).toLowerCase();
  if (!registered.has(command)) return null;
  /** @type {Record<string, string>} */
  const properties = {};
  if (space >= 0) {
    for (const kv of info.slice(space + 1).split(';')) {
      const eq = kv.indexOf('=');
      if (eq > 0) properties[kv.slice(0, eq).trim()] = kv.slice(eq + 1);
    }
  }
  return { command, properties, data: line.slice(rb + 1), form: 'legacy' };
}

/**
 * The workflow commands the runner would process in a step's stdout: lines split on `\n`,
 * `\r\n` and `\r` as its reader splits them, both command forms, and `stop-commands` with its
 * resume token (nothing is processed in between but the token).
 * @param {string} stdout
 * @returns {RunnerCommand[]}
 */
export function runnerCommands(stdout) {
  const registered = new Set(REGISTERED);
  /** @type {RunnerCommand[]} */
  const out = [];
  /** @type {string | null} */
  let stopToken = null;
  for (const line of stdout.split(/\r\n|\r|\n/)) {
    if (!line) continue;
    const cmd = parseCommandLine(line, registered);
    if (!cmd) continue;
    if (stopToken !== null) {
      if (cmd.command === stopToken.toLowerCase()) {
        registered.delete(stopToken.toLowerCase());
        stopToken = null;
      }
      continue;
    }
    if (cmd.command === 'stop-commands') {
      stopToken = cmd.data;
      registered.add(cmd.data.toLowerCase());
      continue;
    }
    out.push(cmd);
  }
  return out;
}

/**
 * A step's stdout as a person reads it outside Actions, one line at a time as it streams: the
 * commands the runner would process are shown as the runner's page shows them (a group as a
 * heading with its lines folded, an annotation as `warning: …`, masks and outputs hidden, debug
 * lines only with `debug`); text between stop-commands and its token is shown as written.
 * @param {{ debug?: boolean, fold?: boolean }} [o]
 * @returns {(line: string) => string[]} the display lines for one stdout line
 */
export function consoleView(o = {}) {
  const registered = new Set(REGISTERED);
  /** @type {string | null} */
  let stopToken = null;
  let inGroup = false;
  const fold = o.fold ?? true;
  /** @param {string} text */
  const plain = (text) => (inGroup && fold ? [] : [inGroup ? `  ${text}` : text]);
  return (line) => {
    const cmd = line ? parseCommandLine(line, registered) : null;
    if (stopToken !== null) {
      if (cmd && cmd.command === stopToken.toLowerCase()) {
        registered.delete(stopToken.toLowerCase());
        stopToken = null;
        return [];
      }
      return plain(line);
    }
    if (!cmd) return plain(line);
    const where = cmd.properties.file ? ` (${cmd.properties.file}${cmd.properties.line ? `:${cmd.properties.line}` : ''})` : '';
    switch (cmd.command) {
      case 'stop-commands':
        stopToken = cmd.data;
        registered.add(cmd.data.toLowerCase());
        return [];
      case 'group':
        inGroup = true;
        return [`▸ ${cmd.data}`];
      case 'endgroup':
        inGroup = false;
        return [];
      case 'warning':
      case 'error':
      case 'notice':
        return [`${cmd.command}: ${cmd.data}${where}`];
      case 'debug':
        return o.debug ? plain(`debug: ${cmd.data}`) : [];
      default:
        return [];
    }
  };
}

/**
 * The annotations among the processed commands.
 * @param {string} stdout
 * @returns {Annotation[]}
 */
function parseAnnotations(stdout) {
  return runnerCommands(stdout)
    .filter((c) => c.command === 'error' || c.command === 'warning' || c.command === 'notice')
    .map((c) => ({ level: /** @type {Annotation['level']} */ (c.command), message: c.data, props: c.properties }));
}

/**
 * @param {string} stdout
 * @returns {Record<string, string>}
 */
function stateCommands(stdout) {
  /** @type {Record<string, string>} */
  const state = {};
  for (const c of runnerCommands(stdout)) if (c.command === 'save-state' && c.properties.name) state[c.properties.name] = c.data;
  return state;
}

/**
 * @param {string} actionDir
 * @returns {{ inputs: Record<string, { default?: unknown }>, runs: { using: string, main: string, post?: string, 'post-if'?: string } }}
 */
export function readActionYml(actionDir) {
  const doc = parse(readFileSync(join(actionDir, 'action.yml'), 'utf8'));
  if (!['node20', 'node24'].includes(doc.runs?.using)) throw new Error(`runs.using must be node20 or node24, got ${doc.runs?.using}`);
  if (!doc.runs.main) throw new Error('runs.main is required');
  return doc;
}

/**
 * @typedef {object} StepOptions
 * @property {string} actionDir
 * @property {'main'|'post'} [entry]
 * @property {Record<string, string>} [inputs]
 * @property {Record<string, string|undefined>} [env] extra env (secrets, emulator host, ...)
 * @property {string} workspace
 * @property {Record<string, string>} [state] STATE_* for the post step
 * @property {string} [runnerTemp]
 * @property {string} [node] the node binary (default: this process's)
 * @property {object} [event] the event payload
 * @property {string} [eventName]
 * @property {string} [githubToken] what `${{ github.token }}` evaluates to (default '')
 */

/**
 * @typedef {object} StepResult
 * @property {number|null} exitCode
 * @property {NodeJS.Signals|null} signal
 * @property {string} stdout
 * @property {string} stderr
 * @property {Record<string,string>} outputs
 * @property {Record<string,string>} state
 * @property {string} summary
 * @property {Annotation[]} annotations
 * @property {RunnerCommand[]} commands every workflow command the runner would process
 * @property {string} runnerTemp
 * @property {string} stepDir the folder of this step's file-command files
 */

/**
 * Starts one step; returns the child and a promise of its result.
 * @param {StepOptions} o
 * @returns {{ child: import('node:child_process').ChildProcess, result: Promise<StepResult> }}
 */
export function startStep(o) {
  const action = readActionYml(o.actionDir);
  const entry = o.entry ?? 'main';
  const script = entry === 'main' ? action.runs.main : action.runs.post;
  if (!script) throw new Error(`action has no runs.${entry}`);
  const runnerTemp = o.runnerTemp ?? mkdtempSync(join(tmpdir(), 'runner-temp-'));
  const stepDir = join(runnerTemp, '_runner_file_commands', `${entry}-${randomUUID()}`);
  mkdirSync(stepDir, { recursive: true });
  const files = {
    GITHUB_OUTPUT: join(stepDir, 'output'),
    GITHUB_STATE: join(stepDir, 'state'),
    GITHUB_ENV: join(stepDir, 'env'),
    GITHUB_PATH: join(stepDir, 'path'),
    GITHUB_STEP_SUMMARY: join(stepDir, 'summary'),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const eventPath = join(stepDir, 'event.json');
  writeFileSync(eventPath, JSON.stringify(o.event ?? {}));

  /** @type {Record<string, string>} */
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('INPUT_') || k.startsWith('STATE_') || k.startsWith('GITHUB_')) continue;
    env[k] = v;
  }
  const given = o.inputs ?? {};
  for (const name of Object.keys(given)) {
    if (!(name in (action.inputs ?? {}))) process.stderr.write(`harness: Unexpected input(s) '${name}'\n`);
  }
  for (const [name, spec] of Object.entries(action.inputs ?? {})) {
    let value = name in given ? given[name] : spec?.default === undefined ? undefined : String(spec.default);
    // The runner evaluates expressions in defaults; the one our action uses is github.token.
    if (value !== undefined && /\$\{\{/.test(value)) {
      if (!/^\$\{\{\s*github\.token\s*\}\}$/.test(value.trim())) throw new Error(`harness: cannot evaluate the default of ${name}: ${value}`);
      value = o.githubToken ?? '';
    }
    if (value !== undefined) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  for (const [k, v] of Object.entries(o.state ?? {})) env[`STATE_${k}`] = v;
  Object.assign(env, files, {
    GITHUB_WORKSPACE: o.workspace,
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_EVENT_NAME: o.eventName ?? 'workflow_dispatch',
    GITHUB_REPOSITORY: 'octo/eval-repo',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_RUN_ID: '4242',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    RUNNER_TEMP: runnerTemp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
  });
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }

  const child = spawn(o.node ?? process.execPath, [join(o.actionDir, script)], { cwd: o.workspace, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const result = new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      try {
        resolve({
          exitCode,
          signal,
          stdout,
          stderr,
          outputs: parseFileCommands(readFileSync(files.GITHUB_OUTPUT, 'utf8')),
          // The runner also takes state from `save-state` commands on stdout.
          state: { ...stateCommands(stdout), ...parseFileCommands(readFileSync(files.GITHUB_STATE, 'utf8')) },
          commands: runnerCommands(stdout),
          summary: readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8'),
          annotations: parseAnnotations(stdout),
          runnerTemp,
          stepDir,
        });
      } catch (e) {
        reject(e);
      }
    });
  });
  return { child, result: /** @type {Promise<StepResult>} */ (result) };
}

/**
 * Runs one step to the end.
 * @param {StepOptions} o
 * @returns {Promise<StepResult>}
 */
export function runStep(o) {
  return startStep(o).result;
}

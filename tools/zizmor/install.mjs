// @ts-check
// Installs zizmor, exactly as pinned (and hash-checked) in tools/zizmor/requirements.txt, into the
// git-ignored venv tools/zizmor/.venv, for scripts/lint.sh. A venv of its own, so the lint does not
// depend on any other Python tooling of the repo. Node built-ins only: scripts/setup.mjs and .ci/run
// call it before anything else is installed. Skips when the venv holds what requirements.txt pins.
// Without a usable Python 3 it prints one line and installs nothing; under CI=true that is an error,
// since CI must run zizmor.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ZIZMOR_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = join(ZIZMOR_DIR, '..', '..');
export const REQUIREMENTS = join(ZIZMOR_DIR, 'requirements.txt');
const VENV = join(ZIZMOR_DIR, '.venv');
const WIN = process.platform === 'win32';
/** @param {string} venv */
const venvPaths = (venv) => ({
  zizmor: join(venv, WIN ? 'Scripts' : 'bin', WIN ? 'zizmor.exe' : 'zizmor'),
  python: join(venv, WIN ? 'Scripts' : 'bin', WIN ? 'python.exe' : 'python'),
  // Written last: a venv without it (an interrupted install) is made again.
  stamp: join(venv, '.requirements.sha256'),
});
export const ZIZMOR_BIN = venvPaths(VENV).zizmor;

/** The version requirements.txt pins (`zizmor==X.Y.Z`). */
export function pinnedVersion(text = readFileSync(REQUIREMENTS, 'utf8')) {
  const m = /^zizmor==(\d+\.\d+\.\d+)\b/m.exec(text);
  if (!m) throw new Error(`${relative(ROOT, REQUIREMENTS)} pins no zizmor==X.Y.Z`);
  return m[1];
}

const digest = () => createHash('sha256').update(readFileSync(REQUIREMENTS)).digest('hex');

/** True when the venv holds what requirements.txt pins (and the install finished). */
export function zizmorInstalled(venv = VENV) {
  const { zizmor, stamp } = venvPaths(venv);
  return existsSync(zizmor) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest();
}

/**
 * The first candidate that is Python 3 with the venv and ensurepip modules (Debian ships those
 * apart, in python3-venv), or undefined.
 * @param {string[]} candidates
 */
function findPython(candidates) {
  for (const cmd of candidates) {
    const r = spawnSync(cmd, ['-c', 'import sys, venv, ensurepip; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '3') return cmd;
  }
  return undefined;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {boolean} quiet
 */
function run(cmd, args, quiet) {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: quiet ? 'pipe' : 'inherit', encoding: 'utf8' });
  if (r.status !== 0) {
    const tail = quiet ? `\n${`${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-20).join('\n')}` : '';
    throw new Error(`zizmor install: \`${[cmd, ...args].join(' ')}\` failed (${r.error ? r.error.message : `exit ${r.status}`})${tail}`);
  }
  return r.stdout ?? '';
}

/**
 * @typedef {{ status: 'present' | 'installed' | 'skipped', message: string }} InstallResult
 * @param {{ venv?: string, python?: string[], env?: NodeJS.ProcessEnv, log?: (line: string) => void, quiet?: boolean }} [o]
 *   venv: where to install (default tools/zizmor/.venv); python: the interpreters to try (default: $PYTHON,
 *   else python3, else python)
 * @returns {InstallResult}
 */
export function installZizmor(o = {}) {
  const env = o.env ?? process.env;
  const log = o.log ?? console.log;
  const quiet = o.quiet ?? false;
  const venv = o.venv ?? VENV;
  const at = relative(ROOT, venv);
  const paths = venvPaths(venv);
  const version = pinnedVersion();
  if (zizmorInstalled(venv)) return { status: 'present', message: `zizmor ${version} is installed (${at})` };

  const python = findPython(o.python ?? (env.PYTHON ? [env.PYTHON] : ['python3', 'python']));
  if (!python) {
    const why = 'no Python 3 with the venv module (on Debian: apt-get install python3-venv)';
    if (env.CI === 'true') throw new Error(`zizmor install: ${why}; CI=true needs zizmor for the lint`);
    const message = `zizmor skipped: ${why}, so scripts/lint.sh runs without it`;
    log(message);
    return { status: 'skipped', message };
  }

  log(`setup: installing zizmor ${version} (${at})`);
  rmSync(venv, { recursive: true, force: true });
  run(python, ['-m', 'venv', venv], quiet);
  run(
    paths.python,
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--require-hashes', '--only-binary=:all:', '-r', REQUIREMENTS],
    quiet,
  );
  const got = run(paths.zizmor, ['--version'], true).trim();
  if (got !== `zizmor ${version}`) throw new Error(`zizmor install: ${relative(ROOT, paths.zizmor)} --version says '${got}', expected 'zizmor ${version}'`);
  writeFileSync(paths.stamp, `${digest()}\n`);
  return { status: 'installed', message: `zizmor ${version} installed (${at})` };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const r = installZizmor();
    if (r.status !== 'skipped') console.log(r.message);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  }
}

// @ts-check
// Installs the Python test tier: tools/python/.venv made with `python3 -m venv` (never the system
// Python) and filled from requirements.lock with --no-deps, so the venv holds exactly the locked
// packages. A stamp file in the venv records the hash of the lock and the interpreter's version;
// when they match, the install is skipped. Only Node built-ins: it runs from `npm run setup`.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PYTHON_DIR = dirname(fileURLToPath(import.meta.url));
const VENV = join(PYTHON_DIR, '.venv');
const LOCK = join(PYTHON_DIR, 'requirements.lock');
/** The file whose presence tells the test tiers that Ray is installed (tests/setup/tiers.ts). */
const RAY_BIN = join(VENV, 'bin', 'ray');
const STAMP = join(VENV, '.installed-from-lock');

/**
 * The interpreter's version line, or null when it cannot run.
 * @param {string} python
 * @returns {string | null}
 */
function pythonVersion(python = 'python3') {
  const r = spawnSync(python, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).trim();
}

/**
 * What the stamp must say for the venv to count as installed from this lock.
 * @param {string} version
 */
function stampFor(version) {
  return `${createHash('sha256').update(readFileSync(LOCK)).digest('hex')} ${version}\n`;
}

/** @param {string} p @returns {number} bytes on disk (files only, links not followed) */
function sizeOf(p) {
  const st = lstatSync(p);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  let n = 0;
  for (const e of readdirSync(p)) n += sizeOf(join(p, e));
  return n;
}

/**
 * @typedef {{ status: 'installed' | 'up-to-date' | 'no-python', venv: string, seconds?: number, bytes?: number, python?: string }} InstallResult
 */

/**
 * @param {{ python?: string, force?: boolean, quiet?: boolean, log?: (line: string) => void }} [o]
 * @returns {InstallResult}
 */
export function installPythonTier(o = {}) {
  const python = o.python ?? 'python3';
  const log = o.log ?? ((l) => console.log(l));
  const version = pythonVersion(python);
  if (!version) return { status: 'no-python', venv: VENV };
  const stamp = stampFor(version);
  if (!o.force && existsSync(RAY_BIN) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === stamp) {
    return { status: 'up-to-date', venv: VENV, python: version };
  }
  const t0 = Date.now();
  const stdio = o.quiet ? 'pipe' : 'inherit';
  // A venv from another lock or a broken install: start over, so nothing unlocked stays behind.
  rmSync(VENV, { recursive: true, force: true });
  log(`python tier: creating tools/python/.venv with ${version} and installing requirements.lock (Ray and the GCS client; about 400 MB)`);
  try {
    execFileSync(python, ['-m', 'venv', VENV], { stdio });
    const pip = [join(VENV, 'bin', 'python'), '-m', 'pip'];
    const quiet = ['--disable-pip-version-check', '--no-input', ...(o.quiet ? ['--quiet'] : [])];
    execFileSync(pip[0], [...pip.slice(1), 'install', ...quiet, '--no-deps', '-r', LOCK], { stdio });
    // The lock is installed without resolution; `pip check` proves it is complete and consistent.
    execFileSync(pip[0], [...pip.slice(1), 'check', '--disable-pip-version-check'], { stdio });
  } catch (e) {
    rmSync(VENV, { recursive: true, force: true });
    const hint = /No module named venv|ensurepip is not available/.test(String(/** @type {{stderr?: unknown}} */ (e).stderr ?? ''))
      ? ' (Debian/Ubuntu: apt-get install python3-venv)'
      : '';
    throw new Error(`python tier install failed${hint}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!existsSync(RAY_BIN)) throw new Error(`python tier install finished but ${RAY_BIN} is missing`);
  writeFileSync(STAMP, stamp);
  const seconds = Math.round((Date.now() - t0) / 100) / 10;
  const bytes = sizeOf(VENV);
  log(`python tier: installed in ${seconds} s, ${Math.round(bytes / 1e6)} MB`);
  return { status: 'installed', venv: VENV, seconds, bytes, python: version };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  if (args.includes('--help')) {
    console.log(
      'usage: node tools/python/install.mjs [--force] [--python python3]\nCreates tools/python/.venv from requirements.lock; skips when already installed from the same lock.',
    );
    process.exit(0);
  }
  const pi = args.indexOf('--python');
  const r = installPythonTier({ force: args.includes('--force'), python: pi >= 0 ? args[pi + 1] : undefined });
  if (r.status === 'no-python') {
    console.log('python tier: python3 not found; the real-Ray tests and the real-engine demo are not available');
  } else if (r.status === 'up-to-date') {
    console.log(`python tier: up to date (${r.python}, ${statSync(STAMP).mtime.toISOString().slice(0, 10)})`);
  }
}

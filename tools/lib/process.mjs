// @ts-check
// Process plumbing that the test servers of tools/ share.
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * SIGTERM, then SIGKILL after `graceMs`, and resolves once the child has exited.
 * @param {import('node:child_process').ChildProcess} child
 * @param {number} [graceMs]
 */
export async function stopChild(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Whether the module at `moduleUrl` is the script node was started with (not an import).
 * @param {string} moduleUrl the caller's import.meta.url
 */
export function isMainModule(moduleUrl) {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

// @ts-check
// Puts the stand-in `ray` and `gcloud` on a PATH directory as tiny sh wrappers that exec the
// node scripts with a given node binary (no reliance on the files' exec bit or on symlinks).
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FAKE_CLI_DIR = dirname(fileURLToPath(import.meta.url));

/** @param {string} s */
const sq = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * @param {string} binDir created when missing
 * @param {{ node?: string }} [o] the node binary (default: this process's)
 * @returns {{ binDir: string, ray: string, gcloud: string }}
 */
export function installFakeClis(binDir, o = {}) {
  mkdirSync(binDir, { recursive: true });
  const node = o.node ?? process.execPath;
  /** @type {Record<string, string>} */
  const paths = {};
  for (const tool of ['ray', 'gcloud']) {
    const p = join(binDir, tool);
    writeFileSync(p, `#!/bin/sh\nexec ${sq(node)} ${sq(join(FAKE_CLI_DIR, `${tool}.mjs`))} "$@"\n`);
    chmodSync(p, 0o755);
    paths[tool] = p;
  }
  return { binDir, ray: paths.ray, gcloud: paths.gcloud };
}

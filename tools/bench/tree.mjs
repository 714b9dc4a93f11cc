// @ts-check
// The upload columns' view of an artifact root: every regular file of every DB folder (a top-level folder not
// starting with `_`), dotfiles included, as the action selects them. Also the CLI parsing they share.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** @typedef {{ db: string, rel: string, abs: string, size: number }} TreeFile */

/** @param {string} root @returns {TreeFile[]} */
export function listTree(root) {
  /** @type {TreeFile[]} */
  const out = [];
  const dbs = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
    .map((e) => e.name)
    .sort();
  for (const db of dbs) {
    /** @param {string} dir @param {string} rel */
    const walk = (dir, rel) => {
      for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(join(dir, e.name), r);
        else if (e.isFile()) out.push({ db, rel: r, abs: join(dir, e.name), size: statSync(join(dir, e.name)).size });
      }
    };
    walk(join(root, db), '');
  }
  return out;
}

/**
 * `--name value` pairs; every name in `required` must be there.
 * @param {string[]} argv @param {string[]} required
 * @returns {Record<string, string>}
 */
export function parseArgs(argv, required) {
  /** @type {Record<string, string>} */
  const out = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`usage: --name value pairs, got ${argv.slice(i).join(' ')}`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const r of required) if (!out[r]) throw new Error(`--${r} is required`);
  return out;
}

/** Runs `tasks` with at most `n` in flight; the first failure rejects. @param {(() => Promise<unknown>)[]} tasks @param {number} n */
export async function pool(tasks, n) {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) await tasks[next++]();
  };
  await Promise.all(Array.from({ length: Math.min(n, tasks.length) }, worker));
}

// Builds dist/ from src/: tsc (TypeScript 7) emits lib/, then ncc bundles each entry.
// ncc is given tsc's JS output because TypeScript 7 has no JS API for ncc to load.
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit' });

rmSync(join(root, 'lib'), { recursive: true, force: true });
run(bin('tsc'), ['-p', 'tsconfig.build.json']);

// Each entry gets its own folder: ncc always writes index.js and numbered chunks.
const entries = [
  ['lib/index.js', 'dist'],
  ['lib/post.js', 'dist/post'],
  ['lib/otf-keys.js', 'dist/otf-keys'],
];
for (const [entry, out] of entries) {
  // ncc's numbered chunks (dynamic imports) change names between builds: a stale one would stay behind.
  for (const f of readdirSync(join(root, out), { withFileTypes: true }).filter((d) => d.isFile() && /^(index|\d+\.index)\.js$/.test(d.name))) {
    rmSync(join(root, out, f.name));
  }
  run(bin('ncc'), ['build', entry, '-o', out, '--license', 'licenses.txt', '-q']);
}

// Builds dist/ from src/: tsc (TypeScript 7) emits lib/, then ncc bundles each entry.
// ncc is given tsc's JS output because TypeScript 7 has no JS API for ncc to load.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

// ncc writes licenses.txt per chunk, so with a lazily loaded chunk the entry's file named only the
// chunk's packages. Each dist folder gets the licenses of every production dependency instead (a
// superset of what is bundled), in ncc's format: name, license, text.
const paths = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
  .split('\n')
  .filter((p) => p.includes('node_modules'));
const byName = new Map();
for (const dir of paths) {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (byName.has(pkg.name)) continue;
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  const text = file ? readFileSync(join(dir, file), 'utf8').trim() : '';
  byName.set(pkg.name, `${pkg.name}\n${typeof pkg.license === 'string' ? pkg.license : ''}\n${text}\n`);
}
const licenses = [...byName.keys()]
  .sort()
  .map((name) => byName.get(name))
  .join('\n');
for (const [, out] of entries) if (existsSync(join(root, out))) writeFileSync(join(root, out, 'licenses.txt'), licenses);

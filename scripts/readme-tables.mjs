// Generates the README's inputs and outputs tables from action.yml (`npm run docs`).
// A test fails when the README and action.yml drift apart.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './setup.mjs';

const cell = (s) =>
  String(s ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\n+/g, ' ')
    .trim();

export function tables() {
  const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8'));
  const inputs = Object.entries(action.inputs).map(([name, spec]) => {
    const dflt = spec.default === undefined ? '' : `\`${cell(spec.default) || ' '}\``;
    return `| \`${name}\` | ${cell(spec.description)} | ${dflt} |`;
  });
  const outputs = Object.entries(action.outputs).map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`);
  return {
    inputs: ['| input | description | default |', '| --- | --- | --- |', ...inputs].join('\n'),
    outputs: ['| output | description |', '| --- | --- |', ...outputs].join('\n'),
  };
}

export function renderReadme(text) {
  const t = tables();
  let out = text;
  for (const [name, table] of Object.entries(t)) {
    const re = new RegExp(`(<!-- ${name}:start -->)[\\s\\S]*?(<!-- ${name}:end -->)`);
    if (!re.test(out)) throw new Error(`README has no ${name}:start/${name}:end markers`);
    out = out.replace(re, `$1\n${table}\n$2`);
  }
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = join(ROOT, 'README.md');
  writeFileSync(path, renderReadme(readFileSync(path, 'utf8')));
  console.log('README tables regenerated from action.yml');
}

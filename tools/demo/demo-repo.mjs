// @ts-check
// Builds a demo evaluation repo (the caller of the action) from the repo's copy of the real
// SLayer fixtures, plus a generated mini-interact dataset. Used by the tests, the demo and
// the benchmarks; it reads only files of this repository.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const FIXTURE_MODELS = join(REPO_ROOT, 'tests', 'fixtures', 'slayer_models');

/** The fixture's DB folders, sorted (`_notes/` is not a DB). */
export function fixtureDbs() {
  return readdirSync(FIXTURE_MODELS)
    .filter((n) => !n.startsWith('_') && statSync(join(FIXTURE_MODELS, n)).isDirectory())
    .sort();
}

/**
 * @param {string} cwd
 * @param {string[]} args
 */
export function git(cwd, args) {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Demo',
      GIT_AUTHOR_EMAIL: 'demo@example.com',
      GIT_COMMITTER_NAME: 'Demo',
      GIT_COMMITTER_EMAIL: 'demo@example.com',
      GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
      GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
    },
  });
}

const DOCKERFILE = `FROM python:3.12-slim
# DATA-LAYERS
COPY mini-interact /data/mini-interact
COPY audited_gold /app/bird-interact-agents/audited_gold
# CODE-LAYERS
COPY pyproject.toml uv.lock /app/bird-interact-agents/
COPY src /app/bird-interact-agents/src
`;

/**
 * @param {{ dir: string, dbs?: string[], idsPerDb?: number }} o
 * @returns {{ workspace: string, miniInteractRoot: string, datasetFile: string, dbs: string[], idsByDb: Record<string, string[]>, allIds: string[] }}
 */
export function makeDemoRepo(o) {
  const dbs = o.dbs ?? fixtureDbs();
  const idsPerDb = o.idsPerDb ?? 2;
  const workspace = join(o.dir, 'eval-repo');
  const miniInteractRoot = join(o.dir, 'mini-interact');
  mkdirSync(join(workspace, 'src', 'bird_interact_agents', 'cloud'), { recursive: true });
  mkdirSync(join(workspace, 'audited_gold'), { recursive: true });
  mkdirSync(miniInteractRoot, { recursive: true });
  writeFileSync(join(workspace, 'pyproject.toml'), '[project]\nname = "bird-interact-agents"\nversion = "0.1.0"\n');
  writeFileSync(join(workspace, 'uv.lock'), 'version = 1\n\n[[package]]\nname = "slayer"\nversion = "0.9.0"\n');
  writeFileSync(join(workspace, 'Dockerfile.cloud'), DOCKERFILE);
  writeFileSync(join(workspace, 'src', 'bird_interact_agents', '__init__.py'), '');
  writeFileSync(join(workspace, 'src', 'bird_interact_agents', 'cloud', 'ray_app.py'), '# the in-cluster runner lives in the image\n');
  writeFileSync(join(workspace, 'audited_gold', 'README.md'), 'audited gold SQL\n');
  writeFileSync(join(workspace, '.gitignore'), 'slayer_otf_cache/\nembeddings.db\n__pycache__/\n');
  cpSync(FIXTURE_MODELS, join(workspace, 'slayer_models'), {
    recursive: true,
    filter: (src) => src === FIXTURE_MODELS || dbs.some((db) => src.startsWith(join(FIXTURE_MODELS, db))) || src.startsWith(join(FIXTURE_MODELS, '_notes')),
  });

  /** @type {Record<string, string[]>} */
  const idsByDb = {};
  const lines = [];
  for (const db of dbs) {
    idsByDb[db] = [];
    for (let k = 1; k <= idsPerDb; k++) {
      const id = `${db}_${k}`;
      idsByDb[db].push(id);
      lines.push(JSON.stringify({ instance_id: id, selected_database: db, query: `demo question ${k} about ${db}` }));
    }
  }
  const datasetFile = join(miniInteractRoot, 'mini_interact.jsonl');
  writeFileSync(datasetFile, `${lines.join('\n')}\n`);

  git(workspace, ['init', '-q', '-b', 'main']);
  git(workspace, ['add', '-A']);
  git(workspace, ['commit', '-q', '-m', 'demo evaluation repo']);
  return { workspace, miniInteractRoot, datasetFile, dbs, idsByDb, allIds: dbs.flatMap((db) => idsByDb[db]) };
}

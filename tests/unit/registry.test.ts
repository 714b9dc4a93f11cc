// Does the image exist? One HEAD on the Docker Registry HTTP API v2 with the ADC token, against
// a local HTTP server standing in for Artifact Registry; and the build command when it does not.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { GoogleAuth } from 'google-auth-library';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adcTokenSource,
  buildCommand,
  imageExists,
  MANIFEST_ACCEPT,
  manifestUrl,
  parseImageUri,
  REGISTRY_EMULATOR_ENV,
  RegistryError,
  registryFromEnv,
} from '../../src/cluster/registry.js';
import { removeDir, tempDir } from '../helpers/action.js';
import { IMAGE_URI } from '../helpers/cluster.js';
import { GIT_ENV, gitIn } from '../helpers/git.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

let server: Server;
let base = '';
const seen: Seen[] = [];
/** Status codes to answer, in order; then 200. */
let script: number[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const status = script.shift() ?? 200;
    res.writeHead(
      status,
      status === 200
        ? { 'content-type': 'application/vnd.oci.image.index.v1+json', 'docker-content-digest': `sha256:${'a'.repeat(64)}` }
        : { 'content-type': 'application/json' },
    );
    res.end(req.method === 'HEAD' ? undefined : '{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const TOKEN = 'ya29.TESTSECRET-access-token';
const token = async (): Promise<string> => TOKEN;

function fresh(statuses: number[]): void {
  seen.length = 0;
  script = [...statuses];
}

describe('imageExists', () => {
  it('200: HEAD /v2/<project>/<repo>/<image>/manifests/<tag> with the Bearer token and every manifest type', async () => {
    fresh([200]);
    expect(await imageExists(IMAGE_URI, token, { baseUrl: base })).toBe(true);
    expect(seen).toHaveLength(1);
    expect(seen[0].method).toBe('HEAD');
    expect(seen[0].url).toBe('/v2/bird-proj/bird-interact-runner/runner/manifests/0123456789ab-ba9876543210');
    expect(seen[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen[0].headers.accept).toBe(MANIFEST_ACCEPT);
    for (const t of [
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.docker.distribution.manifest.list.v2+json',
      'application/vnd.docker.distribution.manifest.v2+json',
    ]) {
      expect(seen[0].headers.accept).toContain(t);
    }
  });

  it('404: the image is missing', async () => {
    fresh([404]);
    expect(await imageExists(IMAGE_URI, token, { baseUrl: base })).toBe(false);
    expect(seen).toHaveLength(1);
  });

  it('401: an error that names the fix and never the token', async () => {
    fresh([401]);
    const e = await imageExists(IMAGE_URI, token, { baseUrl: base }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RegistryError);
    expect((e as RegistryError).status).toBe(401);
    expect((e as Error).message).toMatch(/google-github-actions\/auth/);
    expect((e as Error).message).not.toContain(TOKEN);
  });

  it('403: names the Artifact Registry role and the repository', async () => {
    fresh([403]);
    const e = await imageExists(IMAGE_URI, token, { baseUrl: base }).catch((x: unknown) => x);
    expect((e as Error).message).toMatch(/roles\/artifactregistry\.reader/);
    expect((e as Error).message).toContain('us-central1-docker.pkg.dev/bird-proj/bird-interact-runner');
  });

  it('retries 5xx and 429 a few times, then gives up with the status', async () => {
    fresh([503, 429, 200]);
    expect(await imageExists(IMAGE_URI, token, { baseUrl: base, retryMs: 1 })).toBe(true);
    expect(seen).toHaveLength(3);
    fresh([500, 500, 500]);
    await expect(imageExists(IMAGE_URI, token, { baseUrl: base, retryMs: 1 })).rejects.toThrow(/answered 500/);
    expect(seen).toHaveLength(3);
  });

  it('a registry that cannot be reached is an error naming the URL', async () => {
    await expect(imageExists(IMAGE_URI, token, { baseUrl: 'http://127.0.0.1:1', attempts: 1 })).rejects.toThrow(
      /could not reach the registry at http:\/\/127\.0\.0\.1:1\/v2\//,
    );
  });

  it('a digest reference is HEADed by digest', async () => {
    fresh([200]);
    const digest = `sha256:${'0f'.repeat(32)}`;
    await imageExists(`europe-west4-docker.pkg.dev/p-123456/repo/img@${digest}`, token, { baseUrl: base });
    expect(seen[0].url).toBe(`/v2/p-123456/repo/img/manifests/${digest}`);
  });
});

describe('image references', () => {
  it('parses host, repository path and tag or digest', () => {
    expect(parseImageUri(IMAGE_URI)).toEqual({
      host: 'us-central1-docker.pkg.dev',
      name: 'bird-proj/bird-interact-runner/runner',
      reference: '0123456789ab-ba9876543210',
    });
    expect(manifestUrl(parseImageUri(IMAGE_URI))).toBe(
      'https://us-central1-docker.pkg.dev/v2/bird-proj/bird-interact-runner/runner/manifests/0123456789ab-ba9876543210',
    );
    expect(parseImageUri('localhost:5000/a/b:t')).toEqual({ host: 'localhost:5000', name: 'a/b', reference: 't' });
    for (const bad of ['runner:tag', 'host/path', 'host/path:bad tag', 'host/Path:t', '']) expect(() => parseImageUri(bad)).toThrow(RegistryError);
  });
});

describe('the ADC token', () => {
  it('comes from GoogleAuth.getAccessToken; none is an error with the fix', async () => {
    const ok = adcTokenSource({ getAccessToken: async () => 'tok' } as unknown as GoogleAuth);
    expect(await ok()).toBe('tok');
    const none = adcTokenSource({ getAccessToken: async () => null } as unknown as GoogleAuth);
    await expect(none()).rejects.toThrow(/google-github-actions\/auth/);
  });

  it(`${REGISTRY_EMULATOR_ENV} points imageExists at a registry double without credentials`, async () => {
    const r = registryFromEnv({ [REGISTRY_EMULATOR_ENV]: base });
    expect(r.baseUrl).toBe(base);
    fresh([404]);
    expect(await imageExists(IMAGE_URI, r.getToken, { baseUrl: r.baseUrl })).toBe(false);
    expect(seen[0].headers.authorization).toBe('Bearer emulator-token');
    expect(registryFromEnv({}).baseUrl).toBeUndefined();
  });
});

describe('buildCommand', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removeDir));

  const git = gitIn;

  it('the dataset inside the repo as mini-interact/: the same stream, no rename', () => {
    expect(buildCommand(IMAGE_URI, '/w/eval repo', '/w/eval repo/mini-interact')).toBe(
      `gcloud auth configure-docker us-central1-docker.pkg.dev --quiet && git -C '/w/eval repo' ls-files -z --cached --others --exclude-standard -- ':(exclude,literal)mini-interact' | tar -cf - --ignore-failed-read -C '/w/eval repo' --no-recursion --null -T - --recursion -C '/w/eval repo' mini-interact | docker build --platform linux/amd64 -f Dockerfile.cloud -t ${IMAGE_URI} - && docker push ${IMAGE_URI}`,
    );
  });

  it('the dataset elsewhere: one tar context of the files git lists and the dataset renamed mini-interact/, built and pushed', () => {
    const root = tempDir('build-cmd');
    dirs.push(root);
    const repo = join(root, 'eval-repo');
    const data = join(root, 'data', 'mi.v2');
    for (const d of [join(repo, 'src', 'pkg', '__pycache__'), join(repo, 'audited_gold'), join(repo, 'mini-interact'), join(data, 'db_a')])
      mkdirSync(d, { recursive: true });
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'Dockerfile.cloud'), 'FROM x\n');
    writeFileSync(join(repo, 'src', 'pkg', 'a.py'), '');
    writeFileSync(join(repo, 'uv.lock'), '');
    writeFileSync(join(repo, 'pyproject.toml'), '');
    writeFileSync(join(repo, 'audited_gold', 'g.sql'), '');
    writeFileSync(join(repo, 'mi.v2.py'), 'named like the dataset: not renamed\n');
    writeFileSync(join(repo, 'mini-interact', 'stale.json'), 'a repo folder named mini-interact: the dataset takes its place\n');
    writeFileSync(join(repo, 'gone.py'), 'tracked, then deleted\n');
    writeFileSync(join(repo, '.gitignore'), '__pycache__/\n*.env\n');
    git(repo, 'add', '-A');
    git(repo, 'commit', '-q', '-m', 'x');
    rmSync(join(repo, 'gone.py'));
    writeFileSync(join(repo, 'untracked.py'), 'would be tracked\n');
    writeFileSync(join(repo, 'src', 'pkg', '__pycache__', 'a.pyc'), 'ignored\n');
    writeFileSync(join(repo, 'local.env'), 'SECRET=ignored\n');
    writeFileSync(join(data, 'mini_interact.jsonl'), '');
    writeFileSync(join(data, 'db_a', 'db_a.sqlite'), '');
    const cmd = buildCommand(IMAGE_URI, repo, data);
    expect(cmd).toBe(
      `gcloud auth configure-docker us-central1-docker.pkg.dev --quiet && git -C ${repo} ls-files -z --cached --others --exclude-standard -- ':(exclude,literal)mini-interact' | tar -cf - --ignore-failed-read '--transform=s,^mi\\.v2(/|$),mini-interact\\1,x' -C ${repo} --no-recursion --null -T - --recursion -C ${join(root, 'data')} mi.v2 | docker build --platform linux/amd64 -f Dockerfile.cloud -t ${IMAGE_URI} - && docker push ${IMAGE_URI}`,
    );
    // Run it with stand-ins for gcloud and docker: docker lists the context it receives on stdin.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    const calls = join(root, 'calls.txt');
    writeFileSync(join(bin, 'gcloud'), `#!/bin/sh\necho "gcloud $*" >> '${calls}'\n`);
    writeFileSync(join(bin, 'docker'), `#!/bin/sh\necho "docker $*" >> '${calls}'\nif [ "$1" = build ]; then tar -tf - | LC_ALL=C sort >> '${calls}'; fi\n`);
    chmodSync(join(bin, 'gcloud'), 0o755);
    chmodSync(join(bin, 'docker'), 0o755);
    execFileSync('bash', ['-c', cmd], { env: { ...process.env, ...GIT_ENV, PATH: `${bin}:${process.env.PATH ?? ''}` }, stdio: 'pipe' });
    const out = readFileSync(calls, 'utf8').split('\n').filter(Boolean);
    expect(out[0]).toBe('gcloud auth configure-docker us-central1-docker.pkg.dev --quiet');
    expect(out[1]).toBe(`docker build --platform linux/amd64 -f Dockerfile.cloud -t ${IMAGE_URI} -`);
    // Exactly the files the image tag can hash: what git lists (tracked or would be, never ignored), and the dataset.
    expect(out.slice(2, -1)).toEqual(
      [
        '.gitignore',
        'Dockerfile.cloud',
        'audited_gold/g.sql',
        'mi.v2.py',
        'mini-interact/',
        'mini-interact/db_a/',
        'mini-interact/db_a/db_a.sqlite',
        'mini-interact/mini_interact.jsonl',
        'pyproject.toml',
        'src/pkg/a.py',
        'untracked.py',
        'uv.lock',
      ].sort(),
    );
    expect(out.at(-1)).toBe(`docker push ${IMAGE_URI}`);
  });

  it('refuses relative paths', () => {
    expect(() => buildCommand(IMAGE_URI, 'repo', '/abs/mi')).toThrow(/absolute/);
  });
});

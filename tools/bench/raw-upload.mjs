// @ts-check
// The raw ceiling, as a whole process: bare HTTP media uploads (one POST per file, streamed from disk, create-only),
// keep-alive, N in flight (default 32). No SDK, no hashing, no retries: what the transport and the server allow.
// node tools/bench/raw-upload.mjs --root DIR --bucket B --prefix P [--concurrency 32]   (STORAGE_EMULATOR_HOST)
import { createReadStream } from 'node:fs';
import http from 'node:http';
import { listTree, parseArgs, pool } from './tree.mjs';

const args = parseArgs(process.argv.slice(2), ['root', 'bucket', 'prefix']);
const host = process.env.STORAGE_EMULATOR_HOST;
if (!host) throw new Error('STORAGE_EMULATOR_HOST is required');
const concurrency = Number(args.concurrency ?? 32);
const files = listTree(args.root);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

/** @param {import('./tree.mjs').TreeFile} f */
const upload = (f) =>
  new Promise((resolve, reject) => {
    const name = encodeURIComponent(`${args.prefix}/${f.db}/${f.rel}`);
    const req = http.request(
      `${host}/upload/storage/v1/b/${args.bucket}/o?uploadType=media&ifGenerationMatch=0&name=${name}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream', 'content-length': f.size } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve(undefined) : reject(new Error(`${f.db}/${f.rel}: HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    createReadStream(f.abs).on('error', reject).pipe(req);
  });

await pool(
  files.map((f) => () => upload(f)),
  concurrency,
);
agent.destroy();
console.log(JSON.stringify({ files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) }));

// @ts-check
// The naive SDK column, as a whole process: `bucket.upload()` per file with the SDK's defaults (resumable above
// 5 MB, its own retries and validation), a modest N in flight (default 8).
// node tools/bench/naive-sdk.mjs --root DIR --bucket B --prefix P [--concurrency 8]   (STORAGE_EMULATOR_HOST)
import { Storage } from '@google-cloud/storage';
import { listTree, parseArgs, pool } from './tree.mjs';

const args = parseArgs(process.argv.slice(2), ['root', 'bucket', 'prefix']);
const files = listTree(args.root);
const bucket = new Storage().bucket(args.bucket);
await pool(
  files.map((f) => () => bucket.upload(f.abs, { destination: `${args.prefix}/${f.db}/${f.rel}` })),
  Number(args.concurrency ?? 8),
);
console.log(JSON.stringify({ files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) }));

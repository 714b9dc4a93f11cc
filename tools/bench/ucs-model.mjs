// @ts-check
// A model of google-github-actions/upload-cloud-storage (read at
// https://github.com/google-github-actions/upload-cloud-storage, src/client.ts and src/main.ts, commit d130879), as
// a whole process. What it does with its defaults, and what this file repeats:
// - one Storage client with its retry options (autoRetry, RetryAlways, 5 retries, delay ×2 up to 30 s, 500 s total)
//   and its own user agent; the auth client is resolved once before the uploads (not against an emulator);
// - every file goes up through `bucket.upload(source, { destination, metadata: {}, gzip: true, resumable: true })`
//   (inputs gzip and resumable default to true), so each file is gzipped and sent as a resumable upload: one POST
//   to start the session, one PUT with the bytes;
// - `concurrency` (default 100) workers take files from one shared iterator;
// - one `core.info` line per file ("Uploading <source> to gs://<bucket>/<destination>").
// Left out: the glob expansion and .gcloudignore processing (a warning when the file is missing), the outputs.
// node tools/bench/ucs-model.mjs --root DIR --bucket B --prefix P [--concurrency 100]   (STORAGE_EMULATOR_HOST)
import { IdempotencyStrategy, Storage } from '@google-cloud/storage';
import { listTree, parseArgs, pool } from './tree.mjs';

const args = parseArgs(process.argv.slice(2), ['root', 'bucket', 'prefix']);
const files = listTree(args.root);
const storage = new Storage({
  userAgent: 'google-github-actions:upload-cloud-storage/model',
  retryOptions: {
    autoRetry: true,
    idempotencyStrategy: IdempotencyStrategy.RetryAlways,
    maxRetries: 5,
    maxRetryDelay: 30,
    retryDelayMultiplier: 2,
    totalTimeout: 500,
  },
});
// Against the emulator the SDK sends no credentials, and there are none to resolve.
if (!process.env.STORAGE_EMULATOR_HOST) await storage.authClient.getClient();
const bucket = storage.bucket(args.bucket);
await pool(
  files.map((f) => async () => {
    const destination = `${args.prefix}/${f.db}/${f.rel}`;
    process.stdout.write(`Uploading ${f.abs} to gs://${args.bucket}/${destination}\n`);
    await bucket.upload(f.abs, { destination, metadata: {}, gzip: true, resumable: true });
  }),
  Number(args.concurrency ?? 100),
);
console.log(JSON.stringify({ files: files.length, bytes: files.reduce((n, f) => n + f.size, 0) }));

'use strict';
/*
 * Local GCS JSON-API server for tests: the Cloud Storage emulator from firebase-tools 15.34.2 (pinned in
 * package.json), started WITHOUT Java. The wiring: docs/reference/gcs-emulators.md#how-the-launcher-wires-the-emulator;
 * the shims: docs/reference/gcs-emulators.md#the-shims.
 *
 * We construct the emulator but never call its start(), because that boots the Java rules runtime and may
 * download a JAR. The GCS JSON routes only use the admin storage layer, which needs no rules engine.
 *
 * ┌──────────────────────────────────────────────────────────────────────────────────────────────────────┐
 * │ THE SHIMS IN THIS FILE ARE THIS PROJECT'S CODE, NOT EMULATOR BEHAVIOUR.                              │
 * │ The bare emulator ignores every precondition (ifGeneration*, ifMetageneration*), has no bucket       │
 * │ insert/get, and silently creates any bucket a request names. The opt-in shims below model real GCS:  │
 * │   GCS_EMU_PRECONDITIONS=1  412 conditionNotMet, serialised by a per-object lock                      │
 * │   GCS_EMU_BUCKETS=1        POST /b, GET /b/<name>, and 404 notFound for any /b/<name>/... request     │
 * │                            whose bucket was never created                                            │
 * │   GCS_EMU_CHECKSUMS=1      400 when an upload declares an md5Hash/crc32c that its bytes do not have     │
 * │   GCS_EMU_RESUMABLE=1      resumable sessions as GCS runs them: Content-Range chunks, 308 + Range,      │
 * │                            status queries, and the bytes of a broken PUT kept (in 256 KiB units)        │
 * │ They are not upstream behaviour: a test that passes here proves our model, not Google's server.       │
 * │ tests/doubles/gcs-emulator.test.ts proves the shims; rerun it on every firebase-tools bump (internal modules). │
 * └──────────────────────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Env: HOST (127.0.0.1), PORT (9199; 0 = ephemeral), PROJECT_ID (demo-test; keep the demo- prefix, or an
 * empty bucket list makes the emulator call the Firebase management API), GCS_EMU_DATA_DIR (blob dir; a temp
 * dir that is deleted on exit if unset), GCS_EMU_PRECONDITIONS=1, GCS_EMU_BUCKETS=1, GCS_EMU_CHECKSUMS=1,
 * GCS_EMU_RESUMABLE=1, GCS_EMU_CREATE_BUCKETS=a,b.
 * Prints one line containing `listening on http://HOST:PORT` when ready.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = process.env.PORT === undefined || process.env.PORT === '' ? 9199 : Number(process.env.PORT);
const PROJECT_ID = process.env.PROJECT_ID || 'demo-test';
const PRECONDITIONS = process.env.GCS_EMU_PRECONDITIONS === '1';
const BUCKET_SHIM = process.env.GCS_EMU_BUCKETS === '1';
const CHECKSUM_SHIM = process.env.GCS_EMU_CHECKSUMS === '1';
const RESUMABLE_SHIM = process.env.GCS_EMU_RESUMABLE === '1';
const EXTRA_BUCKETS = (process.env.GCS_EMU_CREATE_BUCKETS || '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

function die(msg) {
  process.stderr.write(`[gcs-emulator] ${msg}\n`);
  process.exit(1);
}

if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) die(`invalid PORT: ${process.env.PORT}`);
if (!PROJECT_ID.startsWith('demo-')) {
  process.stderr.write(
    `[gcs-emulator] warning: PROJECT_ID ${PROJECT_ID} lacks the demo- prefix; see docs/reference/gcs-emulators.md#how-the-launcher-wires-the-emulator\n`,
  );
}

// Blob location must be fixed before the emulator modules compute os.tmpdir()/firebase/storage/blobs.
const ownDataDir = !process.env.GCS_EMU_DATA_DIR;
const DATA_DIR = process.env.GCS_EMU_DATA_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'gcs-emu-'));
fs.mkdirSync(DATA_DIR, { recursive: true });
process.env.TMPDIR = DATA_DIR;

let fbDir;
try {
  fbDir = path.dirname(require.resolve('firebase-tools/package.json', { paths: [__dirname] }));
} catch {
  die('firebase-tools is not installed; run: npm ci --prefix tools/gcs-emulator --ignore-scripts --no-audit --no-fund');
}
// Deep requires work: firebase-tools has no "exports" map. express is not a direct dependency of ours.
const { StorageEmulator } = require(path.join(fbDir, 'lib/emulator/storage'));
const { createApp } = require(path.join(fbDir, 'lib/emulator/storage/server'));
const { EmulatorRegistry } = require(path.join(fbDir, 'lib/emulator/registry'));
const express = require(require.resolve('express', { paths: [fbDir] }));
const bodyParser = require(require.resolve('body-parser', { paths: [fbDir] }));
const { parseObjectUploadMultipartRequest } = require(path.join(fbDir, 'lib/emulator/storage/multipart'));
const { crc32c, crc32cToString } = require(path.join(fbDir, 'lib/emulator/storage/crc'));

// auto_download:false is a second guard against fetching the rules JAR; the rules are never evaluated.
const emu = new StorageEmulator({
  projectId: PROJECT_ID,
  host: HOST,
  port: PORT,
  auto_download: false,
  rules: { name: 'unused', content: '' },
});
// selfLink, mediaLink and the resumable Location header build their URLs through the registry.
EmulatorRegistry.set('storage', emu);
const storage = emu.adminStorageLayer;

// ---------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------

function sendError(res, code, message, reason, extra) {
  res.status(code).json({
    error: { code, message, errors: [{ message, domain: 'global', reason, ...extra }] },
  });
}

// Answer only once the request body is drained, so a client still sending 1 MB sees a clean response
// instead of a reset.
function respondAfterBody(req, fn) {
  if (req.complete || req.readableEnded) return fn();
  req.once('end', fn);
  req.resume();
}

function parseUrl(req) {
  return new URL(req.url, 'http://local');
}

const seg = (s) => decodeURIComponent(s);

// ---------------------------------------------------------------------------------------------------------
// Precondition shim (OUR CODE, see header)
// ---------------------------------------------------------------------------------------------------------

const PLAIN = ['ifGenerationMatch', 'ifGenerationNotMatch', 'ifMetagenerationMatch', 'ifMetagenerationNotMatch'];
const SOURCE = PLAIN.map((p) => p.replace(/^if/, 'ifSource'));
const PRECONDITION_MESSAGE = 'At least one of the pre-conditions you specified did not hold.';

function hasAny(params, names) {
  return names.some((n) => params.has(n));
}

// getMetadata is what getObject uses for its lookup, minus reading the whole blob into memory on every check;
// the admin layer's rules validator always allows, so the result is the same.
function storedMeta(bucket, name) {
  try {
    return storage.getMetadata(bucket, name);
  } catch {
    return undefined;
  }
}

// True if a precondition fails. `prefix` is 'if' for the target object, 'ifSource' for a copy source.
function preconditionFails(params, meta, prefix) {
  const exists = meta !== undefined;
  const gen = exists ? String(meta.generation) : undefined;
  const mgen = exists ? String(meta.metageneration) : undefined;
  const gm = params.get(`${prefix}GenerationMatch`);
  const gnm = params.get(`${prefix}GenerationNotMatch`);
  const mm = params.get(`${prefix}MetagenerationMatch`);
  const mnm = params.get(`${prefix}MetagenerationNotMatch`);
  if (gm !== null && (gm === '0' ? exists : gen !== gm)) return true;
  if (gnm !== null && (gnm === '0' ? !exists : gen === gnm)) return true;
  if (mm !== null && mgen !== mm) return true;
  if (mnm !== null && exists && mgen === mnm) return true;
  return false;
}

function sendPreconditionFailed(req, res) {
  respondAfterBody(req, () => sendError(res, 412, PRECONDITION_MESSAGE, 'conditionNotMet', { locationType: 'header', location: 'If-Match' }));
}

// Per-object lock as a promise chain keyed by bucket/name. Without it, check-then-write races (48 of 50
// create-only resumable writers "won" in the measurement); with it exactly one wins.
const locks = new Map();

// Resolves true once `key` is held by this request; the lock is released when the response closes.
// Resolves false if the client went away while waiting (the lock is then passed on at once).
function lockUntilResponseCloses(key, res) {
  const prev = locks.get(key) || Promise.resolve();
  let release;
  const mine = new Promise((r) => (release = r));
  const tail = prev.then(() => mine);
  locks.set(key, tail);
  const done = () => {
    release();
    if (locks.get(key) === tail) locks.delete(key);
  };
  let closed = false;
  res.once('close', () => {
    closed = true;
  });
  return prev.then(() => {
    if (closed) {
      done();
      return false;
    }
    res.once('close', done);
    return true;
  });
}

// Resumable uploads that passed the check at initiation: upload_id -> { bucket, name, params }.
const pendingResumable = new Map();

const RE_UPLOAD = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/;
const RE_COPY = /^\/b\/([^/]+)\/o\/([^/]+)\/(copyTo|rewriteTo)\/b\/([^/]+)\/o\/([^/]+)$/;
const RE_OBJECT = /^\/(?:download\/storage\/v1\/)?b\/([^/]+)\/o\/([^/]+)$/;

async function preconditionShim(req, res, next) {
  const url = parseUrl(req);
  const p = url.searchParams;
  let m = RE_UPLOAD.exec(url.pathname);
  if (m) {
    const bucket = seg(m[1]);
    const uploadType = p.get('uploadType') || req.get('x-goog-upload-protocol');

    // Final PUT of a resumable upload: check again, another writer may have won since initiation.
    if (req.method === 'PUT' && p.has('upload_id')) {
      const id = p.get('upload_id');
      const pending = pendingResumable.get(id);
      if (!pending) return next();
      const key = `${pending.bucket}/${pending.name}`;
      if (!(await lockUntilResponseCloses(key, res))) return undefined;
      if (preconditionFails(pending.params, storedMeta(pending.bucket, pending.name), 'if')) {
        pendingResumable.delete(id);
        return sendPreconditionFailed(req, res);
      }
      // Only the PUT that completes the upload ends it; a 308 (more to come) keeps the check for the last one.
      res.once('finish', () => {
        if (res.statusCode < 300) pendingResumable.delete(id);
      });
      return next();
    }

    if (req.method !== 'POST' || !hasAny(p, PLAIN)) return next();
    // The client always sends name in the query; a body-only name is not shimmed.
    const name = p.get('name');
    if (!name) return next();
    const objName = name.startsWith('/') ? name.slice(1) : name;
    const key = `${bucket}/${objName}`;
    if (!(await lockUntilResponseCloses(key, res))) return undefined;
    if (preconditionFails(p, storedMeta(bucket, objName), 'if')) return sendPreconditionFailed(req, res);

    if (uploadType === 'resumable' && !p.has('upload_id')) {
      // Remember the upload as soon as the emulator sets Location, before the client can send its PUT.
      const setHeader = res.setHeader.bind(res);
      res.setHeader = (hname, value) => {
        if (String(hname).toLowerCase() === 'location') {
          try {
            const id = new URL(String(value)).searchParams.get('upload_id');
            if (id) pendingResumable.set(id, { bucket, name: objName, params: new URLSearchParams(p) });
          } catch {
            // Not a URL: nothing to remember.
          }
        }
        return setHeader(hname, value);
      };
    }
    return next();
  }

  m = RE_COPY.exec(url.pathname);
  if (m) {
    if (req.method !== 'POST' || (!hasAny(p, PLAIN) && !hasAny(p, SOURCE))) return next();
    const [src, srcObj, dst, dstObj] = [m[1], m[2], m[4], m[5]].map(seg);
    if (!(await lockUntilResponseCloses(`${dst}/${dstObj}`, res))) return undefined;
    const srcMeta = storedMeta(src, srcObj);
    // A missing source is the emulator's 404, as on GCS.
    const srcFails = srcMeta !== undefined && preconditionFails(p, srcMeta, 'ifSource');
    if (srcFails || preconditionFails(p, storedMeta(dst, dstObj), 'if')) return sendPreconditionFailed(req, res);
    return next();
  }

  m = RE_OBJECT.exec(url.pathname);
  if (m) {
    if (!hasAny(p, PLAIN)) return next();
    const bucket = seg(m[1]);
    const name = seg(m[2]);
    // Reads are checked but not serialised; PATCH and DELETE are.
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (!(await lockUntilResponseCloses(`${bucket}/${name}`, res))) return undefined;
    }
    const meta = storedMeta(bucket, name);
    // No live object: GCS answers 404 before it looks at preconditions (as Google's storage-testbench and
    // fake-gcs-server do); the emulator's own 404 says so. See docs/conformance.md, GCS servers.
    if (meta === undefined) return next();
    if (preconditionFails(p, meta, 'if')) return sendPreconditionFailed(req, res);
    return next();
  }

  return next();
}

// ---------------------------------------------------------------------------------------------------------
// Bucket shim (OUR CODE, see header)
// ---------------------------------------------------------------------------------------------------------

const BUCKET_NOT_FOUND = 'The specified bucket does not exist.';
// Every JSON-API form that names a bucket; the emulator would otherwise create it implicitly.
const RE_BUCKET_SCOPED = /^\/(?:upload\/storage\/v1\/|download\/storage\/v1\/)?b\/([^/]+)\//;

async function bucketExists(name) {
  // listBuckets() materialises the default <project>.appspot.com bucket when the map is empty (after reset).
  await storage.listBuckets();
  return emu._buckets.has(name);
}

function sendBucketNotFound(req, res) {
  respondAfterBody(req, () => sendError(res, 404, BUCKET_NOT_FOUND, 'notFound'));
}

// Runs before the precondition shim, so a missing bucket is a 404 even when a precondition would fail.
async function bucketGuard(req, res, next) {
  const url = parseUrl(req);
  const m = RE_BUCKET_SCOPED.exec(url.pathname);
  if (!m) return next();
  if (!(await bucketExists(seg(m[1])))) return sendBucketNotFound(req, res);
  const copy = RE_COPY.exec(url.pathname);
  if (copy && !(await bucketExists(seg(copy[4])))) return sendBucketNotFound(req, res);
  return next();
}

function bucketRoutes() {
  const router = express.Router();
  router.post('/b', express.json({ limit: '1mb' }), async (req, res) => {
    const name = req.body && typeof req.body.name === 'string' ? req.body.name : '';
    if (!name) return sendError(res, 400, 'Required', 'required');
    if (await bucketExists(name)) {
      return sendError(res, 409, 'Your previous request to create the named bucket succeeded and you already own it.', 'conflict');
    }
    storage.createBucket(name);
    return res.status(200).json(emu._buckets.get(name));
  });
  router.get('/b/:bucket', async (req, res) => {
    const name = req.params.bucket;
    if (!(await bucketExists(name))) return sendError(res, 404, BUCKET_NOT_FOUND, 'notFound');
    return res.status(200).json(emu._buckets.get(name));
  });
  // Bucket delete and patch stay unshimmed: the emulator answers 501.
  return router;
}

// ---------------------------------------------------------------------------------------------------------
// Checksum shim (OUR CODE, see header)
// ---------------------------------------------------------------------------------------------------------

// GCS compares the md5Hash/crc32c an upload declares in its metadata with the bytes it received and rejects
// a mismatch, so no object is created (https://cloud.google.com/storage/docs/data-validation). The emulator
// stores the bytes whatever was declared. The body parsers below leave req.body as the emulator's own parsers
// would (req._body set), so the emulator reads the same buffer.
const rawBody = bodyParser.raw({ type: () => true, limit: '130mb' });
const jsonBody = bodyParser.json({ limit: '130mb' });
const parse = (parser, req, res) => new Promise((resolve, reject) => parser(req, res, (err) => (err ? reject(err) : resolve())));

// Resumable uploads that declared a hash at initiation: upload_id -> { md5Hash, crc32c }.
const declaredResumable = new Map();

// Each hash only when declared: the emulator's CRC32C is plain JS (about 14 s of CPU per GB), and computing it for
// an upload that declares only an MD5 would bill the server's check to the client in the benchmarks.
function checksumMismatch(declared, data) {
  if (typeof declared.md5Hash === 'string') {
    const md5 = crypto.createHash('md5').update(data).digest('base64');
    if (declared.md5Hash !== md5) return `Provided MD5 hash "${declared.md5Hash}" doesn't match calculated MD5 hash "${md5}".`;
  }
  if (typeof declared.crc32c === 'string') {
    const crc = crc32cToString(crc32c(data));
    if (declared.crc32c !== crc) return `Provided CRC32C "${declared.crc32c}" doesn't match calculated CRC32C "${crc}".`;
  }
  return null;
}

async function checksumShim(req, res, next) {
  const url = parseUrl(req);
  if (!RE_UPLOAD.test(url.pathname)) return next();
  const p = url.searchParams;
  const uploadType = p.get('uploadType') || req.get('x-goog-upload-protocol');

  if (req.method === 'PUT' && p.has('upload_id')) {
    const declared = declaredResumable.get(p.get('upload_id'));
    if (!declared) return next();
    await parse(rawBody, req, res);
    const mismatch = checksumMismatch(declared, Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
    if (mismatch) {
      declaredResumable.delete(p.get('upload_id'));
      return sendError(res, 400, mismatch, 'invalid');
    }
    res.once('finish', () => {
      if (res.statusCode < 300) declaredResumable.delete(p.get('upload_id'));
    });
    return next();
  }
  if (req.method !== 'POST') return next();

  if (uploadType === 'multipart') {
    const contentType = req.get('content-type') || '';
    if (!contentType.startsWith('multipart/related')) return next();
    await parse(rawBody, req, res);
    let parts;
    try {
      parts = parseObjectUploadMultipartRequest(contentType, req.body);
    } catch {
      return next(); // Malformed: the emulator answers it.
    }
    let declared;
    try {
      declared = JSON.parse(parts.metadataRaw);
    } catch {
      return next();
    }
    const mismatch = checksumMismatch(declared, parts.dataRaw);
    return mismatch ? sendError(res, 400, mismatch, 'invalid') : next();
  }

  if (uploadType === 'resumable' && !p.has('upload_id')) {
    await parse(jsonBody, req, res);
    const declared = req.body && typeof req.body === 'object' ? req.body : {};
    if (typeof declared.md5Hash !== 'string' && typeof declared.crc32c !== 'string') return next();
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (hname, value) => {
      if (String(hname).toLowerCase() === 'location') {
        try {
          const id = new URL(String(value)).searchParams.get('upload_id');
          if (id) declaredResumable.set(id, { md5Hash: declared.md5Hash, crc32c: declared.crc32c });
        } catch {
          // Not a URL: nothing to remember.
        }
      }
      return setHeader(hname, value);
    };
  }
  return next();
}

// ---------------------------------------------------------------------------------------------------------
// Resumable shim (OUR CODE, see header)
// ---------------------------------------------------------------------------------------------------------

// The emulator finalises a resumable upload on its first PUT, whatever Content-Range says, and has no status query.
// GCS (https://cloud.google.com/storage/docs/performing-resumable-uploads) keeps a session's bytes across requests:
// a PUT whose Content-Range does not reach the total, and a status query (`Content-Range: bytes */<total>` or
// `bytes */*`, empty body), answer 308 with `Range: bytes=0-<last>` (no Range while nothing is persisted); the PUT
// that completes the object answers 200. Bytes of a PUT that breaks off are kept too, though possibly fewer than
// were sent: modelled here as rounded down to 256 KiB. Only the completing PUT reaches the emulator, with the whole
// body, as if it had come in one piece (after the checksum shim, which then sees the whole object).
const PERSIST_UNIT = 256 * 1024;
// upload_id -> { chunks: Buffer[], size: number }
const resumableSessions = new Map();

// `bytes a-b/t`, `bytes a-*/t`, `bytes */t`, with `*` for an unknown total: { start, end, total } (null = `*`).
function parseContentRange(header) {
  const m = /^bytes (?:(\d+)-(\d+|\*)|\*)\/(\d+|\*)$/.exec(String(header).trim());
  if (!m) return undefined;
  const num = (v) => (v === undefined || v === '*' ? null : Number(v));
  return { start: num(m[1]), end: num(m[2]), total: num(m[3]) };
}

// The request body, and whether it arrived whole; a body cut off resolves with the bytes that came.
function readUploadBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    let settled = false;
    const done = (complete) => {
      if (settled) return;
      settled = true;
      resolve({ data: Buffer.concat(chunks), complete });
    };
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => done(false));
    req.once('end', () => done(true));
    req.once('close', () => done(req.complete));
  });
}

function sendIncomplete(res, session) {
  if (session.size > 0) res.setHeader('Range', `bytes=0-${session.size - 1}`);
  res.status(308).setHeader('Content-Length', '0');
  res.end();
}

async function resumableShim(req, res, next) {
  const url = parseUrl(req);
  if (!RE_UPLOAD.test(url.pathname)) return next();
  const p = url.searchParams;
  const uploadType = p.get('uploadType') || req.get('x-goog-upload-protocol');
  if (req.method === 'POST' && uploadType === 'resumable' && !p.has('upload_id')) {
    const setHeader = res.setHeader.bind(res);
    res.setHeader = (hname, value) => {
      if (String(hname).toLowerCase() === 'location') {
        try {
          const id = new URL(String(value)).searchParams.get('upload_id');
          if (id) resumableSessions.set(id, { chunks: [], size: 0 });
        } catch {
          // Not a URL: nothing to remember.
        }
      }
      return setHeader(hname, value);
    };
    return next();
  }
  if (req.method !== 'PUT' || !p.has('upload_id')) return next();
  const id = p.get('upload_id');
  const session = resumableSessions.get(id);
  // Unknown (finished, or started before this shim): the emulator's own answer.
  if (!session) return next();
  const header = req.get('content-range');
  const range = header === undefined ? null : parseContentRange(header);
  if (range === undefined) return respondAfterBody(req, () => sendError(res, 400, `Invalid Content-Range: ${header}`, 'invalid'));
  const { data, complete } = await readUploadBody(req);
  // Bytes the server already has are skipped; a start beyond them is a gap.
  const start = range?.start ?? session.size;
  if (start > session.size) return sendError(res, 400, `Content-Range starts at ${start}, but the session has ${session.size} bytes`, 'invalid');
  let fresh = data.subarray(session.size - start);
  if (!complete) {
    const keep = Math.floor((session.size + fresh.length) / PERSIST_UNIT) * PERSIST_UNIT - session.size;
    fresh = fresh.subarray(0, Math.max(0, keep));
  }
  if (fresh.length > 0) {
    session.chunks.push(Buffer.from(fresh));
    session.size += fresh.length;
  }
  if (!complete) return undefined;
  // The object's size: stated, or known because the body ran to the end (no Content-Range, or `a-*/*` as the Node
  // SDK sends a one-request upload); unknown for `a-b/*` chunks and `*/*` status queries.
  let total = null;
  if (range === null) total = session.size;
  else if (range.total !== null) total = range.total;
  else if (range.start !== null && range.end === null) total = session.size;
  if (total === null || session.size < total) return sendIncomplete(res, session);
  if (session.size > total) return sendError(res, 400, `the session has ${session.size} bytes, more than the total ${total}`, 'invalid');
  resumableSessions.delete(id);
  // As the emulator's body parser would leave it: the whole object, in one buffer.
  req.body = Buffer.concat(session.chunks);
  req._body = true;
  return next();
}

// ---------------------------------------------------------------------------------------------------------
// Wiring
// ---------------------------------------------------------------------------------------------------------

// Express 4 does not catch rejected promises from async middleware.
const wrap = (fn) => (req, res, next) => Promise.resolve(fn(req, res, next)).catch(next);

async function main() {
  const inner = await createApp(PROJECT_ID, emu);
  const app = express();
  app.disable('x-powered-by');

  // Most JSON routes exist only at /b/...; clients using apiEndpoint send /storage/v1/b/....
  app.use((req, _res, next) => {
    if (req.url === '/storage/v1' || req.url.startsWith('/storage/v1/') || req.url.startsWith('/storage/v1?')) {
      req.url = req.url.slice('/storage/v1'.length) || '/';
      if (req.url.startsWith('?')) req.url = `/${req.url}`;
    }
    next();
  });
  if (BUCKET_SHIM) app.use(wrap(bucketGuard));
  if (PRECONDITIONS) app.use(wrap(preconditionShim));
  if (RESUMABLE_SHIM) app.use(wrap(resumableShim));
  if (CHECKSUM_SHIM) app.use(wrap(checksumShim));
  if (BUCKET_SHIM) app.use(bucketRoutes());
  app.use(inner);

  const server = app.listen(PORT, HOST);
  server.on('error', (err) => die(`listen failed: ${err.message}`));
  server.on('listening', () => {
    // With PORT=0 the port is known only now; self/media/Location URLs read it from emu.args.port.
    emu.args.port = server.address().port;
    // Bucket metadata captures selfLink at creation, so create buckets after the real port is known.
    for (const b of [`${PROJECT_ID}.appspot.com`, ...EXTRA_BUCKETS]) storage.createBucket(b);
    const hostForUrl = HOST.includes(':') ? `[${HOST}]` : HOST;
    process.stdout.write(
      `[gcs-emulator] listening on http://${hostForUrl}:${emu.args.port} project=${PROJECT_ID} ` +
        `preconditions=${PRECONDITIONS ? 'enforced' : 'ignored'} bucketShim=${BUCKET_SHIM ? 'on' : 'off'} ` +
        `checksums=${CHECKSUM_SHIM ? 'verified' : 'ignored'} resumable=${RESUMABLE_SHIM ? 'sessions' : 'single-shot'} ` +
        `buckets=${[...emu._buckets.keys()].join(',')} data=${DATA_DIR}\n`,
    );
  });

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    const exit = () => {
      if (ownDataDir) fs.rmSync(DATA_DIR, { recursive: true, force: true });
      process.exit(0);
    };
    // Fallback: something inside firebase-tools may keep the loop alive.
    setTimeout(exit, 500).unref();
    server.closeAllConnections();
    server.close(exit);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => die(`start failed: ${err?.stack ? err.stack : err}`));

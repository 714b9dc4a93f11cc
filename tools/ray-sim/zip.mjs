// @ts-check
// A minimal ZIP reader and writer for ray-sim's `gcs://_ray_pkg_<hash>.zip` packages.
//
// Reader: central-directory based (the local headers are only used to find where the data starts),
// stored (method 0) and deflate (method 8) entries, CRC-32 and size checked. Sizes always come from
// the central directory, so entries written with the data-descriptor flag (bit 3, sizes zero in the
// local header) read correctly. No ZIP64, no encryption, no multi-disk archives: those throw.
// Writer: stored or deflate entries, UTF-8 names (flag bit 11), a fixed 1980-01-01 timestamp so the
// same entries always give the same bytes (content-addressed package names stay stable).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';
import zlib from 'node:zlib';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;

/** @type {Uint32Array | undefined} */
let crcTable;

/**
 * CRC-32 (IEEE), via zlib.crc32 when this Node has it (>= 20.15 / 22.2), else a lookup table.
 * @param {Uint8Array} data
 * @returns {number}
 */
export function crc32(data) {
  const native = /** @type {{ crc32?: (d: Uint8Array) => number }} */ (/** @type {unknown} */ (zlib)).crc32;
  if (typeof native === 'function') return native(data) >>> 0;
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * @typedef {{ name: string, data: Buffer }} ZipEntry
 * @typedef {{ name: string, data: Buffer | Uint8Array | string, method?: 'store' | 'deflate' }} ZipInputEntry
 */

/**
 * Reads every entry of a ZIP archive. Directory entries (names ending in `/`) come back with empty data.
 * @param {Buffer | Uint8Array} input
 * @returns {ZipEntry[]}
 */
export function readZip(input) {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  // The end-of-central-directory record is 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= 0 && i >= buf.length - 22 - 0xffff; i--) {
    if (buf.readUInt32LE(i) === SIG_EOCD && i + 22 + buf.readUInt16LE(i + 20) === buf.length) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip file: end of central directory record not found');
  const disk = buf.readUInt16LE(eocd + 4);
  const cdDisk = buf.readUInt16LE(eocd + 6);
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (disk !== 0 || cdDisk !== 0) throw new Error('multi-disk zip archives are not supported');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new Error('ZIP64 archives are not supported');
  }
  if (cdOffset + cdSize > eocd) throw new Error('corrupt zip: central directory outside the file');

  /** @type {ZipEntry[]} */
  const entries = [];
  let p = cdOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > eocd || buf.readUInt32LE(p) !== SIG_CENTRAL) throw new Error(`corrupt zip: bad central directory entry ${n}`);
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const compSize = buf.readUInt32LE(p + 20);
    const size = buf.readUInt32LE(p + 24);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;

    if (flags & 0x1) throw new Error(`encrypted zip entry not supported: ${name}`);
    if (compSize === 0xffffffff || size === 0xffffffff || localOffset === 0xffffffff) {
      throw new Error(`ZIP64 entry not supported: ${name}`);
    }
    if (localOffset + 30 > buf.length || buf.readUInt32LE(localOffset) !== SIG_LOCAL) {
      throw new Error(`corrupt zip: bad local header for ${name}`);
    }
    const start = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    if (start + compSize > buf.length) throw new Error(`corrupt zip: data of ${name} runs past the end`);
    const raw = buf.subarray(start, start + compSize);
    /** @type {Buffer} */
    let data;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`unsupported compression method ${method} for ${name}`);
    if (data.length !== size) throw new Error(`corrupt zip: size mismatch for ${name}`);
    if (crc32(data) !== crc) throw new Error(`corrupt zip: CRC-32 mismatch for ${name}`);
    entries.push({ name, data });
  }
  return entries;
}

/**
 * Writes a ZIP archive. `method` defaults to deflate; names ending in `/` become directory entries.
 * @param {readonly ZipInputEntry[]} entries
 * @returns {Buffer}
 */
export function writeZip(entries) {
  /** @type {Buffer[]} */
  const locals = [];
  /** @type {Buffer[]} */
  const centrals = [];
  let offset = 0;
  const seen = new Set();
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new Error(`duplicate zip entry name: ${entry.name}`);
    seen.add(entry.name);
    const isDir = entry.name.endsWith('/');
    const data = typeof entry.data === 'string' ? Buffer.from(entry.data, 'utf8') : Buffer.from(entry.data);
    const method = isDir || entry.method === 'store' ? 0 : 8;
    const body = method === 8 ? zlib.deflateRawSync(data) : data;
    const name = Buffer.from(entry.name, 'utf8');
    if (name.length > 0xffff) throw new Error(`zip entry name too long: ${entry.name}`);
    if (offset > 0xfffffffe || body.length > 0xfffffffe) throw new Error('archive too large for a non-ZIP64 zip');
    const crc = crc32(data);

    const local = Buffer.alloc(30);
    local.writeUInt32LE(SIG_LOCAL, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10); // DOS time 00:00:00
    local.writeUInt16LE(0x21, 12); // DOS date 1980-01-01
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, body);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(SIG_CENTRAL, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    // extra, comment, disk, internal attributes stay 0
    central.writeUInt32LE((isDir ? (0o40755 << 16) | 0x10 : 0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);

    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  if (entries.length > 0xfffe) throw new Error('too many entries for a non-ZIP64 zip');
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/**
 * The path an entry would be written to under `destDir`, or null when the name is unsafe: absolute,
 * a drive letter, a `..` segment (with `/` or `\` as separator), a NUL byte, or anything that would
 * resolve outside `destDir`.
 * @param {string} destDir
 * @param {string} name
 * @returns {string | null}
 */
export function safeEntryPath(destDir, name) {
  if (name === '' || name.includes('\0')) return null;
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) return null;
  const segments = name.split(/[/\\]/);
  if (segments.some((s) => s === '..')) return null;
  const root = resolve(destDir);
  const target = resolve(root, ...segments.filter((s) => s !== '' && s !== '.'));
  const rel = relative(root, target);
  if (rel === '') return name.endsWith('/') ? target : null;
  if (rel.startsWith('..') || rel.split(sep).includes('..')) return null;
  return target;
}

/**
 * Unpacks an archive into `destDir` with its root entries directly in `destDir` (Ray's
 * `remove_top_level_directory=False` for `gcs://` packages). Entries that would land outside
 * `destDir` are refused: never written, and listed in `skipped` (newer Ray skips them too).
 * @param {Buffer | Uint8Array} buf
 * @param {string} destDir
 * @returns {{ written: string[], skipped: string[] }}
 */
export function extractZip(buf, destDir) {
  const entries = readZip(buf);
  mkdirSync(destDir, { recursive: true });
  /** @type {string[]} */
  const written = [];
  /** @type {string[]} */
  const skipped = [];
  for (const entry of entries) {
    const target = safeEntryPath(destDir, entry.name);
    if (target === null) {
      skipped.push(entry.name);
      continue;
    }
    if (entry.name.endsWith('/')) {
      mkdirSync(target, { recursive: true });
    } else {
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, entry.data);
    }
    written.push(entry.name);
  }
  return { written, skipped };
}

// tools/ray-sim/zip.mjs: the minimal ZIP reader/writer used for Ray `gcs://` working_dir packages.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32, extractZip, readZip, safeEntryPath, writeZip } from '../../tools/ray-sim/zip.mjs';

const tmpRoot = mkdtempSync(join(tmpdir(), 'ray-sim-zip-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

interface CentralRecord {
  method: number;
  compressedSize: number;
  size: number;
}

/** The central-directory records of an archive with no trailing comment. */
function centralRecords(zip: Buffer): CentralRecord[] {
  const eocd = zip.length - 22;
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const out: CentralRecord[] = [];
  for (let k = 0; k < count; k++) {
    out.push({ method: zip.readUInt16LE(p + 10), compressedSize: zip.readUInt32LE(p + 20), size: zip.readUInt32LE(p + 24) });
    p += 46 + zip.readUInt16LE(p + 28) + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
  }
  return out;
}

/**
 * One deflated entry written the streaming way: general-purpose flag bit 3, zero CRC and sizes in the
 * local header, the real values in a data descriptor after the data and in the central directory.
 */
function dataDescriptorZip(name: string, content: Buffer): Buffer {
  const nameBuf = Buffer.from(name, 'utf8');
  const body = deflateRawSync(content);
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0808, 6); // data descriptor + UTF-8
  local.writeUInt16LE(8, 8);
  local.writeUInt16LE(nameBuf.length, 26);
  const descriptor = Buffer.alloc(16);
  descriptor.writeUInt32LE(0x08074b50, 0);
  descriptor.writeUInt32LE(crc, 4);
  descriptor.writeUInt32LE(body.length, 8);
  descriptor.writeUInt32LE(content.length, 12);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0808, 8);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(body.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(nameBuf.length, 28);
  central.writeUInt32LE(0, 42);
  const cdOffset = local.length + nameBuf.length + body.length + descriptor.length;
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(1, 8);
  eocd.writeUInt16LE(1, 10);
  eocd.writeUInt32LE(central.length + nameBuf.length, 12);
  eocd.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, nameBuf, body, descriptor, central, nameBuf, eocd]);
}

describe('ray-sim zip', () => {
  const binary = Buffer.from(Array.from({ length: 70_000 }, (_, k) => (k * 31 + (k >> 7)) & 0xff));
  const entries = [
    { name: 'secrets.json', data: '{"OPENAI_API_KEY":"sk-x"}' },
    { name: 'empty.txt', data: '' },
    { name: 'dir/', data: '' },
    { name: 'dir/binary.bin', data: binary, method: 'store' as const },
    { name: 'dir/repeat.txt', data: 'abc'.repeat(10_000) },
    { name: 'ünïcödé/ファイル.txt', data: 'utf-8 name' },
  ];

  it('round-trips names and bytes, stored and deflated', () => {
    const zip = writeZip(entries);
    const back = readZip(zip);
    expect(back.map((e) => e.name)).toEqual(entries.map((e) => e.name));
    for (const [k, e] of entries.entries()) {
      const want = typeof e.data === 'string' ? Buffer.from(e.data, 'utf8') : e.data;
      expect(back[k]?.data.equals(want), e.name).toBe(true);
    }
  });

  it('deflates by default and stores when asked (and always for directories)', () => {
    const records = centralRecords(writeZip(entries));
    expect(records.map((r) => r.method)).toEqual([8, 8, 0, 0, 8, 8]);
    const repeat = records[4];
    expect(repeat?.size).toBe(30_000);
    expect(repeat?.compressedSize).toBeLessThan(1_000);
    expect(records[3]?.compressedSize).toBe(binary.length); // stored as is
  });

  it('is deterministic: the same entries give the same bytes (content-addressed package names)', () => {
    expect(writeZip(entries).equals(writeZip(entries))).toBe(true);
  });

  it('reads entries with the data-descriptor flag from the central directory sizes', () => {
    const content = Buffer.from('streamed '.repeat(500));
    const back = readZip(dataDescriptorZip('streamed.txt', content));
    expect(back).toHaveLength(1);
    expect(back[0]?.name).toBe('streamed.txt');
    expect(back[0]?.data.equals(content)).toBe(true);
  });

  it('rejects corrupt archives: a CRC mismatch, a non-zip, an unknown method', () => {
    const zip = writeZip([{ name: 'a.txt', data: 'hello', method: 'store' }]);
    const corrupt = Buffer.from(zip);
    corrupt[30 + 'a.txt'.length] ^= 0xff; // first data byte
    expect(() => readZip(corrupt)).toThrow(/CRC-32 mismatch/);
    expect(() => readZip(Buffer.from('not a zip at all, just text'))).toThrow(/not a zip file/);
    const bzip = Buffer.from(zip);
    const eocd = bzip.length - 22;
    bzip.writeUInt16LE(12, bzip.readUInt32LE(eocd + 16) + 10); // central method := bzip2
    expect(() => readZip(bzip)).toThrow(/unsupported compression method 12/);
  });

  it('crc32 matches the known check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('extractZip puts root entries directly in the target and refuses entries escaping it', () => {
    const parent = join(tmpRoot, 'extract');
    const dest = join(parent, 'wd');
    mkdirSync(parent, { recursive: true });
    const zip = writeZip([
      { name: '../x', data: 'escape' },
      { name: 'a/../../y', data: 'escape' },
      { name: '/abs.txt', data: 'escape' },
      { name: '..\\z', data: 'escape' },
      { name: 'C:/win.txt', data: 'escape' },
      { name: 'ok.txt', data: 'ok' },
      { name: 'sub/inner.txt', data: 'inner' },
    ]);
    const { written, skipped } = extractZip(zip, dest);
    expect(written).toEqual(['ok.txt', 'sub/inner.txt']);
    expect(skipped).toEqual(['../x', 'a/../../y', '/abs.txt', '..\\z', 'C:/win.txt']);
    expect(readFileSync(join(dest, 'ok.txt'), 'utf8')).toBe('ok');
    expect(readFileSync(join(dest, 'sub', 'inner.txt'), 'utf8')).toBe('inner');
    for (const escaped of ['x', 'y', 'z', 'abs.txt', 'win.txt']) expect(existsSync(join(parent, escaped)), escaped).toBe(false);
  });

  it('safeEntryPath allows harmless dot segments but nothing outside the directory', () => {
    const dest = join(tmpRoot, 'd');
    expect(safeEntryPath(dest, './a/./b.txt')).toBe(join(dest, 'a', 'b.txt'));
    expect(safeEntryPath(dest, 'a//b.txt')).toBe(join(dest, 'a', 'b.txt'));
    expect(safeEntryPath(dest, '..')).toBeNull();
    expect(safeEntryPath(dest, 'a/..')).toBeNull();
    expect(safeEntryPath(dest, '')).toBeNull();
  });
});

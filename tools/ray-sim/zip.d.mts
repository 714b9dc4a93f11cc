// Hand-written types for zip.mjs (the root tsconfig has no allowJs/checkJs).

export interface ZipEntry {
  /** The name as stored: `/` separated; directories end in `/`. */
  name: string;
  data: Buffer;
}

export interface ZipInputEntry {
  name: string;
  data: Buffer | Uint8Array | string;
  /** Default 'deflate'; directory entries are always stored. */
  method?: 'store' | 'deflate';
}

export declare function crc32(data: Uint8Array): number;
/** Every entry, from the central directory; throws on ZIP64, encryption, bad CRC/size or unknown methods. */
export declare function readZip(buf: Buffer | Uint8Array): ZipEntry[];
/** A deterministic archive (fixed timestamps, UTF-8 names). */
export declare function writeZip(entries: readonly ZipInputEntry[]): Buffer;
/** The target path under destDir, or null when the entry would escape it. */
export declare function safeEntryPath(destDir: string, name: string): string | null;
/** Unpacks with the root entries directly in destDir; unsafe entries are skipped and listed. */
export declare function extractZip(buf: Buffer | Uint8Array, destDir: string): { written: string[]; skipped: string[] };

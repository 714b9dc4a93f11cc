// Secrets delivery (docs/reference/job.md#secrets-delivery): the API keys reach the job as a JSON file at the root of a
// runtime_env working_dir package uploaded to the cluster (docs/reference/ray-jobs.md#packages). They never
// travel as env_vars, entrypoint text or metadata, which the dashboard echoes back.
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { SECRETS_FILE } from '../plan/job-args.js';

/** A minimal ZIP (stored entries, fixed timestamps): all Ray needs to unpack a working_dir. */
function zipStored(entries: ReadonlyArray<{ name: string; data: Buffer }>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(e.data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(0, 8); // stored
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, e.data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(0x0314, 4); // made by: unix, 2.0
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((0o100600 << 16) >>> 0, 38); // a regular file, owner read/write only
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface JobPackage {
  /** `gcs://_ray_pkg_<random>.zip`: fresh per submission, never derived from the values. */
  uri: string;
  zip: Buffer;
}

/**
 * Ray refuses a request body over 100 MiB (docs/reference/ray-jobs.md), which bounds a
 * package; a margin keeps the zip's own overhead in.
 */
export const PACKAGE_MAX_BYTES = 95 * 1024 * 1024;

/** A file of the checkout that travels with the job (`code: checkout`). */
export interface CodeFile {
  /** Posix path relative to the repository root, e.g. `src/pkg/mod.py`. */
  path: string;
  data: Buffer;
}

/**
 * The job's working_dir package: the keys file (when keys are needed) and the checkout's code
 * (when it travels), at the package root as Ray unpacks it into the job's working directory.
 */
export function jobPackage(keys: ReadonlyMap<string, string>, code: readonly CodeFile[]): JobPackage {
  const entries: Array<{ name: string; data: Buffer }> = code.map((f) => ({ name: f.path, data: f.data }));
  if (keys.size > 0) {
    const body: Record<string, string> = {};
    for (const [k, v] of [...keys].sort(([a], [b]) => (a < b ? -1 : 1))) body[k] = v;
    entries.push({ name: SECRETS_FILE, data: Buffer.from(JSON.stringify(body)) });
  }
  return { uri: `gcs://_ray_pkg_${randomBytes(16).toString('hex')}.zip`, zip: zipStored(entries) };
}

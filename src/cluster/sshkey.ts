// The per-run SSH key pair of an ephemeral cluster (docs/reference/per-run-cluster.md#cluster-yaml `auth`): ed25519, made with
// node:crypto in a fresh directory under RUNNER_TEMP, the private key in OpenSSH's own format
// (`openssh-key-v1`, what `ssh-keygen` writes), mode 0600. It is never uploaded, logged or put
// into the manifest; only its path goes into the cluster YAML and the public key into the
// nodes' `ssh-keys` metadata.
//
// Why not PKCS#8 PEM (what node:crypto exports): OpenSSH reads PEM keys through libcrypto, and
// builds without ed25519 support in that path (older OpenSSH, LibreSSL builds) refuse a PKCS#8
// ed25519 key. The OpenSSH format is read by every OpenSSH since 6.5, and it is small to write.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const KEY_TYPE = 'ssh-ed25519';
export const KEY_COMMENT = 'bird-cloud-action';
const PRIVATE_KEY_FILE = 'id_ed25519';
const PUBLIC_KEY_FILE = 'id_ed25519.pub';

export interface SshKeyPair {
  /** The per-run directory (mode 0700) that holds the key pair; the cluster YAML goes here too. */
  dir: string;
  privateKeyPath: string;
  publicKeyPath: string;
  /** One line, no newline: `ssh-ed25519 <base64> bird-cloud-action`. */
  publicKey: string;
}

/** SSH wire encoding: uint32 length + bytes. */
function sshString(b: Buffer | string): Buffer {
  const body = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** The public key blob: string "ssh-ed25519", string pk (32 bytes). */
function publicKeyBlob(publicKey: Buffer): Buffer {
  if (publicKey.length !== 32) throw new Error(`an ed25519 public key has 32 bytes, got ${publicKey.length}`);
  return Buffer.concat([sshString(KEY_TYPE), sshString(publicKey)]);
}

/** `ssh-ed25519 <base64 blob> <comment>`, the authorized_keys / `ssh-keys` metadata form. */
export function opensshPublicKey(publicKey: Buffer, comment: string = KEY_COMMENT): string {
  return `${KEY_TYPE} ${publicKeyBlob(publicKey).toString('base64')}${comment ? ` ${comment}` : ''}`;
}

/**
 * The unencrypted `openssh-key-v1` private key file (PROTOCOL.key in OpenSSH):
 * magic "openssh-key-v1\0", cipher "none", kdf "none", kdf options "", 1 key, the public blob,
 * then the private section: checkint twice, "ssh-ed25519", pk, sk (seed || pk, 64 bytes),
 * the comment, and padding 1, 2, 3, ... to a multiple of 8. Base64 in lines of 70, armoured.
 * `checkint` is random in ssh-keygen; it is a parameter here so a test can pin it.
 */
export function opensshPrivateKey(seed: Buffer, publicKey: Buffer, comment: string = KEY_COMMENT, checkint: number = randomBytes(4).readUInt32BE(0)): string {
  if (seed.length !== 32) throw new Error(`an ed25519 seed has 32 bytes, got ${seed.length}`);
  const pub = publicKeyBlob(publicKey);
  let priv = Buffer.concat([
    uint32(checkint),
    uint32(checkint),
    sshString(KEY_TYPE),
    sshString(publicKey),
    sshString(Buffer.concat([seed, publicKey])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i & 0xff);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const body = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(pub),
    sshString(priv),
  ]);
  const b64 = body.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** A fresh ed25519 key as raw bytes (seed and public key), from node:crypto. */
export function generateEd25519(): { seed: Buffer; publicKey: Buffer } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwkPriv = privateKey.export({ format: 'jwk' });
  const jwkPub = publicKey.export({ format: 'jwk' });
  if (typeof jwkPriv.d !== 'string' || typeof jwkPub.x !== 'string') throw new Error('node:crypto did not export the ed25519 key as JWK');
  return { seed: Buffer.from(jwkPriv.d, 'base64url'), publicKey: Buffer.from(jwkPub.x, 'base64url') };
}

/**
 * Makes the key pair in a new directory `<runnerTemp>/bird-cluster-<runId>-XXXXXX` (mode 0700):
 * `id_ed25519` (0600, created exclusively) and `id_ed25519.pub` (0644).
 */
export async function makeSshKeyPair(runnerTemp: string, runId: string, comment: string = KEY_COMMENT): Promise<SshKeyPair> {
  if (!runnerTemp) throw new Error('RUNNER_TEMP is not set: the per-run SSH key needs a private temp directory');
  const dir = await mkdtemp(join(runnerTemp, `bird-cluster-${runId}-`));
  await chmod(dir, 0o700);
  const { seed, publicKey } = generateEd25519();
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  await writeFile(privateKeyPath, opensshPrivateKey(seed, publicKey, comment), { mode: 0o600, flag: 'wx' });
  await chmod(privateKeyPath, 0o600);
  seed.fill(0);
  const line = opensshPublicKey(publicKey, comment);
  await writeFile(publicKeyPath, `${line}\n`, { mode: 0o644, flag: 'wx' });
  return { dir, privateKeyPath, publicKeyPath, publicKey: line };
}

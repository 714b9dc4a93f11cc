// The per-run SSH key pair: OpenSSH's private key format, written byte for byte as ssh-keygen
// does, and checked with the real ssh-keygen (present on the dev machine and on GitHub runners).
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateEd25519, KEY_COMMENT, makeSshKeyPair, opensshPrivateKey, opensshPublicKey } from '../../src/cluster/sshkey.js';
import { removeDir, tempDir } from '../helpers/action.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach(removeDir));

const hasSshKeygen = spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error === undefined;

/** Parses the openssh-key-v1 body (unencrypted) into its fields. */
function parsePrivate(text: string): {
  cipher: string;
  kdf: string;
  n: number;
  pub: Buffer;
  check1: number;
  check2: number;
  type: string;
  pk: Buffer;
  sk: Buffer;
  comment: string;
  padding: Buffer;
} {
  const lines = text.trim().split('\n');
  expect(lines[0]).toBe('-----BEGIN OPENSSH PRIVATE KEY-----');
  expect(lines[lines.length - 1]).toBe('-----END OPENSSH PRIVATE KEY-----');
  for (const l of lines.slice(1, -2)) expect(l.length).toBe(70);
  const b = Buffer.from(lines.slice(1, -1).join(''), 'base64');
  let o = 0;
  const magic = b.subarray(0, 15).toString('latin1');
  expect(magic).toBe('openssh-key-v1\0');
  o = 15;
  const u32 = (): number => {
    const v = b.readUInt32BE(o);
    o += 4;
    return v;
  };
  const str = (): Buffer => {
    const len = b.readUInt32BE(o);
    const v = b.subarray(o + 4, o + 4 + len);
    o += 4 + len;
    return v;
  };
  const cipher = str().toString();
  const kdf = str().toString();
  str();
  const n = u32();
  const pub = str();
  const priv = str();
  expect(o).toBe(b.length);
  // The private section.
  let p = 0;
  const pu32 = (): number => {
    const v = priv.readUInt32BE(p);
    p += 4;
    return v;
  };
  const pstr = (): Buffer => {
    const len = priv.readUInt32BE(p);
    const v = priv.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    return v;
  };
  const check1 = pu32();
  const check2 = pu32();
  const type = pstr().toString();
  const pk = pstr();
  const sk = pstr();
  const comment = pstr().toString();
  const padding = priv.subarray(p);
  return { cipher, kdf, n, pub, check1, check2, type, pk, sk, comment, padding };
}

describe('OpenSSH key formats', () => {
  it('writes openssh-key-v1 with cipher none, one key, checkints, seed||pk and 1,2,3 padding to 8', () => {
    const { seed, publicKey } = generateEd25519();
    const text = opensshPrivateKey(seed, publicKey, KEY_COMMENT, 0x01020304);
    const k = parsePrivate(text);
    expect(k).toMatchObject({ cipher: 'none', kdf: 'none', n: 1, check1: 0x01020304, check2: 0x01020304, type: 'ssh-ed25519', comment: KEY_COMMENT });
    expect(k.pk.equals(publicKey)).toBe(true);
    expect(k.sk.equals(Buffer.concat([seed, publicKey]))).toBe(true);
    expect([...k.padding]).toEqual([...k.padding].map((_, i) => i + 1));
    expect((4 * 2 + 4 + 11 + 4 + 32 + 4 + 64 + 4 + KEY_COMMENT.length + k.padding.length) % 8).toBe(0);
    // The public blob inside equals the one in the .pub line.
    expect(opensshPublicKey(publicKey).split(' ')[1]).toBe(k.pub.toString('base64'));
  });

  it('the seed and public key come from node:crypto and sign/verify as one key pair', () => {
    const { seed, publicKey } = generateEd25519();
    const priv = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: publicKey.toString('base64url') }, format: 'jwk' });
    const pub = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') }, format: 'jwk' });
    const sig = sign(null, Buffer.from('hello'), priv);
    expect(verify(null, Buffer.from('hello'), pub, sig)).toBe(true);
  });

  it('the public key line is `ssh-ed25519 <base64> bird-cloud-action`', () => {
    const { publicKey } = generateEd25519();
    expect(opensshPublicKey(publicKey)).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI[A-Za-z0-9+/]{43} bird-cloud-action$/);
  });
});

describe('makeSshKeyPair', () => {
  it('makes a 0700 directory under RUNNER_TEMP with a 0600 private key and the .pub line', async () => {
    const temp = tempDir('sshkey');
    dirs.push(temp);
    const k = await makeSshKeyPair(temp, 'run-1');
    expect(dirname(k.dir)).toBe(temp);
    expect(k.dir).toMatch(/bird-cluster-run-1-/);
    expect(statSync(k.dir).mode & 0o777).toBe(0o700);
    expect(statSync(k.privateKeyPath).mode & 0o777).toBe(0o600);
    expect(readFileSync(k.publicKeyPath, 'utf8')).toBe(`${k.publicKey}\n`);
    expect(readFileSync(k.privateKeyPath, 'utf8')).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    // A second pair for the same run gets its own directory and key.
    const k2 = await makeSshKeyPair(temp, 'run-1');
    expect(k2.dir).not.toBe(k.dir);
    expect(k2.publicKey).not.toBe(k.publicKey);
  });

  it('refuses an empty RUNNER_TEMP', async () => {
    await expect(makeSshKeyPair('', 'run-1')).rejects.toThrow(/RUNNER_TEMP/);
  });

  it.runIf(hasSshKeygen)('ssh-keygen -y reads the private key back and prints the same public key', async () => {
    const temp = tempDir('sshkey');
    dirs.push(temp);
    const k = await makeSshKeyPair(temp, 'run-2');
    const derived = execFileSync('ssh-keygen', ['-y', '-f', k.privateKeyPath], { encoding: 'utf8' }).trim();
    // ssh-keygen -y prints the comment stored in the private key (OpenSSH >= 7.x).
    expect(derived.split(' ').slice(0, 2).join(' ')).toBe(k.publicKey.split(' ').slice(0, 2).join(' '));
    const fp = execFileSync('ssh-keygen', ['-l', '-f', k.privateKeyPath], { encoding: 'utf8' });
    expect(fp).toMatch(/^256 SHA256:\S+ .*\(ED25519\)/);
    const fpPub = execFileSync('ssh-keygen', ['-l', '-f', k.publicKeyPath], { encoding: 'utf8' });
    expect(fpPub.split(' ')[1]).toBe(fp.split(' ')[1]);
  });
});

// The launcher of the real head: everything it starts listens on loopback only, outside Ray's
// default ports, and stop() ends exactly its own process tree (workers and job drivers, which run
// in process groups and sessions of their own, included) and removes its temp dir.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startRayHead } from '../../tools/ray-real/launch.mjs';

/** pid → parent pid, for every live process. */
function processTable(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      out.set(Number(e), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return out;
}

function treeOf(root: number): Set<number> {
  const table = processTable();
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of table) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

/** Listening TCP sockets (address, port) of the given processes, from /proc/net/tcp{,6}. */
function listeners(pids: Set<number>): Array<{ pid: number; address: string; port: number }> {
  const byInode = new Map<string, { address: string; port: number }>();
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
      const [hex, portHex] = (f[1] ?? '').split(':');
      byInode.set(f[9] ?? '', { address: decodeAddress(hex ?? '', v6), port: parseInt(portHex ?? '0', 16) });
    }
  }
  const out: Array<{ pid: number; address: string; port: number }> = [];
  for (const pid of pids) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        const l = m ? byInode.get(m[1] ?? '') : undefined;
        if (l) out.push({ pid, ...l });
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return out;
}

function decodeAddress(hex: string, v6: boolean): string {
  if (!v6) return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  if (hex === '0'.repeat(32)) return '::';
  if (hex === '0000000000000000FFFF00000100007F') return '::ffff:127.0.0.1';
  if (hex === '00000000000000000000000001000000') return '::1';
  return `v6:${hex}`;
}

const LOOPBACK = new Set(['127.0.0.1', '::ffff:127.0.0.1', '::1']);

describe('tools/ray-real/launch.mjs', () => {
  it('binds every listener of the head to loopback, outside 10002–19999, and stop() ends its whole tree', async () => {
    const head = await startRayHead();
    let stopped = false;
    try {
      expect(head.gcsAddress).toBe(`127.0.0.1:${head.ports.gcs}`);
      // A job whose entrypoint runs in a session of its own, so that stop() has to find it.
      await new Promise<void>((resolve, reject) => {
        const req = request(`${head.url}/api/jobs/`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`submit: ${String(res.statusCode)}`))));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ entrypoint: 'echo up; exec sleep 300', submission_id: 'launch-probe' }));
      });
      let tree = treeOf(head.pid);
      const deadline = Date.now() + 60_000;
      while (![...tree].some((p) => existsSync(`/proc/${p}/cmdline`) && readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u0000300\u0000')) {
        if (Date.now() > deadline) throw new Error('the probe job never started');
        await new Promise((r) => setTimeout(r, 250));
        tree = treeOf(head.pid);
      }
      const socks = listeners(tree);
      expect(socks.length).toBeGreaterThan(5);
      expect(socks.filter((s) => !LOOPBACK.has(s.address))).toEqual([]);
      expect(socks.filter((s) => s.port >= 10002 && s.port <= 19999)).toEqual([]);
      expect(socks.map((s) => s.port)).toContain(head.ports.gcs);
      expect(socks.map((s) => s.port)).toContain(head.ports.dashboard);

      await head.stop();
      stopped = true;
      const alive = new Set(processTable().keys());
      expect([...tree].filter((p) => alive.has(p))).toEqual([]);
      expect(existsSync(head.tempDir)).toBe(false);
    } finally {
      if (!stopped) await head.stop();
    }
  });
});

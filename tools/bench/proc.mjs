// @ts-check
// Process measurements for the benchmarks: the wall time of a whole child process and its peak RSS, read from
// /proc/<pid>/status (VmHWM, the kernel's high-water mark of the resident set) while it runs. Linux only.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * Samples VmHWM of `pid` every `everyMs` until stop(). VmHWM only grows, so the last sample before the exit is within
 * `everyMs` of the true peak (a peak in the last few ms of a process can be missed).
 * @param {number} pid @param {number} [everyMs]
 * @returns {{ stop: () => number }} stop() returns the peak in bytes (0 if never read)
 */
export function watchPeakRss(pid, everyMs = 10) {
  let peakKb = 0;
  const read = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) peakKb = Math.max(peakKb, Number(m[1]));
    } catch {
      // gone already
    }
  };
  read();
  const timer = setInterval(read, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return peakKb * 1024;
    },
  };
}

/**
 * @typedef {{ ms: number, code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string, peakRss: number }} ProcessRun
 */

/**
 * Runs a command to its end without blocking this event loop (the proxies and the Ray double live in it).
 * @param {string} cmd @param {string[]} args @param {{ env?: NodeJS.ProcessEnv, cwd?: string }} [o]
 * @returns {Promise<ProcessRun>}
 */
export function timedProcess(cmd, args, o = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const rss = child.pid === undefined ? { stop: () => 0 } : watchPeakRss(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout = (stdout + d).slice(-200_000)));
    child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-200_000)));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const peakRss = rss.stop();
      child.on('close', () => resolve({ ms, code, signal, stdout, stderr, peakRss }));
    });
  });
}

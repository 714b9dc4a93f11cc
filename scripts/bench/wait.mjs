// Wait traffic: the action waits on a job of the Ray double whose log grows to N MB over P polls, and the proxies in
// front of the dashboard and of the emulator count what the wait fetched.
import { appendFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { matchers, startFaultProxy } from '../../tools/fault-proxy/proxy.mjs';
import { startRaySim } from '../../tools/ray-sim/server.mjs';
import { fmtMB, fmtMiB, fmtS, ROOT, runOurs, startStack, submitInputs, table } from './common.mjs';

const DEMO_WORKER = join(ROOT, 'tools', 'ray-sim', 'demo-worker.mjs');

/** ASCII log lines of about `bytes` bytes (the double JSON-escapes non-ASCII, which would change the sizes). */
function logChunk(bytes, n) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `[runner] chunk ${n} line ${i}: instance progress, tokens=${(i * 7919) % 100000}, elapsed=${i}.${n}s\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

export async function waitTraffic({ trees, flags, tmp, say }) {
  const tree = trees[0];
  const { totalBytes, polls } = flags.wait;
  const per = Math.ceil(totalBytes / polls);
  const stack = await startStack(null);
  const bucket = await stack.bucket();
  const go = join(tmp, `wait-go-${Date.now()}`);
  const sim = await startRaySim({
    pendingDelayMs: 50,
    stopWaitMs: 500,
    env: { BIRD_RUNS_BUCKET: bucket, STORAGE_EMULATOR_HOST: stack.emu.url, BIRD_DEMO_HEARTBEAT_MS: '1000' },
  });
  const dash = await startFaultProxy(sim.url);
  const runId = `bench-wait-${Date.now().toString(36)}`;
  const sid = `bird-${runId}-a1`;
  let appended = 0;
  // Each answered status poll (GET /api/jobs/<id>, once per poll of the wait) of a running job makes the log grow by
  // one share; after the last share the job may end.
  sim.events.on('request', (e) => {
    if (e.method !== 'GET' || e.path !== `/api/jobs/${sid}` || appended >= polls) return;
    const job = sim.jobs.get(sid);
    if (!job || job.driverAgentHttpAddress === null) return;
    appendFileSync(job.logPath, logChunk(per, appended));
    if (++appended === polls) writeFileSync(go, 'go\n');
  });
  try {
    // The job holds (heartbeating, so a long hold is no stall) until the log is complete, then the demo worker runs.
    const prefix = `${process.execPath} ${join(ROOT, 'tools', 'bench', 'hold-job.mjs')} ${go} ${process.execPath} ${DEMO_WORKER}`;
    say(`wait: a job whose log grows to ${fmtMB(per * polls)} over ${polls} polls (poll-interval-seconds 1)`);
    const r = await runOurs({
      repo: tree.repo,
      inputs: submitInputs(tree.repo, {
        'gcs-bucket': bucket,
        'run-id': runId,
        cluster: 'existing',
        'ray-address': dash.url,
        'entrypoint-prefix': prefix,
        wait: 'true',
        'poll-interval-seconds': '1',
      }),
      env: { STORAGE_EMULATOR_HOST: stack.proxy.url },
    });
    if (!existsSync(go)) throw new Error('the wait ended before the log was complete');
    const submitAt = sim.requests.find((q) => q.method === 'POST' && q.path === '/api/jobs/')?.time ?? 0;
    const job = sim.jobs.get(sid);
    const logSize = statSync(job.logPath).size;
    const d = dash.stats.log;
    const logGets = d.filter((e) => e.url === `/api/jobs/${sid}/logs`);
    const tails = d.filter((e) => e.url === `/api/jobs/${sid}/logs/tail`);
    const sumOut = (xs) => xs.reduce((n, e) => n + e.bytesOut, 0);
    const logBytes = sumOut(logGets) + sumOut(tails);
    const statusPolls = d.filter((e) => e.url === `/api/jobs/${sid}` && e.method === 'GET').length;
    const dashBytes = d.reduce((n, e) => n + e.bytesOut, 0);
    const g = stack.proxy.stats.log.filter((e) => e.time >= submitAt);
    const isList = (e) => matchers.lists({ method: e.method, path: e.url.split('?')[0], url: e.url, headers: {} });
    const lists = g.filter(isList);
    const reads = g.filter((e) => !isList(e) && e.method === 'GET');
    const writes = g.filter((e) => e.method !== 'GET');
    const sum = (xs) => xs.reduce((n, e) => n + e.bytesOut, 0);
    const ratio = logBytes / logSize;
    const md = [
      '## Wait traffic: a job log that grows',
      '',
      `The built action submits the small tree to the Ray double (tools/ray-sim, cluster: existing, wait: true, poll-interval-seconds 1) and waits. ` +
        `The job (tools/bench/hold-job.mjs, heartbeating status.json every 2 s) holds until its log has grown to ${fmtMB(per * polls)}: each answered status poll (GET /api/jobs/<id>, one per poll) appends ${fmtMB(per)} of ASCII lines to the driver log, ${polls} times; then the demo worker writes the ${tree.repo.allIds.length} rows. ` +
        'The wait follows the log through the WebSocket tail, and fetches the whole log once more at its end only when the stream has not ended within 10 s then (docs/reference/ray-jobs.md#following-the-log-during-a-wait). ' +
        'A proxy in front of the dashboard and one in front of the emulator count response body bytes (the tail: every byte after its 101, frames included); "during the wait" is every GCS request after the job submit. ' +
        `Command: \`npm run bench -- --only wait${flags.quick ? ' --quick' : ''}\` (the action itself: \`node dist/index.js\` through tools/harness).`,
      '',
      table(
        ['figure', 'value'],
        [
          ['final log size', fmtMB(logSize)],
          ['status polls (GET /api/jobs/<id>)', String(statusPolls)],
          ['log tails opened (GET /api/jobs/<id>/logs/tail)', `${tails.length}, ${fmtMB(sumOut(tails))}`],
          ['full log fetches (GET /api/jobs/<id>/logs)', `${logGets.length}, ${fmtMB(sumOut(logGets))}`],
          ['log bytes fetched from the dashboard', `${fmtMB(logBytes)} (${ratio.toFixed(2)}× the final log)`],
          ['all dashboard bytes fetched', `${fmtMB(dashBytes)} in ${d.length} requests`],
          [
            'GCS listings during the wait',
            `${lists.length} requests, ${fmtMB(sum(lists))} (${(lists.length / Math.max(1, statusPolls)).toFixed(2)} per poll, at most ${fmtMB(Math.max(0, ...lists.map((e) => e.bytesOut)))} each)`,
          ],
          ['other GCS reads during the wait (status.json, rows)', `${reads.length} requests, ${fmtMB(sum(reads))}`],
          ['GCS writes during the wait', `${writes.length} requests`],
          ['action wall time (submit + wait)', fmtS(r.ms)],
          ['action peak RSS', fmtMiB(r.peakRss)],
          ['wait verdict', r.result.state['wait-status'] ?? r.outputs['job-status'] ?? '?'],
        ],
      ),
      '',
      ratio < 3
        ? `Goal met: log bytes fetched < 3× the final log (${ratio.toFixed(2)}×): the tail brings the log once${logGets.length > 0 ? `, and the full fetch at the end of the wait (the stream had not ended yet) once more` : ' (at the end of the wait the stream had ended, so no full fetch was needed)'}.`
        : `Goal missed: log bytes fetched are ${ratio.toFixed(2)}× the final log, the goal is < 3× (${fmtMB(logBytes - 3 * logSize)} too many). ` +
          `Why: ${tails.length > 1 ? `the tail was opened ${tails.length} times, and each reopen repeats the log from its top; ` : ''}${logGets.length > 1 ? `the whole log was fetched ${logGets.length} times (the fallback when no tail is had); ` : ''}see the rows above.`,
      '',
      'The rows prefix is listed once per poll (one listing: one page per 1000 rows), whatever the number of rows in; the wait reads no row object (the report after it does).',
      '',
    ].join('\n');
    return { md };
  } finally {
    await dash.close();
    await sim.close();
    await stack.stop();
  }
}

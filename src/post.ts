// The post step (post-if: always()): stops a job that the main step was still waiting on when
// it ended (cancelled or killed). It leaves alone a job dispatched without wait, or one that
// finished. It only ever warns: it never fails the job.
import * as core from '@actions/core';
import { State } from './constants.js';
import { coreInputReader, parseRayConnection } from './settings.js';
import { RayJobsClient, TERMINAL } from './ray/client.js';
import { describeError } from './retry.js';
import { teardownFromState } from './cluster/teardown.js';

export async function runPost(): Promise<void> {
  try {
    // A per-run cluster: its teardown ends the job too (the forwarded dashboard died with the main step).
    const torn = await teardownFromState((k) => core.getState(k));
    if (torn) {
      if (torn.outcome === 'failed' || torn.outcome === 'ray-down' || torn.outcome === 'deleted-by-label') core.warning(`post: ${torn.detail}`);
      else core.info(`post: ${torn.detail}`);
      return;
    }
    const sid = core.getState(State.SubmissionId);
    const waitStatus = core.getState(State.WaitStatus);
    if (!sid || waitStatus !== 'waiting') {
      core.info(sid ? `post: ${sid} needs no stop (${waitStatus || 'not waited on'})` : 'post: nothing was dispatched');
      return;
    }
    const address = core.getState(State.RayAddress);
    const conn = parseRayConnection(coreInputReader);
    for (const p of conn.problems) core.warning(`post: ${p}; trying without it`);
    const client = new RayJobsClient({ address, headers: conn.rayHeaders, tlsVerify: conn.tlsVerify, policy: { attempts: 3 } });
    const job = await client.job(sid);
    if (!job) {
      core.info(`post: Ray does not know ${sid}; nothing to stop`);
      return;
    }
    if (TERMINAL.includes(job.status)) {
      core.info(`post: ${sid} is already ${job.status}`);
      return;
    }
    const stopped = await client.stop(sid);
    core.warning(`post: the main step ended while waiting on ${sid} (${job.status}); asked Ray to stop it: ${stopped ? 'stopping' : 'it was not running'}`);
  } catch (e) {
    core.warning(`post: could not check or stop the job: ${describeError(e)}`);
  }
}

// Whatever happens here, the post step never fails the job.
process.on('unhandledRejection', (e) => {
  core.warning(`post: ${describeError(e)}`);
  process.exit(0);
});
await runPost();
process.exit(0);

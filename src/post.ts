// The post step (post-if: always()): stops a job that the main step was still waiting on when
// it ended (cancelled or killed), and tears down a per-run cluster the main step left. It leaves
// alone a job dispatched without wait, or one that finished. It only ever warns: it never fails
// the job.

import { teardownFromState } from './cluster/teardown.js';
import { errorMessage } from './common/errors.js';
import { actionsLog, type Log } from './common/log.js';
import { ActionState } from './common/state.js';
import { coreInputReader, type PostSettings, parsePostSettings } from './inputs/settings.js';
import { RayJobsClient, TERMINAL } from './ray/client.js';

async function stopWaitedJob(log: Log, state: ActionState, inputs: PostSettings): Promise<void> {
  const job = state.loadJob();
  if (job?.wait !== 'waiting') {
    log.info(job ? `post: ${job.submissionId} needs no stop (${job.wait})` : 'post: nothing was dispatched');
    return;
  }
  const sid = job.submissionId;
  // Only the ray-address input is ever contacted: a forged state entry could otherwise send the
  // ray-headers credentials to another host.
  if (job.rayAddress !== inputs.rayAddress) {
    log.warning(`post: the saved dashboard address is not the ray-address input; not contacting it (stop ${sid} by hand if it still runs)`);
    return;
  }
  const client = new RayJobsClient({ address: job.rayAddress, headers: inputs.rayHeaders, tlsVerify: inputs.tlsVerify, policy: { attempts: 3 } });
  const details = await client.job(sid);
  if (!details) {
    log.info(`post: Ray does not know ${sid}; nothing to stop`);
    return;
  }
  if (TERMINAL.includes(details.status)) {
    log.info(`post: ${sid} is already ${details.status}`);
    return;
  }
  const stopped = await client.stop(sid);
  log.warning(`post: the main step ended while waiting on ${sid} (${details.status}); asked Ray to stop it: ${stopped ? 'stopping' : 'it was not running'}`);
}

export async function runPost(log: Log = actionsLog, state: ActionState = new ActionState()): Promise<void> {
  try {
    const inputs = parsePostSettings(coreInputReader);
    for (const p of inputs.problems) log.warning(`post: ${p}; trying without it`);
    // A per-run cluster: its teardown ends the job too (the forwarded dashboard died with the main
    // step). The saved cluster is trusted only when this step was asked for one.
    if (inputs.cluster === 'ephemeral') {
      const torn = await teardownFromState(state, { log, expected: { runnerTemp: process.env.RUNNER_TEMP ?? '', rayCli: inputs.rayCli } });
      if (torn) {
        if (torn.outcome === 'failed' || torn.outcome === 'ray-down' || torn.outcome === 'deleted-by-label') log.warning(`post: ${torn.detail}`);
        else log.info(`post: ${torn.detail}`);
        return;
      }
    }
    await stopWaitedJob(log, state, inputs);
  } catch (e) {
    log.warning(`post: could not check or stop the job: ${errorMessage(e)}`);
  }
}

// Whatever happens here, the post step never fails the job.
process.on('unhandledRejection', (e) => {
  actionsLog.warning(`post: ${errorMessage(e)}`);
  process.exit(0);
});
await runPost();
process.exit(0);

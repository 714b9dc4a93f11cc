// The post step: stops or tears down only what the main step left running. Never fails the job.
import * as core from '@actions/core';

export async function runPost(): Promise<void> {
  try {
    core.debug('bird-cloud-action post: nothing to clean up');
  } catch (e) {
    core.warning(`bird-cloud-action post: ${e instanceof Error ? e.message : String(e)}`);
  }
}

await runPost();
process.exit(0);

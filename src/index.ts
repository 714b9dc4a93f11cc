import * as core from '@actions/core';
import { ERROR_PREFIX } from './common/constants.js';
import { errorMessage } from './common/errors.js';
import { run } from './main.js';

// A stray rejection from an SDK fails the step cleanly (core escapes the message).
process.on('unhandledRejection', (e) => {
  core.setFailed(`${ERROR_PREFIX}: unhandled rejection: ${errorMessage(e)}`);
  process.exit(1);
});
await run();
// Exit explicitly: keep-alive sockets of HTTP clients must not hold the step open.
process.exit(process.exitCode ?? 0);

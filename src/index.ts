import { run } from './main.js';

// Exit explicitly: keep-alive sockets of HTTP clients must not hold the step open.
process.on('unhandledRejection', (e) => {
  process.stdout.write(`::error::bird-cloud-action: unhandled rejection: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
await run();
process.exit(process.exitCode ?? 0);

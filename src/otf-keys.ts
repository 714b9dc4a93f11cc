import { run } from './otf/main.js';

// The otf-keys sub-action (otf-keys/action.yml). Exit explicitly, like src/index.ts.
process.on('unhandledRejection', (e) => {
  process.stdout.write(`::error::otf-keys: unhandled rejection: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
await run();
process.exit(process.exitCode ?? 0);

// @ts-check
// A job entrypoint for the wait bench: holds until GOFILE exists, heartbeating status.json meanwhile (as the real
// runner does, so a long hold is not a stall), then runs the rest of its arguments as the job.
// node tools/bench/hold-job.mjs GOFILE CMD [ARGS...]   (the action appends the job's --run-id, --attempt, ... flags)
// env: BIRD_RUNS_BUCKET, STORAGE_EMULATOR_HOST
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Storage } from '@google-cloud/storage';

const [go, cmd, ...args] = process.argv.slice(2);
if (!go || !cmd) throw new Error('usage: hold-job.mjs GOFILE CMD [ARGS...]');
/** @param {string} flag */
const flag = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const runId = flag('--run-id');
const attempt = Number(flag('--attempt') ?? '1');
const ids = (flag('--instance-ids') ?? '').split(',').filter(Boolean);
const bucket = new Storage().bucket(String(process.env.BIRD_RUNS_BUCKET));
const beat = () =>
  bucket
    .file(`runs/${runId}/status.json`)
    .save(
      JSON.stringify({
        ray_job_id: flag('--ray-job-id') ?? 'unknown',
        last_heartbeat_ts: Date.now() / 1000,
        rows_done: 0,
        rows_total: ids.length,
        terminal_state: null,
        attempt,
      }),
      { resumable: false, contentType: 'application/json' },
    )
    .catch(() => undefined);
while (!existsSync(go)) {
  await beat();
  await new Promise((r) => setTimeout(r, 2000));
}
const child = spawn(cmd, args, { stdio: 'inherit' });
child.on('exit', (code) => process.exit(code ?? 1));

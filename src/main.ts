// Orchestration only: settings → preflight → (dry run stops) → upload → manifest.
import * as core from '@actions/core';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_PREFIX, Outputs, State } from './constants.js';
import { errorMessage } from './errors.js';
import type { RunPlan } from './plan.js';
import { preflight } from './preflight.js';
import { logPlan, planSummary, writeSummary } from './report.js';
import { coreInputReader, parseSettings } from './settings.js';

async function writePlanFile(plan: RunPlan): Promise<string> {
  const dir = join(plan.settings.runnerTemp, 'bird-cloud-action');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `plan-${plan.runId}.json`);
  await writeFile(file, `${JSON.stringify(plan, null, 2)}\n`);
  return file;
}

export async function run(): Promise<void> {
  try {
    const settings = parseSettings(coreInputReader);
    const { plan } = await preflight(settings);
    core.saveState(State.RunId, plan.runId);
    core.setOutput(Outputs.RunId, plan.runId);
    core.setOutput(Outputs.Dbs, JSON.stringify(plan.dbs));
    core.setOutput(Outputs.Artifact, plan.artifact?.kind ?? 'none');
    logPlan(plan);
    core.setOutput(Outputs.PlanFile, await writePlanFile(plan));
    await writeSummary(planSummary(plan));
    if (plan.dryRun) {
      core.info('dry-run: the plan is complete; nothing was uploaded or dispatched.');
      return;
    }
    throw new Error('only dry-run is implemented so far: set dry-run: true');
  } catch (e) {
    core.setFailed(`${ERROR_PREFIX}: ${errorMessage(e)}`);
  }
}

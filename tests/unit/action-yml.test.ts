// action.yml is the public interface: the README tables and the code's defaults follow it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
// @ts-expect-error: a plain ESM script without type declarations
import { renderReadme } from '../../scripts/readme-tables.mjs';
import { Defaults, Inputs, Outputs } from '../../src/common/constants.js';
import { REPO_ROOT } from '../../tools/demo/demo-repo.mjs';

interface ActionYml {
  inputs: Record<string, { default?: string; required?: boolean; description: string }>;
  outputs: Record<string, { description: string }>;
  runs: Record<string, string>;
}
const action = parse(readFileSync(join(REPO_ROOT, 'action.yml'), 'utf8')) as ActionYml;

describe('action.yml', () => {
  it('declares exactly the inputs and outputs the code reads and writes', () => {
    expect(Object.keys(action.inputs).sort()).toEqual(Object.values(Inputs).sort());
    expect(Object.keys(action.outputs).sort()).toEqual(Object.values(Outputs).sort());
  });

  it('runs on node24 with a post step that always runs', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js', post: 'dist/post/index.js', 'post-if': 'always()' });
  });

  it('has a description for every input and output, and required: false (checked per mode)', () => {
    for (const spec of [...Object.values(action.inputs), ...Object.values(action.outputs)]) expect(spec.description.length).toBeGreaterThan(10);
    for (const spec of Object.values(action.inputs)) expect(spec.required).toBe(false);
  });

  it('repeats the defaults the code uses', () => {
    const d = (name: Inputs): string | undefined => action.inputs[name].default;
    expect(d(Inputs.SlayerSetup)).toBe(Defaults.slayerSetup);
    expect(d(Inputs.UserSimModel)).toBe(Defaults.userSimModel);
    expect(d(Inputs.Patience)).toBe(String(Defaults.patience));
    expect(d(Inputs.MaxDepth)).toBe(String(Defaults.maxDepth));
    expect(d(Inputs.Workers)).toBe(String(Defaults.workers));
    expect(d(Inputs.ActorsPerWorker)).toBe(String(Defaults.actorsPerWorker));
    expect(d(Inputs.WorkerType)).toBe(Defaults.workerType);
    expect(d(Inputs.MaxRuntimeHours)).toBe(String(Defaults.maxRuntimeHours));
    expect(d(Inputs.SlayerStorageRoot)).toBe(Defaults.slayerStorageRoot);
    expect(d(Inputs.UploadConcurrency)).toBe(String(Defaults.uploadConcurrency));
    expect(d(Inputs.TrackedInputs)?.trim().split('\n')).toEqual([...Defaults.trackedInputs]);
  });

  it('matches the README tables', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    expect(renderReadme(readme) as string).toBe(readme);
  });
});

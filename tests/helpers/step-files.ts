// The runner's file commands for tests that call the action's modules in-process with the real
// @actions/core: GITHUB_OUTPUT and GITHUB_STEP_SUMMARY point at temp files, read back with the
// runner's grammar.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';

/** The runner's file-command grammar: `name<<delim` heredocs (what core writes) and `name=value`. */
export function parseCommandFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (heredoc) {
      const end = lines.indexOf(heredoc[2], i + 1);
      out[heredoc[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i].includes('=')) {
      const k = lines[i].slice(0, lines[i].indexOf('='));
      out[k] = lines[i].slice(k.length + 1);
    }
  }
  return out;
}

export interface StepFiles {
  /** A temp dir for the suite (also usable as RUNNER_TEMP). */
  dir: string;
  /** Empties both files and points the env at them (call in beforeEach). */
  reset(): void;
  outputs(): Record<string, string>;
  summary(): string;
  remove(): void;
}

/** @actions/core caches the summary path on first use: one pair of files for the whole suite. */
export function stepFiles(prefix: string): StepFiles {
  const dir = mkdtempSync(join(tmpdir(), `bird-${prefix}-`));
  const outputFile = join(dir, 'github_output');
  const summaryFile = join(dir, 'step_summary');
  return {
    dir,
    reset() {
      writeFileSync(outputFile, '');
      writeFileSync(summaryFile, '');
      vi.stubEnv('GITHUB_OUTPUT', outputFile);
      vi.stubEnv('GITHUB_STEP_SUMMARY', summaryFile);
    },
    outputs: () => parseCommandFile(readFileSync(outputFile, 'utf8')),
    summary: () => readFileSync(summaryFile, 'utf8'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

import type { ChildProcess } from 'node:child_process';

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  props: Record<string, string>;
}
export interface RunnerCommand {
  command: string;
  properties: Record<string, string>;
  data: string;
  form: 'v2' | 'legacy';
}
export interface StepOptions {
  actionDir: string;
  entry?: 'main' | 'post';
  inputs?: Record<string, string>;
  env?: Record<string, string | undefined>;
  workspace: string;
  state?: Record<string, string>;
  runnerTemp?: string;
  node?: string;
  event?: object;
  eventName?: string;
  /** What `${{ github.token }}` evaluates to (default ''). */
  githubToken?: string;
}
export interface StepResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  /** Every workflow command the runner would process. */
  commands: RunnerCommand[];
  runnerTemp: string;
  stepDir: string;
}
export function parseFileCommands(text: string): Record<string, string>;
export function parseAnnotations(stdout: string): Annotation[];
export function runnerCommands(stdout: string): RunnerCommand[];
export function consoleView(o?: { debug?: boolean; fold?: boolean }): (line: string) => string[];
export function readActionYml(actionDir: string): {
  inputs: Record<string, { default?: unknown; description?: string; required?: boolean }>;
  outputs?: Record<string, { description?: string }>;
  runs: { using: string; main: string; post?: string; 'post-if'?: string };
};
export function startStep(o: StepOptions): { child: ChildProcess; result: Promise<StepResult> };
export function runStep(o: StepOptions): Promise<StepResult>;

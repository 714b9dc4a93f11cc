// The one logging interface. Every module that logs takes a `Log`; the entry points pass
// `actionsLog` (the runner's log via @actions/core), tests pass `memoryLog()`.

import { randomBytes } from 'node:crypto';
import * as core from '@actions/core';

/** Where an annotation points (a file of the workspace, optionally a line). */
interface Where {
  file?: string;
  startLine?: number;
}

export interface Log {
  info(line: string): void;
  /** A warning annotation (shown on the run's page). */
  warning(message: string, where?: Where): void;
  /** An error annotation; failing the step is a separate decision. */
  error(message: string, where?: Where): void;
  notice(message: string): void;
  /** Shown only when the run has debug logging on (ACTIONS_STEP_DEBUG / RUNNER_DEBUG). */
  debug(line: string): void;
  /** Runs `fn` with its lines folded under `title` (a `::group::` on GitHub). */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Text this action did not write (job logs, CLI output, row errors, file names): printed so that
   * no line of it can act as a workflow command.
   */
  untrusted(text: string): void;
}

/**
 * The runner reads a workflow command from a line that starts with `::` (after blanks), and from
 * a legacy `##[command]` anywhere in a line (docs/reference/runner.md#runner-contract). Such a
 * line is shown with a visible prefix, and `##[` is broken by a zero-width space.
 */
export function neutralizeCommand(line: string): string {
  return /^\s*::|##\[/.test(line) ? `| ${line.replace(/##\[/g, '#\u200b#[')}` : line;
}

/** Splits on every line ending the runner splits on (`\n`, `\r\n`, `\r`). */
function runnerLines(text: string): string[] {
  return text.replace(/\r?\n$/, '').split(/\r\n|\r|\n/);
}

/** Text as the runner will split it, with no line that acts as a command. */
function neutralizeText(text: string): string {
  return runnerLines(text).map(neutralizeCommand).join('\n');
}

/**
 * Untrusted text goes between `::stop-commands::<token>` and `::<token>::`: the runner then
 * processes no command at all, in any form, until the token (random, so the text cannot know it).
 * Each line is neutralized as well, so the log reads the same where commands are processed.
 */
function printUntrusted(text: string): void {
  const token = randomBytes(16).toString('hex');
  core.info(`::stop-commands::${token}`);
  core.info(neutralizeText(text));
  core.info(`::${token}::`);
}

// Every line goes through neutralizeText: a value this action prints (a run id, a DB name, an
// error from a server) never becomes a command, wherever it came from.
export const actionsLog: Log = {
  info: (line) => core.info(neutralizeText(line)),
  warning: (message, where) => core.warning(message, where),
  error: (message, where) => core.error(message, where),
  notice: (message) => core.notice(message),
  debug: (line) => core.debug(line),
  group: (title, fn) => core.group(title, fn),
  untrusted: printUntrusted,
};

export interface MemoryLog extends Log {
  /** Every line as it would read in the log: `warning: …`, `error: …`, `[group] …`. */
  readonly lines: string[];
  readonly warnings: string[];
  readonly errors: string[];
}

/** A log kept in memory, for tests and for callers that show the lines elsewhere. */
export function memoryLog(): MemoryLog {
  const lines: string[] = [];
  const warnings: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    warnings,
    errors,
    info: (line) => lines.push(line),
    warning: (message) => {
      warnings.push(message);
      lines.push(`warning: ${message}`);
    },
    error: (message) => {
      errors.push(message);
      lines.push(`error: ${message}`);
    },
    notice: (message) => lines.push(`notice: ${message}`),
    debug: (line) => lines.push(`debug: ${line}`),
    group: async (title, fn) => {
      lines.push(`[group] ${title}`);
      try {
        return await fn();
      } finally {
        lines.push('[endgroup]');
      }
    },
    untrusted: (text) => lines.push(...runnerLines(text).map(neutralizeCommand)),
  };
}

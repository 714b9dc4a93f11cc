// Reading raw inputs: the one place that calls core.getInput, and small typed readers that
// record problems (input, bad value, fix) instead of throwing, so every problem is reported at once.

import { isAbsolute, resolve } from 'node:path';
import * as core from '@actions/core';
import type { Inputs } from '../common/constants.js';
import type { ProblemList } from '../common/errors.js';

/** Reads one raw input; injectable so parsing is testable without the runner. */
export type InputReader = (name: Inputs) => string;

export const coreInputReader: InputReader = (name) => core.getInput(name);

export const TRUE = ['true', 'True', 'TRUE'];
export const FALSE = ['false', 'False', 'FALSE'];
export const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;

/** Small typed readers that record problems instead of throwing. */
export class Reader {
  constructor(
    private readonly get: InputReader,
    readonly problems: ProblemList,
  ) {}

  str(name: Inputs): string {
    return this.get(name).trim();
  }

  required(name: Inputs, fix: string): string {
    const v = this.str(name);
    if (!v) this.problems.add(name, 'is required for a new submit and is empty', fix);
    return v;
  }

  bool(name: Inputs, dflt: boolean): boolean {
    const v = this.str(name);
    if (v === '') return dflt;
    if (TRUE.includes(v)) return true;
    if (FALSE.includes(v)) return false;
    this.problems.add(name, `'${v}' is not a boolean`, 'use true or false');
    return dflt;
  }

  int(name: Inputs, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.str(name);
    if (v === '') return dflt;
    if (!/^[+-]?\d+$/.test(v)) {
      this.problems.add(name, `'${v}' is not a whole number`, `use a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
      return dflt;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.problems.add(name, `${v} is out of range`, `use a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}`);
      return dflt;
    }
    return n;
  }

  oneOf<T extends string>(name: Inputs, values: readonly T[], dflt?: T): T {
    const v = this.str(name) || dflt || '';
    if (!(values as readonly string[]).includes(v)) {
      this.problems.add(
        name,
        v === '' ? 'is required for a new submit and is empty' : `'${v}' is not one of ${values.join(', ')}`,
        `set ${name} to one of: ${values.join(', ')}`,
      );
    }
    return v as T;
  }

  /** A JSON object; `secret` keeps the value out of the message. */
  jsonObject(name: Inputs, options: { secret: boolean } = { secret: false }): Record<string, unknown> {
    const secret = options.secret;
    const v = this.str(name);
    if (!v) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      this.problems.add(
        name,
        secret ? 'is not valid JSON' : `'${v}' is not valid JSON (${e instanceof Error ? e.message : String(e)})`,
        'give a JSON object, e.g. {"key": "value"}',
      );
      return {};
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      this.problems.add(name, secret ? 'is not a JSON object' : `'${v}' is not a JSON object`, 'give a JSON object, e.g. {"key": "value"}');
      return {};
    }
    return parsed as Record<string, unknown>;
  }

  lines(name: Inputs, dflt: readonly string[]): string[] {
    const v = this.str(name);
    if (!v) return [...dflt];
    return v
      .split(/[\n,]/)
      .map((s) => s.trim())
      .filter(Boolean);
  }
}

export function absolute(path: string, base: string): string {
  return isAbsolute(path) ? path : resolve(base, path);
}

// Typed errors. Every user-facing problem names the input, the bad value and the fix.

export interface Problem {
  /** The action input the problem is about (or a domain area such as `worktree`). */
  input: string;
  /** What is wrong, including the bad value. */
  message: string;
  /** How to fix it. */
  fix?: string;
}

export function formatProblem(problem: Problem): string {
  return problem.fix ? `${problem.input}: ${problem.message} (fix: ${problem.fix})` : `${problem.input}: ${problem.message}`;
}

/** Several problems found by one check, reported together so a user fixes them in one go. */
export class ProblemsError extends Error {
  readonly problems: readonly Problem[];
  constructor(problems: readonly Problem[], heading?: string) {
    const head = heading ?? (problems.length === 1 ? 'invalid input' : `${problems.length} input problems`);
    super(problems.length === 1 ? `${head}: ${formatProblem(problems[0])}` : `${head}:\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
    this.name = 'ProblemsError';
    this.problems = problems;
  }
}

/** Collects problems across checks; `throwIfAny` fails once with all of them. */
export class ProblemList {
  readonly items: Problem[] = [];
  add(input: string, message: string, fix?: string): void {
    this.items.push({ input, message, fix });
  }
  get empty(): boolean {
    return this.items.length === 0;
  }
  throwIfAny(heading?: string): void {
    if (this.items.length > 0) throw new ProblemsError(this.items, heading);
  }
}

/** HTTP status of an error from gaxios, the Storage SDK or our own clients, if any. */
export function errorStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const o = error as { code?: unknown; status?: unknown; statusCode?: unknown; response?: { status?: unknown } };
  for (const v of [o.code, o.status, o.statusCode, o.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/**
 * Turns any thrown value into one message, with its HTTP status when the message lacks it.
 * Never filters on `instanceof Error` alone: SDKs throw plain objects too.
 */
export function errorMessage(error: unknown, options: { withStatus: boolean } = { withStatus: true }): string {
  let msg: string;
  if (error instanceof Error) msg = error.message;
  else if (typeof error === 'string') msg = error;
  else {
    try {
      msg = JSON.stringify(error);
    } catch {
      msg = String(error);
    }
  }
  const status = options.withStatus ? errorStatus(error) : undefined;
  return status !== undefined && !msg.includes(String(status)) ? `HTTP ${status}: ${msg}` : msg;
}

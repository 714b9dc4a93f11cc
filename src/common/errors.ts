// Typed errors. Every user-facing problem names the input, the bad value and the fix.

export interface Problem {
  /** The action input the problem is about (or a domain area such as `worktree`). */
  input: string;
  /** What is wrong, including the bad value. */
  message: string;
  /** How to fix it. */
  fix?: string;
}

export function formatProblem(p: Problem): string {
  return p.fix ? `${p.input}: ${p.message} (fix: ${p.fix})` : `${p.input}: ${p.message}`;
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
export function errorStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const o = e as { code?: unknown; status?: unknown; statusCode?: unknown; response?: { status?: unknown } };
  for (const v of [o.code, o.status, o.statusCode, o.response?.status]) if (typeof v === 'number') return v;
  return undefined;
}

/**
 * Turns any thrown value into one message, with its HTTP status when the message lacks it.
 * Never filters on `instanceof Error` alone: SDKs throw plain objects too.
 */
export function errorMessage(e: unknown, o: { withStatus: boolean } = { withStatus: true }): string {
  let msg: string;
  if (e instanceof Error) msg = e.message;
  else if (typeof e === 'string') msg = e;
  else {
    try {
      msg = JSON.stringify(e);
    } catch {
      msg = String(e);
    }
  }
  const status = o.withStatus ? errorStatus(e) : undefined;
  return status !== undefined && !msg.includes(String(status)) ? `HTTP ${status}: ${msg}` : msg;
}

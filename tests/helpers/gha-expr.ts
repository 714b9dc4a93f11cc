// GitHub Actions expressions, evaluated the way the runner documents them
// (https://docs.github.com/en/actions/reference/workflows-and-actions/expressions), for the tests that
// simulate our workflows: which jobs run for which inputs, and what a step's `with:` receives.
// Covered: literals, context paths (`inputs.dry-run`, `needs.submit.outputs.run-id`), `[...]`
// indexing, `!`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`, `||` (returning an operand, as GitHub's do),
// parentheses, and the functions always, success, failure, cancelled, contains, startsWith,
// endsWith, fromJSON and toJSON. Anything else throws, so a workflow never passes a test by an
// expression this evaluator misreads.

export type Ctx = Record<string, unknown>;

/** The status functions, as the job or step being evaluated sees them. */
export interface Status {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}
const RUNNING: Status = { success: true, failure: false, cancelled: false };

type Token = { kind: 'str'; value: string } | { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error(`unterminated string in: ${src}`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ kind: 'str', value: s });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? '') && !/^(num|id|str)$/.test(out.at(-1)?.kind ?? ''))) {
      const m = /^-?(0x[0-9a-f]+|\d+(\.\d+)?(e[-+]?\d+)?)/i.exec(src.slice(i));
      if (!m) throw new Error(`bad number in: ${src}`);
      out.push({ kind: 'num', value: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'id', value: m[0] });
      i += m[0].length;
    } else {
      const op = ['==', '!=', '<=', '>=', '&&', '||'].find((o) => src.startsWith(o, i)) ?? (/[!<>().,[\]]/.test(c) ? c : undefined);
      if (!op) throw new Error(`unexpected '${c}' in: ${src}`);
      out.push({ kind: 'op', value: op });
      i += op.length;
    }
  }
  return out;
}

/** GitHub's falsy values: false, 0, -0, '', null (and NaN, which comparisons can produce). */
function truthy(v: unknown): boolean {
  return !(v === false || v === 0 || v === '' || v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)));
}

function toNumber(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v);
  return Number.NaN;
}

/** Loose equality: same types compare directly (strings ignoring case), otherwise both as numbers. */
function equal(a: unknown, b: unknown): boolean {
  const ta = a === undefined ? null : a;
  const tb = b === undefined ? null : b;
  if (typeof ta === 'string' && typeof tb === 'string') return ta.toLowerCase() === tb.toLowerCase();
  if (ta === null && tb === null) return true;
  if (typeof ta === typeof tb && typeof ta !== 'object') return ta === tb;
  if (typeof ta === 'object' && ta !== null && typeof tb === 'object' && tb !== null) return ta === tb;
  return toNumber(ta) === toNumber(tb);
}

/** What GitHub puts into a string for a value: '' for null, JSON for objects. */
function asString(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

class Parser {
  private i = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly ctx: Ctx,
    private readonly status: Status,
    private readonly src: string,
  ) {}

  parse(): unknown {
    const v = this.or();
    if (this.i < this.tokens.length) throw new Error(`unexpected ${JSON.stringify(this.tokens[this.i])} in: ${this.src}`);
    return v;
  }

  private peek(value: string): boolean {
    const t = this.tokens[this.i];
    return t?.kind === 'op' && t.value === value;
  }
  private expect(value: string): void {
    if (!this.peek(value)) throw new Error(`expected '${value}' in: ${this.src}`);
    this.i++;
  }

  private or(): unknown {
    let v = this.and();
    while (this.peek('||')) {
      this.i++;
      const r = this.and();
      v = truthy(v) ? v : r;
    }
    return v;
  }
  private and(): unknown {
    let v = this.cmp();
    while (this.peek('&&')) {
      this.i++;
      const r = this.cmp();
      v = truthy(v) ? r : v;
    }
    return v;
  }
  private cmp(): unknown {
    const a = this.unary();
    const t = this.tokens[this.i];
    if (t?.kind !== 'op' || !['==', '!=', '<', '<=', '>', '>='].includes(t.value)) return a;
    this.i++;
    const b = this.unary();
    switch (t.value) {
      case '==':
        return equal(a, b);
      case '!=':
        return !equal(a, b);
      case '<':
        return toNumber(a) < toNumber(b);
      case '<=':
        return toNumber(a) <= toNumber(b);
      case '>':
        return toNumber(a) > toNumber(b);
      default:
        return toNumber(a) >= toNumber(b);
    }
  }
  private unary(): unknown {
    if (this.peek('!')) {
      this.i++;
      return !truthy(this.unary());
    }
    return this.postfix(this.primary());
  }
  private postfix(base: unknown): unknown {
    let v = base;
    for (;;) {
      if (this.peek('.')) {
        this.i++;
        const t = this.tokens[this.i++];
        if (t?.kind !== 'id') throw new Error(`expected a property name in: ${this.src}`);
        v = prop(v, t.value);
      } else if (this.peek('[')) {
        this.i++;
        const key = this.or();
        this.expect(']');
        v = prop(v, asString(key));
      } else return v;
    }
  }
  private primary(): unknown {
    const t = this.tokens[this.i++];
    if (!t) throw new Error(`unexpected end of: ${this.src}`);
    if (t.kind === 'str' || t.kind === 'num') return t.value;
    if (t.kind === 'op') {
      if (t.value !== '(') throw new Error(`unexpected '${t.value}' in: ${this.src}`);
      const v = this.or();
      this.expect(')');
      return v;
    }
    if (t.value === 'true') return true;
    if (t.value === 'false') return false;
    if (t.value === 'null') return null;
    if (this.peek('(')) return this.call(t.value);
    if (!(t.value in this.ctx)) throw new Error(`unknown context '${t.value}' in: ${this.src}`);
    return this.ctx[t.value];
  }
  private call(name: string): unknown {
    this.expect('(');
    const args: unknown[] = [];
    while (!this.peek(')')) {
      args.push(this.or());
      if (!this.peek(')')) this.expect(',');
    }
    this.expect(')');
    const [a, b] = args;
    switch (name) {
      case 'always':
        return true;
      case 'success':
        return this.status.success;
      case 'failure':
        return this.status.failure;
      case 'cancelled':
        return this.status.cancelled;
      case 'contains':
        return Array.isArray(a) ? a.some((x) => equal(x, b)) : asString(a).toLowerCase().includes(asString(b).toLowerCase());
      case 'startsWith':
        return asString(a).toLowerCase().startsWith(asString(b).toLowerCase());
      case 'endsWith':
        return asString(a).toLowerCase().endsWith(asString(b).toLowerCase());
      case 'fromJSON':
        return JSON.parse(asString(a));
      case 'toJSON':
        return JSON.stringify(a);
      default:
        throw new Error(`unsupported function ${name}() in: ${this.src}`);
    }
  }
}

function prop(v: unknown, key: string): unknown {
  if (v === null || typeof v !== 'object') return null;
  const found = Object.entries(v as Record<string, unknown>).find(([k]) => k.toLowerCase() === key.toLowerCase());
  return found ? found[1] : null;
}

/** One expression (without `${{ }}`). */
function evaluate(expr: string, ctx: Ctx, status: Status = RUNNING): unknown {
  return new Parser(tokenize(expr), ctx, status, expr).parse();
}

const TEMPLATE = /\$\{\{\s*([\s\S]*?)\s*\}\}/g;

/** A `with:`/`env:` value: every `${{ }}` replaced by its value as a string; a plain scalar as GitHub passes it. */
export function interpolate(value: string | number | boolean, ctx: Ctx, status: Status = RUNNING): string {
  if (typeof value !== 'string') return String(value);
  return value.replace(TEMPLATE, (_, expr: string) => asString(evaluate(expr, ctx, status)));
}

/**
 * An `if:` (with or without `${{ }}`), as the runner reads it: without a status function it is
 * `success() && (…)`; no `if:` at all is `success()`.
 */
export function evaluateIf(condition: string | boolean | undefined, ctx: Ctx, status: Status): boolean {
  if (condition === undefined) return status.success;
  if (typeof condition === 'boolean') return condition && status.success;
  const trimmed = condition.trim();
  const whole = /^\$\{\{([\s\S]*)\}\}$/.exec(trimmed);
  if (!whole && trimmed.includes('${{')) throw new Error(`an if: with text around \${{ }} is always true: ${condition}`);
  const expr = whole ? whole[1] : trimmed;
  const value = truthy(evaluate(expr, ctx, status));
  return /\b(success|failure|always|cancelled)\s*\(/.test(expr) ? value : status.success && value;
}

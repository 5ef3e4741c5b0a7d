// CEL errors in the words of cel-go, which is what a real API server prints: compile errors as
// `ERROR: <input>:1:6: undeclared reference to 'x' (in container '')` with the source line and a
// caret, runtime errors as `no such key: x`. The library's own wording differs; only the phrases
// users meet often are translated, the rest keep the library's text.

/** What cel-js attaches to its errors (ParseError, TypeError, EvaluationError). */
interface LibraryError {
  summary?: unknown;
  code?: unknown;
  range?: { start: number; end: number };
}

function summaryOf(e: unknown): { summary: string; code: string; start: number | undefined } {
  if (typeof e === 'object' && e !== null) {
    const lib = e as LibraryError & { message?: unknown };
    // An object thrown without a text of its own is shown as JSON, not as `[object Object]`.
    const text = typeof lib.message === 'string' ? lib.message : JSON.stringify(e);
    const summary = typeof lib.summary === 'string' ? lib.summary : text;
    return { summary, code: typeof lib.code === 'string' ? lib.code : '', start: lib.range?.start };
  }
  return { summary: String(e), code: '', start: undefined };
}

const TRANSLATIONS: Array<[RegExp, (m: RegExpExecArray) => string]> = [
  [/^Unknown variable: (.*)$/, (m) => `undeclared reference to '${m[1] ?? ''}' (in container '')`],
  [/^No such key: (.*)$/, (m) => `undefined field '${m[1] ?? ''}'`],
];

/** The message of a compile (parse or type-check) error, without position. */
function compileMessage(summary: string, code: string): string {
  // `matches` runs under another name (see env.ts); users wrote `matches`.
  let msg = summary.replace(/__re2_matches/g, 'matches');
  for (const [re, fmt] of TRANSLATIONS) {
    const m = re.exec(msg);
    if (m) msg = fmt(m);
  }
  if (code === 'parse_error' || code === 'unexpected_token' || code === 'unexpected_character' || code.startsWith('unterminated')) {
    msg = `Syntax error: ${msg}`;
  }
  return msg;
}

/** `ERROR: <input>:L:C: message` plus the offending line and a caret, as cel-go's issues print. */
export function formatCompileError(expression: string, e: unknown): string {
  const { summary, code } = summaryOf(e);
  let { start } = summaryOf(e);
  const msg = compileMessage(summary, code);
  if (start === undefined) return `ERROR: <input>:1:1: ${msg}`;
  // cel-go places a field selection at its ".", cel-js at the field name.
  if (msg.startsWith('undefined field') && expression[start - 1] === '.') start--;
  const before = expression.slice(0, start);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const col = start - lineStart;
  const lineEnd = expression.indexOf('\n', start);
  const text = expression.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
  return `ERROR: <input>:${line}:${col + 1}: ${msg}\n | ${text}\n | ${'.'.repeat(col)}^`;
}

/** A runtime error message as cel-go words it (`no such key: x`, `division by zero`). */
export function runtimeMessage(e: unknown): string {
  const { summary } = summaryOf(e);
  const msg = summary.replace(/__re2_matches/g, 'matches');
  const key = /^No such key: (.*)$/.exec(msg);
  if (key) return `no such key: ${key[1] ?? ''}`;
  if (/^no such overload/i.test(msg) || /^found no matching overload/.test(msg)) return `no such overload: ${msg.replace(/^no such overload:?\s*/i, '')}`;
  return msg.charAt(0).toLowerCase() + msg.slice(1);
}

/** A CEL evaluation failed: the message is cel-go's wording. */
export class CelRuntimeError extends Error {
  override readonly name = 'CelRuntimeError';
}

/** The evaluation ran past its cost budget (Kubernetes' per-call limit). */
export class CelCostError extends CelRuntimeError {
  constructor() {
    super('operation cancelled: actual cost limit exceeded');
  }
}

// The one CEL engine of the project: ValidatingAdmissionPolicy expressions and CRD
// x-kubernetes-validations in the embedded API server, and the same CRD rules in `kto validate`.
//
// Built on @marcbachmann/cel-js (parser, type checker, evaluator). What it lacks for Kubernetes:
//  - `matches` must follow RE2 (Go's regexp), not JavaScript's RegExp: `\s` is ASCII only, `(?i)`
//    works, look-arounds are errors, and matching is linear. Calls to `matches` are routed to
//    @bufbuild/re2 by renaming them in the parsed AST before it is checked.
//  - a cost limit: see cost.ts.
//  - cel-go's error wording: see errors.ts.
// Kubernetes' string extension (split, lowerAscii, indexOf, substring, ...) is built into cel-js.

import { Environment, type ASTNode } from '@marcbachmann/cel-js';
import { RE2JS } from '@bufbuild/re2';
import { comprehensionDepth, withinBudget } from './cost.js';
import { CelCostError, CelRuntimeError, formatCompileError, runtimeMessage } from './errors.js';

/** cel-js type strings: `dyn`, `string`, `int`, `list<string>`, `map<string, dyn>`, or a declared object type. */
export type CelTypeName = string;

/** Object types with typed fields (a CRD's structural schema), declared before the variables. */
export type ObjectTypes = Array<{ name: string; fields: Record<string, CelTypeName> }>;

const RE2_MATCHES = '__re2_matches';
const regexCache = new Map<string, RE2JS>();

function re2(pattern: string): RE2JS {
  let re = regexCache.get(pattern);
  if (!re) {
    try {
      re = new RE2JS(pattern);
    } catch (e: unknown) {
      throw new CelRuntimeError(e instanceof Error ? e.message : String(e));
    }
    if (regexCache.size > 1000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/** Renames every `matches` call (method or global form) to the RE2-backed function. */
function routeMatches(node: unknown): void {
  if (Array.isArray(node)) {
    for (const n of node) routeMatches(n);
    return;
  }
  if (typeof node !== 'object' || node === null || !('op' in node)) return;
  const ast = node as ASTNode;
  switch (ast.op) {
    case 'value':
    case 'id':
      return;
    case '.':
    case '.?':
      routeMatches(ast.args[0]);
      return;
    case 'call':
      if (ast.args[0] === 'matches') (ast.args as unknown[])[0] = RE2_MATCHES;
      routeMatches(ast.args[1]);
      return;
    case 'rcall':
      if (ast.args[0] === 'matches') (ast.args as unknown[])[0] = RE2_MATCHES;
      routeMatches(ast.args[1]);
      routeMatches(ast.args[2]);
      return;
    default:
      routeMatches(ast.args);
  }
}

/** Every literal pattern handed to `matches` must be valid RE2, checked when compiling as cel-go does. */
function literalPatternProblem(node: unknown): { node: ASTNode; message: string } | undefined {
  if (Array.isArray(node)) {
    for (const n of node) {
      const p = literalPatternProblem(n);
      if (p) return p;
    }
    return undefined;
  }
  if (typeof node !== 'object' || node === null || !('op' in node)) return undefined;
  const ast = node as ASTNode;
  if (ast.op === 'value' || ast.op === 'id') return undefined;
  if ((ast.op === 'rcall' || ast.op === 'call') && ast.args[0] === RE2_MATCHES) {
    const args = ast.op === 'rcall' ? ast.args[2] : ast.args[1];
    const pattern = args[ast.op === 'rcall' ? 0 : 1];
    if (pattern?.op === 'value' && typeof pattern.args === 'string') {
      try {
        re2(pattern.args);
      } catch (e: unknown) {
        return { node: pattern, message: e instanceof Error ? e.message : String(e) };
      }
    }
  }
  return literalPatternProblem(ast.op === '.' || ast.op === '.?' ? ast.args[0] : ast.args);
}

export interface CelProgram {
  readonly expression: string;
  /** The checked result type (`bool`, `string`, `dyn`, ...). */
  readonly type: string;
  /** Evaluates with the given variables (already CEL values: see values.ts). Throws CelRuntimeError. */
  evaluate(vars: Record<string, unknown>): unknown;
}

export type CompileResult = { ok: true; program: CelProgram } | { ok: false; error: string };

export interface CompileOptions {
  /** Allowed result types; `dyn` results pass any of them (checked again at run time). */
  returns?: CelTypeName[];
}

export class CelEnv {
  private readonly env: Environment;

  constructor(variables: Record<string, CelTypeName>, types: ObjectTypes = []) {
    // Kubernetes' base environment sets cel.HomogeneousAggregateLiterals (cel-js's default too).
    const env = new Environment({ homogeneousAggregateLiterals: true, limits: { maxDepth: 100 } });
    env.registerFunction(`string.${RE2_MATCHES}(string): bool`, (s: string, p: string) => re2(p).test(s));
    env.registerFunction(`${RE2_MATCHES}(string, string): bool`, (s: string, p: string) => re2(p).test(s));
    for (const t of types) env.registerType(t.name, { fields: t.fields });
    for (const [name, type] of Object.entries(variables)) env.registerVariable(name, type);
    this.env = env;
  }

  /** Parses and type-checks; the error is the Kubernetes `compilation failed: ...` detail. */
  compile(expression: string, opts: CompileOptions = {}): CompileResult {
    let parsed: ReturnType<Environment['parse']>;
    try {
      parsed = this.env.parse(expression);
    } catch (e: unknown) {
      return { ok: false, error: `compilation failed: ${formatCompileError(expression, e)}` };
    }
    routeMatches(parsed.ast);
    const checked = parsed.check();
    if (!checked.valid) return { ok: false, error: `compilation failed: ${formatCompileError(expression, checked.error)}` };
    const bad = literalPatternProblem(parsed.ast);
    if (bad) return { ok: false, error: `compilation failed: ${formatCompileError(expression, { summary: bad.message, range: { start: bad.node.start, end: bad.node.end } })}` };
    const type = checked.type ?? 'dyn';
    const returns = opts.returns;
    if (returns && type !== 'dyn' && !returns.includes(type)) {
      return { ok: false, error: returns.length === 1 ? `must evaluate to ${returns[0] ?? ''}` : `must evaluate to one of [${returns.join(' ')}]` };
    }
    const depth = comprehensionDepth(parsed.ast);
    const program: CelProgram = {
      expression,
      type,
      evaluate(vars) {
        if (depth > 1 && !withinBudget(depth, vars)) throw new CelCostError();
        try {
          return parsed(vars) as unknown;
        } catch (e: unknown) {
          if (e instanceof CelRuntimeError) throw e;
          throw new CelRuntimeError(runtimeMessage(e));
        }
      },
    };
    return { ok: true, program };
  }
}

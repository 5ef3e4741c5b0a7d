// A cost guard in place of cel-go's cost tracking (which cel-js does not have). A single macro
// (`all`, `exists`, `map`, `filter`, ...) is linear in its input, and the input is bounded by the
// request size, so only nested macros can run away: `l.all(a, l.all(b, l.all(c, ...)))` costs
// size(l)^depth. Before running an expression with nested macros, its worst case is bounded by
// the largest list or map in the variables raised to the nesting depth, against
// Kubernetes' per-call limit; over it, the evaluation fails as a real server's would
// ("operation cancelled: actual cost limit exceeded").

import type { ASTNode } from '@marcbachmann/cel-js';

/** Kubernetes' PerCallLimit (k8s.io/apiserver/pkg/apis/cel/config.go). */
export const PER_CALL_LIMIT = 1_000_000;

const MACROS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** How deeply comprehension macros nest in the expression (0: none). */
export function comprehensionDepth(node: unknown): number {
  if (Array.isArray(node)) return node.reduce((m: number, n) => Math.max(m, comprehensionDepth(n)), 0);
  if (typeof node !== 'object' || node === null || !('op' in node)) return 0;
  const ast = node as ASTNode;
  switch (ast.op) {
    case 'value':
    case 'id':
      return 0;
    case '.':
    case '.?':
      return comprehensionDepth(ast.args[0]);
    case 'rcall': {
      const inner = Math.max(comprehensionDepth(ast.args[1]), comprehensionDepth(ast.args[2]));
      return MACROS.has(ast.args[0]) ? inner + 1 : inner;
    }
    case 'call':
      return comprehensionDepth(ast.args[1]);
    default:
      return comprehensionDepth(ast.args);
  }
}

/** The size of the largest list or map reachable from `v` (walks at most `limit` nodes). */
function largest(v: unknown, limit: { left: number }): number {
  if (limit.left-- <= 0) return Infinity;
  if (Array.isArray(v)) return v.reduce((m: number, x) => Math.max(m, largest(x, limit)), v.length);
  if (v instanceof Map) return [...v.values()].reduce((m: number, x) => Math.max(m, largest(x, limit)), v.size);
  if (typeof v === 'object' && v !== null) {
    const values = Object.values(v);
    return values.reduce((m: number, x) => Math.max(m, largest(x, limit)), values.length);
  }
  return 0;
}

export function withinBudget(depth: number, vars: Record<string, unknown>): boolean {
  const n = largest(vars, { left: PER_CALL_LIMIT });
  return Math.pow(Math.max(n, 1), depth) <= PER_CALL_LIMIT;
}

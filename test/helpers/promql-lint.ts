// Lints a PromQL expression against the metrics that exist, with the Prometheus project's own
// PromQL grammar (@prometheus-io/lezer-promql, the parser of Prometheus's UI): it must parse;
// every selector must name a metric that exists; every label a matcher or a `by`/`on` clause
// names must be one that metric (or the scrape) carries; and a matcher on a label with a known set
// of values must match one of them. An alert on a misspelt metric, label or value never fires,
// and nothing else says so.
import { parser } from '@prometheus-io/lezer-promql';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface Known {
  /** Metric (as PromQL sees it: a histogram's _bucket/_sum/_count) -> the labels it carries. */
  series: Map<string, Set<string>>;
  /** Labels the scrape adds to every series (namespace, job, pod, ...). */
  targetLabels: Set<string>;
  /** Labels whose values are a closed set. */
  values: Map<string, Set<string>>;
}

const text = (src: string, n: SyntaxNode): string => src.slice(n.from, n.to);
const unquote = (s: string): string => (s.startsWith('"') || s.startsWith("'") ? (JSON.parse(s.startsWith("'") ? `"${s.slice(1, -1)}"` : s) as string) : s.slice(1, -1));

function children(n: SyntaxNode, name: string): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) if (c.type.name === name) out.push(c);
  return out;
}

function descendants(n: SyntaxNode, name: string, out: SyntaxNode[] = []): SyntaxNode[] {
  if (n.type.name === name) out.push(n);
  for (let c = n.firstChild; c; c = c.nextSibling) descendants(c, name, out);
  return out;
}

interface Matcher {
  label: string;
  op: string;
  value: string;
}

function matchers(src: string, selector: SyntaxNode): { name: string | undefined; matchers: Matcher[] } {
  let name = children(selector, 'Identifier').map((i) => text(src, i))[0];
  const out: Matcher[] = [];
  for (const list of children(selector, 'LabelMatchers')) {
    for (let c = list.firstChild; c; c = c.nextSibling) {
      if (c.type.name === 'QuotedLabelName') name ??= unquote(text(src, c)); // {"metric"}: the name
      if (c.type.name !== 'UnquotedLabelMatcher' && c.type.name !== 'QuotedLabelMatcher') continue;
      const labelNode = c.getChild('LabelName') ?? c.getChild('QuotedLabelName');
      const label = labelNode ? (labelNode.type.name === 'QuotedLabelName' ? unquote(text(src, labelNode)) : text(src, labelNode)) : '';
      const op = text(src, c.getChild('MatchOp') ?? c);
      const value = unquote(text(src, c.getChild('StringLiteral') ?? c));
      if (label === '__name__' && op === '=') name ??= value;
      else out.push({ label, op, value });
    }
  }
  return { name, matchers: out };
}

/** The literal alternatives of a value: `a|b` for =~, the value for =; undefined when it is a
 *  real regular expression, or a dashboard variable, that cannot be checked. */
function literals(m: Matcher): string[] | undefined {
  if (m.op === '=') return [m.value];
  if (m.op === '=~' && /^[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*$/.test(m.value)) return m.value.split('|');
  return undefined;
}

/** Problems with `expr`, each naming what is wrong; [] when it is sound. */
export function lintPromQL(expr: string, known: Known): string[] {
  const tree = parser.parse(expr);
  const problems: string[] = [];
  tree.iterate({
    enter: (n) => {
      if (n.type.isError) problems.push(`syntax error at offset ${n.from}: ...${expr.slice(Math.max(0, n.from - 20), n.from + 20)}...`);
    },
  });
  if (problems.length > 0) return problems;
  const top = tree.topNode;
  const seen = new Set<string>(known.targetLabels);
  for (const sel of descendants(top, 'VectorSelector')) {
    const { name, matchers: ms } = matchers(expr, sel);
    if (name === undefined) {
      problems.push(`${text(expr, sel)}: a selector without a metric name`);
      continue;
    }
    const labels = known.series.get(name);
    if (!labels) {
      problems.push(`${name}: no such metric (not in docs/metrics.md)`);
      continue;
    }
    for (const l of labels) seen.add(l);
    for (const m of ms) {
      if (!labels.has(m.label) && !known.targetLabels.has(m.label)) problems.push(`${name}{${m.label}${m.op}"${m.value}"}: ${name} has no label ${m.label}`);
      const allowed = known.values.get(m.label);
      const wanted = allowed && labels.has(m.label) ? literals(m) : undefined;
      for (const v of wanted ?? []) if (allowed && !allowed.has(v)) problems.push(`${name}{${m.label}${m.op}"${m.value}"}: ${m.label} is never "${v}" (it is one of ${[...allowed].join(', ')})`);
    }
  }
  for (const g of descendants(top, 'GroupingLabels')) {
    for (const l of children(g, 'LabelName')) {
      const label = text(expr, l);
      if (!seen.has(label)) problems.push(`by/on (${label}): no metric of the expression carries ${label}`);
    }
  }
  return problems;
}

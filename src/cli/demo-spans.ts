// The demo's proof that tracing works: per node, the spans its kubelet sent to the embedded
// collector, the sampling ratio observed against the configured one, and the time from the
// kubelet's restart to its first span. Pure: the demo gathers the inputs, this judges them.
//
// The ratio: a kubelet's own spans are root spans, each sampled on its own trace ID with
// probability p = samplingRatePerMillion / 1e6, so of n spans started the collector should get
// k ~ Binomial(n, p): mean np, standard deviation sigma = sqrt(np(1-p)). The check accepts k
// within 5 sigma of np (a correct sampler fails it with probability 6e-7). It is only worth
// making when it can fail a wrong sampler: "enough spans" means the expected count is at least
// 10 sigma, i.e. n >= 100(1-p)/p, so that the 5-sigma band is at most +-50% of np: a sampler at
// half or double the rate lands on its edge or beyond. With fewer spans the ratio is shown, not
// judged. (Pooled over all nodes, the same test applies to a sum of binomials.)

export interface NodeSpanInput {
  node: string;
  version: string;
  /** The rate the kubelet runs with at the end; undefined: it runs without tracing. */
  samplingRatePerMillion?: number;
  /** Spans the kubelet started (sampled or not) and spans the collector received from it. */
  started: number;
  received: number;
  /** When its last successful (re)start began, and when its first span arrived (ms since epoch). */
  restartedAt?: number;
  firstSpanAt?: number;
}

export interface RatioCheck {
  /** received / started; undefined when nothing was started. */
  observed?: number;
  expected: number;
  /** 5 sigma of the count, as a ratio. */
  bound: number;
  judged: boolean;
  /** Only when judged. */
  withinBounds?: boolean;
}

export interface NodeSpanRow extends NodeSpanInput, RatioCheck {
  tracing: boolean;
  restartToFirstSpanMs?: number;
}

export interface SpanReport {
  /** The endpoint the demo policy names (the embedded collector). */
  collector: string;
  samplingRatePerMillion: number;
  spansPerSecond: number;
  /** Spans a node needs before its ratio is judged, at the demo's rate: 100(1-p)/p. */
  minSpansToJudge: number;
  nodes: NodeSpanRow[];
  total: RatioCheck & { started: number; received: number };
  /** Traced nodes (rate > 0) the collector heard nothing from. */
  missing: string[];
  /** Nodes without tracing that sent spans anyway. */
  unexpected: string[];
  /** Judged nodes (or the total) whose ratio is outside its bounds. */
  outOfBounds: string[];
  ok: boolean;
}

const SIGMAS = 5;

/** Spans needed before a ratio is judged: the expected count must be >= 2 * SIGMAS standard deviations. */
export function minSpansToJudge(p: number): number {
  if (p <= 0) return Infinity;
  return Math.ceil(((2 * SIGMAS) ** 2 * (1 - p)) / p);
}

/** Checks a count of sampled spans against Binomial(n_i, p_i) summed over the parts given. */
export function checkRatio(parts: Array<{ started: number; p: number }>, received: number): RatioCheck {
  const started = parts.reduce((s, x) => s + x.started, 0);
  const mean = parts.reduce((s, x) => s + x.started * x.p, 0);
  const sigma = Math.sqrt(parts.reduce((s, x) => s + x.started * x.p * (1 - x.p), 0));
  const expected = started > 0 ? mean / started : 0;
  const bound = started > 0 ? (SIGMAS * sigma) / started : 0;
  const judged = started > 0 && mean > 0 && mean >= 2 * SIGMAS * sigma;
  return {
    ...(started > 0 ? { observed: received / started } : {}),
    expected,
    bound,
    judged,
    ...(judged ? { withinBounds: Math.abs(received - mean) <= SIGMAS * sigma } : {}),
  };
}

export function spanReport(input: { collector: string; samplingRatePerMillion: number; spansPerSecond: number; nodes: NodeSpanInput[] }): SpanReport {
  const rows: NodeSpanRow[] = input.nodes.map((n) => {
    const tracing = n.samplingRatePerMillion !== undefined;
    const p = (n.samplingRatePerMillion ?? 0) / 1e6;
    const firstAfterRestart = n.firstSpanAt !== undefined && n.restartedAt !== undefined && n.firstSpanAt >= n.restartedAt;
    return {
      ...n,
      tracing,
      ...checkRatio(tracing ? [{ started: n.started, p }] : [], n.received),
      ...(firstAfterRestart ? { restartToFirstSpanMs: (n.firstSpanAt ?? 0) - (n.restartedAt ?? 0) } : {}),
    };
  });
  const traced = rows.filter((r) => r.tracing);
  const received = traced.reduce((s, r) => s + r.received, 0);
  const total = {
    started: traced.reduce((s, r) => s + r.started, 0),
    received,
    ...checkRatio(traced.map((r) => ({ started: r.started, p: (r.samplingRatePerMillion ?? 0) / 1e6 })), received),
  };
  const missing = traced.filter((r) => (r.samplingRatePerMillion ?? 0) > 0 && r.received === 0).map((r) => r.node);
  const unexpected = rows.filter((r) => !r.tracing && r.received > 0).map((r) => r.node);
  const outOfBounds = [...rows.filter((r) => r.withinBounds === false).map((r) => r.node), ...(total.withinBounds === false ? ['(all nodes)'] : [])];
  return {
    collector: input.collector,
    samplingRatePerMillion: input.samplingRatePerMillion,
    spansPerSecond: input.spansPerSecond,
    minSpansToJudge: minSpansToJudge(input.samplingRatePerMillion / 1e6),
    nodes: rows,
    total,
    missing,
    unexpected,
    outOfBounds,
    ok: traced.length > 0 && missing.length === 0 && unexpected.length === 0 && outOfBounds.length === 0,
  };
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);

function verdict(r: RatioCheck): string {
  if (r.observed === undefined) return '';
  if (!r.judged) return 'too few to judge';
  return `${r.withinBounds ? 'ok' : 'OUT OF BOUNDS'} (${pct(r.expected)} ± ${pct(r.bound)})`;
}

/** The per-node table, then a verdict line; every line ends with a newline. */
export function formatSpanTable(r: SpanReport, restartMs: number): string {
  const lines = [
    `\nspans at the embedded collector (${r.collector}): kubelets start ${r.spansPerSecond} spans/s each; a ratio is judged from ${r.minSpansToJudge} spans on`,
    `${'node'.padEnd(9)}${'kubelet'.padEnd(10)}${'spans'.padStart(7)}${'started'.padStart(9)}  ${'observed'.padEnd(18)}${'configured'.padEnd(12)}${'check'.padEnd(28)}restart -> 1st span`,
  ];
  for (const n of r.nodes) {
    const configured = n.tracing ? pct((n.samplingRatePerMillion ?? 0) / 1e6) : 'no tracing';
    const check = n.tracing ? verdict(n) : n.received > 0 ? 'UNEXPECTED SPANS' : 'none expected';
    const first = n.restartToFirstSpanMs !== undefined ? `${(n.restartToFirstSpanMs / 1000).toFixed(2)} s` : n.tracing ? 'NO SPAN' : '-';
    lines.push(`${n.node.padEnd(9)}${n.version.padEnd(10)}${String(n.received).padStart(7)}${String(n.started).padStart(9)}  ${pct(n.observed).padEnd(18)}${configured.padEnd(12)}${check.padEnd(28)}${first}`);
  }
  lines.push(`${'all'.padEnd(19)}${String(r.total.received).padStart(7)}${String(r.total.started).padStart(9)}  ${pct(r.total.observed).padEnd(18)}${pct(r.total.expected).padEnd(12)}${verdict(r.total)}`);
  const traced = r.nodes.filter((n) => n.tracing).length;
  if (r.ok) {
    const slowest = Math.max(...r.nodes.map((n) => n.restartToFirstSpanMs ?? 0));
    lines.push(`\nSPANS OK: all ${traced} traced kubelets reached the collector (first span at most ${(slowest / 1000).toFixed(2)} s after a restart that takes ${(restartMs / 1000).toFixed(2)} s); none from the others`);
  } else {
    lines.push(`\nSPANS NOT OK:${traced === 0 ? ' no kubelet runs with tracing;' : ''}`);
    if (r.missing.length) lines.push(`  no span from ${r.missing.join(', ')}`);
    if (r.unexpected.length) lines.push(`  spans from kubelets without tracing: ${r.unexpected.join(', ')}`);
    if (r.outOfBounds.length) lines.push(`  sampling ratio out of bounds: ${r.outOfBounds.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}

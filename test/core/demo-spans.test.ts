// The demo's span verdicts: when a sampling ratio is judged, what passes, and what fails the demo.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkRatio, formatSpanTable, minSpansToJudge, spanReport, type NodeSpanInput } from '../../src/cli/demo-spans.js';

describe('enough spans to judge a ratio: the expected count is at least 10 standard deviations', () => {
  const cases: Array<[string, number, number]> = [
    ['every span sampled: one span is enough (sigma is 0)', 1, 0],
    ['half: 100 spans', 0.5, 100],
    ['the demo rate, 25%: 300 spans', 0.25, 300],
    ['1%: 9,900 spans', 0.01, 9900],
    ['rate 0: never (nothing is expected)', 0, Infinity],
  ];
  for (const [name, p, n] of cases) test(name, () => assert.equal(minSpansToJudge(p), n));

  test('below it the ratio is shown, not judged; from it on, judged', () => {
    assert.deepEqual(checkRatio([{ started: 299, p: 0.25 }], 75), { observed: 75 / 299, expected: 0.25, bound: (5 * Math.sqrt(299 * 0.25 * 0.75)) / 299, judged: false });
    assert.equal(checkRatio([{ started: 300, p: 0.25 }], 75).judged, true);
  });

  test('judged, a sampler off by a factor of two fails; a correct one at the edge of 5 sigma passes', () => {
    // At exactly 300 spans half the rate sits on the band's edge; past it, outside.
    const n = 400;
    const sigma = Math.sqrt(n * 0.25 * 0.75);
    assert.equal(checkRatio([{ started: n, p: 0.25 }], n * 0.125).withinBounds, false, 'half the rate');
    assert.equal(checkRatio([{ started: n, p: 0.25 }], n * 0.5).withinBounds, false, 'double the rate');
    assert.equal(checkRatio([{ started: n, p: 0.25 }], Math.floor(100 + 5 * sigma)).withinBounds, true);
    assert.equal(checkRatio([{ started: n, p: 0.25 }], Math.ceil(100 + 5 * sigma)).withinBounds, false);
  });

  test('nodes with different rates pool as a sum of binomials', () => {
    const r = checkRatio([{ started: 1000, p: 0.5 }, { started: 1000, p: 0.1 }], 600);
    assert.equal(r.expected, 0.3);
    assert.equal(r.bound, (5 * Math.sqrt(1000 * 0.25 + 1000 * 0.09)) / 2000);
    assert.equal(r.withinBounds, true);
  });
});

describe('the demo verdict', () => {
  const at = 1_000_000;
  const traced = (node: string, started: number, received: number, firstAfterMs?: number): NodeSpanInput => ({
    node,
    version: 'v1.30.10',
    samplingRatePerMillion: 250_000,
    started,
    received,
    restartedAt: at,
    ...(firstAfterMs !== undefined ? { firstSpanAt: at + firstAfterMs } : {}),
  });
  const untraced = (node: string, received = 0): NodeSpanInput => ({ node, version: 'v1.24.17', started: 0, received });
  const report = (nodes: NodeSpanInput[]) => spanReport({ collector: '127.0.0.1:4317', samplingRatePerMillion: 250_000, spansPerSecond: 200, nodes });

  test('every traced node heard from, none from the others, ratios in bounds: ok', () => {
    const r = report([traced('node-02', 400, 100, 1100), traced('node-03', 40, 9, 1200), untraced('node-01')]);
    assert.equal(r.ok, true);
    assert.deepEqual(r.nodes.map((n) => [n.node, n.judged, n.restartToFirstSpanMs]), [['node-02', true, 1100], ['node-03', false, 1200], ['node-01', false, undefined]]);
    assert.deepEqual([r.total.started, r.total.received], [440, 109]);
    assert.match(formatSpanTable(r, 1000), /SPANS OK: all 2 traced kubelets reached the collector \(first span at most 1\.20 s after a restart that takes 1\.00 s\)/);
  });

  test('a traced node without a span fails it, and is named', () => {
    const r = report([traced('node-02', 400, 100, 1100), traced('node-04', 200, 0)]);
    assert.deepEqual([r.ok, r.missing], [false, ['node-04']]);
    assert.match(formatSpanTable(r, 1000), /no span from node-04/);
    assert.match(formatSpanTable(r, 1000), /^node-04 .* NO SPAN$/m);
  });

  test('spans from a node without tracing fail it', () => {
    const r = report([traced('node-02', 400, 100, 1100), untraced('node-01', 3)]);
    assert.deepEqual([r.ok, r.unexpected], [false, ['node-01']]);
    assert.match(formatSpanTable(r, 1000), /UNEXPECTED SPANS/);
  });

  test('a judged ratio out of bounds fails it', () => {
    const r = report([traced('node-02', 4000, 1000, 1100), traced('node-05', 4000, 400, 1100)]);
    assert.deepEqual([r.ok, r.outOfBounds], [false, ['node-05', '(all nodes)']]);
    assert.match(formatSpanTable(r, 1000), /^node-05 .*OUT OF BOUNDS/m);
  });

  test('no traced node at all is not a success', () => {
    assert.equal(report([untraced('node-01')]).ok, false);
  });
});

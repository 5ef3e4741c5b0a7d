// `kto demo` as the README's first command runs it (smaller): exit code and report.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runKto } from '../helpers/cli.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-demo-'));
});
after(async () => rm(dir, { recursive: true, force: true }));

interface Ratio {
  observed?: number;
  expected: number;
  bound: number;
  judged: boolean;
  withinBounds?: boolean;
}

interface Report {
  nodes: number;
  converged: number;
  unsupported: number;
  maxUnavailable: number;
  maxConcurrentRestarts: number;
  durationMs: number;
  idealDurationMs: number;
  spans: {
    collector: string;
    samplingRatePerMillion: number;
    spansPerSecond: number;
    minSpansToJudge: number;
    nodes: Array<Ratio & { node: string; version: string; tracing: boolean; samplingRatePerMillion?: number; started: number; received: number; restartToFirstSpanMs?: number }>;
    total: Ratio & { started: number; received: number };
    missing: string[];
    unexpected: string[];
    outOfBounds: string[];
    ok: boolean;
  };
}

/** The span figures hold together: counts, ratios, verdicts and times agree with each other. */
function checkSpans(s: Report['spans'], restartMs: number, untraced: string[]): void {
  const p = s.samplingRatePerMillion / 1e6;
  assert.equal(s.minSpansToJudge, Math.ceil((100 * (1 - p)) / p), 'judged from 100(1-p)/p spans on');
  for (const n of s.nodes) {
    if (untraced.includes(n.node)) {
      assert.deepEqual([n.tracing, n.started, n.received, n.restartToFirstSpanMs], [false, 0, 0, undefined], `${n.node} sends nothing`);
      continue;
    }
    assert.equal(n.tracing, true, n.node);
    assert.equal(n.samplingRatePerMillion, s.samplingRatePerMillion, `${n.node} runs the policy's rate`);
    assert.ok(n.received > 0 && n.received <= n.started, `${n.node}: ${n.received} of ${n.started}`);
    assert.equal(n.observed, n.received / n.started);
    assert.equal(n.judged, n.started >= s.minSpansToJudge, `${n.node}: judged exactly when it has enough spans`);
    if (n.judged) assert.equal(n.withinBounds, Math.abs(n.received - n.started * p) <= 5 * Math.sqrt(n.started * p * (1 - p)), n.node);
    assert.ok(n.restartToFirstSpanMs !== undefined && n.restartToFirstSpanMs >= restartMs, `${n.node}: no span before its kubelet is up (${n.restartToFirstSpanMs} ms)`);
  }
  const traced = s.nodes.filter((n) => n.tracing);
  assert.equal(s.total.received, traced.reduce((a, n) => a + n.received, 0));
  assert.equal(s.total.started, traced.reduce((a, n) => a + n.started, 0));
  assert.deepEqual([s.missing, s.unexpected, s.outOfBounds, s.ok], [[], [], [], true]);
}

test('kto demo converges every supported node, exits 0, and reports figures that hold together', async () => {
  const report = join(dir, 'ok.json');
  const r = await runKto(['demo', '--nodes', '12', '--restart-ms', '100', '--report', report], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /CONVERGED: 11\/11 supported nodes updated, 0 failed, 1 unsupported/);
  assert.match(r.stdout, /v1\.25\s+1\s+tracing \+ KubeletTracing gate/);
  assert.match(r.stdout, /v1\.24\s+1\s+unsupported/);
  const j = JSON.parse(await readFile(report, 'utf8')) as Report;
  assert.equal(j.nodes, 11);
  assert.equal(j.converged, 11);
  assert.equal(j.unsupported, 1);
  assert.equal(j.maxUnavailable, 2); // 25% of 11, rounded down
  assert.ok(j.maxConcurrentRestarts >= 1 && j.maxConcurrentRestarts <= j.maxUnavailable, JSON.stringify(j));
  assert.equal(j.idealDurationMs, Math.ceil(11 / 2) * 100);
  assert.ok(j.durationMs >= j.idealDurationMs, 'no rollout beats the ideal');
  // Every supported node's spans reached the embedded collector, the one the policy names.
  assert.match(r.stdout, /embedded collector: OTLP\/gRPC at (127\.0\.0\.1:\d+)/);
  assert.equal(j.spans.collector, /embedded collector: OTLP\/gRPC at (\S+);/.exec(r.stdout)?.[1]);
  assert.match(r.stdout, new RegExp(`endpoint ${j.spans.collector.replace(/\./g, '\\.')}, samplingRatePerMillion 250000`));
  checkSpans(j.spans, 100, ['node-01']);
  assert.equal(j.spans.nodes.length, 12);
  assert.match(r.stdout, /^node-02 +v1\.25\.16 +\d+ +\d+ +\d+\.\d% +25\.0% +(ok|too few)/m);
  assert.match(r.stdout, /^node-01 +v1\.24\.17 +0 +0 +- +no tracing +none expected/m);
  assert.match(r.stdout, /SPANS OK: all 11 traced kubelets reached the collector/);
});

test('kto demo with a node whose kubelet rejects the config: rolled back, named with the reason, exit 1', async () => {
  const report = join(dir, 'fail.json');
  const r = await runKto(['demo', '--nodes', '6', '--restart-ms', '50', '--fail-nodes', 'node-03', '--report', report], { timeoutMs: 90_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // The demo tolerates the failures it asked for (maxFailures = --fail-nodes); rolled back and
  // Ready, node-03 takes no maxUnavailable slot, so every other node is updated.
  assert.match(r.stdout, /NOT CONVERGED: 4\/5 supported nodes updated, 1 failed, 1 unsupported/);
  assert.match(r.stdout, /^ {2}node-03 rolled back: .*(reject|tracing)/im);
  // The rolled-back kubelet runs its old config: no tracing, no spans; the others send theirs.
  const j = JSON.parse(await readFile(report, 'utf8')) as Report;
  checkSpans(j.spans, 50, ['node-01', 'node-03']);
  assert.match(r.stdout, /^node-03 +v1\.26\.15 +0 +0 +- +no tracing +none expected/m);
});

test('kto demo: a bad --kubelet-spans-per-second is refused, naming the flag (exit 2)', async () => {
  const r = await runKto(['demo', '--kubelet-spans-per-second', 'fast'], { timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /--kubelet-spans-per-second.*must be a number >= 0/);
});

test('kto demo: bad input is refused up front, naming the flag (exit 2), before anything starts', async () => {
  const cases: [string[], RegExp][] = [
    [['--max-unavailable', '150%'], /--max-unavailable.*must be an integer >= 1 or a percentage 1%\.\.100%/],
    [['--max-unavailable', '0'], /--max-unavailable.*must be an integer >= 1/],
    [['--fail-nodes', 'node-99'], /--fail-nodes: no node named "node-99": the cluster's nodes are node-01 \.\. node-20/],
    [['--nodes', 'abc'], /--nodes.*must be a whole number >= 1/],
    [['--versions', 'v1.24.0'], /--versions: no node can take tracing \(kubelet v1\.24\.0; tracing needs v1\.25 or later\)/],
    [['--versions', 'latest'], /--versions: "latest" is not a kubelet version/],
    [['--kubelet-spans-per-second', '0'], /--kubelet-spans-per-second: the demo checks that every traced kubelet's spans arrive/],
  ];
  for (const [args, want] of cases) {
    const r = await runKto(['demo', ...args], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.doesNotMatch(r.stdout, /embedded cluster/, `${args.join(' ')}: nothing started`);
  }
});

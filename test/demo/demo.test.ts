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

interface Report {
  nodes: number;
  converged: number;
  unsupported: number;
  maxUnavailable: number;
  maxConcurrentRestarts: number;
  durationMs: number;
  idealDurationMs: number;
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
});

test('kto demo with a node whose kubelet rejects the config: rolled back, named with the reason, exit 1', async () => {
  const r = await runKto(['demo', '--nodes', '6', '--restart-ms', '50', '--fail-nodes', 'node-03'], { timeoutMs: 90_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // The demo tolerates the failures it asked for (maxFailures = --fail-nodes); rolled back and
  // Ready, node-03 takes no maxUnavailable slot, so every other node is updated.
  assert.match(r.stdout, /NOT CONVERGED: 4\/5 supported nodes updated, 1 failed, 1 unsupported/);
  assert.match(r.stdout, /^ {2}node-03 rolled back: .*(reject|tracing)/im);
});

test('kto demo: bad input is refused up front, naming the flag (exit 2), before anything starts', async () => {
  const cases: [string[], RegExp][] = [
    [['--max-unavailable', '150%'], /--max-unavailable.*must be an integer >= 1 or a percentage 1%\.\.100%/],
    [['--max-unavailable', '0'], /--max-unavailable.*must be an integer >= 1/],
    [['--fail-nodes', 'node-99'], /--fail-nodes: no node named "node-99": the cluster's nodes are node-01 \.\. node-20/],
    [['--nodes', 'abc'], /--nodes.*must be a whole number >= 1/],
    [['--versions', 'v1.24.0'], /--versions: no node can take tracing \(kubelet v1\.24\.0; tracing needs v1\.25 or later\)/],
    [['--versions', 'latest'], /--versions: "latest" is not a kubelet version/],
  ];
  for (const [args, want] of cases) {
    const r = await runKto(['demo', ...args], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, want, args.join(' '));
    assert.doesNotMatch(r.stdout, /embedded cluster/, `${args.join(' ')}: nothing started`);
  }
});

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
  assert.match(r.stdout, /CONVERGED: 11\/11 supported nodes updated, 0 failed \(rolled back\), 1 unsupported/);
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

test('kto demo with a node whose kubelet rejects the config: rolled back, exit 1', async () => {
  const r = await runKto(['demo', '--nodes', '6', '--restart-ms', '50', '--fail-nodes', 'node-03'], { timeoutMs: 90_000 });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  // The failed node holds one of the maxUnavailable slots: depending on where the stable order
  // puts node-03, the others finish first or the rollout reports itself blocked behind it.
  assert.match(r.stdout, /NOT CONVERGED: [0-4]\/5 supported nodes updated, 1 failed \(rolled back\)/);
});

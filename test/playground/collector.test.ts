// `kto sim --collector` as the README drives it: the banner names the collector's endpoint and
// the command that applies a policy pointing at it; as the rollout reaches each node, its spans
// show in GET /spans and in the sim's output.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';

let dir = '';
const children: Child[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-collector-'));
});
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

interface Spans {
  total: number;
  nodes: Record<string, { spans: number; firstAt: number; lastAt: number }>;
}

test('kto sim --collector: a policy with the printed endpoint brings every supported node\'s spans', async () => {
  const kc = join(dir, 'kc');
  // Port 0: a fixed port would collide with other test files running at the same time.
  const sim = startKto(['sim', '--nodes', '4', '--versions', 'v1.24.17,v1.26.15,v1.30.10,v1.33.1', '--restart-ms', '100', '--kubelet-spans-per-second', '20', '--collector', '0', '--kubeconfig', kc]);
  children.push(sim);
  const banner = await sim.waitFor(/embedded collector: OTLP\/gRPC on (127\.0\.0\.1:\d+) .*curl (http:\/\/\S+\/spans)[\s\S]*Ctrl-C/);
  const [endpoint, spansUrl] = [banner[1] ?? '', banner[2] ?? ''];
  assert.match(sim.output(), new RegExp(`spec\\.tracing\\.endpoint: ${endpoint.replace(/\./g, '\\.')}`));
  // The banner's own command: the example with the endpoint put in.
  const apply = new RegExp(`^ {2}sed 's\\|127\\.0\\.0\\.1:4317\\|${endpoint.replace(/\./g, '\\.')}\\|' examples/sim-collector\\.yaml \\| kubectl --kubeconfig \\S+ apply -f -$`, 'm');
  assert.match(sim.output(), apply);
  const ctl = startKto(['controller', '--kubeconfig', kc, '--log-level', 'warn', '--metrics-port', '0']);
  children.push(ctl);
  const policy = (await readFile('examples/sim-collector.yaml', 'utf8')).replaceAll('127.0.0.1:4317', endpoint);
  const applied = await run('kubectl', ['--kubeconfig', kc, 'apply', '-f', '-'], { input: policy, timeoutMs: 30_000 });
  assert.equal(applied.code, 0, applied.stderr);

  const before = (await (await fetch(spansUrl)).json()) as Spans;
  assert.ok(Object.keys(before.nodes).every((n) => n !== 'node-01'));
  await sim.waitFor(/\[collector [\d:]+\] first spans from .*: 3 nodes sending/, 60_000);
  const got = (await (await fetch(spansUrl)).json()) as Spans;
  assert.deepEqual(Object.keys(got.nodes), ['node-02', 'node-03', 'node-04'], 'every supported node, and not the v1.24 one');
  assert.ok(Object.values(got.nodes).every((n) => n.spans > 0 && n.firstAt <= n.lastAt));
  await ctl.stop('SIGTERM');
  const s = await sim.stop('SIGTERM');
  assert.equal(s.code, 0);
});

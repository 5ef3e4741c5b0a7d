// The playground of the README, as a user runs it: `kto sim` and `kto controller` as separate
// processes, driven with the installed kubectl.
import assert from 'node:assert/strict';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';
import { waitFor } from '../helpers/poll.js';

let dir = '';
const children: Child[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-playground-'));
});
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const kubectl = (kc: string, ...args: string[]) => run('kubectl', ['--kubeconfig', kc, ...args], { timeoutMs: 30_000 });

async function jsonpath(kc: string, name: string, path: string): Promise<string> {
  const r = await kubectl(kc, 'get', 'ntp', name, '-o', `jsonpath=${path}`);
  return r.code === 0 ? r.stdout : '';
}

const until = (what: string, fn: () => Promise<boolean>, diagnose: () => Promise<string>, timeoutMs = 90_000): Promise<true> => waitFor(what, fn, timeoutMs, 300, diagnose);

/** What a person would look at when the rollout does not finish. */
async function diagnose(kc: string, ...procs: Child[]): Promise<string> {
  const policy = await kubectl(kc, 'get', 'ntp', '-o', 'yaml');
  const nodes = await kubectl(kc, 'get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.metadata.annotations}{"\\n"}{end}');
  return [policy.stdout, policy.stderr, nodes.stdout, ...procs.map((p) => p.output().slice(-3000))].join('\n---\n');
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function startPlayground(name: string, simArgs: string[]): Promise<{ kc: string; sim: Child; ctl: Child; port: number; hostDir: string }> {
  const kc = join(dir, `${name}.kubeconfig`);
  const sim = startKto(['sim', '--nodes', '5', '--versions', 'v1.26.15,v1.30.10,v1.33.1', '--restart-ms', '150', '--kubeconfig', kc, ...simArgs]);
  children.push(sim);
  const ready = await sim.waitFor(/embedded cluster ready: http:\/\/127\.0\.0\.1:(\d+)[\s\S]*host dirs under (\S+)/);
  const port = Number(ready[1]);
  const hostDir = ready[2] ?? '';
  // No metrics server: a fixed port would collide with other test files running at the same time.
  const ctl = startKto(['controller', '--kubeconfig', kc, '--log-level', 'warn', '--metrics-port', '0']);
  children.push(ctl);
  const applied = await kubectl(kc, 'apply', '-f', 'crds/', '-f', 'examples/basic.yaml');
  assert.equal(applied.code, 0, applied.stderr);
  assert.match(applied.stdout, /nodetracingpolicy.nodetracing.dev\/basic created/);
  return { kc, sim, ctl, port, hostDir };
}

test('playground: kto sim + kto controller + kubectl apply converge; both stop cleanly on signals', async () => {
  const { kc, sim, ctl, port, hostDir } = await startPlayground('happy', []);
  await until('updatedNodes == targetNodes and Ready', async () => {
    const [t, u, r] = [await jsonpath(kc, 'basic', '{.status.targetNodes}'), await jsonpath(kc, 'basic', '{.status.updatedNodes}'), await jsonpath(kc, 'basic', '{.status.conditions[?(@.type=="Ready")].status}')];
    return t === '5' && u === '5' && r === 'True';
  }, () => diagnose(kc, sim, ctl));
  const table = await kubectl(kc, 'get', 'ntp');
  assert.match(table.stdout, /NAME\s+TARGET\s+UPDATED\s+FAILED\s+READY\s+REASON\s+AGE/);
  assert.match(table.stdout, /basic\s+5\s+5\s+0\s+True\s+RolloutComplete\s/);
  // The project's category lists its kinds.
  assert.match((await kubectl(kc, 'get', 'nodetracing')).stdout, /^basic\s+5\s+5\s+0\s+True\s+RolloutComplete\s/m);
  const nodes = await kubectl(kc, 'get', 'nodes', '-L', 'nodetracing.dev/state');
  assert.equal(nodes.code, 0, nodes.stderr);

  const c = await ctl.stop('SIGINT');
  assert.ok(c.ms < 2000, `controller took ${c.ms} ms to stop`);
  assert.equal(c.code, 0);
  const s = await sim.stop('SIGTERM');
  assert.ok(s.ms < 2000, `sim took ${s.ms} ms to stop`);
  assert.equal(s.code, 0);
  assert.equal(await portOpen(port), false, 'the API server port is released');
  await assert.rejects(access(hostDir), 'host directories removed');
  await assert.rejects(access(kc), 'kubeconfig removed');
});

test('playground with --fail-nodes: the failing node is rolled back and the policy Degraded', async () => {
  const { kc, sim, ctl } = await startPlayground('fail', ['--fail-nodes', 'node-01,node-02,node-03,node-04,node-05']);
  // The banner says what works after `npm ci`, and echoes the failing nodes.
  assert.match(sim.output(), /^ {2}npx kto controller --kubeconfig \S+$/m);
  assert.match(sim.output(), /the kubelets of node-01, node-02, node-03, node-04, node-05 reject any tracing config \(--fail-nodes\)/);
  await until('Degraded', async () => (await jsonpath(kc, 'basic', '{.status.conditions[?(@.type=="Degraded")].status}')) === 'True', () => diagnose(kc, sim, ctl));
  assert.equal(await jsonpath(kc, 'basic', '{.status.failedNodes}'), '1');
  const nodes = await kubectl(kc, 'get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.annotations.nodetracing\\.dev/state}{"\\n"}{end}');
  assert.equal(nodes.stdout.split('\n').filter((l) => l === 'RolledBack').length, 1);
  const described = await kubectl(kc, 'describe', 'ntp', 'basic');
  assert.equal(described.code, 0, described.stderr);
  assert.match(described.stdout, /NodeFailed|RolloutHalted/);
  await ctl.stop('SIGTERM');
  await sim.stop('SIGINT');
});

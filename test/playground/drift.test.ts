// Drift in the playground, as a `kto sim` user makes it: the commands the banner prints (edit a
// node's drop-in with sed, upgrade a kubelet through its node proxy with kubectl), run as printed,
// against `kto sim` and `kto controller` as separate processes.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';

let dir = '';
const children: Child[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-playground-drift-'));
});
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const kubectl = (kc: string, ...args: string[]) => run('kubectl', ['--kubeconfig', kc, ...args], { timeoutMs: 30_000 });

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const jsonpath = async (kc: string, what: string[], path: string): Promise<string> => (await kubectl(kc, 'get', ...what, '-o', `jsonpath=${path}`)).stdout;

test('the banner says how to drift a node and upgrade a kubelet, and those commands do it', async () => {
  const kc = join(dir, 'kubeconfig');
  const sim = startKto(['sim', '--nodes', '2', '--versions', 'v1.30.10', '--restart-ms', '100', '--kubeconfig', kc]);
  children.push(sim);
  await sim.waitFor(/Ctrl-C stops the cluster/);
  const lines = sim.output().split('\n');
  const sed = lines.find((l) => l.startsWith('  sed -i '))?.trim();
  const upgrade = lines.find((l) => l.includes('/proxy/sim/upgrade'))?.trim();
  assert.ok(sed && upgrade, sim.output());
  const ctl = startKto(['controller', '--kubeconfig', kc, '--log-level', 'warn', '--metrics-port', '0']);
  children.push(ctl);
  assert.equal((await kubectl(kc, 'apply', '-f', 'examples/basic.yaml')).code, 0);
  const converged = async () => (await jsonpath(kc, ['ntp', 'basic'], '{.status.updatedNodes}/{.status.targetNodes}/{.status.driftedNodes}')) === '2/2/0';
  await until('converged', converged);

  const edited = await run('sh', ['-c', sed]);
  assert.equal(edited.code, 0, edited.stderr);
  await until('drift reported', async () => /90-nodetracing\.conf was changed: tracing\.samplingRatePerMillion is 1, want 10000/.test(await jsonpath(kc, ['events', '-A', '--field-selector', 'reason=TracingConfigDrifted'], '{.items[*].message}')));
  await until('repaired', converged);

  const upgraded = await run('sh', ['-c', upgrade]);
  assert.equal(upgraded.code, 0, upgraded.stderr);
  assert.match(upgraded.stdout, /"from":"v1\.30\.10","to":"v1\.31\.0"/);
  await until('the Node reports the new kubelet', async () => (await jsonpath(kc, ['node', 'node-01'], '{.status.nodeInfo.kubeletVersion}')) === 'v1.31.0');
  const bad = await kubectl(kc, 'create', '--raw', '/api/v1/nodes/node-01/proxy/sim/upgrade', '-f', '-');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /BadRequest.*version: undefined is not a kubelet version/);
  await ctl.stop('SIGTERM');
  await sim.stop('SIGINT');
});

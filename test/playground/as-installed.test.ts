// `kto sim --as-installed`, as a user runs it (the README's "Try it by hand"): the sim installs the
// chart's ServiceAccounts, RBAC and agent guard and runs its agents as the chart's agent; `kto
// controller` runs as a separate process on the controller kubeconfig the sim writes, with exactly
// the chart's rights; a policy applied with kubectl converges, and the controller's kubeconfig is
// refused what the chart does not grant.
import assert from 'node:assert/strict';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AS_INSTALLED } from '../../src/sim/as-installed.js';
import { run } from '../helpers/cli.js';
import { startKto, type Child } from '../helpers/proc.js';
import { waitFor } from '../helpers/poll.js';

let dir = '';
const children: Child[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-as-installed-'));
});
after(async () => {
  for (const c of children) await c.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

const NS = AS_INSTALLED.namespace;
const CONTROLLER = `system:serviceaccount:${NS}:${AS_INSTALLED.controllerServiceAccount}`;
const AGENT = `system:serviceaccount:${NS}:${AS_INSTALLED.agentServiceAccount}`;
const kubectl = (kc: string, ...args: string[]) => run('kubectl', ['--kubeconfig', kc, '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 30_000 });

const until = (what: string, fn: () => Promise<boolean>, diagnose: () => string, timeoutMs = 90_000): Promise<true> => waitFor(what, fn, timeoutMs, 300, diagnose);

test('kto sim --as-installed: agents under the chart agent identity, kto controller on <kubeconfig>.controller with only the chart rights', async () => {
  const kc = join(dir, 'kubeconfig');
  const controllerKc = `${kc}.controller`;
  const sim = startKto(['sim', '--as-installed', '--nodes', '4', '--versions', 'v1.26.15,v1.30.10,v1.33.1', '--restart-ms', '150', '--kubeconfig', kc]);
  children.push(sim);
  await sim.waitFor(/Ctrl-C stops the cluster/);
  const banner = sim.output();
  assert.match(banner, new RegExp(`a node agent on each \\(ServiceAccount ${NS}/${AS_INSTALLED.agentServiceAccount}, token bound to its Node\\)`));
  assert.ok(banner.includes(`kubeconfig: ${controllerKc} (ServiceAccount ${NS}/${AS_INSTALLED.controllerServiceAccount}: only what the chart grants it)`), banner);
  assert.ok(banner.includes(`kto controller --kubeconfig ${controllerKc} --lease-namespace ${NS}`), banner);

  // The controller kubeconfig is the controller's ServiceAccount, and has no more than the chart grants.
  const who = await kubectl(controllerKc, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}');
  assert.equal(who.stdout, CONTROLLER, who.stderr);
  const secrets = await kubectl(controllerKc, 'get', 'secrets', '-A');
  assert.equal(secrets.code, 1);
  assert.equal(secrets.stderr.trim(), `Error from server (Forbidden): secrets is forbidden: User "${CONTROLLER}" cannot list resource "secrets" in API group "" at the cluster scope`);
  const del = await kubectl(controllerKc, 'delete', 'node', 'node-01');
  assert.equal(del.stderr.trim(), `Error from server (Forbidden): nodes "node-01" is forbidden: User "${CONTROLLER}" cannot delete resource "nodes" in API group "" at the cluster scope`);

  // The agents run as the chart's agent: take its ClusterRoleBinding away and their reports are refused.
  const binding = await kubectl(kc, 'get', 'clusterrolebinding', AS_INSTALLED.agentServiceAccount, '-o', 'yaml');
  assert.equal(binding.code, 0, binding.stderr);
  const saved = join(dir, 'agent-binding.yaml');
  await writeFile(saved, binding.stdout);
  assert.equal((await kubectl(kc, 'delete', 'clusterrolebinding', AS_INSTALLED.agentServiceAccount)).code, 0);

  const ctl = startKto(['controller', '--kubeconfig', controllerKc, '--lease-namespace', NS, '--log-level', 'warn', '--metrics-port', '0']);
  children.push(ctl);
  const applied = await kubectl(kc, 'apply', '-f', 'examples/basic.yaml');
  assert.equal(applied.code, 0, applied.stderr);
  // (The sim logs the agent's error as JSON inside JSON: the quotes come escaped, once or twice.)
  await sim.waitFor(new RegExp(`${AGENT}[\\\\"]+ cannot patch resource [\\\\"]+nodes[\\\\"]+ in API group`), 60_000);
  const restored = await kubectl(kc, 'apply', '-f', saved);
  assert.equal(restored.code, 0, restored.stderr);

  const jsonpath = async (path: string): Promise<string> => (await kubectl(kc, 'get', 'ntp', 'basic', '-o', `jsonpath=${path}`)).stdout;
  await until(
    'basic: 4 of 4 nodes updated, Ready',
    async () => (await jsonpath('{.status.targetNodes} {.status.updatedNodes} {.status.conditions[?(@.type=="Ready")].status}')) === '4 4 True',
    () => [sim.output().slice(-3000), ctl.output().slice(-3000)].join('\n---\n'),
  );
  // The controller led on the chart's Lease, in the chart's namespace.
  const lease = await kubectl(kc, '-n', NS, 'get', 'lease', AS_INSTALLED.leaseName, '-o', 'jsonpath={.spec.holderIdentity}');
  assert.notEqual(lease.stdout, '', lease.stderr);
  assert.doesNotMatch(ctl.output(), /40[13]|[Ff]orbidden/, 'the controller was refused something it needs');

  assert.equal((await ctl.stop('SIGTERM')).code, 0);
  assert.equal((await sim.stop('SIGINT')).code, 0);
  await assert.rejects(access(controllerKc), 'the controller kubeconfig is removed with the sim');
});

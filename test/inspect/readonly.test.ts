// kto plan and kto status only read: the API server sees lists and watches from them, no write.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { runKto } from '../helpers/cli.js';
import { waitFor } from '../helpers/poll.js';
import { startKto } from '../helpers/proc.js';
import { newPolicy } from '../../src/api/policy.js';
import { adminKubeConfig } from '../../src/sim/kubeconfig.js';

let cluster: SimCluster;
let dir = '';
let kc = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-readonly-'));
  kc = join(dir, 'kubeconfig');
  cluster = await SimCluster.start({ nodes: 4, versions: ['v1.24.17', 'v1.30.10'], agents: false, installCrd: true });
  await cluster.server.writeKubeconfig(kc);
  const body = newPolicy('basic');
  await adminKubeConfig(cluster.server).makeApiClient(k8s.CustomObjectsApi).createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body });
});
after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

test('kto plan, kto status and kto status -w write nothing to the API server', async () => {
  cluster.server.resetRequestCounts();
  const plan = await runKto(['plan', '-f', 'examples/basic.yaml', 'examples/workers-canary.yaml', '--kubeconfig', kc, '-o', 'json'], { timeoutMs: 30_000 });
  assert.equal(plan.code, 0, plan.stderr);
  const status = await runKto(['status', 'basic', '--kubeconfig', kc], { timeoutMs: 30_000 });
  assert.equal(status.code, 0, status.stderr);
  const watch = startKto(['status', '-w', '--kubeconfig', kc]);
  await watch.waitFor(/^basic\s/m);
  // Its watches start once the lists are drawn; one cut by the SIGINT before the server read it
  // would not be counted.
  await waitFor('kto status -w watching', () => (cluster.server.requestCounts().byVerb.watch ?? 0) >= 2, 10_000, 10);
  assert.equal((await watch.stop('SIGINT')).code, 0);
  const counts = cluster.server.requestCounts();
  assert.equal(counts.writes, 0, JSON.stringify(counts.byVerb));
  assert.ok((counts.byVerb.list ?? 0) >= 4, JSON.stringify(counts.byVerb));
  assert.ok((counts.byVerb.watch ?? 0) >= 2, JSON.stringify(counts.byVerb));
});

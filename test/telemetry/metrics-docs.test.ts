// docs/metrics.md against live /metrics of `kto controller` and `kto agent`, each run as a
// process (tracing on, so the span counters exist) against the embedded cluster, with a policy so
// the per-policy series have samples. Both directions: every documented metric is served with
// its type and labels, and every kto_* / workqueue_* metric served is documented.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { documentedMetrics, families, type Component, type Family } from '../helpers/metrics-doc.js';
import { startKto, type Child } from '../helpers/proc.js';
import { waitFor } from '../helpers/rollout.js';
import { OtlpReceiver } from './harness.js';
import { newPolicy } from '../../src/api/policy.js';
import { adminKubeConfig } from '../../src/sim/kubeconfig.js';

let dir = '';
let cluster: SimCluster | undefined;
let receiver: OtlpReceiver | undefined;
const children: Child[] = [];
const urls = { Controller: '', Agent: '' };

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kto-metrics-docs-'));
  cluster = await SimCluster.start({ nodes: 1, agents: false, versions: ['v1.30.0'], installCrd: true });
  const kc = join(dir, 'kubeconfig');
  await cluster.server.writeKubeconfig(kc);
  receiver = await OtlpReceiver.start();
  const [ctlPort, agentPort] = await freePorts(2);
  const otlp = ['--otlp-endpoint', receiver.httpEndpoint];
  const node = [...cluster.kubelets.keys()][0] ?? '';
  children.push(startKto(['controller', '--kubeconfig', kc, '--lease-namespace', 'kube-system', '--metrics-port', String(ctlPort), ...otlp]));
  children.push(startKto(['agent', '--kubeconfig', kc, '--node-name', node, '--host-root', dir, '--metrics-port', String(agentPort), ...otlp]));
  urls.Controller = `http://127.0.0.1:${ctlPort}/metrics`;
  urls.Agent = `http://127.0.0.1:${agentPort}/metrics`;
  // Selects no node: reconciled (status, conditions, per-policy series), nothing restarted.
  const body = newPolicy('docs', { nodeSelector: { matchLabels: { 'kto.test/none': 'x' } } });
  await adminKubeConfig(cluster.server).makeApiClient(k8s.CustomObjectsApi).createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body });
});

after(async () => {
  for (const c of children) await c.stop();
  await receiver?.stop();
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Ports free right now, all different (held together, then released for the processes). */
async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = Array.from({ length: n }, () => createServer());
  const ports = await Promise.all(servers.map((srv) => new Promise<number>((resolve) => srv.listen(0, '127.0.0.1', () => resolve((srv.address() as AddressInfo).port)))));
  await Promise.all(servers.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

async function scrape(url: string): Promise<string | undefined> {
  try {
    const r = await fetch(url);
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

function compare(component: Component, served: Map<string, Family>): void {
  const docs = documentedMetrics(component);
  assert.ok(docs.size > 0);
  const problems: string[] = [];
  for (const [name, d] of docs) {
    const f = served.get(name);
    if (!f) problems.push(`${name}: documented, not served`);
    else if (f.type !== d.type) problems.push(`${name}: documented as a ${d.type}, served as a ${f.type}`);
    else if (f.samples > 0 && [...f.labels].sort().join(',') !== [...d.labels].sort().join(',')) {
      problems.push(`${name}: documented labels [${d.labels.join(', ')}], served [${[...f.labels].join(', ')}]`);
    }
  }
  for (const name of served.keys()) {
    if (/^(kto|workqueue)_/.test(name) && !docs.has(name)) problems.push(`${name}: served, not in docs/metrics.md (## ${component})`);
  }
  assert.deepEqual(problems, [], `${component}:\n${problems.join('\n')}`);
}

test('kto controller: docs/metrics.md lists exactly what it serves', async () => {
  const text = await waitFor(
    'the controller reporting the policy',
    async () => {
      const t = await scrape(urls.Controller);
      return t !== undefined && /kto_policy_condition\{policy="docs",type="Ready",status="False"\} 1/.test(t) && /kto_policy_nodes\{policy="docs"/.test(t) ? t : undefined;
    },
    60_000,
    250,
  ).catch((err: unknown) => assert.fail(`${String(err)}\n${children[0]?.output().slice(-3000) ?? ''}`));
  const served = families(text);
  compare('Controller', served);
  // The series the per-policy rows promise, on this live process.
  assert.equal(served.get('kto_leader')?.samples, 1);
  assert.ok((served.get('kto_build_info')?.labels.size ?? 0) >= 2);
});

test('kto agent: docs/metrics.md lists exactly what it serves', async () => {
  const text = await waitFor('the agent serving /metrics', () => scrape(urls.Agent), 60_000, 250).catch((err: unknown) => assert.fail(`${String(err)}\n${children[1]?.output().slice(-3000) ?? ''}`));
  compare('Agent', families(text));
});

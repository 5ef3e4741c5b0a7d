// /metrics after a real rollout, scraped over HTTP and parsed from the text format; /healthz and
// /readyz codes, including a standby controller's readiness.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { CRD_NAME } from '../../src/api/crd.js';
import { CRDS } from '../../src/sim/apiserver/index.js';
import { Controller } from '../../src/controller/controller.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { controllerReadiness } from '../../src/telemetry/controller.js';
import { startTelemetryServer, type TelemetryServer } from '../../src/telemetry/http.js';
import { controllerMetrics, Registry } from '../../src/telemetry/metrics.js';
import { waitFor } from '../helpers/poll.js';
import { type RolloutEnv, startRolloutEnv } from './harness.js';
import { adminKubeConfig } from '../../src/sim/kubeconfig.js';

const NODES = 5;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition format, the sample lines. */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `unparsable line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(hits.length > 0, `no sample ${name}${JSON.stringify(labels)}`);
  return hits.reduce((a, s) => a + s.value, 0);
}

async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
}

describe('metrics after a rollout', () => {
  let env: RolloutEnv;
  let server: TelemetryServer;
  let ready = false;
  let live = true;

  before(async () => {
    env = await startRolloutEnv({ nodes: NODES, restartMs: 50, maxUnavailable: 2 });
    server = await startTelemetryServer({
      port: 0,
      host: '127.0.0.1',
      registry: env.registry,
      live: () => ({ ok: live }),
      ready: () => (ready ? controllerReadiness({ ...env.controller.leadership(), leaderElection: false }) : { ok: false, reason: 'test says no' }),
    });
  });

  after(async () => {
    await server.close();
    await env.stop(1_000);
  });

  test('counters and gauges match the rollout', async () => {
    await env.rollout('measured', 30_000);
    // The rollout ends in the controller when it computes the summary; the condition gauge reads
    // the policy cache, which sees the Ready status once its write comes back over the watch.
    await waitFor('Ready=True in the policy cache', () =>
      env.controller.policyCache().some((p) => p.metadata.name === 'measured' && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')),
    );
    const r = await get(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    const s = parseMetrics(r.body);
    assert.equal(value(s, 'kto_node_restarts_total'), NODES);
    assert.equal(value(s, 'kto_node_rollbacks_total'), 0);
    assert.equal(value(s, 'kto_policy_nodes', { policy: 'measured', phase: 'Updated' }), NODES);
    for (const phase of ['Soaking', 'InProgress', 'Failed', 'Pending', 'Unsupported']) {
      assert.equal(value(s, 'kto_policy_nodes', { policy: 'measured', phase }), 0, phase);
    }
    assert.equal(value(s, 'kto_rollout_progress_ratio', { policy: 'measured' }), 1);
    assert.equal(value(s, 'kto_agent_apply_duration_seconds_count', { state: 'Applied' }), NODES);
    // Each node was patched at least once to release it.
    assert.ok(value(s, 'kto_api_writes_total', { verb: 'patch', resource: 'nodes', code: '200' }) >= NODES);
    assert.ok(value(s, 'kto_api_writes_total', { resource: 'nodetracingpolicies/status' }) > 0);
    const reconciles = value(s, 'kto_reconcile_total', { policy: 'measured' });
    assert.ok(reconciles >= 2);
    assert.equal(value(s, 'kto_reconcile_duration_seconds_count'), value(s, 'kto_reconcile_total'));
    assert.equal(value(s, 'kto_reconcile_errors_total'), 0);
    // controller-runtime's work-queue metrics, under its names and labels.
    const q = { name: 'nodetracingpolicy', controller: 'nodetracingpolicy' };
    assert.equal(value(s, 'workqueue_depth', q), env.controller.queueStats().depth);
    assert.equal(value(s, 'workqueue_retries_total', q), 0);
    // One scrape is one snapshot; a run is counted as a reconcile before it is timed as work.
    const runs = value(s, 'workqueue_work_duration_seconds_count', q);
    assert.ok(runs >= 1 && runs <= value(s, 'kto_reconcile_total'), `${runs} runs`);
    assert.ok(value(s, 'workqueue_queue_duration_seconds_count', q) >= runs);
    assert.ok(value(s, 'workqueue_adds_total', q) >= value(s, 'workqueue_queue_duration_seconds_count', q));
    assert.equal(value(s, 'workqueue_longest_running_processor_seconds', q) >= 0, true);
    // The only replica acts; the policy's conditions, one series per status.
    assert.equal(value(s, 'kto_leader'), 1);
    assert.equal(value(s, 'kto_policy_condition', { policy: 'measured', type: 'Ready', status: 'True' }), 1);
    assert.equal(value(s, 'kto_policy_condition', { policy: 'measured', type: 'Ready', status: 'False' }), 0);
    assert.equal(value(s, 'kto_policy_condition', { policy: 'measured', type: 'Stalled', status: 'False' }), 1);
    assert.equal(s.filter((x) => x.name === 'kto_policy_condition' && x.labels['policy'] === 'measured').length, 5 * 3);
    // Listed once each, nothing since: no relist yet.
    assert.equal(s.filter((x) => x.name === 'kto_informer_relists_total').length, 0);
    // Tracing is off here: nothing exported, nothing failed, nothing dropped (no counters at all).
    assert.equal(s.filter((x) => x.name.startsWith('kto_spans_')).length, 0);
  });

  test('a deleted policy leaves no per-policy series behind', async () => {
    const custom = adminKubeConfig(env.cluster.server).makeApiClient(k8s.CustomObjectsApi);
    await custom.deleteClusterCustomObject({ group: 'nodetracing.dev', version: 'v1alpha1', plural: 'nodetracingpolicies', name: 'measured' });
    const left = async (): Promise<Sample[]> => parseMetrics((await get(`${server.url}/metrics`)).body).filter((x) => x.labels['policy'] === 'measured');
    const deadline = Date.now() + 15_000;
    let series = await left();
    while (series.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      series = await left();
    }
    assert.deepEqual(series.map((x) => `${x.name}${JSON.stringify(x.labels)}`), []);
  });

  test('/healthz and /readyz', async () => {
    assert.equal((await get(`${server.url}/healthz`)).status, 200);
    const notReady = await get(`${server.url}/readyz`);
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /test says no/);
    ready = true;
    assert.equal((await get(`${server.url}/readyz`)).status, 200);
    live = false;
    assert.equal((await get(`${server.url}/healthz`)).status, 503);
    assert.equal((await get(`${server.url}/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/metrics`, { method: 'POST' })).status, 405);
  });
});

describe('scrape-time metrics follow leadership', () => {
  test('a standby reports kto_leader 0 and no per-policy gauges (they would go stale); the leader reports conditions from its cache', async () => {
    const registry = new Registry();
    const m = controllerMetrics(registry);
    let leading = true;
    m.source = {
      leader: () => leading,
      queue: () => ({ depth: 2, unfinishedSeconds: 1.5, longestRunningSeconds: 1 }),
      policies: () => [{ metadata: { name: 'p' }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'RolloutComplete', message: '', lastTransitionTime: '' }] } }],
    };
    m.policyNodes.set({ policy: 'p', phase: 'Updated' }, 3);
    m.rolloutProgress.set({ policy: 'p' }, 1);
    const scrape = async (): Promise<Sample[]> => parseMetrics(await registry.metrics());
    const lead = await scrape();
    assert.equal(value(lead, 'kto_leader'), 1);
    assert.equal(value(lead, 'kto_policy_nodes', { policy: 'p', phase: 'Updated' }), 3);
    assert.deepEqual(
      lead.filter((x) => x.name === 'kto_policy_condition').map((x) => `${x.labels['status'] ?? ''}=${x.value}`),
      ['True=1', 'False=0', 'Unknown=0'],
    );
    assert.equal(value(lead, 'workqueue_depth', { name: 'nodetracingpolicy' }), 2);
    assert.equal(value(lead, 'workqueue_unfinished_work_seconds'), 1.5);
    leading = false;
    const standby = await scrape();
    assert.equal(value(standby, 'kto_leader'), 0);
    assert.deepEqual(standby.filter((x) => x.labels['policy'] !== undefined).map((x) => x.name), []);
  });
});

describe('readiness rules', () => {
  test('controller: synced, and leader or a standby that knows the leader', () => {
    assert.deepEqual(controllerReadiness({ synced: false, leader: false, holder: undefined, leaderElection: true }).ok, false);
    assert.equal(controllerReadiness({ synced: true, leader: true, holder: undefined, leaderElection: true }).ok, true);
    assert.equal(controllerReadiness({ synced: true, leader: false, holder: 'other-1', leaderElection: true }).ok, true);
    const unknown = controllerReadiness({ synced: true, leader: false, holder: undefined, leaderElection: true });
    assert.equal(unknown.ok, false);
    assert.match(unknown.reason ?? '', /leader unknown/);
  });

  test('controller: a replica that lost the Lease it held is not a standby of itself', () => {
    const lost = controllerReadiness({ synced: true, leader: false, holder: 'ctl-a', identity: 'ctl-a', leaderElection: true });
    assert.equal(lost.ok, false);
    assert.doesNotMatch(lost.reason ?? '', /leader is ctl-a/);
    assert.match(lost.reason ?? '', /lost the Lease/);
  });

  test('controller: caches that cannot be listed make it not ready, naming why', () => {
    const r = controllerReadiness({ synced: true, leader: true, holder: undefined, leaderElection: false, problem: 'NodeTracingPolicy cache: list failed: HTTP 404' });
    assert.deepEqual(r, { ok: false, reason: 'NodeTracingPolicy cache: list failed: HTTP 404' });
  });

  test('two groups on one registry, and two registries side by side, do not collide', () => {
    const a = new Registry();
    assert.equal(controllerMetrics(a), controllerMetrics(a));
    assert.notEqual(controllerMetrics(new Registry()), controllerMetrics(a));
  });
});

describe('readiness with leader election', () => {
  let cluster: SimCluster | undefined;
  const controllers: Controller[] = [];
  after(async () => {
    await Promise.all(controllers.map((c) => c.stop()));
    await cluster?.stop();
  });

  test('the leader is ready; the standby is ready once it has seen the holder', async () => {
    cluster = await SimCluster.start({ nodes: 1, agents: false, versions: ['v1.30.0'], installCrd: true });
    const kc = adminKubeConfig(cluster.server);
      const lease = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 200 };
    const a = new Controller({ kubeConfig: kc, identity: 'ctl-a', ...lease });
    controllers.push(a);
    const readyA = () => controllerReadiness({ ...a.leadership(), leaderElection: true });
    assert.equal(readyA().ok, false, 'not synced yet');
    await a.start();
    await waitFor('ctl-a leading', () => a.isLeader());
    assert.equal(readyA().ok, true);
    const b = new Controller({ kubeConfig: kc, identity: 'ctl-b', ...lease });
    controllers.push(b);
    await b.start();
    await waitFor('ctl-b sees the holder', () => b.leadership().holder === 'ctl-a');
    const readyB = controllerReadiness({ ...b.leadership(), leaderElection: true });
    assert.equal(b.isLeader(), false);
    assert.deepEqual(readyB, { ok: true, reason: 'standby; leader is ctl-a' });
  });
});

describe('readiness when the CRD goes away', () => {
  let cluster: SimCluster | undefined;
  let controller: Controller | undefined;
  after(async () => {
    await controller?.stop();
    await cluster?.stop();
  });

  test('the controller turns not ready, naming the missing resource', async () => {
    cluster = await SimCluster.start({ nodes: 1, agents: false, versions: ['v1.30.0'], installCrd: true });
    controller = new Controller({ kubeConfig: adminKubeConfig(cluster.server), noLeaderElection: true });
    await controller.start();
    const ready = () => controllerReadiness({ ...(controller as Controller).leadership(), leaderElection: false });
    assert.deepEqual(ready(), { ok: true });
    cluster.server.store.delete(CRDS, CRD_NAME);
    await waitFor('not ready', () => !ready().ok, 15_000);
    assert.match(ready().reason ?? '', /NodeTracingPolicy.*HTTP 404/);
  });
});

// The chart, installed and living under its own rights (issue 12, item 6). The rendered chart goes
// into the embedded cluster with the real `kubectl apply` as the admin, every object, in the order
// `helm install` creates them; two controller replicas run on a token of the chart's controller
// ServiceAccount (leader election on), each node's agent on a Node-bound token of the chart's agent
// ServiceAccount; a rollout with `verify: Configz` converges and a deletion cleans up. Then every
// limit the chart and docs/security.md promise is checked over HTTP with those tokens (client-node
// and kubectl), each by status code and message.

import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { FILE as GENERATED_FILE, generate } from '../../hack/gen-chart-rbac.js';
import { Controller } from '../../src/controller/controller.js';
import type { ApiServer } from '../../src/sim/apiserver/index.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { formatEntry, recordingLogger } from '../helpers/log.js';
import { GUARD, type Clients, type Denied, type Install, type LimitCase, agentCases, clients, controllerCases, guardDenied, outcome, rbacDenied, unboundAgentCases } from './limits.js';
import { type K8sObject, ROOT, missingToolchain, one, render } from './render.js';
import { run, type RunResult } from '../helpers/cli.js';

const skip = missingToolchain();
const GIT_VERSION = 'v1.32.2'; // >= 1.31: Node-bound tokens; >= 1.30: the chart's agent guard
const NS = 'kto-system';
/** What a user picks for this: the guard, /configz verification, two replicas with leader election. */
const VALUES = { controller: { replicas: 2, leaderElection: true, verifyConfigz: true }, agentGuard: { enabled: true } };
/** node-05 runs a kubelet without tracing: the rollout must skip it. */
const VERSIONS = ['v1.30.10', 'v1.32.2', 'v1.27.16', 'v1.33.1', 'v1.24.17'];
const SUPPORTED = ['node-01', 'node-02', 'node-03', 'node-04'];

/** helm's InstallOrder (pkg/releaseutil/kind_sorter.go); kinds not listed go last, by kind name. */
const HELM_INSTALL_ORDER = [
  'PriorityClass', 'Namespace', 'NetworkPolicy', 'ResourceQuota', 'LimitRange', 'PodSecurityPolicy', 'PodDisruptionBudget', 'ServiceAccount', 'Secret',
  'SecretList', 'ConfigMap', 'StorageClass', 'PersistentVolume', 'PersistentVolumeClaim', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleList',
  'ClusterRoleBinding', 'ClusterRoleBindingList', 'Role', 'RoleList', 'RoleBinding', 'RoleBindingList', 'Service', 'DaemonSet', 'Pod',
  'ReplicationController', 'ReplicaSet', 'Deployment', 'HorizontalPodAutoscaler', 'StatefulSet', 'Job', 'CronJob', 'IngressClass', 'Ingress',
  'APIService', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
];

/** Stable: within a kind, helm keeps the order of the template files, as the renderer emits them. */
export function helmInstallOrder(objects: K8sObject[]): K8sObject[] {
  const rank = (k: string): number => (HELM_INSTALL_ORDER.includes(k) ? HELM_INSTALL_ORDER.indexOf(k) : HELM_INSTALL_ORDER.length);
  return [...objects].sort((a, b) => rank(a.kind) - rank(b.kind) || (rank(a.kind) === HELM_INSTALL_ORDER.length ? a.kind.localeCompare(b.kind) : 0));
}

/** The rendered chart and the names the limits need (placeholders when it cannot be rendered here). */
function renderChart(): { rendered: K8sObject[]; limits: Install } {
  const placeholder: Install = { namespace: NS, agentServiceAccount: 'agent', controllerServiceAccount: 'controller', guard: 'guard', leaseName: 'lease', policy: 'traced', nodes: ['node-01', 'node-02', 'node-03'] };
  if (skip !== undefined) return { rendered: [], limits: placeholder };
  const rendered = render(VALUES, { name: 'kto', namespace: NS, kubeVersion: GIT_VERSION }).objects;
  const sa = (suffix: string): string => one(rendered, 'ServiceAccount', suffix).metadata.name;
  const leaseRole = one(rendered, 'Role', '-leader-election') as unknown as { rules: { resourceNames?: string[] }[] };
  return {
    rendered,
    limits: {
      ...placeholder,
      agentServiceAccount: sa('-agent'),
      controllerServiceAccount: sa('-controller'),
      guard: one(rendered, 'ValidatingAdmissionPolicy').metadata.name,
      leaseName: leaseRole.rules.flatMap((r) => r.resourceNames ?? [])[0] ?? '',
    },
  };
}
const { rendered, limits } = renderChart();
const ordered = helmInstallOrder(rendered);

/** The same limits through kubectl, with a kubeconfig per token: allowed, or the exact stderr. */
interface KubectlCase {
  who: 'controller' | 'agent' | 'unbound';
  args: string[];
  stderr?: string;
  /** kubectl cordon reports a refused node on stderr, and exits 0. */
  exitsZero?: boolean;
}

function kubectlCases(i: Install): KubectlCase[] {
  const agent = `system:serviceaccount:${i.namespace}:${i.agentServiceAccount}`;
  const controller = `system:serviceaccount:${i.namespace}:${i.controllerServiceAccount}`;
  const fromServer = (e: Denied): string => `Error from server (Forbidden): ${e.message}`;
  const [own, other, spare] = i.nodes;
  const ns = i.namespace;
  return [
    { who: 'controller', args: ['get', 'secrets', '-A'], stderr: fromServer(rbacDenied(controller, 'list', 'secrets')) },
    { who: 'controller', args: ['-n', ns, 'get', 'configmaps'], stderr: fromServer(rbacDenied(controller, 'list', 'configmaps', { namespace: ns })) },
    { who: 'controller', args: ['delete', 'node', spare], stderr: fromServer(rbacDenied(controller, 'delete', 'nodes', { name: spare })) },
    { who: 'agent', args: ['get', 'ntp'], stderr: fromServer(rbacDenied(agent, 'list', 'nodetracingpolicies', { group: 'nodetracing.dev' })) },
    { who: 'agent', args: ['-n', ns, 'get', 'secrets'], stderr: fromServer(rbacDenied(agent, 'list', 'secrets', { namespace: ns })) },
    { who: 'agent', args: ['annotate', 'node', own, 'nodetracing.dev/probe=kubectl', '--overwrite'] },
    { who: 'agent', args: ['annotate', 'node', other, 'nodetracing.dev/probe=kubectl', '--overwrite'], stderr: fromServer(guardDenied(i.guard, other, GUARD.node(own, other))) },
    { who: 'agent', args: ['label', 'node', own, 'team=evil'], stderr: fromServer(guardDenied(i.guard, own, GUARD.labels)) },
    { who: 'agent', args: ['cordon', own], stderr: `error: unable to cordon node "${own}": ${guardDenied(i.guard, own, GUARD.spec).message}`, exitsZero: true },
    { who: 'unbound', args: ['annotate', 'node', own, 'nodetracing.dev/probe=unbound', '--overwrite'], stderr: fromServer(guardDenied(i.guard, own, GUARD.node(undefined, own))) },
    {
      who: 'agent',
      args: ['get', 'nodes', '--as', controller],
      stderr: fromServer(rbacDenied(agent, 'impersonate', 'serviceaccounts', { name: i.controllerServiceAccount, namespace: ns })),
    },
  ];
}
const KUBECTL = kubectlCases(limits);

type Run = RunResult;

function kubeConfigOf(server: ApiServer, token: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(server.kubeconfigYaml({ token }));
  return kc;
}

describe('the chart installed into the embedded cluster, each component under its own rights', { skip }, () => {
  let dir = '';
  let cluster: SimCluster | undefined;
  const controllers: Controller[] = [];
  const logs: string[] = [];
  let install: { namespace: Run; apply: Run } | undefined;
  const tokens = { controller: '', agent: '', unbound: '' };

  const kubectl = (kubeconfig: string, args: string[], input?: string): Promise<Run> =>
    run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  const admin = (args: string[], input?: string): Promise<Run> => kubectl(join(dir, 'admin.kubeconfig'), args, input);
  const adminOk = async (args: string[], input?: string): Promise<string> => {
    const r = await admin(args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const server = (): ApiServer => {
    assert.ok(cluster, 'the cluster did not start');
    return cluster.server;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kto-chart-install-'));
    const manifest = join(dir, 'chart.yaml');
    await writeFile(manifest, ordered.map((o) => stringify(o)).join('---\n'));
    cluster = await SimCluster.start({
      nodes: VERSIONS.length,
      versions: VERSIONS,
      gitVersion: GIT_VERSION,
      restartMs: 100,
      // helm install --create-namespace: the namespace, then the chart, before any node joins.
      beforeNodes: async (s) => {
        await s.writeKubeconfig(join(dir, 'admin.kubeconfig'));
        install = { namespace: await admin(['create', 'namespace', NS]), apply: await admin(['apply', '-f', manifest]) };
      },
      // What `kubectl create token <agent> --bound-object-kind Node --bound-object-name <node>` mints.
      agentKubeConfig: (node, s) => kubeConfigOf(s, s.tokenFor(NS, limits.agentServiceAccount, { boundNode: node })),
      agentLog: recordingLogger((e) => {
        if (e.level === 'warn' || e.level === 'error') logs.push(`agent: ${formatEntry(e)}`);
      }),
    });
    const token = async (args: string[]): Promise<string> => (await adminOk(['-n', NS, 'create', 'token', ...args])).trim();
    tokens.controller = await token([limits.controllerServiceAccount]);
    tokens.agent = await token([limits.agentServiceAccount, '--bound-object-kind', 'Node', '--bound-object-name', limits.nodes[0]]);
    tokens.unbound = await token([limits.agentServiceAccount]);
    for (const [who, t] of Object.entries(tokens)) await server().writeKubeconfig(join(dir, `${who}.kubeconfig`), { token: t, user: who });
  });

  after(async () => {
    for (const c of controllers) await c.stop();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("src/sim/chart-rbac.generated.ts (kto sim --as-installed) is this chart's render: run `node --import tsx hack/gen-chart-rbac.ts` after changing the chart", () => {
    assert.equal(readFileSync(join(ROOT, GENERATED_FILE), 'utf8'), generate());
  });

  test("kubectl apply, as the admin, creates every rendered object in helm's install order", () => {
    assert.ok(install, 'the install did not run');
    assert.equal(install.namespace.code, 0, install.namespace.stderr);
    assert.equal(install.apply.code, 0, install.apply.stderr);
    const group = (o: K8sObject): string => (o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '');
    const want = ordered.map((o) => `${o.kind.toLowerCase()}${group(o)}/${o.metadata.name} created`);
    assert.deepEqual(install.apply.stdout.trim().split('\n'), want);
    assert.equal(want.length, rendered.length);
    assert.deepEqual(
      ordered.map((o) => o.kind),
      ['PodDisruptionBudget', 'ServiceAccount', 'ServiceAccount', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ClusterRoleBinding', 'Role', 'Role', 'RoleBinding', 'RoleBinding', 'Service', 'DaemonSet', 'Deployment', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
    );
  });

  test('a rollout with verify: Configz and leader election converges, then a deletion cleans up, all under the chart tokens', async () => {
    const s = server();
    for (const id of ['controller-a', 'controller-b']) {
      const c = new Controller({
        kubeConfig: kubeConfigOf(s, tokens.controller),
        identity: id,
        leaseNamespace: NS,
        leaseName: limits.leaseName,
        leaseDurationMs: 4_000,
        renewDeadlineMs: 3_000,
        retryPeriodMs: 500,
        log: recordingLogger((e) => logs.push(`${id}: ${formatEntry(e)}`)),
      });
      controllers.push(c);
      await c.start();
    }
    await adminOk(['apply', '-f', '-'], POLICY);
    const status = async (): Promise<{ targetNodes?: number; updatedNodes?: number; unsupportedNodes?: number; ready?: string }> => {
      const r = await admin(['get', 'ntp', limits.policy, '-o', 'json']);
      if (r.code !== 0) return {};
      const p = JSON.parse(r.stdout) as { status?: { targetNodes?: number; updatedNodes?: number; unsupportedNodes?: number; conditions?: { type: string; status: string }[] } };
      return { ...p.status, ready: p.status?.conditions?.find((c) => c.type === 'Ready')?.status };
    };
    await until('every supported node Updated and Ready', async () => {
      const st = await status();
      return st.targetNodes === 4 && st.updatedNodes === 4 && st.ready === 'True';
    });
    assert.equal((await status()).unsupportedNodes, 1);
    const states = JSON.parse(await adminOk(['get', 'nodes', '-o', 'json'])) as { items: { metadata: { name: string; annotations?: Record<string, string> } }[] };
    for (const n of states.items) assert.equal(n.metadata.annotations?.['nodetracing.dev/state'], SUPPORTED.includes(n.metadata.name) ? 'Applied' : undefined, n.metadata.name);
    const tracing = (n: string): unknown => cluster?.kubelets.get(n)?.configz()?.kubeletconfig['tracing'];
    for (const n of SUPPORTED) assert.deepEqual(tracing(n), { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 }, n);
    assert.equal(controllers.filter((c) => c.isLeader()).length, 1, 'one leader');
    const holder = (await adminOk(['-n', NS, 'get', 'lease', limits.leaseName, '-o', 'jsonpath={.spec.holderIdentity}'])).trim();
    assert.ok(controllers.find((c) => c.isLeader())?.identity === holder, `lease held by ${holder}`);
    const events = await adminOk(['-n', 'default', 'get', 'events', '--field-selector', 'involvedObject.kind=NodeTracingPolicy', '-o', 'jsonpath={range .items[*]}{.reason}{"\\n"}{end}']);
    assert.match(events, /RolloutComplete/);

    await adminOk(['delete', 'ntp', limits.policy, '--timeout=60s']);
    await until('no node carries nodetracing.dev/ annotations', async () => {
      const nodes = JSON.parse(await adminOk(['get', 'nodes', '-o', 'json'])) as { items: { metadata: { annotations?: Record<string, string> } }[] };
      return nodes.items.every((n) => !Object.keys(n.metadata.annotations ?? {}).some((k) => k.startsWith('nodetracing.dev/')));
    });
    for (const n of SUPPORTED) assert.equal(tracing(n), undefined, n);
    const refused = logs.filter((l) => /\b40[13]\b|forbidden|Forbidden|Unauthorized/.test(l));
    assert.deepEqual(refused, [], 'no component was refused anything it needed');
  });

  async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await fn())) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${logs.slice(-40).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  const tally = { allowed: 0, denied: 0 };
  const tables: [keyof typeof tokens, LimitCase[]][] = [['agent', agentCases(limits)], ['unbound', unboundAgentCases(limits)], ['controller', controllerCases(limits)]];
  for (const [token, cases] of tables) {
    describe(`client-node with the ${token === 'unbound' ? 'agent token bound to no node' : token === 'agent' ? `agent token bound to ${limits.nodes[0]}` : 'controller token'}`, () => {
      for (const c of cases) {
        test(`${c.what}: ${c.expect === 'allowed' ? 'allowed' : c.expect.code}`, async () => {
          const api: Clients = clients(kubeConfigOf(server(), tokens[token]));
          assert.deepEqual(await outcome(c.call(api)), c.expect);
          tally[c.expect === 'allowed' ? 'allowed' : 'denied']++;
        });
      }
    });
  }

  describe('the same limits through kubectl', () => {
    for (const c of KUBECTL) {
      test(`kubectl as ${c.who}: ${c.args.join(' ')}: ${c.stderr === undefined ? 'allowed' : 'denied'}`, async () => {
        const r = await kubectl(join(dir, `${c.who}.kubeconfig`), c.args);
        if (c.stderr === undefined) assert.equal(r.code, 0, r.stderr);
        else {
          if (!c.exitsZero) assert.notEqual(r.code, 0, 'kubectl should fail');
          assert.equal(r.stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:')).join('\n'), c.stderr);
        }
        tally[c.stderr === undefined ? 'allowed' : 'denied']++;
      });
    }

  });

  test('tally: every case above was checked', (t) => {
    t.diagnostic(`allowed ${tally.allowed}, denied ${tally.denied}`);
    const all = [...tables.flatMap(([, cases]) => cases.map((c) => c.expect !== 'allowed')), ...KUBECTL.map((c) => c.stderr !== undefined)];
    assert.deepEqual(tally, { allowed: all.filter((denied) => !denied).length, denied: all.filter((denied) => denied).length });
  });
});

const POLICY = `apiVersion: nodetracing.dev/v1alpha1
kind: NodeTracingPolicy
metadata:
  name: traced
spec:
  nodeSelector: {}
  tracing:
    endpoint: otel-collector.observability.svc:4317
    samplingRatePerMillion: 10000
  rollout:
    maxUnavailable: 2
    minReadySeconds: 0
    verify: Configz
`;

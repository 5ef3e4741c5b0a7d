// The Helm chart, rendered without helm (test/chart/render.ts: Go text/template + sprig, helm's
// engine) and checked: YAML and object shape, Kubernetes schemas (kubernetes-models), the embedded
// API server with the real kubectl for the kinds it serves, least-privilege RBAC, the values
// schema (ajv draft-07, as helm does), and the CRD copy.

import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { ApiServer } from '../../src/sim/apiserver/index.js';
import { CHART, ROOT, find, missingToolchain, one, render, renderRaw, type K8sObject } from './render.js';
import { run } from '../helpers/cli.js';

const skipReason = missingToolchain();
const CRD_NAME = 'nodetracingpolicies.nodetracing.dev.yaml';
const valuesYaml = (): Record<string, unknown> => parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Record<string, unknown>;

/** Value sets every structural test runs over: defaults and the switches that change the output. */
const VARIANTS: Record<string, object> = {
  defaults: {},
  everythingOn: {
    controller: {
      verifyConfigz: true,
      extraArgs: ['--log-level', 'debug'],
      extraEnv: [{ name: 'OTEL_EXPORTER_OTLP_HEADERS', value: 'x-tenant=a' }],
      priorityClassName: 'high',
      otlpEndpoint: 'http://otel-collector.observability.svc:4317',
      otlpProtocol: 'grpc',
      leaseDuration: '30s',
      renewDeadline: '20s',
      retryPeriod: '4s',
      podSecurityContext: { runAsNonRoot: true, fsGroup: 1000700000, seccompProfile: { type: 'RuntimeDefault' } },
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' }],
    },
    agent: {
      layout: 'k3s',
      extraWritableHostPaths: ['/opt/kubelet.d'],
      configDir: '/opt/kubelet.d',
      restartCommand: 'nsenter -t 1 -m -- systemctl restart k3s-agent',
      priorityClassName: 'system-node-critical',
      otlpEndpoint: 'http://otel-collector.observability.svc:4318',
      otlpProtocol: 'http/json',
    },
    metrics: {
      serviceMonitor: { enabled: true, labels: { release: 'prom' } },
      podMonitor: { enabled: true, labels: { release: 'prom' } },
      prometheusRule: { enabled: true, labels: { release: 'prom' }, alertLabels: { team: 'platform' } },
      grafanaDashboard: { enabled: true, annotations: { grafana_folder: 'Kubernetes' } },
    },
    imagePullSecrets: [{ name: 'regcred' }],
    commonLabels: { team: 'platform' },
    otelResourceAttributes: { 'k8s.cluster.name': 'prod-eu' },
    image: { registry: 'ghcr.io/acme', digest: `sha256:${'a'.repeat(64)}` },
    extraObjects: [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: '{{ .Release.Name }}-extra', namespace: '{{ .Release.Namespace }}', labels: { 'app.kubernetes.io/managed-by': '{{ .Release.Service }}' } },
        data: { cluster: 'prod-eu' },
      },
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {{ .Release.Name }}-controller\n  namespace: {{ .Release.Namespace }}\n  labels: {app.kubernetes.io/managed-by: {{ .Release.Service }}}\nspec:\n  podSelector: {matchLabels: {app.kubernetes.io/component: controller}}\n  policyTypes: [Ingress]\n',
    ],
  },
  minimal: {
    controller: { replicas: 1, leaderElection: false },
    agent: { layout: 'eks' },
    crds: { enabled: false },
    agentGuard: { enabled: false },
    metrics: { service: { enabled: false } },
  },
};

const CLUSTER_SCOPED = new Set(['ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}
const rulesOf = (o: K8sObject): PolicyRule[] => (o as unknown as { rules: PolicyRule[] }).rules;
const grants = (rules: PolicyRule[], group: string, resource: string): PolicyRule[] =>
  rules.filter((r) => (r.apiGroups ?? []).some((g) => g === group || g === '*') && (r.resources ?? []).some((x) => x === resource || x === '*'));
const verbsFor = (rules: PolicyRule[], group: string, resource: string): string[] =>
  [...new Set(grants(rules, group, resource).filter((r) => !r.resourceNames).flatMap((r) => r.verbs))].sort();

/* eslint-disable @typescript-eslint/no-explicit-any */
const podSpec = (o: K8sObject): any => (o as any).spec.template.spec;

if (skipReason !== undefined) {
  // CI installs go (.ci/run); elsewhere the chart tests skip, visibly.
  test('chart: rendered with hack/helm-template', (t) => {
    t.skip(skipReason);
  });
}

describe('chart', { skip: skipReason !== undefined }, () => {
  test('hack/helm-template is gofmt-clean', () => {
    const r = spawnSync('gofmt', ['-l', join(ROOT, 'hack', 'helm-template')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), '', `gofmt would change: ${r.stdout}`);
  });

  for (const [variant, values] of Object.entries(VARIANTS)) {
    test(`(a) ${variant}: every document is YAML with apiVersion, kind, metadata.name; namespaced ones in the release namespace`, () => {
      const { objects } = render(values);
      assert.ok(objects.length >= 5, `only ${objects.length} objects`);
      const seen = new Set<string>();
      for (const o of objects) {
        assert.equal(typeof o.apiVersion, 'string', JSON.stringify(o).slice(0, 200));
        assert.equal(typeof o.kind, 'string');
        assert.match(o.metadata?.name ?? '', /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        assert.ok(o.metadata.name.length <= 63 || o.kind === 'CustomResourceDefinition', o.metadata.name);
        const key = `${o.kind}/${o.metadata.name}`;
        assert.ok(!seen.has(key), `duplicate ${key}`);
        seen.add(key);
        if (CLUSTER_SCOPED.has(o.kind)) assert.equal(o.metadata.namespace, undefined, `${key} is cluster-scoped`);
        // Events about cluster-scoped objects are accepted only in "default": the one exception.
        else if (o.metadata.name.endsWith('-controller-events')) assert.equal(o.metadata.namespace, 'default', `${key} namespace`);
        else assert.equal(o.metadata.namespace, 'kto-system', `${key} namespace`);
        if (o.kind !== 'CustomResourceDefinition') assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm', key);
      }
    });

    test(`(b) ${variant}: every object is valid against the Kubernetes schemas (kubernetes-models)`, async () => {
      const { objects } = render(values);
      for (const o of objects) {
        if (o.apiVersion === 'monitoring.coreos.com/v1') {
          // prometheus-operator's models need Node 22; check the fields the operator requires.
          assert.ok(['ServiceMonitor', 'PodMonitor', 'PrometheusRule'].includes(o.kind), o.kind);
          const spec = (o as any).spec;
          if (o.kind === 'PrometheusRule') {
            for (const g of spec.groups) {
              assert.ok(typeof g.name === 'string' && g.rules.length > 0, 'groups[].name, rules');
              for (const r of g.rules) assert.ok(typeof r.expr === 'string' && (typeof r.alert === 'string') !== (typeof r.record === 'string'), JSON.stringify(r));
            }
            continue;
          }
          assert.ok(spec.selector?.matchLabels, `${o.kind}.spec.selector`);
          const endpoints = o.kind === 'ServiceMonitor' ? spec.endpoints : spec.podMetricsEndpoints;
          assert.ok(Array.isArray(endpoints) && endpoints.length > 0);
          for (const e of endpoints) assert.equal(e.port, 'metrics');
          continue;
        }
        const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['v1', undefined];
        const modulePath = version ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/v1/${o.kind}`;
        const mod = (await import(modulePath)) as Record<string, new (d: unknown) => { validate(): void }>;
        const Model = mod[o.kind];
        assert.ok(Model, `no model for ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new Model(o).validate(), (e: unknown) => `${o.kind}/${o.metadata.name}: ${String(e)}`);
      }
    });
  }

  test('(b) the schema check is not vacuous: a broken Deployment is rejected', async () => {
    const { objects } = render();
    const d = structuredClone(one(objects, 'Deployment', '-controller')) as any;
    d.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    delete d.spec.selector;
    const { Deployment } = (await import('kubernetes-models/apps/v1/Deployment')) as any;
    assert.throws(() => new Deployment(d).validate());
  });

  test('controller Deployment: 2 replicas, lease in the release namespace, probes on the metrics port, locked down', () => {
    const { objects } = render({ controller: { metricsPort: 9090 } }, { namespace: 'tracing' });
    const d = one(objects, 'Deployment', '-controller') as any;
    assert.equal(d.spec.replicas, 2);
    const spec = d.spec.template.spec;
    const c = spec.containers[0];
    assert.deepEqual(c.args.slice(0, 3), ['controller', '--lease-namespace', 'tracing']);
    assert.equal(c.args[c.args.indexOf('--metrics-port') + 1], '9090');
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9090, protocol: 'TCP' }]);
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(spec.securityContext.runAsNonRoot, true);
    // No fixed UID: the image's user applies, and OpenShift's restricted SCC may assign its own.
    assert.equal(spec.securityContext.runAsUser, undefined);
    assert.equal(c.securityContext.runAsNonRoot, true);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.ok(c.resources.requests.cpu && c.resources.limits.memory);
    assert.equal(spec.serviceAccountName, 'kto-kubelet-tracing-operator-controller');
    const pdb = one(objects, 'PodDisruptionBudget') as any;
    assert.equal(pdb.spec.minAvailable, 1);
    assert.deepEqual(pdb.spec.selector.matchLabels, d.spec.selector.matchLabels);
    const svc = one(objects, 'Service', '-metrics') as any;
    assert.deepEqual(svc.spec.selector, d.spec.selector.matchLabels);
    assert.equal(svc.spec.ports[0].targetPort, 'metrics');
  });

  test('controller without leader election: one replica, --no-leader-election, no Lease Role, no PDB; two replicas are refused', () => {
    const { objects } = render({ controller: { replicas: 1, leaderElection: false } });
    const c = podSpec(one(objects, 'Deployment', '-controller')).containers[0];
    assert.ok(c.args.includes('--no-leader-election'));
    assert.equal(find(objects, 'Role', '-leader-election').length, 0);
    assert.equal(find(objects, 'PodDisruptionBudget').length, 0);
    const r = renderRaw({ controller: { replicas: 2, leaderElection: false } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /leaderElection: false needs controller.replicas: 1/);
  });

  test('agent DaemonSet: agent --host-root, NODE_NAME from spec.nodeName, hostPID, privileged, tolerates everything', () => {
    const { objects } = render();
    const ds = one(objects, 'DaemonSet', '-agent') as any;
    const spec = ds.spec.template.spec;
    const c = spec.containers[0];
    assert.deepEqual(c.args.slice(0, 3), ['agent', '--host-root', '/host']);
    assert.deepEqual(c.env[0], { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    assert.equal(spec.hostPID, true);
    assert.equal(spec.hostNetwork, true, 'the kubelet healthz listens on the host loopback');
    assert.equal(c.securityContext.privileged, true);
    assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
    assert.equal(spec.priorityClassName, undefined);
    assert.equal(spec.serviceAccountName, 'kto-kubelet-tracing-operator-agent');
  });

  const mounts = (o: K8sObject): Record<string, { readOnly: boolean; host: string; type: string }> => {
    const spec = podSpec(o);
    const vols = new Map<string, any>(spec.volumes.map((v: any) => [v.name, v]));
    const out: Record<string, { readOnly: boolean; host: string; type: string }> = {};
    for (const m of spec.containers[0].volumeMounts) {
      const v = vols.get(m.name);
      if (!v.hostPath) continue;
      out[m.mountPath] = { readOnly: m.readOnly === true, host: v.hostPath.path, type: v.hostPath.type };
    }
    return out;
  };

  test('agent host mounts: / read-only at hostRoot, each layout\'s kubelet config dirs read-write at the same path', () => {
    const expected: Record<string, string[]> = {
      kubeadm: ['/var/lib/kubelet', '/etc/kubernetes'],
      k3s: ['/var/lib/rancher/k3s/agent/etc', '/etc/rancher/k3s'],
      eks: ['/etc/kubernetes/kubelet'],
      custom: [],
    };
    for (const [layout, dirs] of Object.entries(expected)) {
      const { objects } = render({ agent: { layout, hostRoot: '/hostfs', extraWritableHostPaths: ['/opt/kubelet.d', '/etc/kubernetes'] } });
      const m = mounts(one(objects, 'DaemonSet', '-agent'));
      const want: Record<string, { readOnly: boolean; host: string; type: string }> = { '/hostfs': { readOnly: true, host: '/', type: 'Directory' } };
      for (const d of [...dirs, '/opt/kubelet.d', '/etc/kubernetes']) want[`/hostfs${d}`] = { readOnly: false, host: d, type: 'DirectoryOrCreate' };
      assert.deepEqual(m, want, layout);
      const args: string[] = podSpec(one(objects, 'DaemonSet', '-agent')).containers[0].args;
      assert.equal(args[args.indexOf('--host-root') + 1], '/hostfs');
    }
  });

  test('agent flags from values: --config-file, --config-dir, --restart-command, --timeout-seconds', () => {
    const { objects } = render({ agent: { configFile: '/etc/k/c.yaml', configDir: '/etc/k/c.d', restartCommand: 'nsenter -t 1 -m -- systemctl restart k3s-agent', timeoutSeconds: 60 } });
    const args: string[] = podSpec(one(objects, 'DaemonSet', '-agent')).containers[0].args;
    const flag = (f: string) => args[args.indexOf(f) + 1];
    assert.equal(flag('--config-file'), '/etc/k/c.yaml');
    assert.equal(flag('--config-dir'), '/etc/k/c.d');
    assert.equal(flag('--restart-command'), 'nsenter -t 1 -m -- systemctl restart k3s-agent');
    assert.equal(flag('--timeout-seconds'), '60');
    const defaults: string[] = podSpec(one(render().objects, 'DaemonSet', '-agent')).containers[0].args;
    for (const f of ['--config-file', '--config-dir', '--restart-command']) assert.ok(!defaults.includes(f), f);
  });

  describe('(d) RBAC: least privilege per component', () => {
    test('the agent ClusterRole: nodes get/list/watch/patch, nothing else, nothing on policies', () => {
      const { objects } = render({ controller: { verifyConfigz: true } });
      const agent = rulesOf(one(objects, 'ClusterRole', '-agent'));
      assert.deepEqual(verbsFor(agent, '', 'nodes'), ['get', 'list', 'patch', 'watch']);
      for (const r of agent) {
        assert.ok(!(r.apiGroups ?? []).includes('nodetracing.dev'), 'agent has a rule on nodetracing.dev');
        assert.ok(!(r.resources ?? []).some((x) => x.startsWith('nodetracingpolicies')));
        assert.deepEqual(r.resources, ['nodes']);
      }
      for (const b of find(objects, 'ClusterRoleBinding').concat(find(objects, 'RoleBinding'))) {
        const subjects = (b as any).subjects as { name: string }[];
        if (subjects.some((s) => s.name.endsWith('-agent'))) assert.equal((b as any).roleRef.name, 'kto-kubelet-tracing-operator-agent');
      }
    });

    test('the controller ClusterRole: exactly what the controller calls (list/watch/patch, status patch)', () => {
      const rules = rulesOf(one(render().objects, 'ClusterRole', '-controller'));
      assert.deepEqual(rules, [
        { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies'], verbs: ['list', 'watch', 'patch'] },
        { apiGroups: ['nodetracing.dev'], resources: ['nodetracingpolicies/status'], verbs: ['patch'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch', 'patch'] },
      ]);
    });

    test('events: create only, only in "default" (where Events about cluster-scoped objects must go), bound to the controller', () => {
      const { objects } = render({}, { namespace: 'tracing' });
      const role = one(objects, 'Role', '-controller-events');
      assert.equal(role.metadata.namespace, 'default');
      assert.deepEqual(rulesOf(role), [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }]);
      const binding = one(objects, 'RoleBinding', '-controller-events') as any;
      assert.equal(binding.metadata.namespace, 'default');
      assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'kto-kubelet-tracing-operator-controller', namespace: 'tracing' }]);
      const elsewhere = [...find(objects, 'ClusterRole'), ...find(objects, 'Role')].filter((o) => o !== role).flatMap(rulesOf).filter((r) => (r.resources ?? []).includes('events'));
      assert.deepEqual(elsewhere, []);
    });

    test('leases: a namespaced Role, create plus get/update on the one Lease only', () => {
      const { objects } = render({ controller: { leaseName: 'my-lease' } }, { namespace: 'tracing' });
      const role = one(objects, 'Role', '-leader-election');
      assert.equal(role.metadata.namespace, 'tracing');
      assert.deepEqual(rulesOf(role), [
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['my-lease'], verbs: ['get', 'update'] },
      ]);
      const args: string[] = podSpec(one(objects, 'Deployment', '-controller')).containers[0].args;
      assert.equal(args[args.indexOf('--lease-name') + 1], 'my-lease');
      assert.equal(find(objects, 'ClusterRole').flatMap(rulesOf).filter((r) => (r.resources ?? []).includes('leases')).length, 0);
    });

    test('nodes/proxy only with controller.verifyConfigz: true', () => {
      const proxyRules = (values: object) =>
        [...find(render(values).objects, 'ClusterRole'), ...find(render(values).objects, 'Role')].flatMap((o) =>
          rulesOf(o).filter((r) => (r.resources ?? []).some((x) => x === 'nodes/proxy' || x === 'nodes/*' || x === '*')).map((r) => ({ role: o.metadata.name, r })),
        );
      assert.deepEqual(proxyRules({}), []);
      const on = proxyRules({ controller: { verifyConfigz: true } });
      assert.deepEqual(on, [{ role: 'kto-kubelet-tracing-operator-controller', r: { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] } }]);
    });

    for (const [variant, values] of Object.entries(VARIANTS)) {
      test(`${variant}: no role grants secrets, wildcards, or escalation verbs`, () => {
        for (const o of [...find(render(values).objects, 'ClusterRole'), ...find(render(values).objects, 'Role')]) {
          for (const r of rulesOf(o)) {
            assert.ok(!(r.resources ?? []).includes('secrets'), `${o.metadata.name} grants secrets`);
            assert.ok(!(r.resources ?? []).includes('*') && !(r.apiGroups ?? []).includes('*') && !r.verbs.includes('*'), `${o.metadata.name} has a wildcard`);
            for (const v of ['escalate', 'bind', 'impersonate', 'delete', 'deletecollection']) assert.ok(!r.verbs.includes(v), `${o.metadata.name}: ${v}`);
          }
        }
      });
    }
  });

  describe('agentGuard (ValidatingAdmissionPolicy)', () => {
    test('binds the agent ServiceAccount to its own Node and nodetracing.dev/ annotations', () => {
      const { objects } = render({}, { namespace: 'tracing', name: 'r' });
      const vap = one(objects, 'ValidatingAdmissionPolicy') as any;
      assert.equal(vap.apiVersion, 'admissionregistration.k8s.io/v1');
      assert.equal(vap.spec.failurePolicy, 'Fail');
      assert.deepEqual(vap.spec.matchConstraints.resourceRules[0].resources, ['nodes']);
      assert.deepEqual(vap.spec.matchConstraints.resourceRules[0].operations, ['UPDATE']);
      assert.equal(vap.spec.matchConditions[0].expression, 'request.userInfo.username == "system:serviceaccount:tracing:r-kubelet-tracing-operator-agent"');
      const all = JSON.stringify(vap.spec.variables) + JSON.stringify(vap.spec.validations);
      assert.ok(all.includes("request.userInfo.extra['authentication.kubernetes.io/node-name']"));
      assert.ok(all.includes("startsWith('nodetracing.dev/')"));
      for (const field of ['labels', 'spec', 'finalizers']) assert.ok(all.includes(`oldObject.${field === 'spec' ? 'spec' : `metadata.${field}`}`), field);
      const binding = one(objects, 'ValidatingAdmissionPolicyBinding') as any;
      assert.equal(binding.spec.policyName, vap.metadata.name);
      assert.deepEqual(binding.spec.validationActions, ['Deny']);
    });

    test('off with agentGuard.enabled: false; refused below Kubernetes 1.30 unless turned off', () => {
      assert.equal(find(render({ agentGuard: { enabled: false } }).objects, 'ValidatingAdmissionPolicy').length, 0);
      const old = renderRaw({}, { kubeVersion: 'v1.29.4' });
      assert.notEqual(old.status, 0);
      assert.match(old.stderr, /agentGuard needs Kubernetes >= 1.30/);
      assert.equal(find(render({ agentGuard: { enabled: false } }, { kubeVersion: 'v1.29.4' }).objects, 'ValidatingAdmissionPolicy').length, 0);
      assert.equal(find(render({}, { kubeVersion: 'v1.30.0' }).objects, 'ValidatingAdmissionPolicy').length, 1);
    });
  });

  test('ServiceMonitor only when metrics.serviceMonitor.enabled, and it needs the Service', () => {
    assert.equal(find(render().objects, 'ServiceMonitor').length, 0);
    const sm = one(render({ metrics: { serviceMonitor: { enabled: true, interval: '15s' } } }).objects, 'ServiceMonitor') as any;
    assert.equal(sm.spec.endpoints[0].interval, '15s');
    const r = renderRaw({ metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } });
    assert.notEqual(r.status, 0);
  });

  test('NOTES.txt tells how to watch the rollout', () => {
    const r = renderRaw({}, { notes: true });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /kubectl get ntp -w/);
    assert.match(r.stdout, /kubectl kto status my-policy -w/);
    assert.match(r.stdout, /kto plan -f my-policy\.yaml/);
    assert.doesNotMatch(r.stdout, /custom-columns/);
    assert.match(r.stdout, /rollout status daemonset\/kto-kubelet-tracing-operator-agent/);
    assert.doesNotMatch(r.stdout, /<no value>/);
  });

  describe('(f) the CRD', () => {
    const crdText = readFileSync(join(ROOT, 'crds', CRD_NAME), 'utf8');

    test("the chart's copy is byte-for-byte crds/ (copy it again after `npm run gen`)", () => {
      assert.equal(readFileSync(join(CHART, 'files', CRD_NAME), 'utf8'), crdText);
    });

    test('crds.keep: false renders exactly crds/; keep: true adds only helm.sh/resource-policy: keep; enabled: false renders none', () => {
      const plain = renderRaw({ crds: { keep: false } });
      assert.equal(plain.status, 0, plain.stderr);
      const doc = plain.stdout.split(/^---$/m).find((d) => d.includes('kind: CustomResourceDefinition'));
      assert.ok(doc);
      assert.equal(doc.replace(/^\n# Source: [^\n]*\n/, ''), crdText);

      const kept = one(render().objects, 'CustomResourceDefinition');
      const want = parseYaml(crdText) as K8sObject;
      want.metadata.annotations = { 'helm.sh/resource-policy': 'keep' };
      assert.deepEqual(kept, want);
      assert.equal(find(render({ crds: { enabled: false } }).objects, 'CustomResourceDefinition').length, 0);
    });
  });

  describe('(e) values.schema.json (ajv, draft-07, as helm validates)', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as Record<string, unknown>;
    const ajv = new Ajv({ allErrors: true, strict: true });
    const validate = ajv.compile(schema);

    test('is draft-07 and closes every object with properties (additionalProperties: false)', () => {
      assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
      const open: string[] = [];
      const walk = (s: unknown, path: string): void => {
        if (!s || typeof s !== 'object') return;
        const o = s as Record<string, unknown>;
        if (o.properties && o.additionalProperties !== false) open.push(path);
        for (const [k, v] of Object.entries(o)) {
          if (k === 'properties' || k === 'patternProperties' || k === 'definitions') for (const [p, sub] of Object.entries(v as object)) walk(sub, `${path}.${p}`);
          else if (k === 'items' || k === 'additionalProperties') walk(v, `${path}[]`);
          else if (k === 'anyOf' || k === 'oneOf' || k === 'allOf') (v as unknown[]).forEach((sub, i) => walk(sub, `${path}|${i}`));
        }
      };
      walk(schema, '$');
      assert.deepEqual(open, []);
    });

    test('every key of values.yaml is in the schema and the defaults validate', () => {
      assert.equal(validate(valuesYaml()), true, JSON.stringify(validate.errors));
    });

    test('rejects typos and bad values', () => {
      const bad: [string, object][] = [
        ['controller.replicaCount', { controller: { replicaCount: 2 } }],
        ['top-level typo', { agentgaurd: { enabled: true } }],
        ['agent.layout', { agent: { layout: 'rke2' } }],
        ['agent.hostRoot relative', { agent: { hostRoot: 'host' } }],
        ['controller.metricsPort', { controller: { metricsPort: 70000 } }],
        ['controller.replicas', { controller: { replicas: 0 } }],
        ['controller.logLevel', { controller: { logLevel: 'verbose' } }],
        ['resources typo', { controller: { resources: { request: { cpu: '1' } } } }],
        ['toleration typo', { agent: { tolerations: [{ operator: 'Exists', effects: 'NoSchedule' }] } }],
        ['agentGuard.failurePolicy', { agentGuard: { failurePolicy: 'Deny' } }],
        ['crds.keep type', { crds: { keep: 'yes' } }],
        ['image.registry with a scheme', { image: { registry: 'https://ghcr.io' } }],
        ['controller.leaseDuration without a unit', { controller: { leaseDuration: '15' } }],
        ['controller.otlpProtocol', { controller: { otlpProtocol: 'thrift' } }],
        ['agent.otlpEndpoint with spaces', { agent: { otlpEndpoint: 'http://a b:4318' } }],
        ['podSecurityContext typo', { controller: { podSecurityContext: { runAsUSer: 1000 } } }],
        ['securityContext.capabilities.drop not a list', { controller: { securityContext: { capabilities: { drop: 'ALL' } } } }],
        ['topologySpreadConstraints without topologyKey', { controller: { topologySpreadConstraints: [{ maxSkew: 1, whenUnsatisfiable: 'DoNotSchedule' }] } }],
        ['otelResourceAttributes nested', { otelResourceAttributes: { k8s: { cluster: 'x' } } }],
        ['agent.readinessProbe typo', { agent: { readinessProbe: { periodSecond: 5 } } }],
        ['metrics.podMonitor.interval without a unit', { metrics: { podMonitor: { interval: '30' } } }],
        ['extraObjects not a list', { extraObjects: { kind: 'ConfigMap' } }],
        ['an alert that does not exist', { metrics: { prometheusRule: { alerts: { KtoNope: { enabled: true, for: '1m', severity: 'info' } } } } }],
        ['an alert for without a unit', { metrics: { prometheusRule: { alerts: { KtoNoLeader: { for: '5' } } } } }],
        ['a seriesSelector that is not label matchers', { metrics: { prometheusRule: { seriesSelector: '{namespace="x"}' } } }],
        ['grafanaDashboard.namespace', { metrics: { grafanaDashboard: { namespace: 'Monitoring' } } }],
      ];
      for (const [what, override] of bad) {
        const v = structuredClone(valuesYaml());
        deepMerge(v, override as Record<string, unknown>);
        assert.equal(validate(v), false, `${what} was accepted`);
      }
    });

    test('accepts every test variant', () => {
      for (const [variant, override] of Object.entries(VARIANTS)) {
        const v = structuredClone(valuesYaml());
        deepMerge(v, override as Record<string, unknown>);
        assert.equal(validate(v), true, `${variant}: ${JSON.stringify(validate.errors)}`);
      }
    });
  });

  describe('(c) the embedded API server with the real kubectl', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kto-chart-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    // The dispatcher picks kubectl by the server's version: two of them. (kubectl 1.27/1.28 fail
    // against the embedded server with "proto: cannot parse invalid wire-format data": its bug.)
    for (const gitVersion of ['v1.29.0', 'v1.33.1']) {
      test(`kubectl (${gitVersion}) applies the chart's CRD and Namespace, then a policy through that CRD`, async () => {
        const s = new ApiServer({ port: 0, gitVersion });
        await s.start();
        try {
          const kubeconfig = join(dir, `kubeconfig-${gitVersion}`);
          await s.writeKubeconfig(kubeconfig);
          // Async: the API server runs in this process, so a blocking spawnSync would starve it.
          const run = async (args: string[], input?: string) => {
            const r = await kubectl(['--kubeconfig', kubeconfig, ...args], input);
            assert.equal(r.status, 0, `kubectl ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
            return r.stdout;
          };
          const { text, objects } = render({}, { namespace: 'kto-system' });
          const crd = text.split(/^---$/m).find((d) => d.includes('kind: CustomResourceDefinition'))!;
          const ns = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kto-system\n';
          // The kinds the embedded server serves: apply them for real (server-side validation, no --validate=false).
          const served = objects.filter((o) => ['CustomResourceDefinition', 'Namespace', 'ConfigMap', 'Lease'].includes(o.kind));
          assert.deepEqual(served.map((o) => o.kind), ['CustomResourceDefinition']);
          await writeFile(join(dir, 'crd.yaml'), crd);
          await run(['apply', '-f', '-'], ns);
          await run(['apply', '-f', join(dir, 'crd.yaml')]);
          const got = JSON.parse(await run(['get', 'crd', 'nodetracingpolicies.nodetracing.dev', '-o', 'json'])) as K8sObject;
          assert.equal(got.metadata.annotations?.['helm.sh/resource-policy'], 'keep');
          // Established takes a moment on a real server; the policy apply below is the proof it serves.
          let lastErr = '';
          for (let i = 0; i < 50; i++) {
            const r = await kubectl(['--kubeconfig', kubeconfig, 'apply', '-f', join(ROOT, 'examples', 'basic.yaml')]);
            if (r.status === 0) {
              lastErr = '';
              break;
            }
            lastErr = r.stderr;
            await new Promise((res) => setTimeout(res, 100));
          }
          assert.equal(lastErr, '');
          assert.match(await run(['get', 'ntp', 'basic', '-o', 'name']), /nodetracingpolicy.nodetracing.dev\/basic/);
          // Re-applying the same rendered CRD is a no-op (helm upgrade with unchanged values).
          assert.match(await run(['apply', '-f', join(dir, 'crd.yaml')]), /unchanged/);
        } finally {
          await s.stop();
        }
      });
    }
  });
});

function deepMerge(dst: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    const d = dst[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && d && typeof d === 'object' && !Array.isArray(d)) deepMerge(d as Record<string, unknown>, v as Record<string, unknown>);
    else dst[k] = v;
  }
}

async function kubectl(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const r = await run('kubectl', args, { timeoutMs: 60_000, ...(input !== undefined ? { input } : {}) });
  return { status: r.code, stdout: r.stdout, stderr: r.stderr };
}

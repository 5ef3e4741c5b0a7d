// The chart's switches for placement, leader election, scraping, OTLP and extra objects: what each
// renders, what it refuses, and that every flag the chart passes is one `kto` knows.
import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { detectResources, envDetector } from '@opentelemetry/resources';
import { runKto } from '../helpers/cli.js';
import { find, missingToolchain, one, render, renderRaw, type K8sObject } from './render.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const podSpec = (o: K8sObject): any => (o as any).spec.template.spec;
const container = (objects: K8sObject[], kind: 'Deployment' | 'DaemonSet'): any => podSpec(one(objects, kind)).containers[0];
const flag = (args: string[], f: string): string | undefined => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);

describe('chart values', { skip: missingToolchain() }, () => {
  test('image.registry prefixes the repository, with a tag or a digest', () => {
    const image = (v: object) => container(render({ image: v }).objects, 'DaemonSet').image as string;
    assert.equal(image({}), 'kubelet-tracing-operator:0.1.0');
    assert.equal(image({ registry: 'ghcr.io/acme/', tag: 'v2' }), 'ghcr.io/acme/kubelet-tracing-operator:v2');
    assert.equal(image({ registry: 'registry.local:5000', digest: `sha256:${'b'.repeat(64)}` }), `registry.local:5000/kubelet-tracing-operator@sha256:${'b'.repeat(64)}`);
    assert.equal(container(render({ image: { registry: 'ghcr.io/acme' } }).objects, 'Deployment').image, 'ghcr.io/acme/kubelet-tracing-operator:0.1.0');
  });

  test('controller.topologySpreadConstraints: none by default; the selector labels fill a missing labelSelector', () => {
    assert.equal(podSpec(one(render().objects, 'Deployment')).topologySpreadConstraints, undefined);
    const own = { matchLabels: { team: 'x' } };
    const { objects } = render({
      controller: {
        topologySpreadConstraints: [
          { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway' },
          { maxSkew: 2, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', labelSelector: own },
        ],
      },
    });
    const d = one(objects, 'Deployment') as any;
    const [zone, host] = d.spec.template.spec.topologySpreadConstraints;
    assert.deepEqual(zone, { maxSkew: 1, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: d.spec.selector.matchLabels } });
    assert.deepEqual(host.labelSelector, own);
  });

  test('leader-election timings become --lease-duration, --renew-deadline, --retry-period (not without leader election)', () => {
    const args: string[] = container(render({ controller: { leaseDuration: '1m', renewDeadline: '40s', retryPeriod: '5s' } }).objects, 'Deployment').args;
    assert.deepEqual([flag(args, '--lease-duration'), flag(args, '--renew-deadline'), flag(args, '--retry-period')], ['1m', '40s', '5s']);
    const single: string[] = container(render({ controller: { replicas: 1, leaderElection: false } }).objects, 'Deployment').args;
    for (const f of ['--lease-duration', '--renew-deadline', '--retry-period', '--id']) assert.ok(!single.includes(f), f);
  });

  test('agent metrics port: a container port named metrics with liveness and readiness probes; 0 turns all three off', () => {
    const c = container(render({ agent: { metricsPort: 9900, readinessProbe: { periodSeconds: 20 } } }).objects, 'DaemonSet');
    assert.deepEqual(c.ports, [{ name: 'metrics', containerPort: 9900, protocol: 'TCP' }]);
    assert.equal(flag(c.args, '--metrics-port'), '9900');
    assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'metrics' });
    assert.equal(c.readinessProbe.periodSeconds, 20);
    const off = container(render({ agent: { metricsPort: 0 } }).objects, 'DaemonSet');
    assert.equal(flag(off.args, '--metrics-port'), '0');
    for (const k of ['ports', 'livenessProbe', 'readinessProbe']) assert.equal(off[k], undefined, k);
  });

  test('metrics.podMonitor scrapes the agents by their selector and port, one series per node; it needs the port', () => {
    assert.equal(find(render().objects, 'PodMonitor').length, 0);
    const { objects } = render({ metrics: { podMonitor: { enabled: true, interval: '15s', labels: { release: 'prom' } } } }, { namespace: 'tracing' });
    const pm = one(objects, 'PodMonitor') as any;
    const ds = one(objects, 'DaemonSet') as any;
    assert.equal(pm.metadata.namespace, 'tracing');
    assert.equal(pm.metadata.labels.release, 'prom');
    assert.deepEqual(pm.spec.selector.matchLabels, ds.spec.selector.matchLabels);
    assert.deepEqual(pm.spec.namespaceSelector, { matchNames: ['tracing'] });
    const [ep] = pm.spec.podMetricsEndpoints;
    assert.equal(ep.port, ds.spec.template.spec.containers[0].ports[0].name);
    assert.equal(ep.interval, '15s');
    assert.deepEqual(ep.relabelings, [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }]);
    const r = renderRaw({ metrics: { podMonitor: { enabled: true } }, agent: { metricsPort: 0 } });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /metrics.podMonitor.enabled needs agent.metricsPort > 0/);
  });

  test('extraObjects: objects and YAML strings, each through tpl', () => {
    const { objects } = render(
      {
        extraObjects: [
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '{{ include "kto.fullname" . }}-extra', namespace: '{{ .Release.Namespace }}' }, data: { chart: '{{ .Chart.Name }}' } },
          'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-token\n  namespace: {{ .Release.Namespace }}\nstringData: {token: abc}\n',
        ],
      },
      { namespace: 'tracing', name: 'r1' },
    );
    const cm = one(objects, 'ConfigMap', '-extra') as any;
    assert.deepEqual([cm.metadata.name, cm.metadata.namespace, cm.data.chart], ['r1-kubelet-tracing-operator-extra', 'tracing', 'kubelet-tracing-operator']);
    const secret = one(objects, 'Secret') as any;
    assert.deepEqual([secret.metadata.name, secret.metadata.namespace], ['r1-token', 'tracing']);
    assert.equal(find(render().objects, 'ConfigMap').length, 0);
  });

  describe('OTLP', () => {
    test('otlpEndpoint and otlpProtocol become --otlp-endpoint and --otlp-protocol per component', () => {
      const { objects } = render({ controller: { otlpEndpoint: 'http://c:4317', otlpProtocol: 'grpc' }, agent: { otlpEndpoint: 'http://c:4318', otlpProtocol: 'http/json' } });
      const ctl: string[] = container(objects, 'Deployment').args;
      const agent: string[] = container(objects, 'DaemonSet').args;
      assert.deepEqual([flag(ctl, '--otlp-endpoint'), flag(ctl, '--otlp-protocol')], ['http://c:4317', 'grpc']);
      assert.deepEqual([flag(agent, '--otlp-endpoint'), flag(agent, '--otlp-protocol')], ['http://c:4318', 'http/json']);
      for (const a of [container(render().objects, 'Deployment').args, container(render().objects, 'DaemonSet').args]) {
        assert.ok(!a.includes('--otlp-endpoint') && !a.includes('--otlp-protocol'));
      }
    });

    test('the resource: pod, namespace and node from the downward API, each defined before OTEL_RESOURCE_ATTRIBUTES expands it', () => {
      const { objects } = render({ otelResourceAttributes: { 'k8s.cluster.name': 'prod eu', 'deployment.environment.name': 'a=b,c' } }, { name: 'r1', namespace: 'tracing' });
      for (const [kind, workload] of [['Deployment', ['k8s.deployment.name', 'r1-kubelet-tracing-operator-controller']], ['DaemonSet', ['k8s.daemonset.name', 'r1-kubelet-tracing-operator-agent']]] as const) {
        const env = container(objects, kind).env as Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
        const fields = Object.fromEntries(env.filter((e) => e.valueFrom?.fieldRef).map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
        assert.deepEqual(fields, { NODE_NAME: 'spec.nodeName', POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace' }, kind);
        const at = env.findIndex((e) => e.name === 'OTEL_RESOURCE_ATTRIBUTES');
        const raw = env[at]?.value ?? '';
        // The kubelet expands $(VAR) only for variables defined earlier in the list.
        for (const v of raw.matchAll(/\$\((\w+)\)/g)) assert.ok(env.slice(0, at).some((e) => e.name === v[1]), `${kind}: $(${v[1]}) used before it is defined`);
        assert.equal(env.filter((e) => e.name === 'OTEL_RESOURCE_ATTRIBUTES').length, 1);
        // What the SDK's env detector makes of it once the kubelet has expanded it.
        const downward: Record<string, string> = { NODE_NAME: 'node-7', POD_NAME: 'kto-abc', POD_NAMESPACE: 'tracing' };
        const saved = process.env.OTEL_RESOURCE_ATTRIBUTES;
        process.env.OTEL_RESOURCE_ATTRIBUTES = raw.replace(/\$\((\w+)\)/g, (_m, n: string) => downward[n] ?? '');
        try {
          assert.deepEqual(detectResources({ detectors: [envDetector] }).attributes, {
            'k8s.pod.name': 'kto-abc',
            'k8s.namespace.name': 'tracing',
            'k8s.node.name': 'node-7',
            [workload[0]]: workload[1],
            'k8s.cluster.name': 'prod eu',
            'deployment.environment.name': 'a=b,c',
          });
        } finally {
          if (saved === undefined) delete process.env.OTEL_RESOURCE_ATTRIBUTES;
          else process.env.OTEL_RESOURCE_ATTRIBUTES = saved;
        }
      }
    });
  });

  test('every flag the chart passes is one `kto controller` / `kto agent` accepts', async () => {
    const { objects } = render({
      controller: { otlpEndpoint: 'http://c:4317', otlpProtocol: 'grpc' },
      agent: { otlpEndpoint: 'http://c:4318', otlpProtocol: 'grpc', configFile: '/etc/k/c.yaml', configDir: '/etc/k/c.d', restartCommand: 'systemctl restart kubelet' },
    });
    for (const kind of ['Deployment', 'DaemonSet'] as const) {
      const args: string[] = container(objects, kind).args;
      const help = await runKto([args[0] ?? '', '--help']);
      assert.equal(help.code, 0, help.stderr);
      const known = new Set([...help.stdout.matchAll(/(--[a-z-]+)/g)].map((m) => m[1]));
      for (const f of args.filter((a) => a.startsWith('--'))) assert.ok(known.has(f), `${args[0]}: ${f} is not a kto flag`);
    }
  });
});

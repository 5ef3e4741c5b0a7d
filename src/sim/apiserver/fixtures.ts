// Test fixtures: a small CRD shaped like ours (nodetracing.dev/v1alpha1 NodeTracingPolicy) and
// realistic nodes, for tests and benchmarks of the embedded API server.

import type { KubeObject } from './types.js';

export function testPolicyCRD(): KubeObject {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'nodetracingpolicies.nodetracing.dev' },
    spec: {
      group: 'nodetracing.dev',
      scope: 'Cluster',
      names: { kind: 'NodeTracingPolicy', listKind: 'NodeTracingPolicyList', plural: 'nodetracingpolicies', singular: 'nodetracingpolicy', shortNames: ['ntp'], categories: ['all'] },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: [
            { name: 'Endpoint', type: 'string', jsonPath: '.spec.tracing.endpoint' },
            { name: 'Rate', type: 'integer', jsonPath: '.spec.tracing.samplingRatePerMillion' },
            { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'NodeTracingPolicy turns on kubelet tracing on the nodes it selects.',
              properties: {
                spec: {
                  type: 'object',
                  description: 'Desired tracing configuration and rollout rules.',
                  properties: {
                    nodeSelector: {
                      type: 'object',
                      description: 'Selects the nodes; {} selects every node.',
                      properties: {
                        matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                        matchExpressions: {
                          type: 'array',
                          items: { type: 'object', required: ['key', 'operator'], properties: { key: { type: 'string' }, operator: { type: 'string' }, values: { type: 'array', items: { type: 'string' } } } },
                        },
                      },
                    },
                    tracing: {
                      type: 'object',
                      description: 'The kubelet tracing stanza.',
                      properties: {
                        endpoint: { type: 'string', maxLength: 512, description: 'OTLP gRPC endpoint of the collector.' },
                        samplingRatePerMillion: { type: 'integer', minimum: 0, maximum: 1000000, description: 'Sampled spans per million.' },
                      },
                    },
                    featureGate: { type: 'string', enum: ['Auto', 'Always', 'Never'], default: 'Auto' },
                    rollout: {
                      type: 'object',
                      properties: {
                        maxUnavailable: { 'x-kubernetes-int-or-string': true, anyOf: [{ type: 'integer' }, { type: 'string' }] },
                        paused: { type: 'boolean' },
                      },
                    },
                  },
                },
                status: {
                  type: 'object',
                  properties: {
                    observedGeneration: { type: 'integer' },
                    conditions: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

export const POLICIES = { group: 'nodetracing.dev', version: 'v1alpha1', resource: 'nodetracingpolicies' };

/** A node of realistic size (~5 KB of JSON): labels, images, conditions, capacity, nodeInfo. */
export function realisticNode(i: number, kubeletVersion = 'v1.30.4'): KubeObject {
  const name = `node-${String(i).padStart(5, '0')}`;
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const images = Array.from({ length: 20 }, (_, k) => ({
    names: [`registry.example.com/team-${k % 7}/service-${k}@sha256:${(i * 31 + k).toString(16).padStart(64, 'a')}`, `registry.example.com/team-${k % 7}/service-${k}:v1.${k}.0`],
    sizeBytes: 10_000_000 + k * 1_234_567,
  }));
  const cond = (type: string, status: string, reason: string, message: string) => ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'node.kubernetes.io/instance-type': 'm5.xlarge',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': `eu-west-1${'abc'[i % 3] ?? 'a'}`,
        ...(i % 10 === 0 ? { 'node-role.kubernetes.io/control-plane': '' } : { 'node-role.kubernetes.io/worker': '' }),
      },
      annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: { podCIDR: `10.${(i >> 8) & 255}.${i & 255}.0/24`, providerID: `aws:///eu-west-1a/i-${i.toString(16).padStart(17, '0')}` },
    status: {
      capacity: { cpu: '4', 'ephemeral-storage': '104845292Ki', 'hugepages-2Mi': '0', memory: '16069020Ki', pods: '110' },
      allocatable: { cpu: '3920m', 'ephemeral-storage': '95551679124', 'hugepages-2Mi': '0', memory: '15364508Ki', pods: '110' },
      conditions: [
        cond('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
        cond('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        cond('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        cond('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
      ],
      addresses: [
        { type: 'InternalIP', address: `10.0.${(i >> 8) & 255}.${i & 255}` },
        { type: 'Hostname', address: name },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        machineID: i.toString(16).padStart(32, '0'),
        systemUUID: `ec2${i.toString(16).padStart(29, '0')}`,
        bootID: `b00t${i.toString(16).padStart(28, '0')}`,
        kernelVersion: '6.1.109-118.189.amzn2023.x86_64',
        osImage: 'Amazon Linux 2023.5.20240916',
        containerRuntimeVersion: 'containerd://1.7.22',
        kubeletVersion,
        kubeProxyVersion: kubeletVersion,
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      images,
    },
  };
}

// Test fixtures: a small CRD shaped like ours (nodetracing.dev/v1alpha1 NodeTracingPolicy) and
// realistic nodes, for tests and benchmarks of the embedded API server.

import { simNodeObject } from '../nodes.js';
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

/** A node of realistic size (~5 KB of JSON); the one node factory lives in src/sim/nodes.ts. */
export function realisticNode(i: number, kubeletVersion = 'v1.30.4'): KubeObject {
  return simNodeObject(`node-${String(i).padStart(5, '0')}`, i, kubeletVersion) as unknown as KubeObject;
}

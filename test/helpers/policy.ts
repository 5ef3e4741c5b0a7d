import type { NodeTracingPolicy, NodeTracingPolicySpec } from '../../src/api/types.js';

export function policy(spec: Partial<NodeTracingPolicySpec> = {}, name = 'p'): NodeTracingPolicy {
  return {
    apiVersion: 'nodetracing.dev/v1alpha1',
    kind: 'NodeTracingPolicy',
    metadata: { name },
    spec: { tracing: {}, ...spec },
  };
}

export { prng } from './prng.js';

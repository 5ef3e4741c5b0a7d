import { newPolicy } from '../../src/api/policy.js';
import type { NodeTracingPolicy, NodeTracingPolicySpec } from '../../src/api/types.js';

/** The tests' short form of newPolicy: spec first, the name defaulted. */
export function policy(spec: Partial<NodeTracingPolicySpec> = {}, name = 'p'): NodeTracingPolicy {
  return newPolicy(name, spec);
}

export { prng } from './prng.js';

// One way to write a NodeTracingPolicy object in code (the demo, the tests, the benches), so the
// apiVersion, kind and the one required field are spelled in one place.
import { API_VERSION, KIND, type NodeTracingPolicy, type NodeTracingPolicySpec } from './types.js';

/** A policy named `name`; `spec` over the smallest valid spec (`tracing: {}`). */
export function newPolicy(name: string, spec: Partial<NodeTracingPolicySpec> = {}, metadata: Omit<NodeTracingPolicy['metadata'], 'name'> = {}): NodeTracingPolicy {
  return { apiVersion: API_VERSION, kind: KIND, metadata: { name, ...metadata }, spec: { tracing: {}, ...spec } };
}

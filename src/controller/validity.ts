// Whether a cached policy passes validation. Ownership asks it for every policy on every
// reconcile and every policy event, so the verdict is kept per cached object: the informer
// replaces the object on any change, and a forgotten object takes its verdict with it.
import type { NodeTracingPolicy } from '../api/types.js';
import { validatePolicy, type ValidationResult } from '../validate/policy.js';

const verdicts = new WeakMap<NodeTracingPolicy, ValidationResult>();

export function checkPolicy(p: NodeTracingPolicy): ValidationResult {
  let v = verdicts.get(p);
  if (v === undefined) {
    v = validatePolicy(p);
    verdicts.set(p, v);
  }
  return v;
}

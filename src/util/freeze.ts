// Deep freeze, for values shared by many owners (parsed kubelet configs, the simulated Nodes'
// image list): a change in place throws instead of reaching every owner.

/** Freezes `v` and everything reachable from it; returns `v`. */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

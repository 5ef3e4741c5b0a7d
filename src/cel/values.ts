// JSON <-> CEL values. Kubernetes decodes JSON integers as int64 and other numbers as float64, so
// CEL sees `1` as an int and `1.5` as a double; cel-js represents int as BigInt. Objects stay
// plain objects (cel-js reads them as maps with own-property semantics).

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  // JSON.parse makes "__proto__" an own key; plain assignment would set the prototype instead.
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/**
 * A decoded JSON value as CEL sees it (`dyn`): integral numbers become BigInt. Subtrees without
 * a number are shared with the input rather than copied (inputs are never mutated: the store
 * keeps each stored object as it is, and CEL does not write), which keeps a large Node's
 * conversion nearly free of garbage.
 */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const c = toCel(v[i]);
      if (c !== v[i]) (out ??= v.slice())[i] = c;
    }
    return out ?? v;
  }
  if (typeof v === 'object' && v !== null) {
    let out: Record<string, unknown> | undefined;
    const src = v as Record<string, unknown>;
    for (const k of Object.keys(src)) {
      const c = toCel(src[k]);
      if (c === src[k]) continue;
      if (!out) {
        out = {};
        for (const [k2, x] of Object.entries(src)) setOwn(out, k2, x);
      }
      setOwn(out, k, c);
    }
    return out ?? v;
  }
  return v;
}

/** A CEL result back to JSON-ish (BigInt -> number, Maps -> objects), for messages and tests. */
export function fromCel(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), fromCel(x)]));
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCel(x)]));
  }
  return v;
}

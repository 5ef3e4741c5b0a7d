// JSON <-> CEL values. Kubernetes decodes JSON integers as int64 and other numbers as float64, so
// CEL sees `1` as an int and `1.5` as a double; cel-js represents int as BigInt. Objects stay
// plain objects (cel-js reads them as maps with own-property semantics).

/** A decoded JSON value as CEL sees it (`dyn`): integral numbers become BigInt. */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      // JSON.parse makes "__proto__" an own key; plain assignment would set the prototype instead.
      if (k === '__proto__') Object.defineProperty(out, k, { value: toCel(x), enumerable: true, writable: true, configurable: true });
      else out[k] = toCel(x);
    }
    return out;
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

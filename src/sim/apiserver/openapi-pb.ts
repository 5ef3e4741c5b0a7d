// OpenAPI v2 as protobuf (gnostic openapi_v2.Document), which kubectl <= 1.29 insists on for
// `apply`. Only what kube-openapi reads is encoded: definitions with their schemas and vendor
// extensions (x-kubernetes-group-version-kind, patch strategies); paths are left empty.

import { stringify as toYaml } from 'yaml';
import { type JsonObject, isObject } from './types.js';

class Writer {
  private readonly parts: Buffer[] = [];
  private varint(n: number): void {
    const bytes: number[] = [];
    let v = BigInt.asUintN(64, BigInt(Math.trunc(n)));
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      bytes.push(b);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
  }
  private tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }
  string(field: number, s: string | undefined): void {
    if (s === undefined || s === '') return;
    const b = Buffer.from(s, 'utf8');
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
  }
  bytes(field: number, b: Buffer): void {
    this.tag(field, 2);
    this.varint(b.length);
    this.parts.push(b);
  }
  message(field: number, w: Writer): void {
    this.bytes(field, w.finish());
  }
  bool(field: number, v: unknown, always = false): void {
    if (v !== true && !always) return;
    this.tag(field, 0);
    this.varint(v === true ? 1 : 0);
  }
  int(field: number, v: unknown): void {
    if (typeof v !== 'number') return;
    this.tag(field, 0);
    this.varint(v);
  }
  double(field: number, v: unknown): void {
    if (typeof v !== 'number') return;
    this.tag(field, 1);
    const b = Buffer.alloc(8);
    b.writeDoubleLE(v);
    this.parts.push(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function anyYaml(v: unknown): Writer {
  const w = new Writer();
  w.string(2, toYaml(v).trimEnd());
  return w;
}

function namedAny(name: string, v: unknown): Writer {
  const w = new Writer();
  w.string(1, name);
  w.message(2, anyYaml(v));
  return w;
}

function schema(s: JsonObject): Writer {
  const w = new Writer();
  const ref = typeof s['$ref'] === 'string' ? s['$ref'] : undefined;
  w.string(1, ref);
  w.string(2, typeof s['format'] === 'string' ? s['format'] : undefined);
  w.string(4, typeof s['description'] === 'string' ? s['description'] : undefined);
  if (s['default'] !== undefined) w.message(5, anyYaml(s['default']));
  w.double(6, s['multipleOf']);
  w.double(7, s['maximum']);
  w.bool(8, s['exclusiveMaximum']);
  w.double(9, s['minimum']);
  w.bool(10, s['exclusiveMinimum']);
  w.int(11, s['maxLength']);
  w.int(12, s['minLength']);
  w.string(13, typeof s['pattern'] === 'string' ? s['pattern'] : undefined);
  w.int(14, s['maxItems']);
  w.int(15, s['minItems']);
  if (Array.isArray(s['required'])) for (const r of s['required']) if (typeof r === 'string') w.string(19, r);
  if (Array.isArray(s['enum'])) for (const e of s['enum']) w.message(20, anyYaml(e));
  const ap = s['additionalProperties'];
  if (isObject(ap)) {
    const a = new Writer();
    a.message(1, schema(ap));
    w.message(21, a);
  } else if (typeof ap === 'boolean') {
    const a = new Writer();
    a.bool(2, ap, true);
    w.message(21, a);
  }
  if (typeof s['type'] === 'string') {
    const t = new Writer();
    t.string(1, s['type']);
    w.message(22, t);
  }
  if (isObject(s['items'])) {
    const it = new Writer();
    it.message(1, schema(s['items']));
    w.message(23, it);
  }
  if (Array.isArray(s['allOf'])) for (const a of s['allOf']) if (isObject(a)) w.message(24, schema(a));
  if (isObject(s['properties'])) {
    const p = new Writer();
    for (const [name, sub] of Object.entries(s['properties'])) {
      if (!isObject(sub)) continue;
      const ns = new Writer();
      ns.string(1, name);
      ns.message(2, schema(sub));
      p.message(1, ns);
    }
    w.message(25, p);
  }
  for (const [k, v] of Object.entries(s)) if (k.startsWith('x-')) w.message(31, namedAny(k, v));
  return w;
}

/** Encodes a Swagger 2.0 JSON document (definitions only) as openapi_v2.Document. */
export function encodeV2(doc: JsonObject): Buffer {
  const w = new Writer();
  w.string(1, '2.0');
  const info = new Writer();
  info.string(1, 'Kubernetes');
  info.string(2, 'unversioned');
  w.message(2, info);
  w.message(8, new Writer());
  const defs = new Writer();
  const d = isObject(doc['definitions']) ? doc['definitions'] : {};
  for (const [name, s] of Object.entries(d)) {
    if (!isObject(s)) continue;
    const ns = new Writer();
    ns.string(1, name);
    ns.message(2, schema(s));
    defs.message(1, ns);
  }
  w.message(9, defs);
  return w.finish();
}

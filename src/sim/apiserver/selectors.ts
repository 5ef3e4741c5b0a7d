// labelSelector and fieldSelector query parameters, parsed once per request into predicates.

import { badRequest } from './errors.js';
import { type KubeObject, getPath, scalarText } from './types.js';

export type Matcher = (obj: KubeObject) => boolean;

type LabelReq =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: Set<string> }
  | { op: 'exists' | 'notexists'; key: string };

/** Splits on commas that are not inside parentheses (`a in (x,y),b`). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}

export function parseLabelSelector(sel: string | undefined): Matcher | undefined {
  if (!sel || sel.trim() === '') return undefined;
  const reqs: LabelReq[] = [];
  for (const term of splitTop(sel)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const values = new Set((m[3] ?? '').split(',').map((v) => v.trim()).filter((v) => v !== ''));
      reqs.push({ op: m[2] === 'in' ? 'in' : 'notin', key: m[1] ?? '', values });
    } else if ((m = term.match(/^([^\s!=()]+)\s*(==|=|!=)\s*([^\s,()]*)$/))) {
      reqs.push({ op: m[2] === '!=' ? 'neq' : 'eq', key: m[1] ?? '', value: m[3] ?? '' });
    } else if ((m = term.match(/^!\s*([^\s!=()]+)$/))) {
      reqs.push({ op: 'notexists', key: m[1] ?? '' });
    } else if ((m = term.match(/^([^\s!=()]+)$/))) {
      reqs.push({ op: 'exists', key: m[1] ?? '' });
    } else {
      throw badRequest(`unable to parse requirement: found '${term}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    for (const r of reqs) {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case 'eq':
          if (v !== r.value) return false;
          break;
        case 'neq':
          if (has && v === r.value) return false;
          break;
        case 'in':
          if (v === undefined || !r.values.has(v)) return false;
          break;
        case 'notin':
          if (v !== undefined && r.values.has(v)) return false;
          break;
        case 'exists':
          if (!has) return false;
          break;
        case 'notexists':
          if (has) return false;
          break;
      }
    }
    return true;
  };
}

interface FieldReq {
  path: string;
  neq: boolean;
  value: string;
}

function fieldRequirements(sel: string): FieldReq[] {
  const reqs: FieldReq[] = [];
  for (const term of splitTop(sel)) {
    const m = term.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${sel}'; can't understand '${term}'`);
    reqs.push({ path: (m[1] ?? '').trim(), neq: m[2] === '!=', value: (m[3] ?? '').trim() });
  }
  return reqs;
}

/** Any dotted field path is accepted (the real server allows a per-type set; kubectl describe asks for involvedObject.*). */
export function parseFieldSelector(sel: string | undefined): Matcher | undefined {
  if (!sel || sel.trim() === '') return undefined;
  const reqs = fieldRequirements(sel);
  return (obj) => reqs.every((r) => (scalarText(getPath(obj, r.path)) === r.value) !== r.neq);
}

/** The name a field selector pins with `metadata.name=X`: the real registry serves such a list
 *  or watch as a single-key lookup (its MatchesSingle), and so does this one. */
export function pinnedName(sel: string | undefined): string | undefined {
  if (!sel || sel.trim() === '') return undefined;
  return fieldRequirements(sel).find((r) => r.path === 'metadata.name' && !r.neq)?.value;
}

export function combine(...ms: (Matcher | undefined)[]): Matcher | undefined {
  const live = ms.filter((m): m is Matcher => m !== undefined);
  if (live.length === 0) return undefined;
  if (live.length === 1) return live[0];
  return (o) => live.every((m) => m(o));
}

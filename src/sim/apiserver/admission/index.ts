// ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1) in the embedded API server:
// every write that carries a requester (WriteOptions.user) is checked against the bound
// policies before it is stored, as k8s.io/apiserver's validating policy dispatcher does:
//   policy matchConstraints -> binding matchResources -> matchConditions (false: skip; error:
//   failurePolicy) -> validations (variables evaluated lazily, once per request) -> actions:
//   Deny (the first denial is the answer), Warn (a Warning header), Audit (no audit log here).
// A denial is the real Status: `nodes "node-02" is forbidden: ValidatingAdmissionPolicy 'p'
// with binding 'b' denied request: MESSAGE`, with the code from the validation's reason.
//
// It costs nothing when no binding exists, and a map lookup when none selects the resource:
// the pairs (policy, binding) are indexed by "group/resource" and rebuilt only when a policy or
// binding changes.

import { CelRuntimeError, toCel } from '../../../cel/index.js';
import { ApiError, qualified } from '../errors.js';
import type { ResourceDef } from '../registry.js';
import { type KubeObject, scalarText } from '../types.js';
import type { UserInfo } from '../userinfo.js';
import { type CompiledPolicy, compilePolicy } from './compile.js';
import { type RequestFacts, indexKeys, matchesResources } from './match.js';

export { VAP, VAPB, admissionObjectCauses, isAdmissionKind, registerAdmissionKinds, withDefaults } from './kinds.js';

export interface AdmissionSource {
  policies(): KubeObject[];
  bindings(): KubeObject[];
  namespace(name: string): KubeObject | undefined;
}

export interface AdmissionRequest {
  def: ResourceDef;
  operation: 'CREATE' | 'UPDATE' | 'DELETE';
  subresource?: string;
  name: string;
  namespace?: string;
  object: KubeObject | null;
  oldObject: KubeObject | null;
  user: UserInfo;
  dryRun: boolean;
}

interface Pair {
  policy: KubeObject;
  binding: KubeObject;
  compiled: CompiledPolicy;
  failurePolicy: 'Fail' | 'Ignore';
  actions: string[];
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Obj) : {});

const CODES: Record<string, number> = { Forbidden: 403, Unauthorized: 401, RequestEntityTooLarge: 413, Invalid: 422 };

interface Decision {
  action: 'deny' | 'admit';
  message: string;
  reason: string;
}

export class ValidatingAdmission {
  private index: Map<string, Pair[]> | undefined;
  private compiledCache = new Map<string, { rv: string; compiled: CompiledPolicy }>();

  constructor(private readonly source: AdmissionSource) {}

  /** A policy or binding changed: rebuild the index before the next request. */
  invalidate(): void {
    this.index = undefined;
  }

  private build(): Map<string, Pair[]> {
    const index = new Map<string, Pair[]>();
    const policies = new Map(this.source.policies().map((p) => [p.metadata.name ?? '', p]));
    const cache = new Map<string, { rv: string; compiled: CompiledPolicy }>();
    const bindings = [...this.source.bindings()].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    for (const binding of bindings) {
      const spec = obj(binding['spec']);
      const policy = policies.get(scalarText(spec['policyName']));
      if (!policy) continue;
      const name = policy.metadata.name ?? '';
      const rv = policy.metadata.resourceVersion ?? '';
      let entry = cache.get(name) ?? this.compiledCache.get(name);
      if (!entry || entry.rv !== rv) entry = { rv, compiled: compilePolicy(obj(policy['spec'])).compiled };
      cache.set(name, entry);
      const pspec = obj(policy['spec']);
      const pair: Pair = {
        policy,
        binding,
        compiled: entry.compiled,
        failurePolicy: pspec['failurePolicy'] === 'Ignore' ? 'Ignore' : 'Fail',
        actions: Array.isArray(spec['validationActions']) ? spec['validationActions'].map(String) : [],
      };
      for (const key of indexKeys(obj(pspec['matchConstraints']))) {
        const list = index.get(key) ?? [];
        list.push(pair);
        index.set(key, list);
      }
    }
    this.compiledCache = cache;
    return index;
  }

  /** Throws the denial as an ApiError; returns the warnings (Warn actions) to send back. */
  admit(req: AdmissionRequest): string[] {
    // admissionregistration objects are exempt, so a bad policy can always be fixed or removed.
    if (req.def.group === 'admissionregistration.k8s.io') return [];
    this.index ??= this.build();
    if (this.index.size === 0) return [];
    const g = req.def.group;
    const r = req.def.resource;
    const candidates = [...(this.index.get(`${g}/${r}`) ?? []), ...(this.index.get(`*/${r}`) ?? []), ...(this.index.get(`${g}/*`) ?? []), ...(this.index.get('*/*') ?? [])];
    if (candidates.length === 0) return [];
    const facts: RequestFacts = {
      group: g,
      version: req.def.version,
      resource: r,
      subresource: req.subresource ?? '',
      operation: req.operation,
      name: req.name,
      namespaced: req.def.namespaced,
      object: req.object,
      oldObject: req.oldObject,
      namespaceObject: req.namespace !== undefined ? (this.source.namespace(req.namespace) ?? null) : null,
    };
    const warnings: string[] = [];
    const seen = new Set<Pair>();
    let vars: Obj | undefined;
    for (const pair of candidates) {
      if (seen.has(pair)) continue;
      seen.add(pair);
      if (!matchesResources(obj(obj(pair.policy['spec'])['matchConstraints']), facts, true)) continue;
      const mr = obj(pair.binding['spec'])['matchResources'];
      if (mr !== undefined && !matchesResources(obj(mr), facts, false)) continue;
      vars ??= activation(req, facts);
      const decision = evaluate(pair, withVariables(vars, pair.compiled));
      if (!decision || decision.action === 'admit') continue;
      const policyName = pair.policy.metadata.name ?? '';
      const bindingName = pair.binding.metadata.name ?? '';
      if (pair.actions.includes('Warn')) warnings.push(`Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${bindingName}': ${decision.message}`);
      if (pair.actions.includes('Deny')) throw denial(req, policyName, bindingName, decision);
    }
    return warnings;
  }
}

function requestVar(req: AdmissionRequest, facts: RequestFacts): Obj {
  const gvk = { group: req.def.group, version: req.def.version, kind: req.def.kind };
  const gvr = { group: req.def.group, version: req.def.version, resource: req.def.resource };
  const user: Obj = { username: req.user.username };
  if (req.user.uid) user['uid'] = req.user.uid;
  if (req.user.groups.length > 0) user['groups'] = [...req.user.groups];
  if (req.user.extra && Object.keys(req.user.extra).length > 0) user['extra'] = structuredClone(req.user.extra);
  const out: Obj = { uid: globalThis.crypto.randomUUID(), kind: gvk, resource: gvr, requestKind: gvk, requestResource: gvr, operation: req.operation, userInfo: user, dryRun: req.dryRun };
  if (facts.subresource !== '') {
    out['subResource'] = facts.subresource;
    out['requestSubResource'] = facts.subresource;
  }
  if (req.name !== '') out['name'] = req.name;
  if (req.namespace !== undefined) out['namespace'] = req.namespace;
  return out;
}

function activation(req: AdmissionRequest, facts: RequestFacts): Obj {
  return {
    object: toCel(req.object),
    oldObject: toCel(req.oldObject),
    request: requestVar(req, facts),
    params: null,
    namespaceObject: toCel(facts.namespaceObject),
    authorizer: null,
  };
}

/** The policy's variables, each evaluated on first use and at most once (errors included). */
function withVariables(base: Obj, compiled: CompiledPolicy): Obj {
  const variables: Obj = {};
  const vars: Obj = { ...base, variables };
  for (const v of compiled.variables) {
    let done: { value: unknown } | { error: string } | undefined;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get(): unknown {
        if (!done) {
          try {
            done = { value: v.program.evaluate(vars) };
          } catch (e: unknown) {
            done = { error: e instanceof Error ? e.message : String(e) };
          }
        }
        if ('error' in done) throw new CelRuntimeError(`composited variable "${v.name}" fails to evaluate: ${done.error}`);
        return done.value;
      },
    });
  }
  return vars;
}

function errorMessage(expression: string, e: unknown): string {
  return `expression '${expression}' resulted in error: ${e instanceof Error ? e.message : String(e)}`;
}

/** One policy+binding on one request: undefined when its matchConditions exclude it. */
function evaluate(pair: Pair, vars: Obj): Decision | undefined {
  const onError = (message: string): Decision => ({ action: pair.failurePolicy === 'Fail' ? 'deny' : 'admit', message, reason: 'Invalid' });
  // A false matchCondition wins over an erroring one.
  const errors: string[] = [];
  for (const c of pair.compiled.matchConditions) {
    try {
      if (c.program.evaluate(vars) === false) return undefined;
    } catch (e: unknown) {
      errors.push(errorMessage(c.expression, e));
    }
  }
  if (errors.length > 0) return onError(errors.length === 1 ? (errors[0] ?? '') : `[${errors.join(', ')}]`);
  for (const v of pair.compiled.validations) {
    let result: unknown;
    try {
      result = v.program.evaluate(vars);
    } catch (e: unknown) {
      const d = onError(errorMessage(v.expression, e));
      if (d.action === 'deny') return d;
      continue;
    }
    if (result === true) continue;
    if (result !== false) {
      const d = onError(`expression '${v.expression}' resulted in error: expected a bool, got ${typeof result}`);
      if (d.action === 'deny') return d;
      continue;
    }
    return { action: 'deny', message: messageOf(v, vars), reason: v.reason ?? 'Invalid' };
  }
  return { action: 'admit', message: '', reason: '' };
}

function messageOf(v: CompiledPolicy['validations'][number], vars: Obj): string {
  if (v.messageProgram) {
    try {
      const m = v.messageProgram.evaluate(vars);
      if (typeof m === 'string' && m.trim() !== '' && !/[\r\n]/.test(m)) return m.trim();
    } catch {
      // The real server falls back to message (and logs the error).
    }
  }
  if (v.message !== '') return v.message;
  return `failed expression: ${v.expression.trim()}`;
}

function denial(req: AdmissionRequest, policy: string, binding: string, d: Decision): ApiError {
  const message = `ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: ${d.message}`;
  const resource = qualified(req.def.resource, req.def.group);
  const full = req.name === '' ? `${resource} is forbidden: ${message}` : `${resource} ${JSON.stringify(req.name)} is forbidden: ${message}`;
  return new ApiError(CODES[d.reason] ?? 422, d.reason, full, { name: req.name, group: req.def.group || undefined, kind: req.def.resource, causes: [{ message }] });
}

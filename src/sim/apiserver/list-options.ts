// The list and watch options as the real handler reads and checks them before any storage is
// asked (apiserver endpoints/handlers/get.go ListResource): the query parameters, the WatchList
// feature gate of the server's version, SetListOptionsDefaults, then apimachinery's
// ValidateListOptions, whose errors are answered together as one 422 on ListOptions.meta.k8s.io "".

import { type StatusCause, invalid } from './errors.js';

/** Whether a boolean query parameter is set, as the real server reads one
 *  (apimachinery's Convert_Slice_string_To_bool): absent is false; present, it is true unless its
 *  first value is "0" or "false" in any case (`?watch`, `?watch=` and `?watch=True` are true). */
export function queryFlag(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v !== null && v !== '0' && v.toLowerCase() !== 'false';
}

/** `absent`: the server predates `sendInitialEvents` (before 1.27 it is an unknown query
 *  parameter, ignored). */
export type WatchListGate = 'absent' | 'off' | 'on';

/** The WatchList feature gate (KEP-3157, streaming lists) at its default for the server's
 *  version, as apiserver's versioned kube_features.go has it: alpha and off from 1.27, beta and
 *  on in 1.32, back off in 1.33 ("the json and proto streaming encoders appear to work better"),
 *  on again from 1.34. An unreadable version counts as the sim's default, 1.32. */
export function watchListGate(gitVersion: string): WatchListGate {
  const minor = Number(/^v1\.(\d+)/.exec(gitVersion)?.[1] ?? '32');
  if (minor < 27) return 'absent';
  return minor === 32 || minor >= 34 ? 'on' : 'off';
}

/** internalversion.ListOptions, the parts these rules read; absent strings are "". */
export interface ListQuery {
  resourceVersion: string;
  resourceVersionMatch: string;
  continue: string;
  /** undefined when absent (nil): present with any value is a choice, even `false`. */
  sendInitialEvents: boolean | undefined;
}

export function readListQuery(q: URLSearchParams, gate: WatchListGate): ListQuery {
  return {
    resourceVersion: q.get('resourceVersion') ?? '',
    resourceVersionMatch: q.get('resourceVersionMatch') ?? '',
    continue: q.get('continue') ?? '',
    sendInitialEvents: gate === 'absent' || !q.has('sendInitialEvents') ? undefined : queryFlag(q, 'sendInitialEvents'),
  };
}

/** SetListOptionsDefaults: with the gate on, a watch from "" or "0" that names neither option is
 *  served as a streaming list (its initial events, then, with bookmarks allowed, the bookmark
 *  that marks their end). */
export function watchDefaults(o: ListQuery, gate: WatchListGate): ListQuery {
  if (gate !== 'on' || o.sendInitialEvents !== undefined || o.resourceVersionMatch !== '') return o;
  if (o.resourceVersion !== '' && o.resourceVersion !== '0') return o;
  return { ...o, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan' };
}

const forbidden = (field: string, message: string): StatusCause => ({ reason: 'FieldValueForbidden', field, message: `Forbidden: ${message}` });
const notSupported = (field: string, value: string, supported: string[]): StatusCause => ({
  reason: 'FieldValueNotSupported',
  field,
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}`,
});

/** ValidateListOptions of a list, in its order. */
export function listCauses(o: ListQuery): StatusCause[] {
  const out = resourceVersionMatchCauses(o);
  if (o.sendInitialEvents !== undefined) out.push(forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list'));
  return out;
}

function resourceVersionMatchCauses(o: ListQuery): StatusCause[] {
  const match = o.resourceVersionMatch;
  if (match === '') return [];
  const out: StatusCause[] = [];
  if (o.resourceVersion === '') out.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided'));
  if (o.continue !== '') out.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
  if (match !== 'Exact' && match !== 'NotOlderThan') out.push(notSupported('resourceVersionMatch', match, ['Exact', 'NotOlderThan', '']));
  if (match === 'Exact' && o.resourceVersion === '0') out.push(forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  return out;
}

/** ValidateListOptions of a watch (validateWatchOptions from 1.27; before, the list's rules
 *  after "forbidden for watch"), in its order. */
export function watchCauses(o: ListQuery, gate: WatchListGate): StatusCause[] {
  const match = o.resourceVersionMatch;
  if (gate === 'absent') return match === '' ? [] : [forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch'), ...resourceVersionMatchCauses(o)];
  const out: StatusCause[] = [];
  if (o.sendInitialEvents !== undefined) {
    if (match !== 'NotOlderThan') out.push(forbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
    if (gate === 'off') out.push(forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled'));
  }
  if (match !== '') {
    if (o.sendInitialEvents === undefined) out.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
    if (match !== 'NotOlderThan') out.push(notSupported('resourceVersionMatch', match, ['NotOlderThan']));
    if (o.continue !== '') out.push(forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided'));
  }
  return out;
}

/** The 422 the handler answers for these causes, or nothing. */
export function checkListOptions(causes: StatusCause[]): void {
  if (causes.length > 0) throw invalid('ListOptions', 'meta.k8s.io', '', causes);
}

// ObjectMeta field types, as decoding into the Go struct checks them: a name that is a number, or
// labels that are not strings, fail the request with 400 before any validation runs
// (`json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string`).

type Check = { go: string; ok: (v: unknown) => boolean };

const isString = (v: unknown): boolean => typeof v === 'string';
const isInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v);
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const FIELDS: Record<string, Check> = {
  name: { go: 'string', ok: isString },
  generateName: { go: 'string', ok: isString },
  namespace: { go: 'string', ok: isString },
  selfLink: { go: 'string', ok: isString },
  uid: { go: 'types.UID', ok: isString },
  resourceVersion: { go: 'string', ok: isString },
  generation: { go: 'int64', ok: isInt },
  creationTimestamp: { go: 'v1.Time', ok: isString },
  deletionTimestamp: { go: 'v1.Time', ok: isString },
  deletionGracePeriodSeconds: { go: 'int64', ok: isInt },
  labels: { go: 'map[string]string', ok: (v) => isObj(v) && Object.values(v).every(isString) },
  annotations: { go: 'map[string]string', ok: (v) => isObj(v) && Object.values(v).every(isString) },
  finalizers: { go: '[]string', ok: (v) => Array.isArray(v) && v.every(isString) },
  ownerReferences: { go: '[]v1.OwnerReference', ok: (v) => Array.isArray(v) && v.every(isObj) },
  managedFields: { go: '[]v1.ManagedFieldsEntry', ok: (v) => Array.isArray(v) && v.every(isObj) },
};

function jsonType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v;
}

/** The decoder's complaint about the first mistyped ObjectMeta field, if any (null means unset). */
export function objectMetaTypeProblem(meta: Record<string, unknown>): string | undefined {
  for (const [field, check] of Object.entries(FIELDS)) {
    const v = meta[field];
    if (v === undefined || v === null || check.ok(v)) continue;
    // A map or list with a wrong element names the element type, as encoding/json does.
    let bad: unknown = v;
    let goType = check.go;
    if (isObj(v) && check.go.startsWith('map')) [bad, goType] = [Object.values(v).find((x) => !isString(x)), 'string'];
    else if (Array.isArray(v) && check.go.startsWith('[]')) {
      goType = check.go.slice(2);
      bad = v.find((x) => (goType === 'string' ? !isString(x) : !isObj(x)));
    }
    return `json: cannot unmarshal ${jsonType(bad)} into Go struct field ObjectMeta.metadata.${field} of type ${goType}`;
  }
  return undefined;
}

// metav1.LabelSelector rules (apimachinery ValidateLabelSelector): keys are qualified names,
// values are label values, In/NotIn need values and Exists/DoesNotExist take none.
import type { LabelSelector } from '../api/types.js';
import type { FieldError } from './errors.js';

const NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      return `prefix "${prefix}" must be a lowercase DNS subdomain of at most 253 characters`;
    }
  }
  if (name.length === 0 || name.length > 63 || !NAME.test(name)) {
    return `name part "${name}" must be 1-63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value)) {
    return `"${value}" must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}

export function selectorErrors(sel: LabelSelector, path: string): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
    const kp = labelKeyProblem(key);
    if (kp) errors.push({ path: `${path}.matchLabels`, message: `key "${key}": ${kp}` });
    const vp = labelValueProblem(value);
    if (vp) errors.push({ path: `${path}.matchLabels.${key}`, message: vp });
  }
  (sel.matchExpressions ?? []).forEach((req, i) => {
    const rp = `${path}.matchExpressions[${i}]`;
    const kp = labelKeyProblem(req.key);
    if (kp) errors.push({ path: `${rp}.key`, message: kp });
    const values = req.values ?? [];
    if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
      errors.push({ path: `${rp}.values`, message: `must be non-empty when operator is ${req.operator}` });
    }
    if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
      errors.push({ path: `${rp}.values`, message: `must be empty when operator is ${req.operator}` });
    }
    values.forEach((v, j) => {
      const vp = labelValueProblem(v);
      if (vp) errors.push({ path: `${rp}.values[${j}]`, message: vp });
    });
  });
  return errors;
}

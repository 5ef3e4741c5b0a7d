// Reading what was thrown, once: Node's errno code, client-node's HTTP status, and a one-line text.
import * as k8s from '@kubernetes/client-node';

export { errCode } from './errno.js';

/** The HTTP status of a failed API call: client-node's ApiException, or a Status-like object. */
export function httpStatus(err: unknown): number | undefined {
  if (err instanceof k8s.ApiException) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** One line for a log or a status message: an API failure as its status and body. */
export function errorText(e: unknown): string {
  if (e instanceof k8s.ApiException) return `HTTP ${e.code}: ${typeof e.body === 'string' ? e.body : JSON.stringify(e.body)}`;
  return e instanceof Error ? e.message : String(e);
}

/** One problem with one field: `path` is the spec path (`spec.tracing.endpoint`). */
export interface FieldError {
  path: string;
  message: string;
}

export function formatFieldError(e: FieldError): string {
  return `${e.path}: ${e.message}`;
}

// Node's errno code of a failed system call: apart from errors.ts, which loads client-node, for
// the file steps the embedded cluster's thread runs (agent/atomic.ts) without it.

/** Node's errno code ('ENOENT', 'EEXIST', ...) of a failed system call. */
export function errCode(e: unknown): string | undefined {
  return e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

// The one polling helper of the tests and benches: wait for a condition a process reaches in its
// own time (a rollout, a watch event, a file), with a deadline and a message naming what never came.

/** Polls `fn` every `everyMs` until it returns something other than undefined or false, and
 *  returns that. A throw counts as "not yet" (a server still starting); at the deadline the
 *  error names `what`, the last throw, and what `diagnose` says (logs, objects). */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
  everyMs = 50,
  diagnose?: () => string | Promise<string>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last ? `: ${String(last)}` : '';
      throw new Error(`timed out waiting for ${what}${why}${diagnose ? `\n${await diagnose()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `p`, or an error with `message` once timeoutMs have passed (the timer never outlives `p`). */
export async function withTimeout<T>(p: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// The reconcile contract, apart from the queue that drives it (controller-runtime's
// pkg/reconcile): a reconcile of one key returns when to look again, or throws. A thrown
// TerminalError is not retried (an invalid spec stays invalid until the user edits it: the
// policy's Stalled condition says how); any other error is retried with per-key back-off.

/** What a reconcile asks of the queue. Nothing (`undefined`): done until an event brings the key
 *  back. `requeueAfterMs`: look again after this long (a soak, a timeout, a deferred status
 *  write), whether or not an event comes first. `writes`: writes sent and not yet answered (the
 *  node releases). The key may run again before they are: the reconciler already counts them
 *  (its expectations), so a slot freed meanwhile is filled at once instead of after the slowest
 *  write of the last batch. If they fail, the key is retried with back-off, as if the run had
 *  thrown. */
// eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- a reconcile that returns nothing is done
export type Result = { requeueAfterMs?: number; writes?: Promise<void> } | void;

/** An error that retrying cannot fix (an invalid spec): the key is not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

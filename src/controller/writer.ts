// What the Reconciler writes, as an interface: kube/writer.ts's ApiWriter does it over HTTP
// (leadership-checked, observed); tests hand the Reconciler an in-memory one.
import type { KIND, NodeTracingPolicyStatus } from '../api/types.js';

export interface EventTarget {
  kind: 'Node' | typeof KIND;
  name: string;
  uid?: string;
}

export interface Writer {
  /** JSON merge patch of our annotations on a Node (null deletes a key). The write reaches the
   *  cache through the watch, later: the Reconciler's expectations cover the gap. */
  patchNodeAnnotations(name: string, annotations: Record<string, string | null>): Promise<void>;
  patchPolicyStatus(name: string, status: NodeTracingPolicyStatus): Promise<void>;
  /** Sets the finalizers list, guarded by resourceVersion so a concurrent change is not lost. */
  setPolicyFinalizers(name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void>;
  /** Best effort: an Event that cannot be written is not worth failing a reconcile, so this
   *  never throws. */
  event(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

// The one module that writes to the API server. Everything else asks it. Every write checks
// leadership first, so a replica that lost its lease stops writing at once. It implements the
// controller's Writer (controller/writer.ts), the interface the Reconciler depends on.
import { hostname } from 'node:os';
import * as k8s from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURAL, VERSION, type NodeTracingPolicyStatus } from '../api/types.js';
import type { EventTarget, Writer } from '../controller/writer.js';
import { mergePatch } from './client.js';
import { MergePatcher, NoAnswerError, REQUEST_DEADLINE_MS } from './patch.js';

export class NotLeaderError extends Error {
  constructor() {
    super('not the leader: refusing to write');
    this.name = 'NotLeaderError';
  }
}

export interface WriteObserver {
  /** `code`: the HTTP status (0 when no response came back, e.g. connection refused). */
  (write: { verb: string; resource: string; name: string; ok: boolean; ms: number; code: number }): void;
}

export class ApiWriter implements Writer {
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;
  /** The node hand-offs, one per node per rollout, go over reused connections. */
  private readonly patcher: MergePatcher;
  writes = 0;

  constructor(
    kc: k8s.KubeConfig,
    private readonly opts: {
      canWrite: () => boolean;
      component: string;
      /** Events' reportingInstance: this replica. Default: $POD_NAME (the downward API), else the hostname (a pod's name too). */
      instance?: string;
      eventNamespace?: string;
      observe?: WriteObserver;
      /** A write unanswered this long fails with NoAnswerError (default REQUEST_DEADLINE_MS). */
      deadlineMs?: number;
    },
  ) {
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
    this.patcher = new MergePatcher(kc, opts.deadlineMs);
  }

  /** A call of client-node's generated clients, aborted if unanswered by the deadline. */
  private async generated<T>(what: string, call: (o: k8s.ConfigurationOptions) => Promise<T>, o: k8s.ConfigurationOptions = {}): Promise<T> {
    const ms = this.opts.deadlineMs ?? REQUEST_DEADLINE_MS;
    const signal = AbortSignal.timeout(ms);
    const abort: k8s.ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(signal);
        return new k8s.Observable(Promise.resolve(ctx));
      },
      post: (res) => new k8s.Observable(Promise.resolve(res)),
    };
    try {
      return await call({ ...o, middleware: [...(o.middleware ?? []), abort], middlewareMergeStrategy: 'append' });
    } catch (err) {
      if (signal.aborted) throw new NoAnswerError(what, ms);
      throw err;
    }
  }

  private async write<T>(verb: string, resource: string, name: string, fn: () => Promise<T>): Promise<T> {
    if (!this.opts.canWrite()) throw new NotLeaderError();
    const start = performance.now();
    this.writes++;
    try {
      const out = await fn();
      // The typed client hides the status of a success: it is the one the API defines per verb.
      this.opts.observe?.({ verb, resource, name, ok: true, ms: performance.now() - start, code: verb === 'create' ? 201 : 200 });
      return out;
    } catch (err) {
      const code = err instanceof k8s.ApiException ? err.code : 0;
      this.opts.observe?.({ verb, resource, name, ok: false, ms: performance.now() - start, code });
      throw err;
    }
  }

  /** JSON merge patch of our annotations on a Node (null deletes a key). The watch brings the
   *  result to the cache; the Reconciler's expectations cover the gap. */
  async patchNodeAnnotations(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.write('patch', 'nodes', name, () =>
      this.patcher.patch(`/api/v1/nodes/${encodeURIComponent(name)}`, { metadata: { annotations } }),
    );
  }

  async patchPolicyStatus(name: string, status: NodeTracingPolicyStatus): Promise<void> {
    await this.write('patch', `${PLURAL}/status`, name, () =>
      this.generated(
        `PATCH ${PLURAL}/${name}/status`,
        (o) => this.custom.patchClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { status } }, o),
        mergePatch,
      ),
    );
  }

  /** Sets the finalizers list, guarded by resourceVersion so a concurrent change is not lost. */
  async setPolicyFinalizers(name: string, finalizers: string[], resourceVersion: string | undefined): Promise<void> {
    await this.write('patch', PLURAL, name, () =>
      this.generated(
        `PATCH ${PLURAL}/${name}`,
        (o) => this.custom.patchClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name, body: { metadata: { finalizers, resourceVersion } } }, o),
        mergePatch,
      ),
    );
  }

  /** Drops the reused connections (on shutdown). */
  close(): void {
    this.patcher.close();
  }

  /** Best effort: an Event that cannot be written is not worth failing a reconcile. */
  async event(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = this.opts.eventNamespace ?? 'default';
    const now = new Date();
    const body: k8s.CoreV1Event = {
      metadata: { generateName: `${target.name}.`, namespace },
      involvedObject: {
        kind: target.kind,
        name: target.name,
        uid: target.uid,
        apiVersion: target.kind === 'Node' ? 'v1' : API_VERSION,
      },
      type,
      reason,
      message,
      source: { component: this.opts.component },
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.instance ?? (process.env.POD_NAME || hostname()),
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.write('create', 'events', target.name, () => this.generated(`POST events in ${namespace}`, (o) => this.core.createNamespacedEvent({ namespace, body }, o)));
    } catch {
      /* events are advisory */
    }
  }
}

// The node agent's API loop. It watches only its own Node (an informer with a field selector),
// reads the controller's release (src/api/handoff.ts), applies one desired hash at a time, and
// reports through a JSON merge patch of its own annotations (it never touches anything else).
// One pass of the loop: decide (what the release asks for, or what drifted), apply, report;
// a report that could not be written is retried with back-off before anything else is done.
import * as k8s from '@kubernetes/client-node';
import { REMOVED_HASH } from '../api/annotations.js';
import { decode, desiredConfig, encodeReport, type HandOffPatch, isTerminal, type Report, repairRequested } from '../api/handoff.js';
import { type ApplyResult, applyDesired, type PhaseHook } from './apply.js';
import type { FsOps } from './atomic.js';
import { MergePatcher } from '../kube/patch.js';
import { ListWatch, olderThan } from '../kube/informer.js';
import { type DetectOptions, detectKubeletLayout, type KubeletLayout } from './detect.js';
import { type DriftOptions, DriftWatch } from './drift-watch.js';
import type { KubeletConfigObject } from './files.js';
import { type Logger, silentLogger } from '../log.js';
import type { KubeletHealthProbeWithError, KubeletRestarter } from './interfaces.js';
import { Backoff } from '../util/backoff.js';
import { type Clock, realClock, sleep } from '../util/clock.js';
import { errorText } from '../util/errors.js';

export type AgentAction =
  | { kind: 'none'; reason: string }
  | { kind: 'apply'; hash: string; config: KubeletConfigObject | null; traceparent?: string; resume: boolean; repair?: boolean }
  | { kind: 'reject'; hash: string; message: string };

/**
 * What to do for the node's annotations. `finished` is the hash this process last finished, so a
 * stale event that still shows our own 'Applying' does not trigger a second run.
 * A hash that ended RolledBack or Failed is not retried: the kubelet refused it once, and
 * retrying would flap the node; the controller moves on with a new desired hash. A hash that
 * drifted is applied again only when the controller releases its repair (within the rollout's
 * maxUnavailable): the agent never repairs on its own.
 */
export function decideAction(annotations: Record<string, string> | undefined, finished?: string): AgentAction {
  const h = decode(annotations);
  const hash = h.desiredHash;
  if (hash === undefined || hash === '') return { kind: 'none', reason: 'no desired config' };
  const repair = repairRequested(h);
  if (h.stateHash === hash && isTerminal(h.state) && !repair) return { kind: 'none', reason: `${h.state ?? ''} ${hash}` };
  const resume = h.stateHash === hash && h.state === 'Applying';
  if (resume && finished === hash) return { kind: 'none', reason: `finished ${hash}, report pending` };
  const traceparent = h.traceparent;
  const tp = { ...(traceparent !== undefined && traceparent !== '' ? { traceparent } : {}), ...(repair ? { repair } : {}) };
  const desired = desiredConfig(h);
  if (desired.ok) return { kind: 'apply', hash, config: desired.config, resume, ...tp };
  if (desired.missing) return { kind: 'none', reason: desired.message };
  return { kind: 'reject', hash, message: desired.message };
}

export interface RunAgentOptions {
  kubeConfig: k8s.KubeConfig;
  nodeName: string;
  /** Fixed layout; otherwise detected before each apply (with the node's kubelet version). */
  layout?: KubeletLayout;
  detect?: DetectOptions;
  restarter: KubeletRestarter;
  health: KubeletHealthProbeWithError;
  clock?: Clock;
  /** Time the kubelet gets to become healthy after a restart. Default 120 s. */
  timeoutMs?: number;
  pollMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  onPhase?: PhaseHook;
  /** How the apply reads and writes files (default: fs/promises). */
  fs?: FsOps;
  /** Wraps each apply (e.g. in a span continuing the rollout's traceparent). */
  wrapApply?: (ctx: { hash: string; traceparent?: string }, fn: () => Promise<ApplyResult>) => Promise<ApplyResult>;
  /** Watching what the agent applied for drift (drift-watch.ts); false: never look again. */
  drift?: DriftOptions | false;
  /** Told when the agent reports drift (the message), or its end (undefined). */
  onDrift?: (message: string | undefined) => void;
  /** Server-side watch timeout; a silent watch is dropped after this plus 30 s. Default 300. */
  watchTimeoutSeconds?: number;
  backoff?: { initialMs: number; maxMs: number };
}

/** What the agent reads of its own Node. */
interface OwnNode {
  name: string | undefined;
  resourceVersion: string | undefined;
  annotations: Record<string, string> | undefined;
  kubeletVersion: string | undefined;
}

const ownNode = (n: k8s.V1Node): OwnNode => ({
  name: n.metadata?.name,
  resourceVersion: n.metadata?.resourceVersion,
  annotations: n.metadata?.annotations,
  kubeletVersion: n.status?.nodeInfo?.kubeletVersion,
});

type ApplyAction = Extract<AgentAction, { kind: 'apply' }>;

/** What one pass of the loop does: apply a release, write a report, or wait for a change. */
type Decision = ApplyAction | { kind: 'report'; report: Report } | { kind: 'wait' };

export class Agent {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly signal: AbortSignal;
  private readonly core: k8s.CoreV1Api;
  private readonly patcher: MergePatcher;
  private readonly node: ListWatch<k8s.V1Node, OwnNode>;
  private readonly drift: DriftWatch | undefined;
  private readonly retry: Backoff;
  /** The Node as last seen: from the watch, or from the response to our own patch. */
  private latest: OwnNode | undefined;
  /** Counts wake-ups (a Node change, drift, stop), so a change during a pass is not missed. */
  private changes = 0;
  private wakeUp: (() => void) | undefined;
  private detected: KubeletLayout | undefined;
  /** The kubelet version the layout was detected for: an upgrade may change what it honours. */
  private detectedFor: string | undefined;
  /** A report not yet written. */
  private pending: HandOffPatch | undefined;
  /** The hash this process last finished. */
  private finished: string | undefined;

  constructor(private readonly o: RunAgentOptions) {
    this.log = o.log ?? silentLogger;
    this.clock = o.clock ?? realClock;
    this.signal = o.signal ?? new AbortController().signal;
    this.core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
    this.patcher = new MergePatcher(o.kubeConfig);
    // Bounded low: the agent lists only its own Node, and a rollout waits on its reports, so after
    // an API outage it should be back within seconds (at 30 s, a burst of six 429s on one agent's
    // watch stalled a rollout for a minute in the chaos suite).
    const backoff = o.backoff ?? { initialMs: 500, maxMs: 5_000 };
    this.retry = new Backoff(backoff);
    this.signal.addEventListener('abort', () => this.bump(), { once: true });
    this.drift = o.drift === false ? undefined : new DriftWatch(o.drift ?? {}, () => this.bump(), this.log, o.fs);
    // The server closes the watch after timeoutSeconds; a connection silent for longer is dead.
    const timeoutSeconds = o.watchTimeoutSeconds ?? 300;
    this.node = new ListWatch<k8s.V1Node, OwnNode>({
      kubeConfig: o.kubeConfig,
      path: '/api/v1/nodes',
      fieldSelector: `metadata.name=${o.nodeName}`,
      listFn: (req) => this.core.listNode(req),
      // One request at start instead of a list and a watch, where the server serves it.
      watchList: true,
      transform: ownNode,
      onAdd: (n) => this.seen(n),
      onUpdate: (n) => this.seen(n),
      onDelete: () => this.seen(undefined, true),
      // Another history (a restore, a new server): its state wins over what we saw.
      onReset: () => this.seen(this.node.get(o.nodeName), true),
      watchTimeoutSeconds: timeoutSeconds,
      watchdogMs: (timeoutSeconds + 30) * 1000,
      backoff,
      clock: this.clock,
      log: this.log,
      name: 'own-node watch',
    });
  }

  async run(): Promise<void> {
    try {
      while (!this.signal.aborted) {
        if (this.pending !== undefined) {
          await this.report(this.pending);
          continue;
        }
        const seen = this.changes;
        const next = await this.decide();
        if (next.kind === 'wait') {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- both change during decide()'s awaits (TypeScript#9998)
          if (this.changes === seen && !this.signal.aborted) await new Promise<void>((r) => (this.wakeUp = r));
        } else if (next.kind === 'report') {
          this.pending = encodeReport(next.report);
        } else {
          this.pending = encodeReport(await this.apply(next));
          // One last try to report, so the controller does not wait for a timeout.
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- aborted during apply() (TypeScript#9998)
          if (this.signal.aborted) await this.patch(this.pending).catch((e: unknown) => this.log.warn({ err: e }, 'final report failed'));
        }
      }
    } finally {
      this.drift?.close();
      this.node.stop();
      this.patcher.close();
      await this.node.closed;
    }
  }

  /** What to do now: the release (decideAction), or else whether what we applied drifted. */
  private async decide(): Promise<Decision> {
    await this.lookAtKubelet();
    const annotations = this.latest?.annotations;
    const action = decideAction(annotations, this.finished);
    if (action.kind === 'apply') return action;
    if (action.kind === 'reject') {
      this.log.error({ hash: action.hash }, action.message);
      this.finished = action.hash;
      return { kind: 'report', report: { state: 'Failed', hash: action.hash, message: action.message, timeMs: this.clock.now() } };
    }
    const drift = await this.drift?.step(annotations, this.o.layout ?? this.detected, this.clock.now()).catch((e: unknown) => {
      this.log.warn({ err: e }, 'checking the kubelet config for drift failed');
      return undefined;
    });
    if (drift === undefined) return { kind: 'wait' };
    if (drift.state === 'Applied') this.log.info({}, 'the kubelet config is back to what was applied');
    else this.log.warn({ state: drift.state }, `kubelet config drifted: ${drift.message ?? ''}`);
    this.o.onDrift?.(drift.state === 'Applied' ? undefined : (drift.message ?? ''));
    return { kind: 'report', report: drift };
  }

  /** Applies one release; the report of how it ended. */
  private async apply(action: ApplyAction): Promise<Report> {
    // Report Applying once the kubelet's restart has been asked for (or the apply ended without
    // one): the controller already counts this node as in progress from its own release, so the
    // report is for people, not for safety, and the restart, which the rollout waits on, is not
    // queued behind it.
    let marking: Promise<void> | undefined;
    const mark = (): void => {
      marking ??= this.patch(encodeReport({ state: 'Applying', hash: action.hash, timeMs: this.clock.now() })).then(
        () => undefined,
        (e: unknown) => this.log.warn({ err: e }, 'marking the node Applying failed; the result report follows'),
      );
    };
    this.log.info({ hash: action.hash, resume: action.resume, remove: action.config === null }, 'applying desired kubelet config');
    // Once started, an apply runs to the end even if we are asked to stop: a half-done apply
    // would leave the kubelet restarting on an unproven config.
    const result = await this.runApply(action, mark);
    if (result.state !== 'Applied') this.detected = undefined;
    mark();
    await marking;
    this.finished = action.hash;
    // Rolled back or failed: the node stays on its old config and the rollout counts it failed.
    if (result.state === 'Applied') this.log.info({ hash: action.hash, ...result }, `apply ${result.state}`);
    else this.log.error({ hash: action.hash, ...result }, `apply ${result.state}`);
    return {
      state: result.state,
      hash: action.hash,
      ...(result.state === 'Applied' ? { appliedHash: action.config === null ? REMOVED_HASH : action.hash } : {}),
      ...(result.message !== undefined ? { message: result.message } : {}),
      timeMs: this.clock.now(),
    };
  }

  /** `restarting`: called as soon as the kubelet's restart has been asked for. */
  private runApply(action: ApplyAction, restarting: () => void): Promise<ApplyResult> {
    const started = this.clock.now();
    const hook = this.o.onPhase;
    const onPhase: PhaseHook = async (phase, fn) => {
      const out = hook ? await hook(phase, fn) : await fn();
      if (phase === 'restart') restarting();
      return out;
    };
    const run = async (): Promise<ApplyResult> => {
      try {
        // Detected once and reused: kubelet flags change only with a kubelet reinstall, and a
        // failed apply forgets the layout so the next one looks again; so does a repair (the
        // drift may be a kubelet restarted with other flags).
        if (action.repair) this.detected = undefined;
        if (this.detected === undefined) this.detectedFor = this.latest?.kubeletVersion;
        this.detected ??= this.o.layout ?? (await detectKubeletLayout(this.detectOptions()));
        return await applyDesired({
          layout: this.detected,
          desired: { hash: action.hash, config: action.config },
          restarter: this.o.restarter,
          health: this.o.health,
          clock: this.clock,
          timeoutMs: this.o.timeoutMs ?? 120_000,
          pollMs: this.o.pollMs ?? 1_000,
          onPhase,
          ...(this.o.fs ? { fs: this.o.fs } : {}),
          ...(action.repair ? { forceRestart: true } : {}),
        });
      } catch (e: unknown) {
        return { state: 'Failed', restarted: false, message: `apply failed: ${errorText(e)}`, durationMs: this.clock.now() - started };
      }
    };
    const ctx = { hash: action.hash, ...(action.traceparent !== undefined ? { traceparent: action.traceparent } : {}) };
    return this.o.wrapApply ? this.o.wrapApply(ctx, run) : run();
  }

  /** Writes a report; on failure waits (growing back-off) and leaves it pending. */
  private async report(patch: HandOffPatch): Promise<void> {
    try {
      await this.patch(patch);
      this.pending = undefined;
      this.retry.reset();
    } catch (e: unknown) {
      const delay = this.retry.next();
      this.log.warn({ err: e, retryInMs: delay }, 'reporting the apply result failed; retrying');
      await sleep(this.clock, delay, this.signal);
    }
  }

  private async patch(annotations: HandOffPatch): Promise<void> {
    // Over a kept connection, the answer read as JSON: client-node's generated call made a
    // connection per request and a typed model of the whole Node (most of a report's cost).
    const node = await this.patcher.patchObject<k8s.V1Node>(`/api/v1/nodes/${encodeURIComponent(this.o.nodeName)}`, { metadata: { annotations } });
    this.seen(ownNode(node));
  }

  /** Looks at the kubelet before any work arrives, so a release is acted on at once (again after
   *  a kubelet upgrade); an error here is retried when the apply needs the layout. */
  private async lookAtKubelet(): Promise<void> {
    const version = this.latest?.kubeletVersion;
    if (this.detected !== undefined && this.detectedFor !== version) this.detected = undefined;
    if (this.detected !== undefined || this.latest === undefined || this.o.layout !== undefined) return;
    this.detectedFor = version;
    this.detected = await detectKubeletLayout(this.detectOptions()).catch(() => undefined);
  }

  private detectOptions(): DetectOptions {
    const base: DetectOptions = this.o.detect ?? { hostRoot: '/' };
    const version = this.latest?.kubeletVersion;
    return base.kubeletVersion === undefined && version !== undefined ? { ...base, kubeletVersion: version } : base;
  }

  /** A newer view of our Node (an older one, from a slow watch after our own patch, is dropped
   *  unless `force`: a deletion, or another history). */
  private seen(n: OwnNode | undefined, force = false): void {
    if (n !== undefined && n.name !== this.o.nodeName) return;
    if (n !== undefined && !force && olderThan(n.resourceVersion, this.latest?.resourceVersion)) return;
    this.latest = n;
    this.bump();
  }

  private bump(): void {
    this.changes++;
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }
}

/** Runs the agent until `signal` aborts. */
export function runAgent(o: RunAgentOptions): Promise<void> {
  return new Agent(o).run();
}

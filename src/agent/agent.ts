// The node agent's API loop. It watches only its own Node, reads the controller's DESIRED_*
// annotations, applies one desired hash at a time, and reports through the STATE/APPLIED_*
// annotations (a JSON merge patch on metadata.annotations: it never touches anything else).
import * as k8s from '@kubernetes/client-node';
import {
  A_APPLIED_HASH,
  A_DESIRED_CONFIG,
  A_DESIRED_HASH,
  A_MESSAGE,
  A_STATE,
  A_STATE_HASH,
  A_STATE_TIME,
  A_TRACEPARENT,
  type AgentState,
  REMOVED_HASH,
} from '../api/annotations.js';
import { type ApplyResult, applyDesired, type PhaseHook } from './apply.js';
import type { FsOps } from './atomic.js';
import { mergePatch } from '../kube/client.js';
import { olderThan } from '../kube/informer.js';
import { type DetectOptions, detectKubeletLayout, type KubeletLayout } from './detect.js';
import { repairRequested } from './drift.js';
import { type DriftOptions, DriftWatch } from './drift-watch.js';
import type { KubeletConfigObject } from './files.js';
import { type Logger, silentLogger } from '../log.js';
import { type Clock, type KubeletHealthProbeWithError, type KubeletRestarter, realClock } from './interfaces.js';

export type AgentAction =
  | { kind: 'none'; reason: string }
  | { kind: 'apply'; hash: string; config: KubeletConfigObject | null; traceparent?: string; resume: boolean; repair?: boolean }
  | { kind: 'reject'; hash: string; message: string };

const TERMINAL: ReadonlySet<string> = new Set<AgentState>(['Applied', 'RolledBack', 'Failed']);

/**
 * What to do for the node's annotations. `finished` is the hash this process last finished, so a
 * stale event that still shows our own 'Applying' does not trigger a second run.
 * A hash that ended RolledBack or Failed is not retried: the kubelet refused it once, and
 * retrying would flap the node; the controller moves on with a new desired hash. A hash that
 * drifted is applied again only when the controller releases its repair (within the rollout's
 * maxUnavailable): the agent never repairs on its own.
 */
export function decideAction(annotations: Record<string, string> | undefined, finished?: string): AgentAction {
  const a = annotations ?? {};
  const hash = a[A_DESIRED_HASH];
  if (hash === undefined || hash === '') return { kind: 'none', reason: 'no desired config' };
  const state = a[A_STATE];
  const stateHash = a[A_STATE_HASH];
  const repair = repairRequested(a);
  if (stateHash === hash && state !== undefined && (TERMINAL.has(state) || state === 'Drifted') && !repair) return { kind: 'none', reason: `${state} ${hash}` };
  const resume = stateHash === hash && state === 'Applying';
  if (resume && finished === hash) return { kind: 'none', reason: `finished ${hash}, report pending` };
  const traceparent = a[A_TRACEPARENT];
  const tp = { ...(traceparent !== undefined && traceparent !== '' ? { traceparent } : {}), ...(repair ? { repair } : {}) };
  const raw = a[A_DESIRED_CONFIG];
  if (hash === REMOVED_HASH || raw === '') return { kind: 'apply', hash, config: null, resume, ...tp };
  if (raw === undefined) return { kind: 'none', reason: `desired hash ${hash} without a desired config` };
  let config: unknown;
  try {
    config = JSON.parse(raw);
  } catch (e: unknown) {
    return { kind: 'reject', hash, message: `${A_DESIRED_CONFIG} is not JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    return { kind: 'reject', hash, message: `${A_DESIRED_CONFIG} is not a JSON object` };
  }
  return { kind: 'apply', hash, config: config as KubeletConfigObject, resume, ...tp };
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

type Patch = Record<string, string | null>;

/** Resource versions are opaque, but integers in practice: only then do we order them. */
function newerOrSame(a: k8s.V1Node, b: k8s.V1Node | undefined): boolean {
  const ra = Number(a.metadata?.resourceVersion);
  const rb = Number(b?.metadata?.resourceVersion);
  return !(Number.isInteger(ra) && Number.isInteger(rb) && ra < rb);
}

export async function runAgent(o: RunAgentOptions): Promise<void> {
  const log = o.log ?? silentLogger;
  const clock = o.clock ?? realClock;
  const signal = o.signal ?? new AbortController().signal;
  // Bounded low: the agent lists only its own Node, and a rollout waits on its reports, so after
  // an API outage it should be back within seconds (at 30 s, a burst of six 429s on one agent's
  // watch stalled a rollout for a minute in the chaos suite).
  const backoff = o.backoff ?? { initialMs: 500, maxMs: 5_000 };
  const core = o.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const fieldSelector = `metadata.name=${o.nodeName}`;

  let latest: k8s.V1Node | undefined;
  let changes = 0;
  let wakeUp: (() => void) | undefined;
  const bump = (): void => {
    changes++;
    const w = wakeUp;
    wakeUp = undefined;
    w?.();
  };
  const setLatest = (n: k8s.V1Node | undefined, force = false): void => {
    if (n !== undefined && !force && !newerOrSame(n, latest)) return;
    latest = n;
    bump();
  };
  signal.addEventListener('abort', bump, { once: true });

  /** Sleeps ms, or less if the signal aborts. */
  const pause = async (ms: number): Promise<void> => {
    if (signal.aborted) return;
    let onAbort: (() => void) | undefined;
    await Promise.race([clock.sleep(ms), new Promise<void>((r) => signal.addEventListener('abort', (onAbort = () => r()), { once: true }))]);
    if (onAbort) signal.removeEventListener('abort', onAbort);
  };

  const patch = async (annotations: Patch): Promise<void> => {
    const node = await core.patchNode({ name: o.nodeName, body: { metadata: { annotations } } }, mergePatch);
    setLatest(node);
  };

  let detected: KubeletLayout | undefined;
  /** The kubelet version the layout was detected for: an upgrade may change what it honours. */
  let detectedFor: string | undefined;
  const drift = o.drift === false ? undefined : new DriftWatch(o.drift ?? {}, bump, log);
  const watcher = watchOwnNode();
  let pending: { patch: Patch } | undefined;
  let finished: string | undefined;
  let delay = backoff.initialMs;
  const retryLater = async (what: string, e: unknown): Promise<void> => {
    log.warn({ err: e, retryInMs: delay }, `${what} failed; retrying`);
    await pause(delay);
    delay = Math.min(delay * 2, backoff.maxMs);
  };

  while (!signal.aborted) {
    if (pending) {
      try {
        await patch(pending.patch);
        pending = undefined;
        delay = backoff.initialMs;
      } catch (e: unknown) {
        await retryLater('reporting the apply result', e);
      }
      continue;
    }
    const seen = changes;
    const version = latest?.status?.nodeInfo?.kubeletVersion;
    if (detected !== undefined && detectedFor !== version) detected = undefined;
    if (detected === undefined && latest !== undefined && o.layout === undefined) {
      detectedFor = version;
      // Look at the kubelet before any work arrives, so a release is acted on at once; an
      // error here is retried when the apply needs the layout.
      detected = await detectKubeletLayout(detectOptions()).catch(() => undefined);
    }
    const action = decideAction(latest?.metadata?.annotations, finished);
    if (action.kind === 'none') {
      // Nothing to apply: is what we applied still there?
      const report = await drift?.step(latest?.metadata?.annotations, o.layout ?? detected, clock.now()).catch((e: unknown) => {
        log.warn({ err: e }, 'checking the kubelet config for drift failed');
        return undefined;
      });
      if (report) {
        const message = report[A_MESSAGE];
        if (report[A_STATE] === 'Applied') log.info({}, 'the kubelet config is back to what was applied');
        else log.warn({ state: report[A_STATE] }, `kubelet config drifted: ${message ?? ''}`);
        o.onDrift?.(report[A_STATE] === 'Applied' ? undefined : (message ?? ''));
        pending = { patch: report };
        continue;
      }
      if (changes === seen && !signal.aborted) await new Promise<void>((r) => (wakeUp = r));
      continue;
    }
    const now = new Date(clock.now()).toISOString();
    if (action.kind === 'reject') {
      log.error({ hash: action.hash }, action.message);
      finished = action.hash;
      pending = { patch: { [A_STATE]: 'Failed', [A_STATE_HASH]: action.hash, [A_MESSAGE]: action.message, [A_STATE_TIME]: now } };
      continue;
    }
    // Report Applying and start the apply together: the controller already counts this node as
    // in progress from its own release, so the report is for people, not for safety.
    const marking = patch({ [A_STATE]: 'Applying', [A_STATE_HASH]: action.hash, [A_MESSAGE]: null, [A_STATE_TIME]: now }).then(
      () => undefined,
      (e: unknown) => log.warn({ err: e }, 'marking the node Applying failed; the result report follows'),
    );
    log.info({ hash: action.hash, resume: action.resume, remove: action.config === null }, 'applying desired kubelet config');
    // Once started, an apply runs to the end even if we are asked to stop: a half-done apply
    // would leave the kubelet restarting on an unproven config.
    const result = await runOne(action);
    await marking;
    finished = action.hash;
    // Rolled back or failed: the node stays on its old config and the rollout counts it failed.
    if (result.state === 'Applied') log.info({ hash: action.hash, ...result }, `apply ${result.state}`);
    else log.error({ hash: action.hash, ...result }, `apply ${result.state}`);
    const applied = action.config === null ? REMOVED_HASH : action.hash;
    pending = {
      patch: {
        [A_STATE]: result.state,
        [A_STATE_HASH]: action.hash,
        ...(result.state === 'Applied' ? { [A_APPLIED_HASH]: applied } : {}),
        [A_MESSAGE]: result.message ?? null,
        [A_STATE_TIME]: new Date(clock.now()).toISOString(),
      },
    };
    if (signal.aborted) {
      // One last try to report, so the controller does not wait for a timeout.
      await patch(pending.patch).catch((e: unknown) => log.warn({ err: e }, 'final report failed'));
    }
  }
  drift?.close();
  await watcher;

  async function runOne(action: Extract<AgentAction, { kind: 'apply' }>): Promise<ApplyResult> {
    const result = await runOneWith(action);
    if (result.state !== 'Applied') detected = undefined;
    return result;
  }

  async function runOneWith(action: Extract<AgentAction, { kind: 'apply' }>): Promise<ApplyResult> {
    const started = clock.now();
    const run = async (): Promise<ApplyResult> => {
      try {
        // Detected once and reused: kubelet flags change only with a kubelet reinstall, and a
        // failed apply forgets the layout so the next one looks again; so does a repair (the
        // drift may be a kubelet restarted with other flags).
        if (action.repair) detected = undefined;
        if (detected === undefined) detectedFor = latest?.status?.nodeInfo?.kubeletVersion;
        detected ??= o.layout ?? (await detectKubeletLayout(detectOptions()));
        const layout = detected;
        return await applyDesired({
          layout,
          desired: { hash: action.hash, config: action.config },
          restarter: o.restarter,
          health: o.health,
          clock,
          timeoutMs: o.timeoutMs ?? 120_000,
          pollMs: o.pollMs ?? 1_000,
          ...(o.onPhase ? { onPhase: o.onPhase } : {}),
          ...(o.fs ? { fs: o.fs } : {}),
          ...(action.repair ? { forceRestart: true } : {}),
        });
      } catch (e: unknown) {
        return { state: 'Failed', restarted: false, message: `apply failed: ${errText(e)}`, durationMs: clock.now() - started };
      }
    };
    const ctx = { hash: action.hash, ...(action.traceparent !== undefined ? { traceparent: action.traceparent } : {}) };
    return o.wrapApply ? o.wrapApply(ctx, run) : run();
  }

  function detectOptions(): DetectOptions {
    const base: DetectOptions = o.detect ?? { hostRoot: '/' };
    const version = latest?.status?.nodeInfo?.kubeletVersion;
    return base.kubeletVersion === undefined && version !== undefined ? { ...base, kubeletVersion: version } : base;
  }

  /** List + watch of our own Node, relisting with back-off whenever the watch ends or fails.
   *  The list is a fresh read every time, so it also rebuilds our view when the server's
   *  history is not the one we saw (a restore, a new server: resourceVersions gone back). */
  async function watchOwnNode(): Promise<void> {
    const watch = new k8s.Watch(o.kubeConfig);
    const timeoutSeconds = o.watchTimeoutSeconds ?? 300;
    let wait = backoff.initialMs;
    let seen: string | undefined;
    while (!signal.aborted) {
      try {
        const list = await core.listNode({ fieldSelector });
        // Stopped while the list was in flight: a watch opened now would wait for nobody.
        if (signal.aborted) break;
        const rv = list.metadata?.resourceVersion;
        if (olderThan(rv, seen)) log.warn({ resourceVersion: rv, seen }, "the API server's history is not the one seen (resourceVersion went back): starting over from its state");
        seen = rv;
        setLatest(list.items[0], true);
        const opened = clock.now();
        await watchOnce(watch, list.metadata?.resourceVersion, timeoutSeconds);
        // A watch that lived a while was healthy: reconnect at once. A flapping one backs off.
        if (clock.now() - opened > 10_000) wait = backoff.initialMs;
        else await pauseAndGrow();
      } catch (e: unknown) {
        if (signal.aborted) break;
        log.warn({ err: e, retryInMs: wait }, 'watching own node failed; retrying');
        await pauseAndGrow();
      }
    }
    async function pauseAndGrow(): Promise<void> {
      await pause(wait + Math.floor(Math.random() * (wait / 4)));
      wait = Math.min(wait * 2, backoff.maxMs);
    }
  }

  /** One watch connection; resolves when it closes (timeout, 410 Gone, watchdog), rejects on error. */
  function watchOnce(watch: k8s.Watch, resourceVersion: string | undefined, timeoutSeconds: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let controller: AbortController | undefined;
      let settled = false;
      let watchdog: NodeJS.Timeout | undefined;
      const finish = (err?: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onAbort);
        controller?.abort();
        if (err !== undefined && err !== null && !signal.aborted) reject(err instanceof Error ? err : new Error(errText(err)));
        else resolve();
      };
      // The server closes the watch after timeoutSeconds; a connection silent for longer is dead.
      const arm = (): void => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
          log.warn({ timeoutSeconds }, 'own-node watch went silent; reconnecting');
          finish();
        }, (timeoutSeconds + 30) * 1000);
      };
      const onAbort = (): void => finish();
      // An abort listener added after the abort is never called.
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', onAbort, { once: true });
      arm();
      const query = { fieldSelector, allowWatchBookmarks: true, timeoutSeconds, resourceVersion };
      watch
        .watch('/api/v1/nodes', query, (type: string, obj: unknown) => {
          arm();
          if (type === 'ERROR') {
            // 410 Gone (too old), "Too large resource version" (another history): relist.
            log.debug({ status: obj }, 'own-node watch ended by the server; relisting');
            finish();
            return;
          }
          const rv = isNode(obj) ? obj.metadata?.resourceVersion : undefined;
          if (olderThan(rv, resourceVersion)) {
            // A watch only moves forward from where it started: this is another history.
            log.warn({ resourceVersion: rv, from: resourceVersion }, 'own-node watch went back in resourceVersion; relisting');
            finish();
            return;
          }
          if (!isNode(obj) || obj.metadata?.name !== o.nodeName) return;
          if (type === 'ADDED' || type === 'MODIFIED') setLatest(obj);
          else if (type === 'DELETED') setLatest(undefined, true);
        }, (err: unknown) => finish(err))
        .then((c) => {
          controller = c;
          if (settled) c.abort();
        })
        .catch((e: unknown) => finish(e));
    });
  }
}

function isNode(v: unknown): v is k8s.V1Node {
  return typeof v === 'object' && v !== null && 'metadata' in v;
}

function errText(e: unknown): string {
  if (e instanceof k8s.ApiException) return `HTTP ${e.code}: ${typeof e.body === 'string' ? e.body : JSON.stringify(e.body)}`;
  return e instanceof Error ? e.message : String(e);
}

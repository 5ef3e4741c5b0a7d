// Streams a watch over HTTP: newline-delimited JSON events, flushed one by one, with optional
// bookmarks, the request's timeoutSeconds, and Table-shaped objects for `kubectl get -w`.
// An event's bytes are encoded once per format and shared by every watcher that receives it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import { queryFlag } from './list-options.js';
import { type StoredEvent, type WatchEventType, memo } from './history.js';
import type { ResourceDef } from './registry.js';
import type { ObjectStore, WatchOptions } from './store.js';
import { toTable, wantsTable } from './table.js';
import { type KubeObject, groupVersion } from './types.js';
import { type SlotTimer, slotTimer } from '../../util/slot-timer.js';

export interface WatchContext {
  store: ObjectStore;
  def: ResourceDef;
  namespace: string | undefined;
  query: URLSearchParams;
  forceGone: boolean;
  /** Validated and defaulted (list-options.ts); undefined: a legacy watch. */
  sendInitialEvents: boolean | undefined;
  bookmarkIntervalMs: number;
  /** Open streams, so the server can drop or close them all. */
  open: Set<ServerResponse>;
}

export function serveWatch(req: IncomingMessage, res: ServerResponse, ctx: WatchContext): void {
  const q = ctx.query;
  const rv = q.get('resourceVersion') ?? undefined;
  const table = wantsTable(req.headers.accept);
  const includeObject = q.get('includeObject');
  const gv = groupVersion(ctx.def.group, ctx.def.version);
  let firstTable = true;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  ctx.open.add(res);

  const write = (chunk: string | Buffer): void => {
    if (res.writableEnded || res.destroyed) return;
    corkUntilIdle(res);
    res.write(chunk);
  };
  const tableLine = (type: WatchEventType, obj: KubeObject, withColumns: boolean): string =>
    `{"type":"${type}","object":${JSON.stringify(toTable(ctx.def, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' }, includeObject, withColumns))}}\n`;
  const sink = (type: WatchEventType, obj: KubeObject, json: string | undefined, ev?: StoredEvent): void => {
    if (table && type !== 'BOOKMARK' && type !== 'ERROR') {
      // The first row of a table watch carries the column definitions: that one is its own.
      if (firstTable) write(tableLine(type, obj, true));
      else write(memo(ev, `table ${gv} ${includeObject ?? ''} ${type}`, () => Buffer.from(tableLine(type, obj, false))));
      firstTable = false;
      return;
    }
    write(memo(ev, `json ${gv} ${type}`, () => Buffer.from(`{"type":"${type}","object":${json ?? JSON.stringify(obj)}}\n`)));
  };
  const sendError = (e: ApiError): void => {
    write(`${JSON.stringify({ type: 'ERROR', object: e.status })}\n`);
    finish();
  };

  let stop: (() => void) | undefined;
  let timer: (() => void) | undefined;
  let bookmarks: (() => void) | undefined;
  let done = false;
  function finish(): void {
    if (done) return;
    done = true;
    stop?.();
    timer?.();
    bookmarks?.();
    ctx.open.delete(res);
    // Its last writes (an ERROR event) go out before the end: Node 24 does not flush a response
    // corked when it ended, and the client would wait for an event that never comes.
    uncork(res);
    if (!res.writableEnded) res.end();
  }
  res.on('close', finish);

  if (ctx.forceGone && rv && rv !== '0') {
    sendError(new ApiError(410, 'Expired', `too old resource version: ${rv} (${ctx.store.resourceVersion})`));
    return;
  }
  const allowBookmarks = queryFlag(q, 'allowWatchBookmarks') && !table;
  const bookmark = (annotations = ''): void =>
    write(`{"type":"BOOKMARK","object":{"kind":"${ctx.def.kind}","apiVersion":"${gv}","metadata":{"resourceVersion":"${ctx.store.resourceVersion}"${annotations}}}}\n`);
  try {
    const opts: WatchOptions = {};
    if (ctx.namespace !== undefined) opts.namespace = ctx.namespace;
    const ls = q.get('labelSelector');
    const fs = q.get('fieldSelector');
    if (ls) opts.labelSelector = ls;
    if (fs) opts.fieldSelector = fs;
    if (rv !== undefined) opts.resourceVersion = rv;
    if (ctx.sendInitialEvents !== undefined) opts.sendInitialEvents = ctx.sendInitialEvents;
    stop = ctx.store.watchEntries(ctx.def, opts, sink, finish);
    // The end of a streaming list's initial events, at the resourceVersion of the state they
    // showed (nothing was written since): the cacher marks it only when bookmarks are allowed.
    if (ctx.sendInitialEvents === true && allowBookmarks) bookmark(',"annotations":{"k8s.io/initial-events-end":"true"}');
  } catch (e) {
    if (e instanceof ApiError) sendError(e);
    else sendError(new ApiError(500, 'InternalError', e instanceof Error ? e.message : String(e)));
    return;
  }
  const timeout = Number(q.get('timeoutSeconds') ?? '0');
  if (timeout > 0) timer = deadlines.at(Date.now() + timeout * 1000, finish);
  if (allowBookmarks) {
    // A watch from a resourceVersion the server has not reached gets no bookmark below it.
    const from = rv === undefined ? 0 : Number(rv);
    const send = (): void => {
      if (from <= ctx.store.resourceVersion) bookmark();
    };
    bookmarks = bookmarkClock(ctx.bookmarkIntervalMs).add(send, timeout > 0 ? Date.now() + timeout * 1000 : undefined);
  }
}

/** Watch streams written to in this turn of the event loop. */
const corked = new Set<ServerResponse>();

/** Holds a watch stream's writes until the requests being served now are all through: a watcher
 *  that many of them concern (a controller's watch of every node) gets one socket write for the
 *  lot, not one per event. A stream with one event gets it at the end of the same turn. */
function corkUntilIdle(res: ServerResponse): void {
  if (corked.has(res)) return;
  if (corked.size === 0) setImmediate(uncorkAll);
  corked.add(res);
  res.cork();
}

function uncorkAll(): void {
  for (const res of corked) res.uncork();
  corked.clear();
}

function uncork(res: ServerResponse): void {
  if (corked.delete(res)) res.uncork();
}

/** Watch deadlines (timeoutSeconds), in whole seconds: the watches due in the same second end in
 *  one turn, and their clients, woken once for all of them, send their next watches together. At
 *  5,000 nodes, 11-17 of the agents' watches end a second, and a timer each woke both threads for
 *  every one. A watch ends less than two seconds after its timeoutSeconds, never before: the
 *  informers take a watch that ran to its timeout as a clean end, and watch on from it. */
const deadlines = slotTimer(1000);

/** Bookmarks of every open watch, as the real cacher sends them: every interval (a minute by
 *  default) and once 2 s before the watch's timeoutSeconds deadline. Watches wait in time slots
 *  (as the cacher's bookmark buckets): a SlotTimer of at most a second. */
class BookmarkClock {
  private readonly timer: SlotTimer;

  constructor(private readonly intervalMs: number) {
    this.timer = slotTimer(Math.min(1000, intervalMs));
  }

  /** Sends bookmarks with `send` until the returned cancel is called. */
  add(send: () => void, deadline: number | undefined): () => void {
    let cancel = (): void => undefined;
    const schedule = (now: number): void => {
      let next = now + this.intervalMs;
      if (deadline !== undefined && deadline - 2000 < next) next = deadline - 2000 > now ? deadline - 2000 : Infinity;
      if (next === Infinity) return;
      cancel = this.timer.at(next, (at) => {
        send();
        schedule(at);
      });
    };
    schedule(Date.now());
    return () => cancel();
  }
}

const clocks = new Map<number, BookmarkClock>();

function bookmarkClock(intervalMs: number): BookmarkClock {
  let c = clocks.get(intervalMs);
  if (!c) clocks.set(intervalMs, (c = new BookmarkClock(intervalMs)));
  return c;
}

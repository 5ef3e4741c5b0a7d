// Streams a watch over HTTP: newline-delimited JSON events, flushed one by one, with optional
// bookmarks, the request's timeoutSeconds, and Table-shaped objects for `kubectl get -w`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from './errors.js';
import type { WatchEventType } from './history.js';
import type { ResourceDef } from './registry.js';
import type { ObjectStore } from './store.js';
import { toTable, wantsTable } from './table.js';
import { type KubeObject, groupVersion } from './types.js';

export interface WatchContext {
  store: ObjectStore;
  def: ResourceDef;
  namespace: string | undefined;
  query: URLSearchParams;
  forceGone: boolean;
  bookmarkIntervalMs: number;
  /** Open streams, so the server can drop or close them all. */
  open: Set<ServerResponse>;
}

export function serveWatch(req: IncomingMessage, res: ServerResponse, ctx: WatchContext): void {
  const q = ctx.query;
  const rv = q.get('resourceVersion') ?? undefined;
  const table = wantsTable(req.headers.accept);
  const includeObject = q.get('includeObject');
  let firstTable = true;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();
  ctx.open.add(res);

  const write = (line: string): void => {
    if (!res.writableEnded && !res.destroyed) res.write(line);
  };
  const sink = (type: WatchEventType, obj: KubeObject, json: string | undefined): void => {
    if (table && type !== 'BOOKMARK' && type !== 'ERROR') {
      const t = toTable(ctx.def, [obj], { resourceVersion: obj.metadata.resourceVersion ?? '' }, includeObject, firstTable);
      firstTable = false;
      write(`{"type":"${type}","object":${JSON.stringify(t)}}\n`);
      return;
    }
    write(`{"type":"${type}","object":${json ?? JSON.stringify(obj)}}\n`);
  };
  const sendError = (e: ApiError): void => {
    write(`${JSON.stringify({ type: 'ERROR', object: e.status })}\n`);
    finish();
  };

  let stop: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  let bookmarks: NodeJS.Timeout | undefined;
  let done = false;
  function finish(): void {
    if (done) return;
    done = true;
    stop?.();
    if (timer) clearTimeout(timer);
    if (bookmarks) clearInterval(bookmarks);
    ctx.open.delete(res);
    if (!res.writableEnded) res.end();
  }
  res.on('close', finish);

  if (ctx.forceGone && rv && rv !== '0') {
    sendError(new ApiError(410, 'Expired', `too old resource version: ${rv} (${ctx.store.resourceVersion})`));
    return;
  }
  try {
    const opts: { namespace?: string; labelSelector?: string; fieldSelector?: string; resourceVersion?: string } = {};
    if (ctx.namespace !== undefined) opts.namespace = ctx.namespace;
    const ls = q.get('labelSelector');
    const fs = q.get('fieldSelector');
    if (ls) opts.labelSelector = ls;
    if (fs) opts.fieldSelector = fs;
    if (rv !== undefined) opts.resourceVersion = rv;
    stop = ctx.store.watchEntries(ctx.def, opts, sink, finish);
  } catch (e) {
    if (e instanceof ApiError) sendError(e);
    else sendError(new ApiError(500, 'InternalError', e instanceof Error ? e.message : String(e)));
    return;
  }
  const timeout = Number(q.get('timeoutSeconds') ?? '0');
  if (timeout > 0) timer = setTimeout(finish, timeout * 1000);
  if (q.get('allowWatchBookmarks') === 'true' && !table) {
    const gv = groupVersion(ctx.def.group, ctx.def.version);
    // A watch from a resourceVersion the server has not reached gets no bookmark below it.
    const from = rv === undefined ? 0 : Number(rv);
    bookmarks = setInterval(() => {
      if (from > ctx.store.resourceVersion) return;
      write(`{"type":"BOOKMARK","object":{"kind":"${ctx.def.kind}","apiVersion":"${gv}","metadata":{"resourceVersion":"${ctx.store.resourceVersion}"}}}\n`);
    }, ctx.bookmarkIntervalMs);
  }
}

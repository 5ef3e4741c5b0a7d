import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { WATCH_IDLE_MS, watchStream } from '../../src/kube/watch-stream.js';

/** A server that answers every request with `handler`; the kubeconfig for it, with a token. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ kc: k8s.KubeConfig; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return {
    kc,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

type Seen = { events: [string, unknown][]; done: Promise<unknown> };

function collect(): { onEvent: (t: string, o: unknown) => void; onDone: (e: unknown) => void; seen: Seen; doneCalls: () => number } {
  let calls = 0;
  let resolve!: (e: unknown) => void;
  const seen: Seen = { events: [], done: new Promise((r) => (resolve = r)) };
  return {
    seen,
    onEvent: (t, o) => seen.events.push([t, o]),
    onDone: (e) => {
      calls++;
      resolve(e);
    },
    doneCalls: () => calls,
  };
}

test('events split across chunks, several in one chunk, a character split between two: each parsed once, in order; a line that is not JSON skipped; done(null) at the end', async (t) => {
  let url = '';
  let auth = '';
  const s = await serve((req, res) => {
    url = req.url ?? '';
    auth = req.headers.authorization ?? '';
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const lines = [
      JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a', annotations: { note: 'héllo' } } } }),
      JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'b' } } }),
      'not json',
      JSON.stringify({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '9' } } }),
    ].join('\n') + '\n';
    const bytes = Buffer.from(lines, 'utf8');
    const e = bytes.indexOf(Buffer.from('é'));
    // Cut inside the first line, inside the two bytes of 'é', then the rest in one go.
    const cuts = [0, 10, e + 1, bytes.length];
    let i = 0;
    const next = (): void => {
      if (i + 1 >= cuts.length) return void res.end();
      res.write(bytes.subarray(cuts[i], cuts[i + 1]));
      i++;
      setTimeout(next, 5);
    };
    next();
  });
  t.after(s.close);
  const c = collect();
  await watchStream(s.kc, '/api/v1/nodes', { resourceVersion: '5', labelSelector: undefined, allowWatchBookmarks: true }, c.onEvent, c.onDone);
  assert.equal(await c.seen.done, null);
  assert.deepEqual(c.seen.events, [
    ['ADDED', { metadata: { name: 'a', annotations: { note: 'héllo' } } }],
    ['MODIFIED', { metadata: { name: 'b' } }],
    ['BOOKMARK', { metadata: { resourceVersion: '9' } }],
  ]);
  assert.equal(c.doneCalls(), 1);
  const q = new URL(url, 'http://x').searchParams;
  assert.deepEqual([...q.entries()], [['watch', 'true'], ['resourceVersion', '5'], ['allowWatchBookmarks', 'true']]);
  assert.equal(auth, 'Bearer secret-token');
});

test('a status other than 200 ends the watch with an error carrying it; no event', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(422, 'Unprocessable Entity', { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code: 422 }));
  });
  t.after(s.close);
  const c = collect();
  await watchStream(s.kc, '/api/v1/nodes', {}, c.onEvent, c.onDone);
  const err = (await c.seen.done) as Error & { statusCode?: number };
  assert.equal(err.statusCode, 422);
  assert.equal(err.message, 'Unprocessable Entity');
  assert.deepEqual(c.seen.events, []);
});

test('abort ends the watch once (AbortError), closes its connection and delivers nothing more', async (t) => {
  let closed!: () => void;
  const serverSawClose = new Promise<void>((r) => (closed = r));
  let res: ServerResponse | undefined;
  const s = await serve((_req, r) => {
    res = r;
    r.writeHead(200);
    r.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n');
    r.on('close', closed);
  });
  t.after(s.close);
  const c = collect();
  const first = new Promise<void>((r) => {
    const on = c.onEvent;
    c.onEvent = (ty, o) => {
      on(ty, o);
      r();
    };
  });
  const handle = await watchStream(s.kc, '/api/v1/nodes', {}, (ty, o) => c.onEvent(ty, o), c.onDone);
  await first;
  handle.abort();
  handle.abort();
  const err = (await c.seen.done) as Error;
  assert.equal(err.name, 'AbortError');
  await serverSawClose;
  res?.write(JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'a' } } }) + '\n');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(c.seen.events.length, 1);
  assert.equal(c.doneCalls(), 1);
});

test('a refused connection ends the watch with the error', async () => {
  const s = await serve(() => undefined);
  await s.close();
  const c = collect();
  await watchStream(s.kc, '/api/v1/nodes', {}, c.onEvent, c.onDone);
  assert.equal(((await c.seen.done) as { code?: string }).code, 'ECONNREFUSED');
});

test('a handler that throws ends the watch with its error; no later event is delivered', async (t) => {
  const s = await serve((_req, res) => {
    res.writeHead(200);
    res.write(['a', 'b'].map((name) => JSON.stringify({ type: 'ADDED', object: { metadata: { name } } })).join('\n') + '\n');
  });
  t.after(s.close);
  const c = collect();
  const boom = new Error('handler failed');
  await watchStream(
    s.kc,
    '/api/v1/nodes',
    {},
    (ty, o) => {
      c.onEvent(ty, o);
      throw boom;
    },
    c.onDone,
  );
  assert.equal(await c.seen.done, boom);
  assert.equal(c.seen.events.length, 1);
  assert.equal(c.doneCalls(), 1);
});

test('a watch the server ended leaves its connection to the next watch; an aborted one closes its own; a kept one that no watch takes closes after WATCH_IDLE_MS', async (t) => {
  const sockets: Socket[] = [];
  const s = await serve((req, res) => {
    sockets.push(req.socket);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: `n${sockets.length}` } } }) + '\n');
    // The second watch is left open, for the client to abort.
    if (sockets.length !== 2) res.end();
  });
  t.after(s.close);
  const closed = (sock: Socket | undefined): Promise<void> => new Promise((r) => (sock?.destroyed ? r() : sock?.once('close', () => r())));
  const watch = async (): Promise<{ c: ReturnType<typeof collect>; handle: { abort(): void } }> => {
    const c = collect();
    const handle = await watchStream(s.kc, '/api/v1/nodes', {}, c.onEvent, c.onDone);
    return { c, handle };
  };

  const a = await watch();
  assert.equal(await a.c.seen.done, null);
  a.handle.abort(); // as the informer does after every watch: a no-op on one that ended
  const b = await watch();
  while (b.c.seen.events.length === 0) await new Promise((r) => setTimeout(r, 5));
  assert.equal(sockets.length, 2);
  assert.equal(sockets[1], sockets[0], 'the second watch went over the first watch connection');
  b.handle.abort();
  assert.equal(((await b.c.seen.done) as Error).name, 'AbortError');
  await closed(sockets[1]);

  const c = await watch();
  assert.equal(await c.c.seen.done, null);
  assert.equal(sockets.length, 3);
  assert.notEqual(sockets[2], sockets[1], 'an aborted watch connection is not reused');
  // Kept, not closed at the watch's end: closed when idle for WATCH_IDLE_MS (by the client, or by
  // a server whose keep-alive timeout is shorter).
  const started = Date.now();
  await closed(sockets[2]);
  assert.ok(Date.now() - started >= WATCH_IDLE_MS - 500, `closed ${Date.now() - started} ms after the watch ended`);
});

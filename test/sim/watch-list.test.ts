// Streaming lists (KEP-3157 "WatchList") and the checks of watch options, as a real
// kube-apiserver serves them (apiserver endpoints/handlers/get.go, storage/cacher; apimachinery
// ValidateListOptions): `watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&
// allowWatchBookmarks=true` answers the current state as ADDED events, then one BOOKMARK annotated
// `k8s.io/initial-events-end`, then the changes. Bad options are one 422 before any stream.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { watchListGate } from '../../src/sim/apiserver/list-options.js';
import { run } from '../helpers/cli.js';

type Line = { type: string; object: { kind?: string; apiVersion?: string; code?: number; reason?: string; message?: string; metadata: { name?: string; resourceVersion?: string; annotations?: Record<string, string> } } };

const WATCH_LIST = 'watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true';
const END = { 'k8s.io/initial-events-end': 'true' };

/** A watch over HTTP: its status, and (for a 200) its first `n` lines, or all of them when the
 *  server ends it first (timeoutSeconds); `then[1]` runs once `then[0]` lines arrived. */
async function watchLines(server: ApiServer, query: string, n = Infinity, then?: [number, () => void]): Promise<{ status: number; body?: Record<string, unknown>; headers: Headers; lines: Line[] }> {
  const ac = new AbortController();
  const giveUp = setTimeout(() => ac.abort(), 5000);
  try {
    const r = await fetch(`${server.url}/api/v1/nodes?${query}`, { signal: ac.signal, headers: { Authorization: `Bearer ${server.adminToken}` } });
    if (r.status !== 200) return { status: r.status, body: (await r.json()) as Record<string, unknown>, headers: r.headers, lines: [] };
    const lines: Line[] = [];
    const reader = r.body?.getReader();
    let buf = '';
    let pending = then;
    while (reader && lines.length < n) {
      if (pending && lines.length >= pending[0]) {
        pending[1]();
        pending = undefined;
      }
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done || !value) break;
      buf += Buffer.from(value).toString('utf8');
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        lines.push(JSON.parse(buf.slice(0, i)) as Line);
        buf = buf.slice(i + 1);
      }
    }
    return { status: r.status, headers: r.headers, lines };
  } finally {
    clearTimeout(giveUp);
    ac.abort();
  }
}

const names = (lines: Line[]): string[] => lines.map((l) => `${l.type}:${l.object.metadata.name ?? l.object.metadata.resourceVersion ?? ''}`);
const endBookmark = (rv: number): Line => ({ type: 'BOOKMARK', object: { kind: 'Node', apiVersion: 'v1', metadata: { resourceVersion: String(rv), annotations: END } } });

describe('streaming list (sendInitialEvents) on v1.32', () => {
  const server = new ApiServer();
  before(async () => {
    await server.start();
    for (const n of ['n-1', 'n-2', 'n-3']) server.store.create(NODES, { metadata: { name: n, labels: { pool: n === 'n-3' ? 'b' : 'a' } } });
  });
  after(() => server.stop());

  test('the current state as ADDED, then the initial-events-end bookmark at its resourceVersion, then a change as MODIFIED', async () => {
    const at = server.store.resourceVersion;
    let patched = 0;
    const r = await watchLines(server, WATCH_LIST, 5, [
      4,
      () => {
        patched = Number(server.store.patch(NODES, 'n-2', 'merge', { metadata: { labels: { seen: 'yes' } } }).metadata.resourceVersion);
      },
    ]);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('transfer-encoding'), 'chunked');
    assert.deepEqual(names(r.lines.slice(0, 3)), ['ADDED:n-1', 'ADDED:n-2', 'ADDED:n-3']);
    assert.deepEqual(r.lines[3], endBookmark(at));
    assert.equal(r.lines[4]?.type, 'MODIFIED');
    assert.equal(r.lines[4]?.object.metadata.name, 'n-2');
    assert.equal(r.lines[4]?.object.metadata.resourceVersion, String(patched));
    assert.ok(patched > at);
  });

  test('a metadata.name field selector gets its object alone; a label selector filters the state', async () => {
    const at = server.store.resourceVersion;
    const one = await watchLines(server, `${WATCH_LIST}&fieldSelector=metadata.name%3Dn-2`, 2);
    assert.deepEqual(one.lines, [{ ...one.lines[0], type: 'ADDED' }, endBookmark(at)]);
    assert.equal(one.lines[0]?.object.metadata.name, 'n-2');
    const ghost = await watchLines(server, `${WATCH_LIST}&fieldSelector=metadata.name%3Dghost`, 1);
    assert.deepEqual(ghost.lines, [endBookmark(at)]);
    const pool = await watchLines(server, `${WATCH_LIST}&labelSelector=pool%3Db`, 2);
    assert.deepEqual(names(pool.lines), ['ADDED:n-3', `BOOKMARK:${at}`]);
  });

  test('resourceVersion 0, or N however old (no 410): the current state; above the server: an ERROR event 504', async () => {
    const at = server.store.resourceVersion;
    for (const rv of ['0', '1', String(at)]) {
      const r = await watchLines(server, `${WATCH_LIST}&resourceVersion=${rv}`, 4);
      assert.deepEqual(names(r.lines), ['ADDED:n-1', 'ADDED:n-2', 'ADDED:n-3', `BOOKMARK:${at}`], `resourceVersion=${rv}`);
      assert.deepEqual(r.lines[3], endBookmark(at));
    }
    const r = await watchLines(server, `${WATCH_LIST}&resourceVersion=${at + 10}`);
    assert.equal(r.status, 200, 'the cacher answers it in the stream (newErrWatcher)');
    assert.deepEqual(r.lines, [
      {
        type: 'ERROR',
        object: {
          kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 504, reason: 'Timeout',
          message: `Timeout: Too large resource version: ${at + 10}, current: ${at}`,
          details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
        },
      },
    ]);
  });

  test('without allowWatchBookmarks: the initial events and no bookmark', async () => {
    const r = await watchLines(server, 'watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1');
    assert.deepEqual(names(r.lines), ['ADDED:n-1', 'ADDED:n-2', 'ADDED:n-3']);
  });

  test('sendInitialEvents=false starts empty: from now without a resourceVersion or with 0, after N with N', async () => {
    const at = server.store.resourceVersion;
    for (const [rv, created] of [['', 'f-a'], ['&resourceVersion=0', 'f-b']] as const) {
      const r = await watchLines(server, `watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true${rv}`, 1, [0, () => server.store.create(NODES, { metadata: { name: created } })]);
      assert.deepEqual(names(r.lines), [`ADDED:${created}`], rv);
    }
    const after = await watchLines(server, `watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=${at}`, 2);
    assert.deepEqual(names(after.lines), ['ADDED:f-a', 'ADDED:f-b'], 'the events after N');
  });

  test('a legacy watch (no sendInitialEvents) from "" replays the state; with the gate on it is defaulted to a streaming list', async () => {
    const at = server.store.resourceVersion;
    const plain = await watchLines(server, 'watch=1&timeoutSeconds=1');
    assert.deepEqual(names(plain.lines), ['ADDED:f-a', 'ADDED:f-b', 'ADDED:n-1', 'ADDED:n-2', 'ADDED:n-3']);
    // SetListOptionsDefaults: watch from "" or "0" -> sendInitialEvents=true, NotOlderThan.
    const bookmarks = await watchLines(server, 'watch=1&allowWatchBookmarks=true&resourceVersion=0', 6);
    assert.deepEqual(bookmarks.lines[5], endBookmark(at));
  });

  test('the changes after the bookmark are encoded once per format, shared with other watchers', async () => {
    const at = server.store.resourceVersion;
    const a = watchLines(server, WATCH_LIST, 7);
    const b = watchLines(server, WATCH_LIST, 7);
    await new Promise((r) => setTimeout(r, 100));
    const frames: string[][] = [];
    const stop = server.store.watchEntries(NODES, { resourceVersion: String(server.store.resourceVersion) }, (_t, _o, _j, ev) => frames.push([...(ev?.frames?.keys() ?? [])]));
    server.store.patch(NODES, 'n-1', 'merge', { metadata: { labels: { again: 'yes' } } });
    const [ra, rb] = await Promise.all([a, b]);
    stop();
    assert.deepEqual(frames, [['json v1 MODIFIED']]);
    assert.deepEqual(names(ra.lines.slice(5)), [`BOOKMARK:${at}`, 'MODIFIED:n-1']);
    assert.deepEqual(names(rb.lines), names(ra.lines));
  });

  test('through client-node Watch: the initial events, the annotated bookmark, then MODIFIED', async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const seen: Line[] = [];
    const at = server.store.resourceVersion;
    let resolveBookmark: () => void = () => undefined;
    const bookmarked = new Promise<void>((r) => (resolveBookmark = r));
    let resolveModified: () => void = () => undefined;
    const modified = new Promise<void>((r) => (resolveModified = r));
    const ctl = await new k8s.Watch(kc).watch(
      '/api/v1/nodes',
      { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true },
      (type: string, object: Line['object']) => {
        seen.push({ type, object });
        if (type === 'BOOKMARK') resolveBookmark();
        if (type === 'MODIFIED') resolveModified();
      },
      () => undefined,
    );
    await bookmarked;
    server.store.patch(NODES, 'n-3', 'merge', { metadata: { labels: { client: 'node' } } });
    await modified;
    ctl.abort();
    assert.deepEqual(names(seen), ['ADDED:f-a', 'ADDED:f-b', 'ADDED:n-1', 'ADDED:n-2', 'ADDED:n-3', `BOOKMARK:${at}`, 'MODIFIED:n-3']);
    assert.deepEqual(seen[5]?.object.metadata.annotations, END);

    const err = await new Promise<unknown>((resolve) => {
      void new k8s.Watch(kc).watch('/api/v1/nodes', { sendInitialEvents: true }, () => undefined, resolve);
    });
    assert.equal((err as { statusCode?: number }).statusCode, 422);
  });
});

describe('watch options: one 422 on ListOptions.meta.k8s.io before the stream', () => {
  const servers = new Map<string, ApiServer>();
  const server = async (gitVersion: string): Promise<ApiServer> => {
    let s = servers.get(gitVersion);
    if (!s) {
      s = new ApiServer({ gitVersion });
      servers.set(gitVersion, s);
      await s.start();
    }
    return s;
  };
  after(async () => {
    for (const s of servers.values()) await s.stop();
  });

  const prefix = 'ListOptions.meta.k8s.io "" is invalid: ';
  const cases: Array<{ name: string; gitVersion: string; query: string; errors: string[] }> = [
    { name: 'sendInitialEvents without resourceVersionMatch', gitVersion: 'v1.32.0', query: 'watch=1&sendInitialEvents=true', errors: ['resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'] },
    { name: 'sendInitialEvents=false is present too', gitVersion: 'v1.32.0', query: 'watch=1&sendInitialEvents=false', errors: ['resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'] },
    {
      name: 'sendInitialEvents with Exact',
      gitVersion: 'v1.32.0',
      query: 'watch=1&sendInitialEvents=true&resourceVersionMatch=Exact&resourceVersion=5',
      errors: ['resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan', 'resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"'],
    },
    { name: 'resourceVersionMatch without sendInitialEvents', gitVersion: 'v1.32.0', query: 'watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=5', errors: ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'] },
    { name: 'resourceVersionMatch with continue', gitVersion: 'v1.32.0', query: `${WATCH_LIST}&continue=abc`, errors: ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided'] },
    { name: '1.33: the gate is off', gitVersion: 'v1.33.1', query: WATCH_LIST, errors: ['sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled'] },
    { name: '1.31: the gate is off (alpha)', gitVersion: 'v1.31.4', query: WATCH_LIST, errors: ['sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled'] },
    {
      name: '1.33: every error of the request, in order',
      gitVersion: 'v1.33.1',
      query: 'watch=1&sendInitialEvents=1&resourceVersionMatch=Newest&continue=x',
      errors: [
        'resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
        'sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
        'resourceVersionMatch: Unsupported value: "Newest": supported values: "NotOlderThan"',
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
      ],
    },
    {
      name: '1.26: no sendInitialEvents yet, resourceVersionMatch is forbidden for watch',
      gitVersion: 'v1.26.3',
      query: WATCH_LIST,
      errors: ['resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch', 'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided'],
    },
    { name: 'a list refuses sendInitialEvents', gitVersion: 'v1.32.0', query: 'sendInitialEvents=false', errors: ['sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list'] },
    {
      name: 'a list: every error together',
      gitVersion: 'v1.33.1',
      query: 'resourceVersionMatch=Newest&sendInitialEvents=true',
      errors: [
        'resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
        'resourceVersionMatch: Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""',
        'sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
      ],
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const s = await server(c.gitVersion);
      const r = await watchLines(s, c.query);
      assert.equal(r.status, 422);
      assert.equal(r.headers.get('transfer-encoding'), null, 'a plain answer, not a stream');
      const message = prefix + (c.errors.length === 1 ? (c.errors[0] ?? '') : `[${c.errors.join(', ')}]`);
      assert.deepEqual(r.body, {
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', code: 422, reason: 'Invalid', message,
        details: { name: '', group: 'meta.k8s.io', kind: 'ListOptions', causes: c.errors.map((e) => ({ reason: e.includes('Unsupported') ? 'FieldValueNotSupported' : 'FieldValueForbidden', field: e.slice(0, e.indexOf(':')), message: e.slice(e.indexOf(':') + 2) })) },
      });
    });
  }

  test('the gate is on for 1.32 and 1.34: a streaming list', async () => {
    for (const v of ['v1.32.4', 'v1.34.0']) {
      const s = await server(v);
      s.store.create(NODES, { metadata: { name: 'gate-on' } });
      const r = await watchLines(s, WATCH_LIST, 2);
      assert.equal(r.status, 200, v);
      assert.deepEqual(names(r.lines), ['ADDED:gate-on', `BOOKMARK:${s.store.resourceVersion}`], v);
      assert.deepEqual(r.lines[1], endBookmark(s.store.resourceVersion), v);
    }
  });

  test('1.26 ignores sendInitialEvents (an unknown parameter): a legacy watch', async () => {
    const s = await server('v1.26.3');
    s.store.create(NODES, { metadata: { name: 'old-1' } });
    const r = await watchLines(s, 'watch=1&sendInitialEvents=false&timeoutSeconds=1');
    assert.equal(r.status, 200);
    assert.deepEqual(names(r.lines), ['ADDED:old-1'], 'the state, as a watch without resourceVersion replays it');
  });

  test('gate off: a legacy watch from "" with bookmarks is not defaulted to a streaming list', async () => {
    const s = await server('v1.33.1');
    s.store.create(NODES, { metadata: { name: 'gate-off' } });
    const r = await watchLines(s, 'watch=1&allowWatchBookmarks=true&timeoutSeconds=1');
    assert.deepEqual(names(r.lines), ['ADDED:gate-off']);
  });

  test('the gate by version', () => {
    const table: Array<[string, string]> = [
      ['v1.26.3', 'absent'],
      ['v1.27.0', 'off'],
      ['v1.31.4', 'off'],
      ['v1.32.0', 'on'],
      ['v1.32.9', 'on'],
      ['v1.33.1', 'off'],
      ['v1.34.0', 'on'],
      ['v1.35.2', 'on'],
      ['not-a-version', 'on'],
    ];
    for (const [v, want] of table) assert.equal(watchListGate(v), want, v);
  });
});

describe('kubectl get --raw of a streaming list', () => {
  const server = new ApiServer();
  let dir = '';
  let kubeconfig = '';
  before(async () => {
    await server.start();
    dir = await mkdtemp(join(tmpdir(), 'kto-watch-list-'));
    kubeconfig = join(dir, 'kubeconfig');
    await server.writeKubeconfig(kubeconfig);
    for (const n of ['k-1', 'k-2']) server.store.create(NODES, { metadata: { name: n } });
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeoutMs: 20_000 });

  test('the initial events then the bookmark; timeoutSeconds ends it', async () => {
    const at = server.store.resourceVersion;
    const r = await kubectl(['get', '--raw', `/api/v1/nodes?${WATCH_LIST}&timeoutSeconds=1`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
    assert.deepEqual(names(lines), ['ADDED:k-1', 'ADDED:k-2', `BOOKMARK:${at}`]);
    assert.deepEqual(lines[2], endBookmark(at));
  });

  test('a bad option is the 422 kubectl prints', async () => {
    const r = await kubectl(['get', '--raw', '/api/v1/nodes?watch=1&sendInitialEvents=true&timeoutSeconds=1']);
    assert.equal(r.code, 1);
    // kubectl prints a 422 from its details: `The <kind> "<name>" is invalid: <causes>`.
    assert.equal(r.stderr, 'The ListOptions "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan\n');
  });
});

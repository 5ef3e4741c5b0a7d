// Benchmark of the embedded API server at 5,000 realistic nodes (~6 KB each): full list,
// paginated list (limit 500) and a watch from "0" through client-node, plus in-process
// heartbeat patches. Run: node --import tsx bench/sim-list.ts [nodes]

import * as k8s from '@kubernetes/client-node';
import { ApiServer, NODES } from '../src/sim/apiserver/index.js';
import { realisticNode } from '../src/sim/apiserver/fixtures.js';

const N = Number(process.argv[2] ?? 5000);
const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`;
const rows: [string, string][] = [];
const time = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
  const t0 = performance.now();
  const r = await fn();
  rows.push([label, `${(performance.now() - t0).toFixed(0)} ms`]);
  return r;
};

const server = new ApiServer();
await server.start();
const kc = new k8s.KubeConfig();
kc.loadFromString(server.kubeconfigYaml());
const core = kc.makeApiClient(k8s.CoreV1Api);

await time(`create ${N} nodes in-process`, () => {
  for (let i = 0; i < N; i++) server.store.create(NODES, realisticNode(i));
});
const bytes = JSON.stringify(server.store.list(NODES, { limit: 1 }).items[0]).length;
rows.push(['node size', `${bytes} B`]);

const full = await time('full list (client-node)', () => core.listNode());
if (full.items.length !== N) throw new Error(`listed ${full.items.length}`);
await time('full list again (warm)', () => core.listNode());
await time('full list, raw HTTP (fetch + JSON.parse)', async () => {
  const r = await fetch(`${server.url}/api/v1/nodes`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  const body = (await r.json()) as { items: unknown[] };
  if (body.items.length !== N) throw new Error('raw list');
});

await time('paginated list, limit 500 (client-node)', async () => {
  let cont: string | undefined;
  let total = 0;
  do {
    const page = await core.listNode({ limit: 500, _continue: cont });
    total += page.items.length;
    cont = page.metadata?._continue;
  } while (cont);
  if (total !== N) throw new Error(`paginated ${total}`);
});

await time(`watch from "0": ${N} ADDED (client-node Watch)`, async () => {
  let added = 0;
  let ctl: AbortController | undefined;
  await new Promise<void>((resolve, reject) => {
    void new k8s.Watch(kc)
      .watch('/api/v1/nodes', { resourceVersion: '0' }, (type) => {
        if (type === 'ADDED' && ++added === N) resolve();
      }, (err: unknown) => {
        if (added < N) reject(err instanceof Error ? err : new Error(String(err)));
      })
      .then((c) => (ctl = c));
  });
  ctl?.abort();
});

await time(`${N} heartbeat status patches in-process`, () => {
  const now = new Date().toISOString();
  const names = server.store.listEntries(NODES).items.map((e) => e.obj.metadata.name ?? '');
  for (const name of names) {
    server.store.patch(NODES, name, 'merge', { status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: now }] } }, { subresource: 'status' });
  }
});

const mem = process.memoryUsage();
rows.push(['heap used', mb(mem.heapUsed)], ['RSS', mb(mem.rss)]);
await server.stop();

const w = Math.max(...rows.map(([l]) => l.length));
console.log(`embedded apiserver, ${N} nodes, Node ${process.version}`);
for (const [l, v] of rows) console.log(`  ${l.padEnd(w)}  ${v.padStart(8)}`);

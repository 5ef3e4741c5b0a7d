// The node agent across an etcd restore that its list cannot see: the restored server has already
// written past every resourceVersion the agent saw, so its "not older than" list is answered, and
// only the objects can show the restore. The release written on the restored server must be
// applied, whether the restored Node's resourceVersion is lower than the one cached or, by chance,
// the same number:
// - lower: before the informer compared each object with its cached self, the agent took the
//   restored Node for an old copy of the one it had, kept the one from the lost history, and never
//   applied the release (the etcd-restore test of test/rollout/replaced-server.test.ts timed out
//   now and then this way in full runs);
// - the same: the informer took it for the object it had (same uid, same resourceVersion), and
//   the same test timed out again, once, this way. A list now hands every object it lists to the
//   handlers, as client-go's Replace does, so such a collision costs one extra look at the Node.
import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decode, encodeRelease } from '../../src/api/handoff.js';
import { render } from '../../src/render/render.js';
import { LEASES, NODES } from '../../src/sim/apiserver/index.js';
import { resKey } from '../../src/sim/apiserver/types.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { microTime, NODE_LEASE_NAMESPACE } from '../../src/sim/heartbeat.js';
import { samplingRate, waitFor } from '../helpers/rollout.js';

const VERSION = 'v1.33.1';

/** The restored Node's resourceVersion against the one the agent cached. */
type Collision = 'lower' | 'same';

async function restoredRelease(collision: Collision): Promise<void> {
  const stateDir = await mkdtemp(join(tmpdir(), 'kto-agent-restore-'));
  const cluster = await SimCluster.start({ nodes: 1, versions: [VERSION], restartMs: 40, stateDir });
  try {
    const server = cluster.server;
    const store = server.store;
    const [node] = cluster.nodeNames();
    assert.ok(node !== undefined);
    const rate = (): number | undefined => samplingRate(cluster, node);
    const watching = (): boolean => store.hub.count(resKey(NODES)) >= 1;
    const nodeRv = (): number => Number(store.getEntry(NODES, node).obj.metadata.resourceVersion);
    // A release as the controller writes it, made in-process (no controller runs here).
    const release = (samplingRatePerMillion: number): string => {
      const r = render({ tracing: { samplingRatePerMillion } }, VERSION);
      assert.ok(r.supported);
      store.patchEntry(NODES, node, 'merge', { metadata: { annotations: encodeRelease({ policy: 'p', hash: r.hash, config: r.config, timeMs: Date.now() }) } });
      return r.hash;
    };
    const applied = (hash: string): boolean => {
      const h = decode(store.getEntry(NODES, node).obj.metadata.annotations);
      return h.state === 'Applied' && h.stateHash === hash;
    };
    let fillers = 0;
    /** Writes that are not the Node's, until the server's resourceVersion reaches `rv`. */
    const fillTo = (rv: number): void => {
      if (fillers === 0) store.createEntry(LEASES, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'filler', namespace: NODE_LEASE_NAMESPACE }, spec: { renewTime: microTime(0) } }, { namespace: NODE_LEASE_NAMESPACE });
      while (store.resourceVersion < rv) store.renewLease('filler', NODE_LEASE_NAMESPACE, microTime(++fillers));
    };

    await server.restart(); // flushes the state file: the "backup"
    const backup = await readFile(join(stateDir, 'apiserver-state.json'));
    await waitFor('the agent watching', watching);
    const first = release(9);
    await waitFor('the first release applied', () => applied(first) && rate() === 9);
    // What the agent caches of its Node: the version with its Applied report.
    await waitFor('the agent watching again after its kubelet restart', watching);
    const cachedRv = nodeRv();
    const seenRv = store.resourceVersion;

    await server.stop();
    await writeFile(join(stateDir, 'apiserver-state.json'), backup);
    await server.restart();
    assert.ok(store.resourceVersion < cachedRv, 'the restore took resourceVersions back');
    // At once, before the agent lists again (it is backing off from the outage): the release on
    // the restored Node, then other writes until the server is past all the agent saw.
    if (collision === 'same') fillTo(cachedRv - 1);
    const second = release(5);
    fillTo(seenRv + 5);
    if (collision === 'same') assert.equal(nodeRv(), cachedRv, 'the restored Node has the resourceVersion the agent cached');
    else assert.ok(nodeRv() < cachedRv, `the restored Node (${nodeRv()}) is older than the one the agent cached (${cachedRv})`);

    await waitFor('the release made on the restored server applied', () => applied(second) && rate() === 5, 15_000, 50, () =>
      `at the timeout: kubelet rate ${String(rate())}, Node annotations ${JSON.stringify(store.getEntry(NODES, node).obj.metadata.annotations)}`);
  } finally {
    await cluster.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}

test('a release written on a restored server that is already past what the agent saw is applied', { timeout: 60_000 }, () => restoredRelease('lower'));

test('the same, when the restored Node has by chance the resourceVersion the agent cached', { timeout: 60_000 }, () => restoredRelease('same'));

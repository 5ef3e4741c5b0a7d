// The agent's API loop (runAgent) against the embedded API server, over HTTP: how it stops, and
// the order of a release's steps.
import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { runAgent } from '../../src/agent/agent.js';
import { decode, encodeRelease } from '../../src/api/handoff.js';
import { render } from '../../src/render/render.js';
import { ApiServer, NODES } from '../../src/sim/apiserver/index.js';
import { resKey } from '../../src/sim/apiserver/types.js';
import { simNodeObject } from '../../src/sim/nodes.js';

describe('runAgent stopping', () => {
  const server = new ApiServer();
  before(async () => {
    await server.start();
    server.store.createEntry(NODES, simNodeObject('node-01', 0, 'v1.33.1'));
  });
  after(async () => {
    server.faults.latencyMs = 0;
    await server.stop();
  });

  test('an agent stopped while its first list is in flight returns without opening a watch', { timeout: 20_000 }, async () => {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    // Every request waits a while: the list is still in flight when the agent is told to stop.
    server.faults.latencyMs = 300;
    const abort = new AbortController();
    const run = runAgent({
      kubeConfig: kc,
      nodeName: 'node-01',
      layout: { mode: 'main', configFile: '/nonexistent/config.yaml' },
      restarter: { restart: async () => undefined },
      health: { healthy: async () => true },
      signal: abort.signal,
    });
    abort.abort();
    // Without the check after the list, the agent opens its watch and waits there until the
    // server ends it (its timeoutSeconds: minutes); the test's timeout catches that.
    await run;
    assert.equal(server.store.hub.count(resKey(NODES)), 0, 'no watch of the node was left open');
  });
});

describe('runAgent applying a release', () => {
  const server = new ApiServer();
  let dir = '';
  before(async () => {
    await server.start();
    server.store.createEntry(NODES, simNodeObject('node-01', 0, 'v1.33.1'));
    dir = await mkdtemp(join(tmpdir(), 'kto-run-agent-'));
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('asks for the kubelet restart before it reports Applying, and reports Applying, then Applied', { timeout: 20_000 }, async () => {
    const configFile = join(dir, 'config.yaml');
    await writeFile(configFile, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n');
    const kc = new k8s.KubeConfig();
    kc.loadFromString(server.kubeconfigYaml());
    const state = (): { state?: string; hash?: string } => {
      const h = decode(server.store.getEntry(NODES, 'node-01').obj.metadata.annotations);
      return { ...(h.state !== undefined ? { state: h.state } : {}), ...(h.stateHash !== undefined ? { hash: h.stateHash } : {}) };
    };
    const seenDuringRestart: Array<{ state?: string; hash?: string }> = [];
    const abort = new AbortController();
    const run = runAgent({
      kubeConfig: kc,
      nodeName: 'node-01',
      layout: { mode: 'main', configFile },
      restarter: {
        // The restart takes 300 ms: a report sent before it would be written meanwhile.
        restart: async () => {
          for (let i = 0; i < 30; i++) {
            seenDuringRestart.push(state());
            await new Promise((r) => setTimeout(r, 10));
          }
        },
      },
      health: { healthy: async () => true },
      signal: abort.signal,
    });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = render({ tracing: { samplingRatePerMillion: 9 } }, 'v1.33.1');
      assert.ok(r.supported);
      const rv = server.store.resourceVersion;
      server.store.patchEntry(NODES, 'node-01', 'merge', { metadata: { annotations: encodeRelease({ policy: 'p', hash: r.hash, config: r.config, timeMs: Date.now() }) } });
      for (let i = 0; i < 200 && state().state !== 'Applied'; i++) await new Promise((res) => setTimeout(res, 50));
      assert.deepEqual(state(), { state: 'Applied', hash: r.hash });
      assert.equal(seenDuringRestart.length, 30, 'one restart');
      assert.ok(seenDuringRestart.every((s) => s.state === undefined), `no report while the restart was being asked for: ${JSON.stringify(seenDuringRestart)}`);
      const reports = server.store.hub.since(resKey(NODES), rv).map((e) => decode(e.obj.metadata.annotations).state).filter((s) => s !== undefined);
      assert.deepEqual(reports, ['Applying', 'Applied'], 'both reports written, in that order');
    } finally {
      abort.abort();
      await run;
    }
  });
});

// The agent's API loop (runAgent) against the embedded API server, over HTTP: how it stops.
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { runAgent } from '../../src/agent/agent.js';
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

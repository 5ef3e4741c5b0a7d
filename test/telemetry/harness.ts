// Shared by the telemetry tests and bench/collector-down.ts: a real OTLP receiver (gRPC and
// OTLP/HTTP protobuf + JSON: src/sim/collector), and a rollout on the embedded cluster with the
// controller and every agent wired to telemetry by src/wiring.ts, as `kto demo` is.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { newPolicy } from '../../src/api/policy.js';
import { GROUP, PLURAL, VERSION } from '../../src/api/types.js';
import type { RolloutSummary } from '../../src/controller/status.js';
import type { SimCluster } from '../../src/sim/cluster.js';
import { OtlpReceiver, type Protocol, type ReceivedSpan } from '../../src/sim/collector/index.js';
import type { AgentTelemetry } from '../../src/telemetry/agent.js';
import type { ControllerTelemetry } from '../../src/telemetry/controller.js';
import type { Registry } from '../../src/telemetry/metrics.js';
import type { TracingOptions } from '../../src/telemetry/tracing.js';
import { Stack } from '../../src/wiring.js';
import { withTimeout } from '../helpers/poll.js';

export type { Protocol, ReceivedSpan };
export { OtlpReceiver };

/** The receiver's endpoint for an exporter speaking `protocol`. */
export function endpointFor(r: OtlpReceiver, protocol: Protocol): string {
  return protocol === 'grpc' ? r.grpcEndpoint : r.httpEndpoint;
}

/** The older, smaller shape bench/collector-down.ts uses: OTLP/HTTP at `url`. */
export interface Receiver {
  url: string;
  readonly spans: ReceivedSpan[];
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const r = await OtlpReceiver.start();
  return {
    url: r.httpEndpoint,
    get spans() {
      return r.spans();
    },
    close: () => r.stop(),
  };
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A port nothing listens on (bound, then released): "the collector is down". */
export async function closedPort(): Promise<number> {
  const s = createServer();
  const port = await listen(s);
  await closeServer(s);
  return port;
}

export interface RolloutEnvOptions {
  nodes: number;
  restartMs: number;
  maxUnavailable: number;
  versions?: string[];
  /** Nodes whose kubelet rejects any tracing config (rolled back). */
  failNodes?: string[];
  maxFailures?: number;
  /** OTLP endpoint for both services; undefined: tracing off. */
  endpoint?: string;
  /** OTLP protocol for both services (default: the spec's, http/protobuf). */
  protocol?: Protocol;
  queue?: TracingOptions['queue'];
}

export interface RolloutEnv {
  stack: Stack;
  cluster: SimCluster;
  controller: Awaited<ReturnType<Stack['startController']>>;
  registry: Registry;
  ctl: ControllerTelemetry;
  agent: AgentTelemetry;
  /** Creates the policy and resolves with the summary once the rollout settles (rolloutSettled). */
  rollout(name?: string, timeoutMs?: number): Promise<{ summary: RolloutSummary; durationMs: number }>;
  /** Stops everything; tracing shutdown waits at most shutdownMs. */
  stop(shutdownMs?: number): Promise<void>;
}

export async function startRolloutEnv(o: RolloutEnvOptions): Promise<RolloutEnv> {
  const stack = await Stack.start({
    cluster: { nodes: o.nodes, restartMs: o.restartMs, versions: o.versions ?? ['v1.30.0'], failNodes: o.failNodes ?? [], notReadyAfterMs: 30_000, installCrd: true },
    tracing: { endpoint: o.endpoint, protocol: o.protocol, ...(o.queue ? { queue: o.queue } : {}) },
  });
  const controller = await stack.startController();
  const custom = stack.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const { cluster, registry, ctl, agent } = stack;
  return {
    stack,
    cluster,
    controller,
    registry,
    ctl,
    agent,
    async rollout(name = 'bench', timeoutMs = 60_000) {
      const done = stack.settled(name);
      const started = Date.now();
      const body = newPolicy(name, {
        nodeSelector: {},
        tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 },
        rollout: { maxUnavailable: o.maxUnavailable, minReadySeconds: 0, nodeTimeoutSeconds: 60, maxFailures: o.maxFailures ?? 0 },
      });
      await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body });
      const summary = await withTimeout(done, timeoutMs, `rollout ${name} did not complete in ${timeoutMs} ms`);
      return { summary, durationMs: Date.now() - started };
    },
    stop: (shutdownMs = 5_000) => stack.stop(shutdownMs),
  };
}

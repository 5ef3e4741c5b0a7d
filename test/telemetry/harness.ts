// Shared by the telemetry tests and bench/collector-down.ts: a real OTLP receiver (gRPC and
// OTLP/HTTP protobuf + JSON: src/sim/collector), and a rollout on the embedded cluster with the
// controller and every agent wired to telemetry exactly as `kto demo` wires them.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION, type NodeTracingPolicy } from '../../src/api/types.js';
import { Controller } from '../../src/controller/controller.js';
import type { RolloutSummary } from '../../src/controller/status.js';
import { SimCluster } from '../../src/sim/cluster.js';
import { OtlpReceiver, type Protocol, type ReceivedSpan } from '../../src/sim/collector/index.js';
import { AgentTelemetry } from '../../src/telemetry/agent.js';
import { ControllerTelemetry } from '../../src/telemetry/controller.js';
import { Registry } from '../../src/telemetry/metrics.js';
import { startTracing, type TracingOptions } from '../../src/telemetry/tracing.js';

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
  cluster: SimCluster;
  controller: Controller;
  registry: Registry;
  ctl: ControllerTelemetry;
  agent: AgentTelemetry;
  /** Creates the policy and resolves with the summary once the rollout is over. */
  rollout(name?: string, timeoutMs?: number): Promise<{ summary: RolloutSummary; durationMs: number }>;
  /** Stops everything; tracing shutdown waits at most shutdownMs. */
  stop(shutdownMs?: number): Promise<void>;
}

export async function startRolloutEnv(o: RolloutEnvOptions): Promise<RolloutEnv> {
  const registry = new Registry();
  const tracingOpts = { registry, endpoint: o.endpoint, protocol: o.protocol, ...(o.queue ? { queue: o.queue } : {}) };
  const ctlTracing = startTracing({ service: 'kubelet-tracing-controller', ...tracingOpts });
  const agentTracing = startTracing({ service: 'kubelet-tracing-agent', ...tracingOpts });
  const ctl = new ControllerTelemetry(ctlTracing, registry);
  const agent = new AgentTelemetry(agentTracing, registry);
  const cluster = await SimCluster.start({
    nodes: o.nodes,
    restartMs: o.restartMs,
    versions: o.versions ?? ['v1.30.0'],
    failNodes: o.failNodes ?? [],
    notReadyAfterMs: 30_000,
    agentHooks: (node) => agent.hooks(node),
    installCrd: true,
  });
  const kc = cluster.kubeConfig();

  const waiters = new Map<string, (s: RolloutSummary) => void>();
  const controller = new Controller({
    kubeConfig: kc,
    noLeaderElection: true,
    ...ctl.hooks((policy, plan, s) => {
      // Done: every node Updated, or the rollout can move no further (as `kto demo` decides).
      if (s.complete || s.halted || (s.updated + s.failed === s.target && plan.inProgress === 0 && plan.soaking === 0)) waiters.get(policy)?.(s);
    }),
  });
  ctl.observe(controller);
  await controller.start();
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);

  return {
    cluster,
    controller,
    registry,
    ctl,
    agent,
    async rollout(name = 'bench', timeoutMs = 60_000) {
      const done = new Promise<RolloutSummary>((resolve) => waiters.set(name, resolve));
      const started = Date.now();
      const body: NodeTracingPolicy = {
        apiVersion: 'nodetracing.dev/v1alpha1',
        kind: 'NodeTracingPolicy',
        metadata: { name },
        spec: {
          nodeSelector: {},
          tracing: { endpoint: 'otel-collector.observability.svc:4317', samplingRatePerMillion: 10000 },
          rollout: { maxUnavailable: o.maxUnavailable, minReadySeconds: 0, nodeTimeoutSeconds: 60, maxFailures: o.maxFailures ?? 0 },
        },
      };
      await custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, body });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`rollout ${name} did not complete in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const summary = await Promise.race([done, timeout]);
        return { summary, durationMs: Date.now() - started };
      } finally {
        clearTimeout(timer);
      }
    },
    async stop(shutdownMs = 5_000) {
      await controller.stop();
      await cluster.stop();
      ctl.endAll();
      await Promise.all([ctlTracing.shutdown(shutdownMs), agentTracing.shutdown(shutdownMs)]);
    },
  };
}

export async function waitUntil(what: string, fn: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

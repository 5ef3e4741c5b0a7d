// The one wiring of kto's parts: tracing and metrics, the embedded cluster with an agent on every
// node, and the controller, each hooked to its telemetry as `kto controller` and `kto agent` hook
// theirs, and stopped in the reverse order. `kto demo`, the test helpers and the benches build
// through here, and `kto sim` through its cluster part (wiring-cluster.ts), so a hook connected
// for one is connected for all.
import type * as k8s from '@kubernetes/client-node';
import { Controller, type ControllerOptions } from './controller/controller.js';
import type { Plan } from './controller/planner.js';
import { rolloutSettled, type RolloutSummary } from './controller/status.js';
import type { LogLevel } from './log.js';
import type { SimCluster, SimClusterOptions } from './sim/cluster.js';
import { adminKubeConfig } from './sim/kubeconfig.js';
import type { AgentTelemetry } from './telemetry/agent.js';
import { ControllerTelemetry } from './telemetry/controller.js';
import { createLogger } from './telemetry/log.js';
import { Registry } from './telemetry/metrics.js';
import { startTracing } from './telemetry/tracing.js';
import { agentTelemetry, startHookedCluster, type TelemetryOptions } from './wiring-cluster.js';

export { agentTelemetry, type TelemetryOptions };

export function controllerTelemetry(o: TelemetryOptions): ControllerTelemetry {
  return new ControllerTelemetry(startTracing({ service: 'kubelet-tracing-controller', ...o }), o.registry);
}

/** A Controller with every telemetry hook in place (`o.onPlan` runs after telemetry's), and the
 *  scrape-time metrics (leader, queue depth, policy conditions) reading it. */
export function wireController(telemetry: ControllerTelemetry, o: ControllerOptions): Controller {
  const controller = new Controller({ ...o, ...telemetry.hooks(o.onPlan) });
  telemetry.observe(controller);
  return controller;
}

type Loggers = Record<'controller' | 'agent', ReturnType<typeof createLogger>>;

export type PlanListener = (policy: string, plan: Plan, summary: RolloutSummary) => void;

export interface StackOptions {
  cluster: SimClusterOptions;
  tracing?: Omit<TelemetryOptions, 'registry'>;
  /** Default: a registry of its own (the controller and the agents share it, as in the demo). */
  registry?: Registry;
  /** The controller's and the agents' loggers at this level (flushed at stop); absent: silent. */
  logLevel?: LogLevel;
  /** Start a controller with the cluster (see startController); absent: none yet. */
  controller?: Partial<ControllerOptions>;
}

/** The embedded cluster, its agents and any controllers, in one process, with their telemetry. */
export class Stack {
  readonly controllers: Controller[] = [];
  private readonly listeners = new Set<PlanListener>();
  private readonly last = new Map<string, RolloutSummary>();
  private constructor(
    /** A test that restarts the API server puts the new cluster here; stop() stops this one. */
    public cluster: SimCluster,
    readonly kubeConfig: k8s.KubeConfig,
    readonly registry: Registry,
    readonly ctl: ControllerTelemetry,
    readonly agent: AgentTelemetry,
    private readonly logs: Loggers | undefined,
  ) {}

  static async start(o: StackOptions): Promise<Stack> {
    const registry = o.registry ?? new Registry();
    const ctl = controllerTelemetry({ ...o.tracing, registry });
    const agent = agentTelemetry({ ...o.tracing, registry });
    const logs = o.logLevel ? { controller: createLogger('controller', o.logLevel), agent: createLogger('agent', o.logLevel) } : undefined;
    const cluster = await startHookedCluster(o.cluster, agent, logs?.agent).catch(async (err: unknown) => {
      await Promise.all([ctl.tracing.shutdown(1_000), agent.tracing.shutdown(1_000)]);
      throw err;
    });
    const stack = new Stack(cluster, adminKubeConfig(cluster.server), registry, ctl, agent, logs);
    if (o.controller) await stack.startController(o.controller).catch(async (err: unknown) => {
      await stack.stop(1_000);
      throw err;
    });
    return stack;
  }

  /** The first controller started, if any. */
  get controller(): Controller | undefined {
    return this.controllers[0];
  }

  /** Starts a controller on the cluster (no leader election unless `o` asks for it); a test
   *  starts more than one to fail over between them. */
  async startController(o: Partial<ControllerOptions> = {}): Promise<Controller> {
    const onPlan: PlanListener = (policy, plan, summary) => {
      this.last.set(policy, summary);
      for (const l of this.listeners) l(policy, plan, summary);
      o.onPlan?.(policy, plan, summary);
    };
    const c = wireController(this.ctl, { kubeConfig: this.kubeConfig, noLeaderElection: true, ...(this.logs ? { log: this.logs.controller } : {}), ...o, onPlan });
    this.controllers.push(c);
    await c.start();
    return c;
  }

  /** Calls `fn` on every plan of every controller; returns the unsubscribe. */
  onPlan(fn: PlanListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The latest summary planned for `policy`. */
  summary(policy: string): RolloutSummary | undefined {
    return this.last.get(policy);
  }

  /** The first summary of `policy` planned after this call that is settled (rolloutSettled). */
  settled(policy: string): Promise<RolloutSummary> {
    return new Promise((resolve) => {
      const off = this.onPlan((name, plan, s) => {
        if (name !== policy || !rolloutSettled(s, plan)) return;
        off();
        resolve(s);
      });
    });
  }

  /** Controllers, then the cluster, then the telemetry; tracing shutdown waits at most shutdownMs. */
  async stop(shutdownMs = 5_000): Promise<void> {
    await Promise.all(this.controllers.map((c) => c.stop()));
    await this.cluster.stop();
    this.ctl.endAll();
    await Promise.all([this.ctl.tracing.shutdown(shutdownMs), this.agent.tracing.shutdown(shutdownMs)]);
    this.logs?.controller.flush();
    this.logs?.agent.flush();
  }
}

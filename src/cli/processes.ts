// kto controller | agent | sim: the long-running processes. Each stops cleanly on SIGINT/SIGTERM.
import { rm } from 'node:fs/promises';
import * as k8s from '@kubernetes/client-node';
import { collectDefaultMetrics } from 'prom-client';
import { runAgent } from '../agent/agent.js';
import { HttpHealthProbe, SystemctlRestarter } from '../agent/restarter.js';
import { Controller } from '../controller/controller.js';
import { loadKubeConfig } from '../kube/client.js';
import { SimCluster } from '../sim/cluster.js';
import { AgentTelemetry } from '../telemetry/agent.js';
import { ControllerTelemetry, controllerReadiness } from '../telemetry/controller.js';
import { type Check, startTelemetryServer, type TelemetryServer } from '../telemetry/http.js';
import { createLogger, logFn, type Logger } from '../telemetry/log.js';
import { Registry } from '../telemetry/metrics.js';
import { startTracing, type Tracing } from '../telemetry/tracing.js';

/** Resolves on the first SIGINT or SIGTERM. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

export interface ControllerFlags {
  kubeconfig?: string;
  leaseNamespace: string;
  leaseName: string;
  id?: string;
  leaderElection: boolean;
  logLevel: string;
  /** /metrics, /healthz, /readyz; 0: no server. */
  metricsPort: number;
  otlpEndpoint?: string;
}

/** One registry per process (never prom-client's global one), with the process metrics. */
function processRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

async function serveTelemetry(port: number, registry: Registry, live: () => Check, ready: () => Check | Promise<Check>, logger: Logger): Promise<TelemetryServer | undefined> {
  if (port === 0) return undefined;
  const server = await startTelemetryServer({ port, registry, live, ready });
  logger.info({ port: server.port }, 'serving /metrics, /healthz, /readyz');
  return server;
}

function logTracing(logger: Logger, tracing: Tracing): void {
  logger.info(tracing.enabled ? { endpoint: tracing.endpoint } : {}, tracing.enabled ? 'tracing on' : 'tracing off (no OTLP endpoint)');
}

export async function controllerCommand(f: ControllerFlags): Promise<number> {
  const logger = createLogger('controller', f.logLevel);
  const registry = processRegistry();
  const tracing = startTracing({ service: 'kubelet-tracing-controller', endpoint: f.otlpEndpoint, registry });
  logTracing(logger, tracing);
  const telemetry = new ControllerTelemetry(tracing, registry);
  const controller = new Controller({
    kubeConfig: loadKubeConfig(f.kubeconfig),
    identity: f.id,
    leaseNamespace: f.leaseNamespace,
    leaseName: f.leaseName,
    noLeaderElection: !f.leaderElection,
    log: logFn(logger),
    ...telemetry.hooks(),
  });
  if (telemetry.metrics) telemetry.metrics.depth.read = () => controller.queueDepth();
  let running = true;
  const server = await serveTelemetry(
    f.metricsPort,
    registry,
    () => ({ ok: running, ...(running ? {} : { reason: 'stopping' }) }),
    () => controllerReadiness({ ...controller.leadership(), leaderElection: f.leaderElection }),
    logger,
  );
  const stopping = untilSignal();
  await Promise.race([controller.start(), stopping]);
  logger.info({ identity: controller.identity }, 'controller started');
  const sig = await stopping;
  logger.info({ signal: sig }, 'stopping');
  running = false;
  await controller.stop();
  telemetry.endAll();
  await tracing.shutdown();
  await server?.close();
  logger.flush();
  return 0;
}

export interface AgentFlags {
  kubeconfig?: string;
  nodeName?: string;
  hostRoot: string;
  procRoot: string;
  configFile?: string;
  configDir?: string;
  restartCommand?: string;
  healthUrl: string;
  timeoutSeconds: number;
  logLevel: string;
  /** /metrics, /healthz, /readyz; 0: no server. */
  metricsPort: number;
  otlpEndpoint?: string;
}

/** Ready when our own Node can be read: the agent's whole world. Probed at most every 5 s. */
function ownNodeReadiness(kc: k8s.KubeConfig, nodeName: string): () => Promise<Check> {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  let last: { at: number; check: Check } | undefined;
  return async () => {
    if (last && Date.now() - last.at < 5_000) return last.check;
    let check: Check;
    try {
      await core.readNode({ name: nodeName });
      check = { ok: true };
    } catch (e: unknown) {
      check = { ok: false, reason: `cannot read Node ${nodeName}: ${e instanceof k8s.ApiException ? `HTTP ${e.code}` : e instanceof Error ? e.message : String(e)}` };
    }
    last = { at: Date.now(), check };
    return check;
  };
}

export async function agentCommand(f: AgentFlags): Promise<number> {
  const nodeName = f.nodeName ?? process.env.NODE_NAME;
  if (!nodeName) {
    process.stderr.write('kto agent: --node-name or $NODE_NAME (from the downward API) is required\n');
    return 2;
  }
  const logger = createLogger('agent', f.logLevel).child({ node: nodeName });
  const registry = processRegistry();
  const tracing = startTracing({ service: 'kubelet-tracing-agent', endpoint: f.otlpEndpoint, registry });
  logTracing(logger, tracing);
  const telemetry = new AgentTelemetry(tracing, registry);
  const kubeConfig = loadKubeConfig(f.kubeconfig);
  let running = true;
  const server = await serveTelemetry(f.metricsPort, registry, () => ({ ok: running }), ownNodeReadiness(kubeConfig, nodeName), logger);
  const abort = new AbortController();
  void untilSignal().then(() => abort.abort());
  try {
    await runAgent({
      kubeConfig,
      nodeName,
      detect: { hostRoot: f.hostRoot, procRoot: f.procRoot, fallback: { configFile: f.configFile, configDir: f.configDir } },
      restarter: new SystemctlRestarter(f.restartCommand ? { command: f.restartCommand.split(/\s+/) } : {}),
      health: new HttpHealthProbe({ url: f.healthUrl }),
      timeoutMs: f.timeoutSeconds * 1000,
      signal: abort.signal,
      log: logger,
      ...telemetry.hooks(nodeName),
    });
  } finally {
    running = false;
    await tracing.shutdown();
    await server?.close();
  }
  logger.flush();
  return 0;
}

export interface SimFlags {
  nodes: number;
  versions?: string;
  kubeconfig: string;
  port: number;
  restartMs: number;
  failNodes?: string;
  agents: boolean;
  keep: boolean;
  stateDir?: string;
  notReadyAfterMs: number;
  crd: boolean;
}

/** A comma-separated flag value as a list ('' and spaces dropped). */
function csv(v: string | undefined): string[] {
  return (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

export function simOptions(f: Omit<SimFlags, 'kubeconfig'>) {
  const versions = csv(f.versions);
  return {
    nodes: f.nodes,
    versions: versions.length ? versions : undefined,
    port: f.port,
    restartMs: f.restartMs,
    failNodes: csv(f.failNodes),
    agents: f.agents,
    keep: f.keep,
    stateDir: f.stateDir,
    notReadyAfterMs: f.notReadyAfterMs,
    installCrd: f.crd,
  };
}

export async function simCommand(f: SimFlags): Promise<number> {
  const t0 = performance.now();
  // Ready once the API server serves every node: the agents come up right after, as a
  // DaemonSet would (a line says when they all watch their node).
  const cluster = await SimCluster.start({ ...simOptions(f), waitForAgents: false, agentLog: createLogger('agent', 'warn') });
  await cluster.server.writeKubeconfig(f.kubeconfig);
  const versions = [...new Set([...cluster.kubelets.values()].map((k) => k.version))].join(', ');
  const seconds = (): string => ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(
    [
      `embedded cluster ready: ${cluster.url} (${seconds()} s)`,
      `  ${f.nodes} nodes (kubelets ${versions})${f.agents ? ', a node agent on each' : ', no agents'}; host dirs under ${cluster.baseDir}`,
      `  kubeconfig: ${f.kubeconfig}`,
      '',
      'next, in another terminal:',
      `  kto controller --kubeconfig ${f.kubeconfig}`,
      `  kubectl --kubeconfig ${f.kubeconfig} apply -f crds/ -f examples/basic.yaml`,
      `  kubectl --kubeconfig ${f.kubeconfig} get ntp -w`,
      '',
      'Ctrl-C stops the cluster.',
      '',
    ].join('\n'),
  );
  if (f.agents) void cluster.agentsReady().then(() => process.stdout.write(`${f.nodes} node agents watching their node (${seconds()} s)\n`));
  await untilSignal();
  await cluster.stop();
  await rm(f.kubeconfig, { force: true });
  return 0;
}

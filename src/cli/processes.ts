// kto controller | agent: the long-running processes (kto sim: sim.ts). Each stops cleanly on SIGINT/SIGTERM.
import * as k8s from '@kubernetes/client-node';
import { runAgent } from '../agent/agent.js';
import { HttpHealthProbe, SystemctlRestarter } from '../agent/restarter.js';
import { loadKubeConfig } from '../kube/client.js';
import { controllerReadiness } from '../telemetry/controller.js';
import { type Check, startTelemetryServer, type TelemetryServer } from '../telemetry/http.js';
import type { Logger, LogLevel } from '../log.js';
import { createLogger } from '../telemetry/log.js';
import { processRegistry, type Registry } from '../telemetry/metrics.js';
import type { Tracing } from '../telemetry/tracing.js';
import { agentTelemetry, controllerTelemetry, wireController } from '../wiring.js';
import { untilSignal } from './signals.js';
import { driftOptions } from './sim.js';

export interface ControllerFlags {
  kubeconfig?: string;
  leaseNamespace: string;
  leaseName: string;
  id?: string;
  leaderElection: boolean;
  /** Leader-election timings, ms (--lease-duration, --renew-deadline, --retry-period). */
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  /** ms between re-reads of an agreeing /configz (--reverify). */
  reverify?: number;
  /** Resolved by the CLI: the flag, else $KTO_LOG_LEVEL, else info. */
  logLevel: LogLevel;
  /** /metrics, /healthz, /readyz; 0: no server. */
  metricsPort: number;
  otlpEndpoint?: string;
  otlpProtocol?: string;
}

async function serveTelemetry(port: number, registry: Registry, live: () => Check, ready: () => Check | Promise<Check>, logger: Logger): Promise<TelemetryServer | undefined> {
  if (port === 0) return undefined;
  const server = await startTelemetryServer({ port, registry, live, ready });
  logger.info({ port: server.port }, 'serving /metrics, /healthz, /readyz');
  return server;
}

function logTracing(logger: Logger, tracing: Tracing): void {
  logger.info(tracing.target ? { endpoint: tracing.target.url, protocol: tracing.target.protocol } : {}, tracing.enabled ? 'tracing on' : 'tracing off (no OTLP endpoint)');
}

export async function controllerCommand(f: ControllerFlags): Promise<number> {
  // First: with no usable kubeconfig there is nothing to run, and nothing should be started.
  const kubeConfig = loadKubeConfig(f.kubeconfig);
  const logger = createLogger('controller', f.logLevel);
  const registry = processRegistry();
  const telemetry = controllerTelemetry({ endpoint: f.otlpEndpoint, protocol: f.otlpProtocol, registry, warn: (m) => logger.warn({}, m) });
  logTracing(logger, telemetry.tracing);
  const controller = wireController(telemetry, {
    kubeConfig,
    identity: f.id,
    leaseNamespace: f.leaseNamespace,
    leaseName: f.leaseName,
    noLeaderElection: !f.leaderElection,
    leaseDurationMs: f.leaseDuration,
    renewDeadlineMs: f.renewDeadline,
    retryPeriodMs: f.retryPeriod,
    ...(f.reverify !== undefined ? { configzRecheckMs: f.reverify } : {}),
    log: logger,
  });
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
  await telemetry.tracing.shutdown();
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
  /** Backstop period of the drift check; 0: no drift detection. */
  driftCheckSeconds?: number;
  /** Resolved by the CLI: the flag, else $KTO_LOG_LEVEL, else info. */
  logLevel: LogLevel;
  /** /metrics, /healthz, /readyz; 0: no server. */
  metricsPort: number;
  otlpEndpoint?: string;
  otlpProtocol?: string;
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
  const kubeConfig = loadKubeConfig(f.kubeconfig);
  const logger = createLogger('agent', f.logLevel).child({ node: nodeName });
  const registry = processRegistry();
  const telemetry = agentTelemetry({ endpoint: f.otlpEndpoint, protocol: f.otlpProtocol, registry, warn: (m) => logger.warn({}, m) });
  logTracing(logger, telemetry.tracing);
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
      drift: driftOptions(f.driftCheckSeconds),
      signal: abort.signal,
      log: logger,
      ...telemetry.hooks(nodeName),
    });
  } finally {
    running = false;
    await telemetry.tracing.shutdown();
    await server?.close();
  }
  logger.flush();
  return 0;
}


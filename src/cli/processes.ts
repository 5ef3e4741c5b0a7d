// kto controller | agent | sim: the long-running processes. Each stops cleanly on SIGINT/SIGTERM.
import { rm } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import * as k8s from '@kubernetes/client-node';
import { runAgent } from '../agent/agent.js';
import type { DriftOptions } from '../agent/drift-watch.js';
import { DROPIN_FILE } from '../api/annotations.js';
import { HttpHealthProbe, SystemctlRestarter } from '../agent/restarter.js';
import { loadKubeConfig } from '../kube/client.js';
import { AS_INSTALLED, asInstalledClusterOptions, writeControllerKubeconfig } from '../sim/as-installed.js';
import { DEFAULT_VERSIONS, SimCluster } from '../sim/cluster.js';
import { parseKubeletVersion } from '../render/version.js';
import { simNodeName } from '../sim/nodes.js';
import { controllerReadiness } from '../telemetry/controller.js';
import { type Check, startTelemetryServer, type TelemetryServer } from '../telemetry/http.js';
import type { Logger, LogLevel } from '../log.js';
import { createLogger } from '../telemetry/log.js';
import { processRegistry, type Registry } from '../telemetry/metrics.js';
import type { Tracing } from '../telemetry/tracing.js';
import { agentTelemetry, controllerTelemetry, Stack, wireController } from '../wiring.js';
import { untilSignal } from './signals.js';
import { reportExportErrors, SIM_COLLECTOR_EXAMPLE_ENDPOINT, type SimCollector, startSimCollector } from './sim-spans.js';

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

/** --drift-check-seconds: the re-check period, or 0 for no drift detection at all. */
function driftOptions(seconds: number | undefined): DriftOptions | false {
  if (seconds === 0) return false;
  return seconds === undefined ? {} : { periodMs: seconds * 1000 };
}

export interface SimFlags {
  nodes: number;
  versions?: string;
  kubeconfig: string;
  port: number;
  restartMs: number;
  failNodes?: string;
  agents: boolean;
  /** Backstop period of each agent's drift check; 0: no drift detection. */
  driftCheckSeconds?: number;
  keep: boolean;
  stateDir?: string;
  notReadyAfterMs: number;
  crd: boolean;
  /** The chart's identities, RBAC and agent guard (src/sim/as-installed.ts). */
  asInstalled?: boolean;
  /** Root spans a kubelet with tracing starts per second (0: none). */
  kubeletSpansPerSecond: number;
  /** Run the embedded OTLP collector, gRPC on this port (0: any free port). */
  collector?: number;
}

/** A comma-separated flag value as a list ('' and spaces dropped). */
function csv(v: string | undefined): string[] {
  return (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

/** What is wrong with the cluster flags, naming the flag (usage: exit 2), if anything. */
export function clusterFlagProblem(f: Pick<SimFlags, 'nodes' | 'versions' | 'failNodes'>): string | undefined {
  for (const v of csv(f.versions)) {
    if (!parseKubeletVersion(v)) return `--versions: "${v}" is not a kubelet version (e.g. v1.30.2)`;
  }
  const names = new Set(Array.from({ length: f.nodes }, (_, i) => simNodeName(i, f.nodes)));
  for (const n of csv(f.failNodes)) {
    if (!names.has(n)) return `--fail-nodes: no node named "${n}": the cluster's nodes are ${simNodeName(0, f.nodes)} .. ${simNodeName(f.nodes - 1, f.nodes)}`;
  }
  return undefined;
}

/** The kubelet version of every node, in order, as the cluster assigns them. */
export function nodeVersions(f: Pick<SimFlags, 'nodes' | 'versions'>): string[] {
  const given = csv(f.versions);
  const versions = given.length ? given : DEFAULT_VERSIONS;
  return Array.from({ length: f.nodes }, (_, i) => versions[i % versions.length] ?? '');
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
    agentDrift: driftOptions(f.driftCheckSeconds),
  };
}

/** The policy that sends the spans to the embedded collector, and where to watch them arrive. */
function collectorSteps(kubeconfig: string, c: SimCollector): string[] {
  const example = 'examples/sim-collector.yaml';
  const apply = `kubectl --kubeconfig ${kubeconfig} apply -f`;
  return [
    c.endpoint === SIM_COLLECTOR_EXAMPLE_ENDPOINT ? `  ${apply} ${example}` : `  sed 's|${SIM_COLLECTOR_EXAMPLE_ENDPOINT}|${c.endpoint}|' ${example} | ${apply} -`,
    `  curl -s ${c.spansUrl}`,
  ];
}

/** From this many nodes `kto sim` runs its agents in a worker thread (see SimClusterOptions.agentThread). */
const AGENT_THREAD_FROM_NODES = 1000;

/** How to change a node behind the operator's back (see src/sim/node-control.ts). */
function driftSteps(f: SimFlags, cluster: SimCluster): string[] {
  const kubelets = [...cluster.kubelets.values()];
  const dropin = kubelets.find((k) => k.useDropinDir && k.minor >= 25) ?? kubelets[0];
  if (!dropin) return [];
  const node = dropin.nodeName;
  const file = dropin.dropinDir !== undefined ? `${dropin.dropinDir}/${DROPIN_FILE}` : dropin.configFile;
  const checks = f.driftCheckSeconds === 0 ? ' (off: --drift-check-seconds 0)' : '';
  return [
    `drift a node by hand${checks}; its agent reports it, the controller repairs it (spec.rollout.drift):`,
    `  sed -i 's/samplingRatePerMillion: .*/samplingRatePerMillion: 1/' ${file}`,
    `  rm ${file}`,
    `upgrade a kubelet (it restarts as that version on the files it has; its Node reports the version once up):`,
    `  echo '{"version": "v1.${dropin.minor + 1}.0"}' | kubectl --kubeconfig ${f.kubeconfig} create --raw /api/v1/nodes/${node}/proxy/sim/upgrade -f -`,
    `  echo '{}' | kubectl --kubeconfig ${f.kubeconfig} create --raw /api/v1/nodes/${node}/proxy/sim/restart -f -      # a restart alone`,
  ];
}

export async function simCommand(f: SimFlags): Promise<number> {
  const t0 = performance.now();
  const problem = clusterFlagProblem(f);
  if (problem) {
    process.stderr.write(`kto sim: ${problem}\n`);
    return 2;
  }
  const options = simOptions(f);
  // V8's heap sizing, for a process that holds the whole cluster's objects (at 5,000 nodes about
  // 115 MB live in each of its two heaps, this thread's and the agents' worker's) and allocates
  // little once started. Set at run time: a flag V8 reads when it makes a heap (the memory
  // reducer's) holds for the heaps made after it (the worker's, started below), not this
  // thread's; the other two are read as the heaps grow, and hold for both.
  // - No memory reducer for the worker: once allocation slows down after the start, V8 runs up to
  //   three extra full collections of a heap to give memory back. Those of the worker's heap
  //   cost about 3.5% of a core over the 30 s after the agents watch, for ~25 MB of RSS.
  // - This thread's reducer, made with its heap, runs one collection each time, not up to three.
  // - A heap grows by 25% of what the last full collection left before the next one. For a
  //   process that allocates this slowly V8 sets the next limit 10-25% above it (its minimum after
  //   each of the reducer's collections) and starts marking some MB before the limit: a full
  //   collection of this thread's heap every 20-50 s, marking 115 MB each time, for garbage of a
  //   few MB (the Leases each renewal replaces, the objects of the agents' ended watches). 40%
  //   cut more CPU but took RSS to 470-490 MB within 10 minutes.
  setFlagsFromString('--no-memory-reducer');
  setFlagsFromString('--memory-reducer-single-gc');
  setFlagsFromString('--heap-growing-percent=25');
  // First: a busy collector port stops the command before the cluster starts.
  const collector = f.collector === undefined ? undefined : await startSimCollector(f.collector, (l) => process.stdout.write(l));
  // Ready once the API server serves every node: the agents come up right after, as a
  // DaemonSet would (a line says when they all watch their node).
  const stack = await Stack.start({
    cluster: {
      ...options,
      waitForAgents: false,
      // Thousands of agents on a core of their own; a few are cheaper in process than a thread's
      // start. As installed, each agent has its own Node-bound identity, which is made here.
      ...(f.asInstalled || f.nodes < AGENT_THREAD_FROM_NODES ? {} : { agentThread: { logLevel: 'warn' as const } }),
      ...(f.asInstalled ? asInstalledClusterOptions() : {}),
      ...(f.kubeletSpansPerSecond > 0 ? { kubeletSpans: { spansPerSecond: f.kubeletSpansPerSecond } } : {}),
    },
    logLevel: 'warn',
  });
  const { cluster } = stack;
  await cluster.server.writeKubeconfig(f.kubeconfig);
  const controllerKubeconfig = `${f.kubeconfig}.controller`;
  if (f.asInstalled) await writeControllerKubeconfig(cluster.server, controllerKubeconfig);
  const seconds = (): string => ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(simBanner(f, cluster, collector, seconds()));
  const stopReporting = cluster.kubeletTracing && reportExportErrors(cluster.kubeletTracing, (l) => process.stdout.write(l));
  if (f.agents) {
    void cluster.agentsReady().then(
      () => process.stdout.write(`${f.nodes} node agents watching their node (${seconds()} s)\n`),
      (e: unknown) => process.stderr.write(`kto sim: ${e instanceof Error ? e.message : String(e)}\n`),
    );
  }
  await untilSignal();
  stopReporting?.();
  await stack.stop();
  await collector?.stop();
  await rm(f.kubeconfig, { force: true });
  if (f.asInstalled) await rm(controllerKubeconfig, { force: true });
  return 0;
}

/** What `kto sim` prints once the cluster is ready: what runs, and what to type next. */
function simBanner(f: SimFlags, cluster: SimCluster, collector: SimCollector | undefined, seconds: string): string {
  const options = simOptions(f);
  const controllerKubeconfig = `${f.kubeconfig}.controller`;
  const versions = [...new Set([...cluster.kubelets.values()].map((k) => k.version))].join(', ');
  const ns = AS_INSTALLED.namespace;
  const agents = !f.agents ? ', no agents' : f.asInstalled ? `, a node agent on each (ServiceAccount ${ns}/${AS_INSTALLED.agentServiceAccount}, token bound to its Node)` : ', a node agent on each';
  const controller = f.asInstalled
    ? [
        `  kubeconfig: ${f.kubeconfig} (cluster admin)`,
        `  kubeconfig: ${controllerKubeconfig} (ServiceAccount ${ns}/${AS_INSTALLED.controllerServiceAccount}: only what the chart grants it)`,
        `  installed as the chart does: its ServiceAccounts, RBAC and agent guard (namespace ${ns})`,
        '',
        'next, in another terminal (in this repository, after npm ci):',
        `  npx kto controller --kubeconfig ${controllerKubeconfig} --lease-namespace ${ns}`,
      ]
    : [`  kubeconfig: ${f.kubeconfig}`, '', 'next, in another terminal (in this repository, after npm ci):', `  npx kto controller --kubeconfig ${f.kubeconfig}`];
  return [
    `embedded cluster ready: ${cluster.url} (${seconds} s)`,
    `  ${f.nodes} nodes (kubelets ${versions})${agents}; host dirs under ${cluster.baseDir}`,
    ...(options.failNodes.length ? [`  the kubelets of ${options.failNodes.join(', ')} reject any tracing config (--fail-nodes): watch them roll back`] : []),
    `  a kubelet running with tracing exports ${f.kubeletSpansPerSecond} spans/s (before sampling) over OTLP/gRPC to its endpoint`,
    ...(collector?.describe() ?? []),
    ...controller,
    // kubectl resolves every kind before applying anything: without the CRD, it goes first.
    ...(options.installCrd ? [] : [`  kubectl --kubeconfig ${f.kubeconfig} apply -f crds/`]),
    ...(collector ? collectorSteps(f.kubeconfig, collector) : [`  kubectl --kubeconfig ${f.kubeconfig} apply -f examples/basic.yaml`]),
    `  kubectl --kubeconfig ${f.kubeconfig} get ntp -w`,
    '',
    ...driftSteps(f, cluster),
    '',
    'Ctrl-C stops the cluster.',
    '',
  ].join('\n');
}

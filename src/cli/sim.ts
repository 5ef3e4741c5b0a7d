// kto sim: the embedded cluster as a long-running process, stopped by SIGINT/SIGTERM.
// Apart from the controller's and agent's commands (processes.ts): with its agents in a worker
// thread, this thread needs neither the controller nor client-node (26 MB of heap, half a second
// of start), and loads neither.
import { rm } from 'node:fs/promises';
import { setFlagsFromString } from 'node:v8';
import type { DriftOptions } from '../agent/drift-watch.js';
import { DROPIN_FILE } from '../api/annotations.js';
import { parseKubeletVersion } from '../render/version.js';
import { DEFAULT_VERSIONS, SimCluster } from '../sim/cluster.js';
import { simNodeName } from '../sim/nodes.js';
import { createLogger } from '../telemetry/log.js';
import { Registry } from '../telemetry/metrics.js';
import type { AS_INSTALLED } from '../sim/as-installed.js';
import { agentTelemetry, startHookedCluster } from '../wiring-cluster.js';
import { untilSignal } from './signals.js';
import { reportExportErrors, SIM_COLLECTOR_EXAMPLE_ENDPOINT, type SimCollector, startSimCollector } from './sim-spans.js';

/** --drift-check-seconds: the re-check period, or 0 for no drift detection at all. */
export function driftOptions(seconds: number | undefined): DriftOptions | false {
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

type AsInstalled = typeof AS_INSTALLED;

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
  // 90 MB live in this thread's heap and 115 MB in the agents' worker's) and allocates
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
  //   collection of this thread's heap every 20-50 s, marking all of it each time, for garbage of a
  //   few MB (the Leases each renewal replaces, the objects of the agents' ended watches). 40%
  //   cut more CPU but took RSS to 470-490 MB within 10 minutes.
  setFlagsFromString('--no-memory-reducer');
  setFlagsFromString('--memory-reducer-single-gc');
  setFlagsFromString('--heap-growing-percent=25');
  // First: a busy collector port stops the command before the cluster starts.
  const collector = f.collector === undefined ? undefined : await startSimCollector(f.collector, (l) => process.stdout.write(l));
  // As installed, each agent has its own Node-bound identity (made here, with client-node).
  const installed = f.asInstalled ? await import('../sim/as-installed.js') : undefined;
  const registry = new Registry();
  const telemetry = agentTelemetry({ registry });
  const agentLog = createLogger('agent', 'warn');
  // Ready once the API server serves every node: the agents come up right after, as a
  // DaemonSet would (a line says when they all watch their node).
  const cluster = await startHookedCluster(
    {
      ...options,
      waitForAgents: false,
      // Thousands of agents on a core of their own; a few are cheaper in process than a thread's start.
      ...(installed || f.nodes < AGENT_THREAD_FROM_NODES ? {} : { agentThread: { logLevel: 'warn' as const } }),
      ...(installed ? installed.asInstalledClusterOptions() : {}),
      ...(f.kubeletSpansPerSecond > 0 ? { kubeletSpans: { spansPerSecond: f.kubeletSpansPerSecond } } : {}),
    },
    telemetry,
    agentLog,
  ).catch(async (err: unknown) => {
    await telemetry.tracing.shutdown(1_000);
    await collector?.stop();
    throw err;
  });
  await cluster.server.writeKubeconfig(f.kubeconfig);
  const controllerKubeconfig = `${f.kubeconfig}.controller`;
  if (installed) await installed.writeControllerKubeconfig(cluster.server, controllerKubeconfig);
  const seconds = (): string => ((performance.now() - t0) / 1000).toFixed(1);
  process.stdout.write(simBanner(f, cluster, collector, installed?.AS_INSTALLED, seconds()));
  const stopReporting = cluster.kubeletTracing && reportExportErrors(cluster.kubeletTracing, (l) => process.stdout.write(l));
  if (f.agents) {
    void cluster.agentsReady().then(
      () => process.stdout.write(`${f.nodes} node agents watching their node (${seconds()} s)\n`),
      (e: unknown) => process.stderr.write(`kto sim: ${e instanceof Error ? e.message : String(e)}\n`),
    );
  }
  await untilSignal();
  stopReporting?.();
  await cluster.stop();
  await telemetry.tracing.shutdown(5_000);
  agentLog.flush();
  await collector?.stop();
  await rm(f.kubeconfig, { force: true });
  if (f.asInstalled) await rm(controllerKubeconfig, { force: true });
  return 0;
}

/** What `kto sim` prints once the cluster is ready: what runs, and what to type next. */
function simBanner(f: SimFlags, cluster: SimCluster, collector: SimCollector | undefined, installed: AsInstalled | undefined, seconds: string): string {
  const options = simOptions(f);
  const controllerKubeconfig = `${f.kubeconfig}.controller`;
  const versions = [...new Set([...cluster.kubelets.values()].map((k) => k.version))].join(', ');
  const ns = installed?.namespace;
  const agents = !f.agents ? ', no agents' : installed ? `, a node agent on each (ServiceAccount ${ns}/${installed.agentServiceAccount}, token bound to its Node)` : ', a node agent on each';
  const controller = installed
    ? [
        `  kubeconfig: ${f.kubeconfig} (cluster admin)`,
        `  kubeconfig: ${controllerKubeconfig} (ServiceAccount ${ns}/${installed.controllerServiceAccount}: only what the chart grants it)`,
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

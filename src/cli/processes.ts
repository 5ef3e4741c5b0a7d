// kto controller | agent | sim: the long-running processes. Each stops cleanly on SIGINT/SIGTERM.
import { rm } from 'node:fs/promises';
import { runAgent } from '../agent/agent.js';
import { HttpHealthProbe, SystemctlRestarter } from '../agent/restarter.js';
import { Controller } from '../controller/controller.js';
import { loadKubeConfig } from '../kube/client.js';
import { SimCluster } from '../sim/cluster.js';
import { createLogger, logFn } from '../telemetry/log.js';

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
}

export async function controllerCommand(f: ControllerFlags): Promise<number> {
  const logger = createLogger('controller', f.logLevel);
  const controller = new Controller({
    kubeConfig: loadKubeConfig(f.kubeconfig),
    identity: f.id,
    leaseNamespace: f.leaseNamespace,
    leaseName: f.leaseName,
    noLeaderElection: !f.leaderElection,
    log: logFn(logger),
  });
  const stopping = untilSignal();
  await Promise.race([controller.start(), stopping]);
  logger.info({ identity: controller.identity }, 'controller started');
  const sig = await stopping;
  logger.info({ signal: sig }, 'stopping');
  await controller.stop();
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
}

export async function agentCommand(f: AgentFlags): Promise<number> {
  const nodeName = f.nodeName ?? process.env.NODE_NAME;
  if (!nodeName) {
    process.stderr.write('kto agent: --node-name or $NODE_NAME (from the downward API) is required\n');
    return 2;
  }
  const logger = createLogger('agent', f.logLevel).child({ node: nodeName });
  const abort = new AbortController();
  void untilSignal().then(() => abort.abort());
  await runAgent({
    kubeConfig: loadKubeConfig(f.kubeconfig),
    nodeName,
    detect: { hostRoot: f.hostRoot, procRoot: f.procRoot, fallback: { configFile: f.configFile, configDir: f.configDir } },
    restarter: new SystemctlRestarter(f.restartCommand ? { command: f.restartCommand.split(/\s+/) } : {}),
    health: new HttpHealthProbe({ url: f.healthUrl }),
    timeoutMs: f.timeoutSeconds * 1000,
    signal: abort.signal,
    log: logger,
  });
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
}

export function simOptions(f: Omit<SimFlags, 'kubeconfig'>) {
  return {
    nodes: f.nodes,
    versions: f.versions ? f.versions.split(',').map((v) => v.trim()).filter(Boolean) : undefined,
    port: f.port,
    restartMs: f.restartMs,
    failNodes: f.failNodes ? f.failNodes.split(',').map((n) => n.trim()).filter(Boolean) : [],
    agents: f.agents,
    keep: f.keep,
    stateDir: f.stateDir,
    notReadyAfterMs: f.notReadyAfterMs,
  };
}

export async function simCommand(f: SimFlags): Promise<number> {
  const cluster = await SimCluster.start({ ...simOptions(f), agentLog: createLogger('agent', 'warn') });
  await cluster.server.writeKubeconfig(f.kubeconfig);
  const versions = [...new Set([...cluster.kubelets.values()].map((k) => k.version))].join(', ');
  process.stdout.write(
    [
      `embedded cluster ready: ${cluster.url}`,
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
  await untilSignal();
  await cluster.stop();
  await rm(f.kubeconfig, { force: true });
  return 0;
}

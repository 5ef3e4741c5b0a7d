// kto: the one binary. controller | agent | validate | render | crd | sim | demo
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { demoCommand, type DemoFlags } from './cli/demo.js';
import { agentCommand, controllerCommand, simCommand, type AgentFlags, type ControllerFlags, type SimFlags } from './cli/processes.js';
import { crdCommand, renderCommand, validateCommand } from './cli/static.js';
import { resolveTracesEndpoint } from './telemetry/tracing.js';

const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('kto')
    .description('kubelet-tracing-operator: roll out kubelet tracing (KEP-2831) across a cluster')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('validate')
    .description('validate NodeTracingPolicy files (multi-document YAML); exit 1 if any is invalid')
    .argument('<files...>', 'YAML or JSON files')
    .action(async (files: string[]) => {
      process.exitCode = await validateCommand(files);
    });

  program
    .command('render')
    .description("print the kubelet drop-in a policy renders for one kubelet version")
    .argument('<file>', 'policy file')
    .requiredOption('--kubelet-version <version>', 'as nodes report it, e.g. v1.29.3 or 1.27.0+k3s1')
    .option('--name <policy>', 'the policy to render when the file holds several')
    .action(async (file: string, opts: { kubeletVersion: string; name?: string }) => {
      process.exitCode = await renderCommand(file, opts);
    });

  program
    .command('crd')
    .description('print the NodeTracingPolicy CustomResourceDefinition')
    .action(() => {
      process.exitCode = crdCommand();
    });

  const controller = program
    .command('controller')
    .description('run the controller (in-cluster config, $KUBECONFIG, or --kubeconfig)')
    .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)')
    .option('--lease-namespace <ns>', 'namespace of the leader-election Lease', 'kube-system')
    .option('--lease-name <name>', 'name of the leader-election Lease', 'kubelet-tracing-operator')
    .option('--id <identity>', 'leader-election identity (default: hostname + random suffix)')
    .option('--no-leader-election', 'act without a Lease (a single replica only)');
  serviceOptions(controller, 'port of /metrics, /healthz, /readyz (0: none)', 8080).action(async (opts: ControllerFlags) => {
    process.exitCode = await controllerCommand(opts);
  });

  const agent = program
    .command('agent')
    .description("run the node agent (DaemonSet): applies the controller's hand-off to this node's kubelet")
    .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster)')
    .option('--node-name <name>', 'this node (default: $NODE_NAME from the downward API)')
    .option('--host-root <dir>', "where the host's / is mounted", '/host')
    .option('--proc-root <dir>', 'process table to find the kubelet in (hostPID)', '/proc')
    .option('--config-file <path>', 'kubelet config file (host path) when it cannot be detected')
    .option('--config-dir <path>', 'kubelet --config-dir (host path) when it cannot be detected')
    .option('--restart-command <cmd>', 'command that restarts the kubelet', 'nsenter -t 1 -m -- systemctl restart kubelet')
    .option('--health-url <url>', "the kubelet's healthz", 'http://127.0.0.1:10248/healthz')
    .option('--timeout-seconds <n>', 'time the kubelet gets to become healthy', positiveInt, 120);
  // The agent shares the host's network (to reach the kubelet's 127.0.0.1:10248): a host port.
  serviceOptions(agent, 'host port of /metrics, /healthz, /readyz (0: none)', 9809).action(async (opts: AgentFlags) => {
    process.exitCode = await agentCommand(opts);
  });

  const sim = program
    .command('sim')
    .description('run the embedded cluster (API server + simulated nodes with the real agent) until interrupted');
  clusterOptions(sim, 10)
    .requiredOption('--kubeconfig <path>', 'where to write the kubeconfig')
    .option('--port <port>', 'API server port (0: any free port)', nonNegativeInt, 0)
    .option('--no-agents', 'do not run the node agents (tests that run their own)')
    .option('--no-crd', 'do not pre-install the NodeTracingPolicy CRD (as installing the chart does)')
    .option('--keep', 'keep the node host directories on exit', false)
    .option('--state-dir <dir>', 'persist the API server state here')
    .addOption(new Option('--not-ready-after-ms <ms>', "node-monitor-grace-period: how long a node's Lease may go unrenewed before its node turns NotReady").argParser(nonNegativeInt).default(40_000))
    .action(async (opts: SimFlags) => {
      process.exitCode = await simCommand(opts);
    });

  const demo = program
    .command('demo')
    .description('embedded cluster + controller + a policy: watch a whole rollout, then exit (0 when every supported node converged)');
  clusterOptions(demo, 20)
    .option('--report <file>', 'write a JSON report here')
    .option('--max-unavailable <n|pct>', 'maxUnavailable of the demo policy', '25%')
    .option('--timeout-seconds <n>', 'give up after this long', positiveInt, 300)
    .option('--otlp-endpoint <url>', OTLP_HELP, otlpEndpoint)
    .action(async (opts: DemoFlags) => {
      process.exitCode = await demoCommand(opts);
    });

  return program;
}

const OTLP_HELP = "the operator's own spans: OTLP/HTTP collector URL, e.g. http://otel-collector:4318 (default: $OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; none: tracing off)";

function otlpEndpoint(v: string): string {
  try {
    resolveTracesEndpoint(v, {});
  } catch (err) {
    throw new InvalidArgumentError(err instanceof Error ? err.message.replace(/^--otlp-endpoint: /, '') : String(err));
  }
  return v;
}

/** The embedded cluster's shape: the same for `kto sim` and `kto demo` (one wiring, one set of flags). */
function clusterOptions(cmd: Command, nodes: number): Command {
  return cmd
    .option('--nodes <n>', 'simulated nodes', positiveInt, nodes)
    .option('--versions <list>', 'kubelet versions, cycled over the nodes, e.g. v1.26.3,v1.30.1 (default: a mix from v1.24 to v1.35)')
    .option('--restart-ms <ms>', 'simulated kubelet restart time', nonNegativeInt, 1000)
    .option('--fail-nodes <names>', 'comma-separated nodes whose kubelet rejects any tracing config (to see rollback)');
}

/** Logging, metrics and tracing: the same for every long-running service. */
function serviceOptions(cmd: Command, metricsHelp: string, metricsPort: number): Command {
  return cmd
    .option('--log-level <level>', 'info, warn, error, debug', 'info')
    .option('--metrics-port <port>', metricsHelp, nonNegativeInt, metricsPort)
    .option('--otlp-endpoint <url>', OTLP_HELP, otlpEndpoint);
}

function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number >= 0');
  return Number(v);
}

function positiveInt(v: string): number {
  const n = nonNegativeInt(v);
  if (n < 1) throw new InvalidArgumentError('must be >= 1');
  return n;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.stderr.write(`kto: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

await main(process.argv);

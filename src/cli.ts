// kto: the one binary. controller | agent | validate | render | crd | sim | demo
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { demoCommand, type DemoFlags } from './cli/demo.js';
import { agentCommand, controllerCommand, simCommand, type AgentFlags, type ControllerFlags, type SimFlags } from './cli/processes.js';
import { crdCommand, renderCommand, validateCommand } from './cli/static.js';
import { IDLE_KUBELET_SPANS_PER_SECOND } from './sim/kubelet/tracing.js';
import { OTLP_PROTOCOLS, OtlpFlagError, otelSettings } from './telemetry/otel-env.js';
import { VERSION } from './version.js';

const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('kto')
    .description('kubelet-tracing-operator: roll out kubelet tracing (KEP-2831) across a cluster')
    .version(VERSION)
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
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)')
    .option('--lease-namespace <ns>', 'namespace of the leader-election Lease', 'kube-system')
    .option('--lease-name <name>', 'name of the leader-election Lease', 'kubelet-tracing-operator')
    .option('--id <identity>', 'leader-election identity (default: hostname + random suffix)')
    .option('--no-leader-election', 'act without a Lease (a single replica only)')
    .addOption(new Option('--lease-duration <duration>', 'how long standbys wait after the last renewal before taking the Lease').argParser(duration).default(15_000, '15s'))
    .addOption(new Option('--renew-deadline <duration>', 'how long the leader keeps trying to renew before it stops acting (< --lease-duration)').argParser(duration).default(10_000, '10s'))
    .addOption(new Option('--retry-period <duration>', 'how often the Lease is renewed or tried (--renew-deadline > 1.2 x this)').argParser(duration).default(2_000, '2s'))
    .hook('preAction', (cmd) => {
      // client-go's leaderelection rules: otherwise a leader can lose the Lease while still acting.
      const o = cmd.opts<ControllerFlags>();
      if (o.leaseDuration <= o.renewDeadline) cmd.error('error: --lease-duration must be greater than --renew-deadline', { exitCode: EXIT_USAGE });
      if (o.renewDeadline <= o.retryPeriod * 1.2) cmd.error('error: --renew-deadline must be greater than 1.2 x --retry-period', { exitCode: EXIT_USAGE });
    });
  serviceOptions(controller, 'port of /metrics, /healthz, /readyz (0: none)', 8080).action(async (opts: ControllerFlags) => {
    process.exitCode = await controllerCommand(opts);
  });

  const agent = program
    .command('agent')
    .description("run the node agent (DaemonSet): applies the controller's hand-off to this node's kubelet")
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster)')
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
  clusterOptions(sim, 10, IDLE_KUBELET_SPANS_PER_SECOND)
    .requiredOption('--kubeconfig <path>', 'where to write the kubeconfig')
    .option('--port <port>', 'API server port (0: any free port)', nonNegativeInt, 0)
    .option('--no-agents', 'do not run the node agents (tests that run their own)')
    .option('--no-crd', 'do not pre-install the NodeTracingPolicy CRD (as installing the chart does)')
    .option('--keep', 'keep the node host directories on exit', false)
    .option('--state-dir <dir>', 'persist the API server state here')
    .option('--as-installed', "run as the Helm chart installs the operator: the chart's ServiceAccounts, RBAC and agent guard; each agent under the agent ServiceAccount with a token bound to its Node; <kubeconfig>.controller for `kto controller` with the controller's rights", false)
    .addOption(new Option('--collector [port]', "run an embedded OTLP collector for the kubelets' spans: OTLP/gRPC on this port (4317 when no port is given; 0: any free port), OTLP/HTTP and GET /spans (spans per node) on the next port up").preset('4317').argParser(nonNegativeInt))
    .addOption(new Option('--not-ready-after-ms <ms>', 'how long a down kubelet takes to turn its node NotReady').argParser(nonNegativeInt).default(40_000))
    .addHelpText('after', '\nNo pods are scheduled (as in envtest or kwok): Deployments and DaemonSets are stored and served but run no pods.')
    .action(async (opts: SimFlags) => {
      process.exitCode = await simCommand(opts);
    });

  const demo = program
    .command('demo')
    .description('embedded cluster + controller + a policy: watch a whole rollout, then exit (0 when every supported node converged)');
  clusterOptions(demo, 20, 200)
    .option('--report <file>', 'write a JSON report here')
    .option('--max-unavailable <n|pct>', 'maxUnavailable of the demo policy: an integer >= 1 or 1%..100%', maxUnavailableArg, '25%')
    .option('--timeout-seconds <n>', 'give up after this long', positiveInt, 300)
    .option('--otlp-endpoint <url>', OTLP_ENDPOINT_HELP)
    .addOption(otlpProtocolOption());
  checkOtlpFlags(demo).action(async (opts: DemoFlags) => {
      process.exitCode = await demoCommand(opts);
    });

  return program;
}

const OTLP_ENDPOINT_HELP =
  "the operator's own spans: the OTLP collector for --otlp-protocol. http/protobuf (the default) and http/json: a base URL, e.g. http://otel-collector:4318 (/v1/traces is appended); grpc: http://otel-collector:4317 (plaintext), https://... (TLS) or host:4317, no path (default: $OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; none: tracing off)";

function otlpProtocolOption(): Option {
  return new Option('--otlp-protocol <protocol>', 'OTLP protocol of the spans (default: $OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL, else http/protobuf)').choices(OTLP_PROTOCOLS);
}

/** The endpoint is read for the protocol, which may come from the environment: check them together. */
function checkOtlpFlags(cmd: Command): Command {
  return cmd.hook('preAction', (c) => {
    const o = c.opts<{ otlpEndpoint?: string; otlpProtocol?: string }>();
    try {
      otelSettings({ endpoint: o.otlpEndpoint, protocol: o.otlpProtocol }, process.env);
    } catch (err) {
      if (err instanceof OtlpFlagError) c.error(`error: ${err.message}`, { exitCode: EXIT_USAGE });
      throw err;
    }
  });
}

/** A Go-style duration (90s, 1m30s, 500ms) in ms, as the kube components' flags take them. */
function duration(v: string): number {
  const parts = [...v.matchAll(/(\d+)(ms|s|m|h)/g)];
  if (v === '' || parts.map((p) => p[0]).join('') !== v) throw new InvalidArgumentError('must be a duration such as 15s, 1m30s or 500ms');
  const unit: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (unit[p[2] ?? ''] ?? 0), 0);
  if (ms <= 0) throw new InvalidArgumentError('must be more than 0');
  return ms;
}

/** The embedded cluster's shape: the same for `kto sim` and `kto demo` (one wiring, one set of flags). */
function clusterOptions(cmd: Command, nodes: number, spansPerSecond: number): Command {
  return cmd
    .option('--nodes <n>', 'simulated nodes', positiveInt, nodes)
    .option('--kubelet-spans-per-second <n>', `root spans a kubelet with tracing starts per second, before sampling (an idle kubelet: ${IDLE_KUBELET_SPANS_PER_SECOND}; 0: none)`, nonNegativeNumber, spansPerSecond)
    .option('--versions <list>', 'kubelet versions, cycled over the nodes, e.g. v1.26.3,v1.30.1 (default: a mix from v1.24 to v1.35)')
    .option('--restart-ms <ms>', 'simulated kubelet restart time', nonNegativeInt, 1000)
    .option('--fail-nodes <names>', 'comma-separated nodes whose kubelet rejects any tracing config (to see rollback)');
}

/** Logging, metrics and tracing: the same for every long-running service. */
function serviceOptions(cmd: Command, metricsHelp: string, metricsPort: number): Command {
  return checkOtlpFlags(
    cmd
      .option('--log-level <level>', 'info, warn, error, debug', 'info')
      .option('--metrics-port <port>', metricsHelp, nonNegativeInt, metricsPort)
      .option('--otlp-endpoint <url>', OTLP_ENDPOINT_HELP)
      .addOption(otlpProtocolOption()),
  );
}

function nonNegativeInt(v: string): number {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError('must be a whole number >= 0');
  return Number(v);
}

function nonNegativeNumber(v: string): number {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(v)) throw new InvalidArgumentError('must be a number >= 0');
  return Number(v);
}

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError('must be a whole number >= 1');
  return Number(v);
}

/** spec.rollout.maxUnavailable's rule, checked before anything starts. */
function maxUnavailableArg(v: string): string {
  const pct = /^(\d+)%$/.exec(v);
  const ok = pct ? Number(pct[1]) >= 1 && Number(pct[1]) <= 100 : /^\d+$/.test(v) && Number(v) >= 1;
  if (!ok) throw new InvalidArgumentError('must be an integer >= 1 or a percentage 1%..100%');
  return v;
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

// kto: the one binary. controller | agent | validate | render | crd | sim | demo
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { completionScript, SHELLS, type Shell } from './cli/completion.js';
import type { DemoFlags } from './cli/demo.js';
import { OUTPUT_FORMATS, type OutputFormat } from './cli/output.js';
import type { PlanFlags } from './cli/plan.js';
import type { AgentFlags, ControllerFlags } from './cli/processes.js';
import type { SimFlags } from './cli/sim.js';
import { LOG_LEVELS } from './log.js';
import { LogLevelError, resolveLogLevel } from './telemetry/log.js';
import type { StatusFlags } from './cli/status.js';
import { parseKubeletVersion } from './render/version.js';
import { IDLE_KUBELET_SPANS_PER_SECOND } from './sim/kubelet/span-mix.js';
import { OTLP_PROTOCOLS, OtlpFlagError, otelSettings } from './telemetry/otel-env.js';
import { VERSION } from './version.js';

const EXIT_USAGE = 2;

/** The default of `kto plan --restart-seconds`: from release to the agent's Applied on a real
 *  node (a `systemctl restart kubelet` and the kubelet's healthz answering ok), with room to spare. */
export const DEFAULT_RESTART_SECONDS = 30;

/** Run as a kubectl plugin (`kubectl kto ...` runs kubectl-kto), the usage lines say so. */
function programName(argv1: string | undefined): string {
  return argv1 !== undefined && basename(argv1).startsWith('kubectl-kto') ? 'kubectl kto' : 'kto';
}

export function buildProgram(name = 'kto'): Command {
  const program = new Command(name)
    .description('kubelet-tracing-operator: roll out kubelet tracing (KEP-2831) across a cluster')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError();

  program
    .command('validate')
    .summary('validate NodeTracingPolicy documents (exit 1 if any is invalid)')
    .description('validate NodeTracingPolicy documents; other kinds are skipped and counted; exit 1 if any policy is invalid')
    .argument('<paths...>', SOURCES_HELP)
    .addOption(outputOption())
    .addHelpText('after', examples([
      'kto validate examples/basic.yaml',
      'kto validate policies/                         # every *.yaml, *.yml, *.json below it',
      'kustomize build overlays/prod | kto validate -  # ConfigMaps and the like are skipped',
      'kto validate -o json policies/',
    ]))
    .action(async (paths: string[], opts: { output?: OutputFormat }) => {
      process.exitCode = await (await import('./cli/static.js')).validateCommand(paths, opts);
    });

  program
    .command('render')
    .description("print the kubelet drop-in a policy renders for one kubelet version")
    .argument('<source>', 'policy file, directory, or - for standard input')
    .addOption(new Option('--kubelet-version <version>', 'as nodes report it, e.g. v1.29.3 or 1.27.0+k3s1').argParser(kubeletVersionArg).makeOptionMandatory())
    .option('--name <policy>', 'the policy to render when the source holds several')
    .addOption(outputOption())
    .addHelpText('after', examples([
      'kto render examples/basic.yaml --kubelet-version v1.26.3',
      'kto render examples/basic.yaml --kubelet-version v1.33.1 -o json',
    ]))
    .action(async (source: string, opts: { kubeletVersion: string; name?: string; output?: OutputFormat }) => {
      process.exitCode = await (await import('./cli/static.js')).renderCommand(source, opts);
    });

  program
    .command('crd')
    .description('print the NodeTracingPolicy CustomResourceDefinition')
    .addOption(outputOption())
    .addHelpText('after', examples(['kto crd | kubectl apply -f -']))
    .action(async (opts: { output?: OutputFormat }) => {
      process.exitCode = (await import('./cli/static.js')).crdCommand(opts);
    });

  program
    .command('status')
    .summary('a rollout at a glance: every policy, or one policy node by node')
    .description("a rollout at a glance: every policy's progress, or one policy node by node (reads policies and Nodes, writes nothing)")
    .argument('[policy]', 'show this policy node by node')
    .addOption(kubeconfigOption())
    .option('-w, --watch', 'follow: redraw on every change until interrupted', false)
    .addOption(outputOption())
    .addHelpText('after', examples([
      'kto status --kubeconfig /tmp/kc',
      'kto status basic --kubeconfig /tmp/kc -w',
      'kubectl kto status basic                       # as a kubectl plugin ($KUBECONFIG or ~/.kube/config)',
      'kto status basic -o json | jq .counts',
    ]))
    .action(async (policy: string | undefined, opts: StatusFlags) => {
      process.exitCode = await (await import('./cli/status.js')).statusCommand(policy, opts);
    });

  program
    .command('plan')
    .summary('what applying policies would do, before it is done (writes nothing)')
    .description('what applying policies would do, before it is done: targets, unsupported and conflicting nodes, the drop-ins, the batches, an estimated duration and the changes on the nodes (reads the cluster, writes nothing); exit 1 if a policy is invalid')
    .addOption(new Option('-f, --filename <paths...>', SOURCES_HELP).makeOptionMandatory())
    .addOption(kubeconfigOption())
    .addOption(new Option('--restart-seconds <n>', 'estimated time from release to the agent reporting Applied (kubelet restart + healthz); measure it with kto_agent_apply_duration_seconds').argParser(positiveInt).default(DEFAULT_RESTART_SECONDS))
    .addOption(outputOption())
    .addHelpText('after', examples([
      'kto plan -f examples/basic.yaml --kubeconfig /tmp/kc',
      'kustomize build overlays/prod | kto plan -f - -o json',
    ]))
    .action(async (opts: PlanFlags) => {
      process.exitCode = await (await import('./cli/plan.js')).planCommand(opts);
    });

  program
    .command('completion')
    .description('print a shell completion script (bash or zsh)')
    .addArgument(new Argument('<shell>', 'bash or zsh').choices(SHELLS))
    .addHelpText('after', examples([
      'source <(kto completion bash)                  # in ~/.bashrc',
      'source <(kto completion zsh)                   # in ~/.zshrc',
    ]))
    .action((shell: Shell) => {
      process.stdout.write(completionScript(program, shell));
    });

  const controller = program
    .command('controller')
    .description('run the controller')
    .addHelpText('after', examples([
      'kto controller --kubeconfig /tmp/kc                                  # against kto sim',
      'kto controller --lease-namespace kto-system --otlp-endpoint http://otel-collector:4318',
    ]))
    .addOption(kubeconfigOption())
    .option('--lease-namespace <ns>', 'namespace of the leader-election Lease', 'kube-system')
    .option('--lease-name <name>', 'name of the leader-election Lease', 'kubelet-tracing-operator')
    .option('--id <identity>', 'leader-election identity (default: hostname + random suffix)')
    .option('--no-leader-election', 'act without a Lease (a single replica only)')
    .addOption(new Option('--lease-duration <duration>', 'how long standbys wait after the last renewal before taking the Lease').argParser(duration).default(15_000, '15s'))
    .addOption(new Option('--renew-deadline <duration>', 'how long the leader keeps trying to renew before it stops acting (< --lease-duration)').argParser(duration).default(10_000, '10s'))
    .addOption(new Option('--retry-period <duration>', 'how often the Lease is renewed or tried (--renew-deadline > 1.2 x this)').argParser(duration).default(2_000, '2s'))
    .addOption(new Option('--reverify <duration>', "with verify: Configz, how often a verified node's /configz is read again, to find a kubelet restarted on another config (drift)").argParser(duration).default(300_000, '5m'))
    .hook('preAction', (cmd) => {
      // client-go's leaderelection rules: otherwise a leader can lose the Lease while still acting.
      const o = cmd.opts<ControllerFlags>();
      if (o.leaseDuration <= o.renewDeadline) cmd.error('error: --lease-duration must be greater than --renew-deadline', { exitCode: EXIT_USAGE });
      if (o.renewDeadline <= o.retryPeriod * 1.2) cmd.error('error: --renew-deadline must be greater than 1.2 x --retry-period', { exitCode: EXIT_USAGE });
    });
  serviceOptions(controller, 'port of /metrics, /healthz, /readyz (0: none)', 8080).action(async (opts: ControllerFlags) => {
    process.exitCode = await (await import('./cli/processes.js')).controllerCommand(opts);
  });

  const agent = program
    .command('agent')
    .description("run the node agent (DaemonSet): applies the controller's hand-off to this node's kubelet")
    .addHelpText('after', examples(['NODE_NAME=node-01 kto agent --host-root /host --proc-root /host/proc   # as the chart runs it']))
    .addOption(kubeconfigOption())
    .option('--node-name <name>', 'this node (default: $NODE_NAME from the downward API)')
    .option('--host-root <dir>', "where the host's / is mounted", '/host')
    .option('--proc-root <dir>', 'process table to find the kubelet in (hostPID)', '/proc')
    .option('--config-file <path>', 'kubelet config file (host path) when it cannot be detected')
    .option('--config-dir <path>', 'kubelet --config-dir (host path) when it cannot be detected')
    .option('--restart-command <cmd>', 'command that restarts the kubelet', 'nsenter -t 1 -m -- systemctl restart kubelet')
    .option('--health-url <url>', "the kubelet's healthz", 'http://127.0.0.1:10248/healthz')
    .option('--timeout-seconds <n>', 'time the kubelet gets to become healthy', positiveInt, 120)
    .option('--drift-check-seconds <n>', 'how often the files the agent applied are checked again for drift, besides the file watch (0: no drift detection)', nonNegativeInt, 60);
  // The agent shares the host's network (to reach the kubelet's 127.0.0.1:10248): a host port.
  serviceOptions(agent, 'host port of /metrics, /healthz, /readyz (0: none)', 9809).action(async (opts: AgentFlags) => {
    process.exitCode = await (await import('./cli/processes.js')).agentCommand(opts);
  });

  const sim = program
    .command('sim')
    .description('run the embedded cluster (API server + simulated nodes with the real agent) until interrupted')
    .addHelpText('after', examples([
      'kto sim --nodes 10 --kubeconfig /tmp/kc',
      'kto sim --nodes 10 --fail-nodes node-03 --kubeconfig /tmp/kc      # node-03 rejects tracing: watch it roll back',
      'kto sim --as-installed --kubeconfig /tmp/kc                       # with the chart\'s identities and RBAC',
      'kto sim --collector --kubeconfig /tmp/kc                          # an OTLP collector: see the kubelets\' spans arrive',
    ]));
  clusterOptions(sim, 10, IDLE_KUBELET_SPANS_PER_SECOND)
    .requiredOption('--kubeconfig <path>', 'where to write the kubeconfig')
    .option('--port <port>', 'API server port (0: any free port)', nonNegativeInt, 0)
    .option('--no-agents', 'do not run the node agents (tests that run their own)')
    .option('--drift-check-seconds <n>', "how often each agent checks its node's files again for drift, besides its file watch (0: no drift detection)", nonNegativeInt, 60)
    .option('--no-crd', 'do not pre-install the NodeTracingPolicy CRD (as installing the chart does)')
    .option('--keep', 'keep the node host directories on exit', false)
    .option('--state-dir <dir>', 'persist the API server state here')
    .option('--as-installed', "run as the Helm chart installs the operator: the chart's ServiceAccounts, RBAC and agent guard; each agent under the agent ServiceAccount with a token bound to its Node; <kubeconfig>.controller for `kto controller` with the controller's rights", false)
    .addOption(new Option('--collector [port]', "run an embedded OTLP collector for the kubelets' spans: OTLP/gRPC on this port (4317 when no port is given; 0: any free port), OTLP/HTTP and GET /spans (spans per node) on the next port up").preset('4317').argParser(nonNegativeInt))
    .addOption(new Option('--not-ready-after-ms <ms>', "node-monitor-grace-period: how long a node's Lease may go unrenewed before its node turns NotReady").argParser(nonNegativeInt).default(40_000))
    .addHelpText('after', '\nNo pods are scheduled (as in envtest or kwok): Deployments and DaemonSets are stored and served but run no pods.')
    .action(async (opts: SimFlags) => {
      process.exitCode = await (await import('./cli/sim.js')).simCommand(opts);
    });

  const demo = program
    .command('demo')
    .description('embedded cluster + controller + a policy: watch a whole rollout, then exit (0 when every supported node converged)')
    .addHelpText('after', examples(['kto demo', 'kto demo --nodes 50 --max-unavailable 20% --fail-nodes node-07 --report /tmp/demo.json']));
  clusterOptions(demo, 20, 200)
    .option('--report <file>', 'write a JSON report here')
    .option('--max-unavailable <n|pct>', 'maxUnavailable of the demo policy: an integer >= 1 or 1%..100%', maxUnavailableArg, '25%')
    .option('--timeout-seconds <n>', 'give up after this long', positiveInt, 300)
    .option('--otlp-endpoint <url>', OTLP_ENDPOINT_HELP)
    .addOption(otlpProtocolOption());
  checkOtlpFlags(demo).action(async (opts: DemoFlags) => {
      process.exitCode = await (await import('./cli/demo.js')).demoCommand(opts);
    });

  return program;
}

const SOURCES_HELP = 'YAML or JSON files (multi-document), directories (read recursively for *.yaml, *.yml, *.json), or - for standard input';

/** The order loadKubeConfig (src/kube/client.ts) follows, which is kubectl's. */
export const KUBECONFIG_HELP = 'kubeconfig file; without it: $KUBECONFIG (files joined by :), then ~/.kube/config, then the in-cluster service account';

function kubeconfigOption(): Option {
  return new Option('--kubeconfig <path>', KUBECONFIG_HELP);
}

function outputOption(): Option {
  return new Option('-o, --output <format>', 'machine-readable output instead of text').choices(OUTPUT_FORMATS);
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

function kubeletVersionArg(v: string): string {
  if (!parseKubeletVersion(v)) throw new InvalidArgumentError('must be a kubelet version as nodes report it, e.g. v1.29.3 or 1.27.0+k3s1');
  return v;
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

/** The flag, else $KTO_LOG_LEVEL, else info; a bad $KTO_LOG_LEVEL is usage too (the flag's
 *  choices catch a bad flag). The command then sees the level in force. */
function checkLogLevel(cmd: Command): Command {
  return cmd.hook('preAction', (c) => {
    try {
      c.setOptionValue('logLevel', resolveLogLevel(c.opts<{ logLevel?: string }>().logLevel, process.env));
    } catch (err) {
      if (err instanceof LogLevelError) c.error(`error: ${err.message}`, { exitCode: EXIT_USAGE });
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
    checkLogLevel(cmd)
      .addOption(new Option('--log-level <level>', 'log level (default: $KTO_LOG_LEVEL, else info)').choices(LOG_LEVELS))
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
  const program = buildProgram(programName(argv[1]));
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

// Runs when this file is the program (node dist/cli.js, tsx src/cli.ts); the bin/ scripts call
// main themselves, and hack/gen-cli-docs.ts imports buildProgram without running anything.
const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) await main(process.argv);

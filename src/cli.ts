// kto: the one binary. controller | agent | validate | render | crd | sim | demo
import { Command, CommanderError } from 'commander';
import { crdCommand, renderCommand, validateCommand } from './cli/static.js';

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

  return program;
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

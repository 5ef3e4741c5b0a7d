// Generates docs/cli.md, every kto command with its flags and examples, from the commander
// definitions in src/cli.ts (the same text `kto COMMAND --help` prints):
// `node --import tsx hack/gen-cli-docs.ts`. `--check` exits 1 when the committed file differs;
// test/core/cli-docs.test.ts does the same.
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';

export const CLI_DOC_FILE = 'docs/cli.md';

function help(cmd: Command): string {
  let text = '';
  cmd.configureOutput({ writeOut: (s) => (text += s), getOutHelpWidth: () => 100, getOutHasColors: () => false });
  cmd.outputHelp();
  return text.trimEnd();
}

export function generate(): string {
  const program = buildProgram('kto');
  const commands = program.commands.filter((c) => c.name() !== 'help');
  const index = commands.map((c) => `| [\`kto ${c.name()}\`](#kto-${c.name()}) | ${c.summary() || c.description()} |`).join('\n');
  const sections = commands.map((c) => `## kto ${c.name()}\n\n${c.description()}\n\n\`\`\`text\n${help(c)}\n\`\`\`\n`).join('\n');
  return `<!-- Generated from the command definitions in src/cli.ts by \`node --import tsx hack/gen-cli-docs.ts\`
     (npm run gen). Do not edit by hand: test/core/cli-docs.test.ts fails when they disagree. -->
# The \`kto\` command line

\`npm install kubelet-tracing-operator\` (or \`npx kto\` in this repository after \`npm ci\`) installs two
commands: \`kto\`, and \`kubectl-kto\`, which makes every command below a kubectl plugin
(\`kubectl kto status basic\`: kubectl finds \`kubectl-kto\` on the PATH; flags go after the plugin name).

Conventions every command follows:
- Exit codes: 0 success; 1 an invalid policy, a failed check, or a cluster that cannot be read;
  2 a usage error (an unknown command or flag, a bad flag value), with the valid choices named.
- \`-o json\` / \`-o yaml\` on \`validate\`, \`render\`, \`crd\`, \`status\` and \`plan\`: the same
  content for scripts and CI bots; without \`-o\` the text is for people.
- Policy sources (\`validate\`, \`render\`, \`plan -f\`): files of one or more YAML or JSON documents,
  directories (read recursively for \`*.yaml\`, \`*.yml\`, \`*.json\`), or \`-\` for standard input. A
  stream of many kinds (\`kustomize build | kto validate -\`) is fine: documents of other kinds are
  skipped and counted, and a \`kind: List\` (what \`kubectl get -o yaml\` prints) is read item by item.
- \`--kubeconfig\`: without it, \`$KUBECONFIG\` (files joined by \`:\`), then \`~/.kube/config\`, then the
  in-cluster service account, the order kubectl follows.
- \`-V\` / \`--version\` prints the version; \`kto completion bash|zsh\` prints a completion script.

| Command | What it does |
|---|---|
${index}

\`\`\`text
${help(program)}
\`\`\`

${sections}`;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const target = new URL(`../${CLI_DOC_FILE}`, import.meta.url);
  const doc = generate();
  if (process.argv.includes('--check')) {
    const current = await readFile(target, 'utf8').catch(() => '');
    if (current !== doc) {
      process.stderr.write(`${CLI_DOC_FILE} is stale: run node --import tsx hack/gen-cli-docs.ts\n`);
      process.exit(1);
    }
  } else {
    await writeFile(target, doc);
    process.stdout.write(`wrote ${CLI_DOC_FILE}\n`);
  }
}

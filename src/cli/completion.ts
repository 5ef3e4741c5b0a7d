// Shell completion, generated from the commander definitions: commands, their flags, the choices
// of flags that have them (-o json|yaml, --otlp-protocol) and files elsewhere; policy names for
// `kto status` (through kubectl, with the --kubeconfig already typed). A static script rather
// than a completion library: those (tabtab, omelette, @bomb.sh/tab) run the program on every
// <TAB>, and kto starts in about half a second. zsh runs the same function through bashcompinit.
import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh'] as const;
export type Shell = (typeof SHELLS)[number];

const quote = (words: string[]): string => words.join(' ').replace(/[^\w\s./:%-]/g, '');

function flags(o: Option): string[] {
  return [o.short, o.long].filter((f): f is string => Boolean(f));
}

function commandCase(cmd: Command): string {
  const options = [...cmd.options, ...(cmd.options.some((o) => o.long === '--help') ? [] : [{ short: '-h', long: '--help' } as Option])];
  const valueCases = cmd.options
    .filter((o) => o.required || o.optional)
    .map((o) => {
      const pattern = flags(o).join('|');
      return o.argChoices?.length
        ? `        ${pattern}) COMPREPLY=($(compgen -W "${quote(o.argChoices)}" -- "$cur")); return ;;`
        : `        ${pattern}) COMPREPLY=(); return ;;`;
    });
  const names = cmd.name() === 'status' ? '      if [[ "$cur" != -* ]]; then COMPREPLY=($(compgen -W "$(_kto_policies)" -- "$cur")); return; fi\n' : '';
  return [
    `    ${cmd.name()})`,
    ...(valueCases.length ? ['      case "$prev" in', ...valueCases, '      esac'] : []),
    `      opts="${quote(options.flatMap(flags))}"`,
    names.trimEnd(),
    '      ;;',
  ].filter((l) => l !== '').join('\n');
}

function bash(program: Command): string {
  const name = program.name().replace(/\s+/g, '_');
  const commands = program.commands.filter((c) => c.name() !== 'help');
  return `# ${program.name()} completion for bash (generated from the command definitions: kto completion bash)
_kto_policies() {
  [[ -n "\${ZSH_VERSION-}" ]] && setopt localoptions ksharrays
  local i kc=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    [[ "\${COMP_WORDS[i]}" == --kubeconfig ]] && kc="\${COMP_WORDS[i+1]}"
  done
  kubectl \${kc:+--kubeconfig "$kc"} get nodetracingpolicies -o jsonpath='{.items[*].metadata.name}' 2>/dev/null
}
_${name}() {
  # zsh (bashcompinit) hands over COMP_WORDS as a zsh array: index it from 0 as bash does.
  [[ -n "\${ZSH_VERSION-}" ]] && setopt localoptions ksharrays
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmd="" opts="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$cmd" in
    "")
      COMPREPLY=($(compgen -W "${quote([...commands.map((c) => c.name()), '-V', '--version', '-h', '--help'])}" -- "$cur"))
      return ;;
${commands.map(commandCase).join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=()
  fi
}
complete -o default -F _${name} kto kubectl-kto
`;
}

export function completionScript(program: Command, shell: Shell): string {
  if (shell === 'bash') return bash(program);
  return `#compdef kto kubectl-kto
# ${program.name()} completion for zsh: the bash completion through zsh's bashcompinit.
(( $+functions[compdef] )) || { autoload -U +X compinit && compinit; }
autoload -U +X bashcompinit && bashcompinit
${bash(program)}`;
}

// Where the CLI writes, and the machine-readable forms (-o json|yaml) every command offers.
import { stringify } from 'yaml';

export interface Output {
  out: (s: string) => void;
  err: (s: string) => void;
}

export const stdio: Output = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export const OUTPUT_FORMATS = ['json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One document: indented JSON, or YAML (without a leading ---). */
export function formatted(value: unknown, format: OutputFormat): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 });
}

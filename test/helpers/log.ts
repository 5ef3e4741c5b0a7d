// A Logger for tests: hands every entry to `sink`, and formats entries the way pino writes them,
// errors included (type, message, code, stack), so a test can match on what a person would read.
import type { Logger, LogLevel } from '../../src/log.js';

export interface LogEntry {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

export function recordingLogger(sink: (e: LogEntry) => void): Logger {
  const at = (level: LogLevel) => (fields: object, msg: string) => sink({ level, msg, fields: { ...fields } });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** `level msg {fields}`, an Error as pino's serializer shows it. */
export function formatEntry(e: LogEntry): string {
  return `${e.level} ${e.msg} ${JSON.stringify(e.fields, (_k, v: unknown) => (v instanceof Error ? { type: v.name, message: v.message, ...('code' in v ? { code: v.code } : {}), stack: v.stack } : v))}`;
}

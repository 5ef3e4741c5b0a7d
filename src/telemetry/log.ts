// Structured JSON logs (pino) on stderr. Every component logs through a child logger that names
// it; reconcile logs carry the policy and, once tracing is on, the trace id.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level = process.env.KTO_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component } }, pino.destination({ dest: 2, sync: false }));
}

/** Adapts a pino logger to the `(msg, fields)` shape the core modules take. */
export function logFn(logger: Logger): (msg: string, fields?: Record<string, unknown>) => void {
  return (msg, fields) => logger.info(fields ?? {}, msg);
}

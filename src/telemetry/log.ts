// Structured JSON logs (pino) on stderr. Every component logs through a child logger that names
// it; reconcile logs carry the policy and, once tracing is on, the trace id.
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(component: string, level = process.env.KTO_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { component }, mixin: traceFields }, pino.destination({ dest: 2, sync: false }));
}

/** trace_id / span_id of the active span (a reconcile, an apply), so logs join their trace. */
export function traceFields(): Record<string, string> {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** Adapts a pino logger to the `(msg, fields)` shape the core modules take. */
export function logFn(logger: Logger): (msg: string, fields?: Record<string, unknown>) => void {
  return (msg, fields) => logger.info(fields ?? {}, msg);
}

// Structured JSON logs (pino) on stderr, in the shape log pipelines (Loki, Elasticsearch, Vector)
// parse without configuration: `"level":"warn"` rather than pino's number, and an ISO-8601 UTC
// `"time"`. Every component logs through a logger that names it; reconcile logs carry the policy
// and, once tracing is on, the trace id. Errors go in `err` (type, message, stack).
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../log.js';

export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** The options every kto logger is made with (exported for the format test). */
export function loggerOptions(component: string, level: LogLevel): LoggerOptions {
  return {
    level,
    base: { component },
    mixin: traceFields,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError },
  };
}

/** A pino logger: a `Logger` (src/log.ts) that the process can also `child()` and `flush()`. */
export function createLogger(component: string, level: LogLevel): PinoLogger {
  return pino(loggerOptions(component, level), pino.destination({ dest: 2, sync: false }));
}

/** A bad level is a usage error: this names the source and the levels there are. */
export class LogLevelError extends Error {}

/** The level in force: the flag, else $KTO_LOG_LEVEL, else info. Checked before anything starts. */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv): LogLevel {
  const [source, value] = flag !== undefined ? ['--log-level', flag] : env.KTO_LOG_LEVEL !== undefined && env.KTO_LOG_LEVEL !== '' ? ['KTO_LOG_LEVEL', env.KTO_LOG_LEVEL] : [undefined, DEFAULT_LOG_LEVEL];
  if (!isLogLevel(value)) throw new LogLevelError(`${source ?? 'log level'}: "${value}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
  return value;
}

/** trace_id / span_id of the active span (a reconcile, an apply), so logs join their trace. */
export function traceFields(): Record<string, string> {
  const sc = trace.getActiveSpan()?.spanContext();
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
}

/** pino's error serializer, without client-node's ApiException `headers` and `body`: its
 *  message already carries both, and the headers are noise in every line. */
function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { ...pino.stdSerializers.err(err) };
  delete out['headers'];
  delete out['body'];
  return out;
}

// The one logger interface: the controller, the informer, leader election, the configz verifier
// and the agent all take a `Logger`. It is the leveled subset of pino's API that they use, so a
// pino logger (src/telemetry/log.ts) is one as it is, and a test passes a plain object.
//
// Fields first, then the message (pino's order). An error goes in the `err` field as the value
// thrown: pino's `err` serializer writes its type, message and stack.

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

const nothing = (): void => undefined;

/** Discards everything: the default where no logger is given. */
export const silentLogger: Logger = { debug: nothing, info: nothing, warn: nothing, error: nothing };

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** `log` with `fields` added to every line (as pino's child(), for a plain Logger). */
export function withFields(log: Logger, fields: object): Logger {
  return {
    debug: (f, msg) => log.debug({ ...fields, ...f }, msg),
    info: (f, msg) => log.info({ ...fields, ...f }, msg),
    warn: (f, msg) => log.warn({ ...fields, ...f }, msg),
    error: (f, msg) => log.error({ ...fields, ...f }, msg),
  };
}

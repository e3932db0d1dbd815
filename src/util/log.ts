/**
 * Structured logging (pino). Every log line about a call carries its `call` id
 * (child logger), every line about a node its `node` name. Components receive a
 * Logger; nothing logs through console.
 */
import { pino, type Logger as PinoLogger, type DestinationStream } from 'pino';

export type Logger = PinoLogger;

export interface LogOptions {
  node: string;
  level?: string;
  /** Defaults to stdout. */
  destination?: DestinationStream;
}

export function createLogger(opts: LogOptions): Logger {
  const base = { node: opts.node };
  const level = opts.level ?? process.env.SPACEPHONE_LOG_LEVEL ?? 'info';
  return opts.destination ? pino({ level, base }, opts.destination) : pino({ level, base });
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

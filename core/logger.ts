import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from './settings/common';

/**
 * The one logger. Structured JSON lines (Powertools), one per event, in Lambda and in the ingest task alike.
 * Never pass a stream key to it: log the playback ID, or `keyFingerprint()` from ./model.
 * The level comes from the service's settings (KEYFRAME_LOG_LEVEL, core/settings/common.ts); `SILENT` mutes it.
 */
export function createLogger(serviceName: string, level: LogLevel = 'INFO'): Logger {
  return new Logger({ serviceName, logLevel: level });
}

export type { Logger };

/** The info/warn pair the ingest's parts log through (recorder, thumbnails, ladders, renditions). */
export interface PartLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

/** A `PartLog` over the logger, with `context` (e.g. the playback ID and session) on every line; none without a logger. */
export function partLog(logger: Pick<Logger, 'info' | 'warn'> | undefined, context: Record<string, unknown> = {}): PartLog | undefined {
  if (!logger) return undefined;
  return {
    info: (message, extra) => logger.info(message, { ...context, ...extra }),
    warn: (message, extra) => logger.warn(message, { ...context, ...extra }),
  };
}

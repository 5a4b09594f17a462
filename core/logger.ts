import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one logger. Structured JSON lines (Powertools), one per event, in Lambda and in the ingest task alike.
 * Never pass a stream key to it: log the playback ID, or `keyFingerprint()` from ./model.
 * KEYFRAME_LOG_LEVEL (or POWERTOOLS_LOG_LEVEL) sets the level; `silent` mutes it (tests).
 */
export function createLogger(serviceName: string): Logger {
  const level = (process.env.KEYFRAME_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO').toUpperCase();
  return new Logger({ serviceName, logLevel: level as never });
}

export type { Logger };

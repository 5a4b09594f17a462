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

import { oneOf, optionalText } from './schema';

/** Log levels of the one logger (core/logger.ts); `SILENT` mutes it (tests). */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Settings every service has. */
export const commonSettings = {
  logLevel: oneOf('KEYFRAME_LOG_LEVEL', LOG_LEVELS, { default: 'INFO' }),
  dynamoEndpoint: optionalText('KEYFRAME_DYNAMODB_ENDPOINT', { doc: 'unset in AWS; the local stack sets http://127.0.0.1:<port>' }),
} as const;

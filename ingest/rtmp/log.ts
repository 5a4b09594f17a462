/**
 * Logging helpers shared by the server and its sessions.
 */
import type { LogLevel, RtmpLogger } from './types.js';

/** A logger that throws must not take the session down with it. */
export function logTo(logger: RtmpLogger, level: LogLevel, message: string, extra: Record<string, unknown>): void {
  try {
    logger[level](message, extra);
  } catch {
    // ignore
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** The logger of nothing: the default. */
export const SILENT_LOGGER: RtmpLogger = { debug() {}, info() {}, warn() {}, error() {} };

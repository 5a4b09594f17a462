import type { HttpError } from '../../../core/errors';
import type { OriginMetrics } from '../metrics';
import type { OriginRequest, OriginResponse, RequestInfo } from './types';

/** The slice of the Powertools logger the origin uses. */
export interface OriginLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/**
 * Stage 6, log: the request's metrics (always) and its one log line: every 4xx and 5xx, with the cause chain of
 * a 5xx (logs only), and a `sampleRate` share of the successes, which carry `sampled` so counts can be scaled.
 */
export function recordRequest(
  deps: { readonly logger: OriginLogger; readonly metrics: OriginMetrics; readonly sampleRate: number; readonly random: () => number },
  req: OriginRequest,
  res: OriginResponse,
  info: RequestInfo,
  failure: HttpError | undefined,
  latencyMs: number,
): void {
  deps.metrics.count('OriginRequests');
  if (res.statusCode >= 500) deps.metrics.count('Origin5xx');
  else if (res.statusCode >= 400) deps.metrics.count('Origin4xx');
  deps.metrics.latency(latencyMs);
  const sampled = res.statusCode < 400 && deps.sampleRate < 1;
  if (sampled && deps.random() >= deps.sampleRate) return;

  const line = {
    method: req.method,
    status: res.statusCode,
    playbackId: info.playbackId,
    file: info.file,
    // A refused path has no playback ID: log what was asked for, trimmed, with anything key-like redacted
    // (a streamer may paste their secret key where a playback ID belongs).
    path: info.playbackId === undefined ? redactPath(req.path) : undefined,
    latencyMs,
    routeCache: info.routeCache,
    bodyCache: info.bodyCache,
    ...(info.token ? { token: info.token } : {}),
    ...(info.recordingId ? { recordingId: info.recordingId } : {}),
    ...(info.recordings ? { recordings: info.recordings } : {}),
    ...(info.reresolved ? { reresolved: info.reresolved } : {}),
    ...(sampled ? { sampled: deps.sampleRate } : {}),
  };
  if (res.statusCode >= 500 && failure) {
    const unexpected = failure.statusCode === 500 && failure.cause instanceof Error ? failure.cause.stack : undefined;
    deps.logger.error('origin request failed', {
      ...line,
      error: failure.code,
      reason: failure.message,
      cause: describeCause(failure),
      ...(unexpected ? { stack: unexpected } : {}),
    });
  } else {
    deps.logger.info('origin request', failure ? { ...line, reason: failure.message } : line);
  }
}

function redactPath(path: string): string {
  return path
    .slice(0, 256)
    .replace(/kf_[A-Za-z0-9_%-]*/g, 'kf_[redacted]')
    .replace(/(token(?:=|%3d))[^&]*/gi, '$1[redacted]');
}

/** The cause chain as short strings, for the log line (may name the task's address: logs only). */
function describeCause(err: unknown): string[] | undefined {
  const out: string[] = [];
  let cur = err instanceof Error ? err.cause : undefined;
  while (cur !== undefined && out.length < 5) {
    out.push(cur instanceof Error ? `${cur.name}: ${cur.message}` : String(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return out.length ? out : undefined;
}

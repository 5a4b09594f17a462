import type { RecordingStore, RouteStore } from '../../core/store';
import { createDynamoStore } from '../../core/dynamo-store';
import { createLogger } from '../../core/logger';
import { playbackKeyFromSettings } from '../../core/playback-secret';
import { loadOriginSettings } from './config';
import { createFunctionUrlHandler, type OriginFunctionUrlHandler } from './lambda';
import { emfMetrics, type MetricSink } from '../../core/metrics';
import { sinkOriginMetrics } from './metrics';
import { createOrigin, type Origin } from './origin';
import { type RecordingObjectSource, s3RecordingObjects } from './recording-objects';
import type { FetchUpstream } from './upstream';
import type { StreamListing } from './streams';
import { createUpstreamGuard } from './upstream-guard';

/**
 * Builds the origin from an environment: the one composition shared by the Lambda (handler.ts, from
 * process.env), the local stack (which passes its own env and store) and the origin benchmark (which wraps
 * the upstream fetch to count it). Returns the core and its function-URL handler.
 */
export function createOriginFromEnv(
  opts: {
    env?: Record<string, string | undefined>;
    routes?: Pick<RouteStore, 'getRoute'> & StreamListing & Partial<Pick<RecordingStore, 'getRecording'>>;
    fetchUpstream?: FetchUpstream;
    /** Default: the bucket KEYFRAME_RECORDING_BUCKET names (at KEYFRAME_S3_ENDPOINT if set); none if unset. */
    recordingObjects?: RecordingObjectSource;
    segmentCacheMs?: number;
    /** Default: CloudWatch EMF on stdout. */
    metrics?: MetricSink;
  } = {},
): { origin: Origin; handler: OriginFunctionUrlHandler } {
  const config = loadOriginSettings(opts.env);
  const logger = createLogger('origin', config.logLevel);
  const metrics = opts.metrics ?? emfMetrics('origin');
  const store = opts.routes ?? createDynamoStore({ tableName: config.tableName, endpoint: config.dynamoEndpoint });
  const recordingObjects =
    opts.recordingObjects ??
    (config.recordingBucket !== undefined
      ? s3RecordingObjects({ bucket: config.recordingBucket, endpoint: config.s3Endpoint, region: config.region })
      : undefined);
  if (!recordingObjects) logger.warn('recordings are off: KEYFRAME_RECORDING_BUCKET is unset, so /recordings/ paths answer 404', {});
  const listRecordingsOfChannel = store.listRecordingsOfChannel?.bind(store);
  const origin = createOrigin({
    routes: store,
    // Private channels stay out of the public stream list (their playback IDs are not advertised).
    listing: {
      listRoutes: () => store.listRoutes(),
      listChannels: async () => (await store.listChannels()).filter((c) => !c.private),
      ...(listRecordingsOfChannel ? { listRecordingsOfChannel } : {}),
    },
    ...(store.getRecording ? { recordings: { getRecording: (id: string) => store.getRecording!(id) } } : {}),
    ...(recordingObjects ? { recordingObjects } : {}),
    fetchUpstream: opts.fetchUpstream,
    routeCacheMs: config.routeCacheMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    blockingHoldMs: config.blockingHoldMs,
    segmentSeconds: config.segmentSeconds,
    logger,
    logSampleRate: config.logSampleRate,
    metrics: sinkOriginMetrics(metrics),
    upstreamGuard: createUpstreamGuard({ cidrs: config.upstreamCidrs, ports: config.upstreamPorts }),
    playbackKey: playbackKeyFromSettings(config, {
      onRefreshError: (err) => logger.warn('playback secret refresh failed; keeping the current key', { error: (err as Error).message }),
    }),
    ...(opts.segmentCacheMs !== undefined ? { segmentCacheMs: opts.segmentCacheMs } : {}),
  });
  return { origin, handler: createFunctionUrlHandler(origin, { flush: () => metrics.publishStoredMetrics() }) };
}

/** The origin's function-URL handler, built from an environment (see createOriginFromEnv). */
export function createLambdaOrigin(opts: Parameters<typeof createOriginFromEnv>[0] = {}): OriginFunctionUrlHandler {
  return createOriginFromEnv(opts).handler;
}

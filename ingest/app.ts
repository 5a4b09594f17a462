import type { Server } from 'node:http';
import { type Logger, partLog } from '../core/logger';
import type { ChannelStore, RecordingStore, RouteStore } from '../core/store';
import { AuthThrottle } from './auth-throttle';
import type { IngestConfig } from './config';
import { createHealthServer, createHlsServer, listen } from './hls-server';
import type { TaskIdentity } from './identity';
import { createRtmpServer, type RtmpServer } from './rtmp/server';
import type { RtmpLogger, RtmpServerOptions } from './rtmp/options';
import { createRecordingServiceFromSettings, type RecorderEvent, type RecordingService } from './recorder/index.js';
import { StreamManager } from './streams';
import { ThumbnailPool } from './thumbnails/index.js';
import { createLadderStarter } from './ladder-starter';

/** Of a drain's deadline, what is kept for the recordings' last uploads (at most half of it). */
export const RECORDING_DRAIN_RESERVE_MS = 15_000;

export interface IngestApp {
  readonly rtmpPort: number;
  readonly hlsPort: number;
  readonly healthPort: number;
  readonly streams: StreamManager;
  readonly rtmp: RtmpServer;
  readonly authThrottle: AuthThrottle;
  /** The task's recordings, when a bucket is configured. */
  readonly recordings?: RecordingService;
  /** SIGTERM: stop taking publishes, let live ones finish until the deadline, end the rest, close. */
  drain(deadlineMs: number): Promise<void>;
  /** Ends everything now. */
  close(): Promise<void>;
}

const closeServer = (s: Server) =>
  new Promise<void>((resolve) => {
    s.closeAllConnections();
    s.close(() => resolve());
  });

/**
 * The ingest task: RTMP in (publish-side server), one in-process packager per stream (no ffmpeg on the
 * passthrough path), HLS objects out of memory on the HLS port, health and stream status on its own port.
 * `main.ts` builds it from the environment; tests build it directly.
 */
export async function startIngest(
  config: IngestConfig,
  deps: {
    /** With RecordingStore methods (the DynamoDB store has them), recordings get their metadata items. */
    store: ChannelStore & RouteStore & Partial<RecordingStore>;
    identity: TaskIdentity;
    /** What the recorder reports (tests, metrics). */
    onRecorderEvent?: (event: RecorderEvent) => void;
    logger?: Logger;
    /** Overrides `config.rtmp` (timeouts and caps from the environment) and the server's other defaults. */
    rtmpOptions?: Partial<Omit<RtmpServerOptions, 'onPublish' | 'logger'>>;
    onActiveStreamsChanged?: (count: number) => void;
  },
): Promise<IngestApp> {
  const hls = createHlsServer({ resolve: (p) => streams.resolveObject(p), segmentSeconds: config.segmentSeconds });
  const hlsAddress = await listen(hls, config.hlsPort, config.hlsHost);
  const authThrottle = new AuthThrottle(config.authThrottle);
  const s = deps.store;
  // The DynamoDB store is also the recordings' metadata store; a store without those methods records objects only.
  const recordingStore = s.putRecording && s.getRecording && s.listRecordingsOfChannel && s.deleteRecording ? (s as RecordingStore) : undefined;
  const log = partLog(deps.logger);
  const recordings = createRecordingServiceFromSettings(config.recording, {
    store: recordingStore,
    log,
    onEvent: deps.onRecorderEvent,
  });
  if (recordings) deps.logger?.info('recording enabled', { bucket: config.recording.recordingBucket, spoolDir: config.recording.recordingSpoolDir });
  const thumbnailPool =
    config.thumbnails.intervalSeconds > 0
      ? new ThumbnailPool({ ffmpegPath: config.ffmpegPath, maxConcurrent: config.thumbnails.concurrency })
      : undefined;
  // Quality ladders: a transcoder only for a ladder channel's publish (docs/ladder.md).
  const ladders = createLadderStarter({
    ffmpegPath: config.ffmpegPath,
    preset: config.ladder.preset,
    cpuBudget: config.ladder.cpuBudget,
    passthroughCores: config.ladder.passthroughCores,
    coresPerMpixel: config.ladder.coresPerMpixel,
    maxRestarts: config.ladder.maxRestarts,
    restartWindowSeconds: config.ladder.restartWindowSeconds,
    lagLimitMs: config.ladder.lagLimitMs,
    ...(log ? { log } : {}),
  });
  const streams = new StreamManager({
    ladders,
    store: deps.store,
    logger: deps.logger,
    taskArn: deps.identity.taskArn,
    advertiseHost: deps.identity.ip,
    advertisePort: hlsAddress.port,
    segmentSeconds: config.segmentSeconds,
    playlistSize: config.playlistSize,
    lowLatency: config.lowLatency,
    fragmentSeconds: config.partSeconds,
    blockingHoldMs: config.blockingHoldMs,
    routeTtlSeconds: config.routeTtlSeconds,
    reconnectGraceSeconds: config.reconnectGraceSeconds,
    endLingerSeconds: config.endLingerSeconds,
    onActiveStreamsChanged: deps.onActiveStreamsChanged,
    authThrottle,
    ...(recordings ? { recordings } : {}),
    ...(thumbnailPool
      ? { thumbnails: { pool: thumbnailPool, intervalSeconds: config.thumbnails.intervalSeconds, maxWidth: config.thumbnails.maxWidth } }
      : {}),
  });
  const rtmp = createRtmpServer({
    ...config.rtmp,
    ...deps.rtmpOptions,
    logger: deps.logger as RtmpLogger | undefined,
    onPublish: async (req) => {
      const decision = await streams.onPublish({
        streamKey: req.key,
        remoteAddress: req.session.remoteAddress,
        kick: (reason) => req.session.close(reason),
      });
      return decision.accept ? { accept: true, sink: decision.sink } : decision;
    },
  });
  const rtmpAddress = await rtmp.listen(config.rtmpPort, config.rtmpHost);
  const health = createHealthServer(
    () => ({ draining: streams.isDraining, streams: streams.activeStreams, connections: rtmp.connectionCount }),
    () => streams.statuses(),
  );
  const healthAddress = await listen(health, config.healthPort, config.hlsHost);

  let closed: Promise<void> | undefined;
  const close = () =>
    (closed ??= (async () => {
      await streams.close();
      // Publishes ended above: their recordings are finalized; give their last uploads a bounded moment.
      await recordings?.drain({ timeoutMs: 5000 });
      await rtmp.close('server-close');
      await thumbnailPool?.close();
      ladders.stop();
      await Promise.all([closeServer(hls), closeServer(health)]);
    })());

  return {
    rtmpPort: rtmpAddress.port,
    hlsPort: hlsAddress.port,
    healthPort: healthAddress.port,
    streams,
    rtmp,
    authThrottle,
    ...(recordings ? { recordings } : {}),
    async drain(deadlineMs) {
      // The RTMP listener stays open while draining: a publisher that still lands here (the load balancer takes
      // a moment to see /healthz answer 503) is refused with "Server is draining; reconnect to another server",
      // which OBS shows, rather than a bare connection refusal.
      const reserve = recordings ? Math.min(RECORDING_DRAIN_RESERVE_MS, deadlineMs / 2) : 0;
      const started = Date.now();
      await streams.drain(deadlineMs - reserve);
      // A draining task finishes its recordings' uploads before it exits (what is left at the deadline is a gap).
      await recordings?.drain({ timeoutMs: Math.max(1000, deadlineMs - (Date.now() - started)) });
      await close();
    },
    close,
  };
}

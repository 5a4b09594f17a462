import type { Server } from 'node:http';
import type { Logger } from '../core/logger';
import type { ChannelStore, RouteStore } from '../core/store';
import { AuthThrottle } from './auth-throttle';
import type { IngestConfig } from './config';
import { createHealthServer, createHlsServer, listen } from './hls-server';
import type { TaskIdentity } from './identity';
import { createRtmpServer, type RtmpServer } from './rtmp/server';
import type { RtmpLogger, RtmpServerOptions } from './rtmp/options';
import { StreamManager } from './streams';

export interface IngestApp {
  readonly rtmpPort: number;
  readonly hlsPort: number;
  readonly healthPort: number;
  readonly streams: StreamManager;
  readonly rtmp: RtmpServer;
  readonly authThrottle: AuthThrottle;
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
    store: ChannelStore & RouteStore;
    identity: TaskIdentity;
    logger?: Logger;
    /** Overrides `config.rtmp` (timeouts and caps from the environment) and the server's other defaults. */
    rtmpOptions?: Partial<Omit<RtmpServerOptions, 'onPublish' | 'logger'>>;
    onActiveStreamsChanged?: (count: number) => void;
  },
): Promise<IngestApp> {
  const hls = createHlsServer({ resolve: (p) => streams.resolveObject(p), segmentSeconds: config.segmentSeconds });
  const hlsAddress = await listen(hls, config.hlsPort, config.hlsHost);
  const authThrottle = new AuthThrottle(config.authThrottle);
  const streams = new StreamManager({
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
      await rtmp.close('server-close');
      await Promise.all([closeServer(hls), closeServer(health)]);
    })());

  return {
    rtmpPort: rtmpAddress.port,
    hlsPort: hlsAddress.port,
    healthPort: healthAddress.port,
    streams,
    rtmp,
    authThrottle,
    async drain(deadlineMs) {
      // The RTMP listener stays open while draining: a publisher that still lands here (the load balancer takes
      // a moment to see /healthz answer 503) is refused with "Server is draining; reconnect to another server",
      // which OBS shows, rather than a bare connection refusal.
      await streams.drain(deadlineMs);
      await close();
    },
    close,
  };
}

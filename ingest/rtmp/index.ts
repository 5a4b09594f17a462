/**
 * Keyframe's publish-side RTMP server. See docs/rtmp.md.
 *
 * ```ts
 * const server = createRtmpServer({ onPublish: async ({ key, session }) => ({ accept: true, sink }) });
 * await server.listen(1935, '0.0.0.0');
 * ```
 */
export { createRtmpServer, RtmpServer, type RtmpServerEvents } from './server.js';
export { RtmpSession, type SessionSocket } from './session.js';
export { DEFAULT_RTMP_OPTIONS, resolveRtmpOptions, type RtmpServerOptions } from './options.js';
export type {
  FlvSink,
  LogLevel,
  OnPublish,
  PublishDecision,
  PublishingSession,
  PublishRejectCode,
  PublishRejection,
  PublishRequest,
  RtmpLogger,
  SessionEndReason,
  SessionEvents,
  SessionState,
} from './types.js';
export { systemClock, type Clock, type Timer } from './clock.js';
export { RtmpProtocolError } from './chunk-reader.js';

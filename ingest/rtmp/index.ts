/**
 * Keyframe's publish-side RTMP server. See docs/rtmp.md.
 *
 * ```ts
 * const server = createRtmpServer({ onPublish: async ({ key, session }) => ({ accept: true, sink }) });
 * await server.listen(1935, '0.0.0.0');
 * ```
 */
export { createRtmpServer, RtmpServer } from './server.js';
export { RtmpSession, type SessionState, type SessionSocket } from './session.js';
export {
  DEFAULT_RTMP_OPTIONS,
  resolveRtmpOptions,
  type FlvSink,
  type OnPublish,
  type PublishDecision,
  type PublishRejectCode,
  type PublishRequest,
  type RtmpLogger,
  type RtmpServerOptions,
  type SessionEndReason,
} from './options.js';
export { RtmpProtocolError } from './chunk-reader.js';

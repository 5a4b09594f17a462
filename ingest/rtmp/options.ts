/**
 * Options of the RTMP server, their defaults and validation. The types of the publish contract live in
 * `types.ts` (re-exported here for callers that import them from this module).
 */
import { type Clock, systemClock } from './clock.js';
import { SILENT_LOGGER } from './log.js';
import type { OnPublish, RtmpLogger } from './types.js';

export type {
  FlvSink,
  OnPublish,
  PublishDecision,
  PublishRejectCode,
  PublishRejection,
  PublishRequest,
  RtmpLogger,
  SessionEndReason,
} from './types.js';
export type { Clock, Timer } from './clock.js';

export interface RtmpServerOptions {
  /**
   * Decides every publish, before NetStream.Publish.Start is sent. Throwing or rejecting counts as
   * `{ accept: false, code: 'NetStream.Publish.Denied' }` (and is logged as an error).
   */
  readonly onPublish: OnPublish;
  /** Structured logger. Default: silent. */
  readonly logger?: RtmpLogger;
  /** Applications (`connect`'s `app`, without query or trailing slash) that may connect. Default `['live']`. */
  readonly apps?: readonly string[];
  /** Close a connection that has not completed the handshake after this long. Default 5000 ms. */
  readonly handshakeTimeoutMs?: number;
  /** Close a connection that is not publishing (accepted) this long after it was opened. Default 10000 ms. */
  readonly publishTimeoutMs?: number;
  /** Close a publishing session that has sent no audio, video or data for this long. Default 30000 ms. */
  readonly idleTimeoutMs?: number;
  /** Most simultaneous connections; more are closed at once. Default 1000. */
  readonly maxConnections?: number;
  /** Most simultaneous connections from one source IP; more are closed at once. Default 20. `Infinity` disables. */
  readonly maxConnectionsPerIp?: number;
  /** Largest audio/video/aggregate message accepted once publishing. Default 8 MiB. */
  readonly maxMessageLength?: number;
  /**
   * Largest command, data or other non-media message, and the largest message of any type before the
   * publish is accepted. Default 64 KiB.
   */
  readonly maxCommandLength?: number;
  /** Largest chunk size a peer may set (the smallest is 1). Default 16777215 (0xFFFFFF, the largest message). */
  readonly maxChunkSize?: number;
  /** Most chunk streams a peer may use on one connection. Default 64. */
  readonly maxChunkStreams?: number;
  /** Longest stream key accepted (after removing `?query`); longer is NetStream.Publish.BadName. Default 256. */
  readonly maxKeyLength?: number;
  /** Chunk size the server announces and sends with. Default 4096. */
  readonly outChunkSize?: number;
  /** Window Acknowledgement Size and Set Peer Bandwidth the server announces. Default 5000000 bytes. */
  readonly windowAckSize?: number;
  /** Close a connection whose unsent output (the peer is not reading) exceeds this. Default 1 MiB. */
  readonly maxOutputBuffer?: number;
  /** The time and the timers every timeout runs on. Default: `Date.now()` and unref'd `setTimeout`. */
  readonly clock?: Clock;
}

export type ResolvedRtmpOptions = Required<Omit<RtmpServerOptions, 'logger' | 'clock'>> & {
  readonly logger: RtmpLogger;
  readonly clock: Clock;
};

export const DEFAULT_RTMP_OPTIONS = {
  apps: ['live'] as readonly string[],
  handshakeTimeoutMs: 5_000,
  publishTimeoutMs: 10_000,
  idleTimeoutMs: 30_000,
  maxConnections: 1000,
  maxConnectionsPerIp: 20,
  maxMessageLength: 8 * 1024 * 1024,
  maxCommandLength: 64 * 1024,
  maxChunkSize: 0xffffff,
  maxChunkStreams: 64,
  maxKeyLength: 256,
  outChunkSize: 4096,
  windowAckSize: 5_000_000,
  maxOutputBuffer: 1024 * 1024,
} as const;

function positiveInteger(name: string, value: number, max: number, allowInfinity = false): number {
  if (allowInfinity && value === Infinity) return value;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new TypeError(`RTMP option ${name} must be an integer from 1 to ${max}${allowInfinity ? ' or Infinity' : ''}, got ${value}`);
  }
  return value;
}

/** Apply defaults and validate. Throws `TypeError` on a bad option (a programming error, at startup). */
export function resolveRtmpOptions(options: RtmpServerOptions): ResolvedRtmpOptions {
  if (typeof options.onPublish !== 'function') throw new TypeError('RTMP option onPublish must be a function');
  const clock = options.clock;
  if (clock !== undefined && (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function')) {
    throw new TypeError('RTMP option clock must have now() and setTimeout()');
  }
  const d = DEFAULT_RTMP_OPTIONS;
  const apps = options.apps ?? d.apps;
  if (apps.length === 0 || apps.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new TypeError('RTMP option apps must be a non-empty list of non-empty names');
  }
  const resolved: ResolvedRtmpOptions = {
    onPublish: options.onPublish,
    logger: options.logger ?? SILENT_LOGGER,
    clock: options.clock ?? systemClock,
    apps: [...apps],
    handshakeTimeoutMs: positiveInteger('handshakeTimeoutMs', options.handshakeTimeoutMs ?? d.handshakeTimeoutMs, 2 ** 31 - 1),
    publishTimeoutMs: positiveInteger('publishTimeoutMs', options.publishTimeoutMs ?? d.publishTimeoutMs, 2 ** 31 - 1),
    idleTimeoutMs: positiveInteger('idleTimeoutMs', options.idleTimeoutMs ?? d.idleTimeoutMs, 2 ** 31 - 1),
    maxConnections: positiveInteger('maxConnections', options.maxConnections ?? d.maxConnections, 2 ** 31 - 1, true),
    maxConnectionsPerIp: positiveInteger('maxConnectionsPerIp', options.maxConnectionsPerIp ?? d.maxConnectionsPerIp, 2 ** 31 - 1, true),
    maxMessageLength: positiveInteger('maxMessageLength', options.maxMessageLength ?? d.maxMessageLength, 0xffffff),
    maxCommandLength: positiveInteger('maxCommandLength', options.maxCommandLength ?? d.maxCommandLength, 0xffffff),
    maxChunkSize: positiveInteger('maxChunkSize', options.maxChunkSize ?? d.maxChunkSize, 0x7fffffff),
    maxChunkStreams: positiveInteger('maxChunkStreams', options.maxChunkStreams ?? d.maxChunkStreams, 65536),
    maxKeyLength: positiveInteger('maxKeyLength', options.maxKeyLength ?? d.maxKeyLength, 65535),
    outChunkSize: positiveInteger('outChunkSize', options.outChunkSize ?? d.outChunkSize, 0xffffff),
    windowAckSize: positiveInteger('windowAckSize', options.windowAckSize ?? d.windowAckSize, 0x7fffffff),
    maxOutputBuffer: positiveInteger('maxOutputBuffer', options.maxOutputBuffer ?? d.maxOutputBuffer, 2 ** 31 - 1),
  };
  return resolved;
}

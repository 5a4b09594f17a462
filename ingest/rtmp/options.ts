/**
 * Options of the RTMP server, their defaults and validation, and the types of the publish contract.
 */
import type { RtmpSession } from './session.js';

/** Why a session ended. A sink's `end` receives exactly one of these, exactly once. */
export type SessionEndReason =
  /** The publisher stopped: FCUnpublish, deleteStream or closeStream. */
  | 'unpublish'
  /** The TCP connection closed or reset. */
  | 'disconnect'
  /** A protocol violation, a sink that threw, or an internal failure. */
  | 'error'
  /** Handshake, publish-start or media-idle timeout. */
  | 'timeout'
  /** The caller closed the session (`session.close()`), e.g. a newer publish of the same key took over. */
  | 'kicked'
  /** The server was closed. */
  | 'server-close';

/** Where an accepted publish's FLV bytes go: the FLV header once, then one buffer per tag. */
export interface FlvSink {
  /**
   * Called with the 13-byte FLV header first, then each tag (with its PreviousTagSize). Must not keep the
   * buffer beyond the call unless it owns it (it does: every buffer is freshly allocated). Returning `false`
   * asks for backpressure: if `onDrain` is given, the session stops reading the socket until it resumes.
   */
  write(chunk: Buffer): boolean | void;
  /** Called exactly once when the publish ends, for any reason, including after a late accept. */
  end(reason: SessionEndReason): void;
  /** Optional: after `write` returned false, call `resume` once the sink can take more (e.g. on `drain`). */
  onDrain?(resume: () => void): void;
}

export interface PublishRequest {
  /** The session asking; keep it to kick the publish later (`session.close('kicked')`). */
  readonly session: RtmpSession;
  /** The application from `connect` (always one of `RtmpServerOptions.apps`). */
  readonly app: string;
  /** The stream key: the publish name with any `?query` removed. Secret: never log it. */
  readonly key: string;
  /** The publish type the client asked for (`live`, `record`, `append`); informational. */
  readonly publishType: string;
}

export type PublishRejectCode = 'NetStream.Publish.BadName' | 'NetStream.Publish.Denied';

export type PublishDecision =
  | { readonly accept: true; readonly sink: FlvSink }
  | {
      readonly accept: false;
      /** Default `NetStream.Publish.Denied`. */
      readonly code?: PublishRejectCode;
      /** Sent to the client as the onStatus description. Must not contain the key. Default "Publishing refused". */
      readonly description?: string;
    };

export type OnPublish = (request: PublishRequest) => PublishDecision | Promise<PublishDecision>;

/**
 * The logging shape the server uses; Powertools `Logger` (core/logger.ts) fits it. The server
 * always passes one structured object after the message (session id, remote IP, app, key fingerprint, …),
 * never a stream key.
 */
export interface RtmpLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

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
}

export type ResolvedRtmpOptions = Required<Omit<RtmpServerOptions, 'logger'>> & { readonly logger: RtmpLogger };

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

const SILENT: RtmpLogger = { debug() {}, info() {}, warn() {}, error() {} };

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
  const d = DEFAULT_RTMP_OPTIONS;
  const apps = options.apps ?? d.apps;
  if (apps.length === 0 || apps.some((a) => typeof a !== 'string' || a.length === 0)) {
    throw new TypeError('RTMP option apps must be a non-empty list of non-empty names');
  }
  const resolved: ResolvedRtmpOptions = {
    onPublish: options.onPublish,
    logger: options.logger ?? SILENT,
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

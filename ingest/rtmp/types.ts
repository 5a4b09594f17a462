/**
 * The contracts of the RTMP server, in one module that imports none of the others: the publish contract
 * (`onPublish`, its decision and the FLV sink), the end reasons, the session's states and lifecycle events,
 * and the logger shape. Everything else in `ingest/rtmp/` imports its types from here; callers import them
 * from `ingest/rtmp/index.js`.
 */

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

export type SessionState =
  /** Waiting for C0+C1, then C2. */
  | 'handshake'
  /** Handshake done, waiting for `connect`. */
  | 'connecting'
  /** `connect` accepted; waiting for `publish`. */
  | 'connected'
  /** `publish` received; `onPublish` has not decided yet. */
  | 'authorizing'
  /** Accepted: media flows to the sink. */
  | 'publishing'
  | 'closed';

/** Where an accepted publish's FLV bytes go: the FLV header once, then one buffer per tag. */
export interface FlvSink {
  /**
   * Called with the 13-byte FLV header first, then each tag (with its PreviousTagSize). Must not keep the
   * buffer beyond the call unless it owns it (it does: every buffer is freshly allocated). Returning `false`
   * asks for backpressure: if `onDrain` is given, the session stops reading the socket until it resumes.
   */
  write(chunk: Buffer): boolean | void;
  /**
   * Optional: a sink that takes media messages as they are (the in-process packager) gets each audio, video and
   * script message here — `type` 8/9/18, the RTMP timestamp, the FLV tag body, owned by the sink — instead of as
   * an FLV tag through `write` (which then gets the FLV header only). Saves a copy and a parse per tag.
   */
  message?(type: number, timestamp: number, payload: Buffer): boolean | void;
  /** Called exactly once when the publish ends, for any reason, including after a late accept. */
  end(reason: SessionEndReason): void;
  /** Optional: after `write` returned false, call `resume` once the sink can take more (e.g. on `drain`). */
  onDrain?(resume: () => void): void;
}

/** What `onPublish` (and a caller that keeps it, to kick the publish later) sees of a session. */
export interface PublishingSession {
  /** Random id for logs (10 hex characters); not the route session id. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly state: SessionState;
  /** The application from `connect`, once accepted. */
  readonly app: string | undefined;
  /** `keyFingerprint()` of the stream key, once `publish` arrived: safe to log. */
  readonly keyFingerprint: string | undefined;
  /** End the session now (default reason `kicked`); the sink gets `end(reason)`. Idempotent. */
  close(reason?: SessionEndReason): void;
}

export interface PublishRequest {
  /** The session asking; keep it to kick the publish later (`session.close('kicked')`). */
  readonly session: PublishingSession;
  /** The application from `connect` (always one of `RtmpServerOptions.apps`). */
  readonly app: string;
  /** The stream key: the publish name with any `?query` removed. Secret: never log it. */
  readonly key: string;
  /** The publish type the client asked for (`live`, `record`, `append`); informational. */
  readonly publishType: string;
}

export type PublishRejectCode = 'NetStream.Publish.BadName' | 'NetStream.Publish.Denied';

export interface PublishRejection {
  readonly accept: false;
  /** Default `NetStream.Publish.Denied`. */
  readonly code?: PublishRejectCode;
  /** Sent to the client as the onStatus description. Must not contain the key. Default "Publishing refused". */
  readonly description?: string;
}

/**
 * What `onPublish` decides. `Accepted` lets a caller carry its own fields on an acceptance (the stream manager
 * adds its `playbackId`); the server reads only `accept` and `sink`.
 */
export type PublishDecision<Accepted extends object = Record<never, never>> =
  | ({ readonly accept: true; readonly sink: FlvSink } & Accepted)
  | PublishRejection;

export type OnPublish = (request: PublishRequest) => PublishDecision | Promise<PublishDecision>;

/**
 * The logging shape the server uses; Powertools `Logger` (core/logger.ts) fits it. The server always passes
 * one structured object after the message (session id, remote IP, app, key fingerprint, …), never a stream key.
 */
export interface RtmpLogger {
  debug(message: string, ...extra: Record<string, unknown>[]): void;
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/**
 * A session's lifecycle events (`session.on(name, listener)`), in the order they can happen. Listeners run
 * synchronously; one that throws is logged and does not affect the session.
 */
export interface SessionEvents {
  /** C0+C1 and C2 are in; `digest` tells whether the Flash-style digest form was answered. */
  'handshake-done': [{ readonly digest: boolean }];
  /** `connect` was accepted for `app`. */
  connected: [{ readonly app: string }];
  /** `publish` arrived with a well-formed key; `onPublish` is asked now. */
  'publish-requested': [{ readonly keyFingerprint: string; readonly publishType: string }];
  /** `onPublish` accepted; NetStream.Publish.Start was sent and the FLV header written to the sink. */
  'publish-started': [];
  /** An accepted publish ended; its sink got `end(reason)`. */
  'publish-ended': [{ readonly reason: SessionEndReason; readonly durationMs: number; readonly mediaMessages: number }];
  /** The session ended (once): state `closed`, timers cleared, the socket ended or destroyed. */
  ended: [{ readonly reason: SessionEndReason }];
  /** The socket has closed; emitted once, last. (An in-memory duplex that never closes never emits it.) */
  closed: [{ readonly reason: SessionEndReason }];
}

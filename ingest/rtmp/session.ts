/**
 * One RTMP connection, publish side only. The session owns the socket, the chunk stream and the timers, and
 * puts the three stages of a connection together:
 * - the handshake (`handshake.ts`, a state machine over C0/C1/C2),
 * - the NetConnection/NetStream commands (`commands.ts`, pure: a command in, actions out),
 * - the accepted publish (`publish.ts`: media to the sink, backpressure, the idle timer).
 * Protocol control messages (chunk size, abort, acknowledgements, ping) are handled here.
 *
 * Nothing here throws out of a socket callback: every handler catches, logs once and closes this connection
 * only. A protocol violation (bad version, malformed chunk or AMF0, an over-limit length, a command out of
 * order) ends the connection with reason `error`. Time comes from the injected clock; the lifecycle is
 * observable as events (`SessionEvents`).
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { keyFingerprint } from '../../core/model.js';
import { Amf0Error } from './amf0.js';
import { ChunkReader, RtmpProtocolError, type RtmpMessage } from './chunk-reader.js';
import { ChunkWriter } from './chunk-writer.js';
import { NO_TIMER, type Timer } from './clock.js';
import {
  type CommandAction,
  controlReply,
  handleCommand,
  PUBLISH_STREAM_ID,
  publishRejectActions,
  publishStartReplies,
  type Reply,
} from './commands.js';
import { ServerHandshake } from './handshake.js';
import { errorText, logTo } from './log.js';
import { acknowledgementPayload, isControlType, MessageType, UserControlEvent, userControlPayload } from './messages.js';
import type { ResolvedRtmpOptions } from './options.js';
import { endSink, Publish } from './publish.js';
import type { LogLevel, PublishDecision, PublishingSession, SessionEndReason, SessionEvents, SessionState } from './types.js';

export { normalizeApp, streamKeyOf } from './commands.js';
export type { SessionState } from './types.js';

/** The socket a session runs on: a `net.Socket`, or any duplex stream (e.g. in a fuzzing harness). */
export type SessionSocket = Duplex & { readonly remoteAddress?: string; readonly remotePort?: number };

/** Control and user control messages are a few bytes; anything longer is garbage. */
const MAX_CONTROL_LENGTH = 64;
/** Acknowledgement windows smaller than this are raised to it, so a peer cannot make us ack every byte. */
const MIN_ACK_WINDOW = 4096;
/** After a graceful end (error status sent), how long the peer gets to read it before the socket is destroyed. */
const END_GRACE_MS = 2000;

export class RtmpSession extends EventEmitter<SessionEvents> implements PublishingSession {
  /** Random id for logs (10 hex characters); not the route session id. */
  readonly id = randomBytes(5).toString('hex');
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Epoch ms (of the injected clock) when the TCP connection was accepted. */
  readonly connectedAt: number;

  readonly #socket: SessionSocket;
  readonly #options: ResolvedRtmpOptions;
  readonly #reader: ChunkReader;
  readonly #writer = new ChunkWriter();
  readonly #handshake = new ServerHandshake();

  #state: SessionState = 'handshake';
  #endReason: SessionEndReason | undefined;
  #app: string | undefined;
  #fingerprint: string | undefined;
  #publishStreamId = PUBLISH_STREAM_ID;
  #publish: Publish | undefined;
  /** Whether 'publish-started' was emitted, so 'publish-ended' pairs with it. */
  #publishAnnounced = false;

  #bytesIn = 0;
  #ackWindow = 0;
  #lastAckAt = 0;

  #handshakeTimer: Timer = NO_TIMER;
  #publishTimer: Timer = NO_TIMER;
  #graceTimer: Timer = NO_TIMER;
  #socketClosed = false;

  /** Sessions are created by `RtmpServer`; the constructor is public for harnesses that bring their own socket. */
  constructor(socket: SessionSocket, options: ResolvedRtmpOptions) {
    super();
    this.#socket = socket;
    this.#options = options;
    this.connectedAt = options.clock.now();
    this.remoteAddress = normalizeIp(socket.remoteAddress) ?? 'unknown';
    this.remotePort = socket.remotePort ?? 0;
    this.#reader = new ChunkReader({
      onMessage: (m) => this.#onMessage(m),
      maxChunkStreams: options.maxChunkStreams,
      maxMessageLength: (type) => this.#lengthLimit(type),
      maxBufferedBytes: options.maxCommandLength,
    });
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('error', (err: Error) => this.#onSocketError(err));
    socket.on('close', () => this.#onSocketClose());
    this.#handshakeTimer = options.clock.setTimeout(() => this.#timeout('handshake'), options.handshakeTimeoutMs);
    this.#publishTimer = options.clock.setTimeout(() => this.#timeout('publish start'), options.publishTimeoutMs);
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The application from `connect`, once accepted. */
  get app(): string | undefined {
    return this.#app;
  }

  /** `keyFingerprint()` of the stream key, once `publish` arrived: safe to log. */
  get keyFingerprint(): string | undefined {
    return this.#fingerprint;
  }

  /** Why the session ended, once closed. */
  get endReason(): SessionEndReason | undefined {
    return this.#endReason;
  }

  /** Whether C1 carried a Flash-style digest (answered with a digest-bearing S1/S2). */
  get digestHandshake(): boolean {
    return this.#handshake.digest;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Audio, video and data messages received while publishing. */
  get mediaMessages(): number {
    return this.#publish?.mediaMessages ?? 0;
  }

  /**
   * End the session now: the sink (if any) gets `end(reason)`, the socket is destroyed. Idempotent.
   * Default reason `kicked`.
   */
  close(reason: SessionEndReason = 'kicked'): void {
    if (this.#state === 'closed') return;
    const active = this.#state === 'publishing' || this.#state === 'authorizing';
    this.#log(active ? 'info' : 'debug', 'rtmp session closed by the server', { reason });
    this.#finish(reason, 'destroy');
  }

  // ---- socket events ----

  #onData(data: Buffer): void {
    if (this.#state === 'closed') return;
    try {
      this.#bytesIn += data.length;
      if (this.#state === 'handshake') {
        const step = this.#handshake.push(data);
        if (step.response) this.#socket.write(step.response);
        if (step.done) {
          this.#state = 'connecting';
          this.#handshakeTimer.cancel();
          this.#log('debug', 'rtmp handshake done', { digest: this.#handshake.digest });
          this.#emit('handshake-done', { digest: this.#handshake.digest });
          if (step.rest.length > 0 && this.#state === 'connecting') this.#reader.push(step.rest);
        }
      } else {
        this.#reader.push(data);
      }
      if (this.state === 'closed') return; // the getter: a handler above may have closed the session
      this.#maybeAcknowledge();
      if (this.#socket.writableLength > this.#options.maxOutputBuffer) {
        throw new RtmpProtocolError('peer is not reading its responses');
      }
      this.#publish?.applyBackpressure();
    } catch (err) {
      this.#fail(err);
    }
  }

  #onSocketError(err: Error): void {
    // Resets and broken pipes are ordinary for a TCP server; 'close' follows.
    this.#log('debug', 'rtmp socket error', { error: (err as NodeJS.ErrnoException).code ?? err.message });
    this.#peerClosed();
  }

  #onSocketClose(): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    this.#peerClosed();
    this.#graceTimer.cancel();
    this.#emit('closed', { reason: this.#endReason ?? 'disconnect' });
  }

  /**
   * The peer hung up (or reset) first. A publishing session logs its end in `#finish`; any other session's
   * one closing line is this, at debug: scanners and half-open connections must not flood the logs.
   */
  #peerClosed(): void {
    if (this.#state === 'closed') return;
    if (this.#state !== 'publishing') this.#log('debug', 'rtmp connection closed by peer', { state: this.#state, bytesIn: this.#bytesIn });
    this.#finish('disconnect', 'destroy');
  }

  // ---- messages ----

  #lengthLimit(type: number): number {
    if (isControlType(type)) return MAX_CONTROL_LENGTH;
    const media = type === MessageType.Audio || type === MessageType.Video || type === MessageType.Aggregate;
    return media && this.#state === 'publishing' ? this.#options.maxMessageLength : this.#options.maxCommandLength;
  }

  #onMessage(m: RtmpMessage): void {
    if (this.#state === 'closed') return;
    switch (m.type) {
      case MessageType.SetChunkSize: {
        const size = readU32(m, 'Set Chunk Size');
        if (size < 1 || size > this.#options.maxChunkSize) {
          throw new RtmpProtocolError(`chunk size ${size} outside 1..${this.#options.maxChunkSize}`);
        }
        this.#reader.chunkSize = size;
        return;
      }
      case MessageType.Abort:
        this.#reader.abort(readU32(m, 'Abort'));
        return;
      case MessageType.WindowAckSize: {
        const size = readU32(m, 'Window Acknowledgement Size');
        this.#ackWindow = size === 0 ? 0 : Math.max(size, MIN_ACK_WINDOW);
        return;
      }
      case MessageType.UserControl:
        this.#userControl(m);
        return;
      case MessageType.Acknowledgement:
      case MessageType.SetPeerBandwidth:
        return;
      case MessageType.Audio:
      case MessageType.Video:
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
      case MessageType.Aggregate:
        // Nothing flows before NetStream.Publish.Start.
        if (this.#state === 'publishing') this.#publish?.message(m);
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        this.#apply(
          handleCommand(m, {
            state: this.#state,
            apps: this.#options.apps,
            maxKeyLength: this.#options.maxKeyLength,
            outChunkSize: this.#options.outChunkSize,
            windowAckSize: this.#options.windowAckSize,
          }),
        );
        return;
      default:
        // Shared objects (16, 19) and unknown types: ignored.
        return;
    }
  }

  #userControl(m: RtmpMessage): void {
    if (m.payload.length < 2) throw new RtmpProtocolError('user control message shorter than 2 bytes');
    const event = m.payload.readUInt16BE(0);
    if (event === UserControlEvent.PingRequest) {
      if (m.payload.length < 6) throw new RtmpProtocolError('ping request shorter than 6 bytes');
      this.#send(controlReply(MessageType.UserControl, userControlPayload(UserControlEvent.PingResponse, m.payload.readUInt32BE(2))));
    }
  }

  /** Carry out what the command handling decided, in order. */
  #apply(actions: readonly CommandAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'send':
          this.#send(action.reply);
          break;
        case 'out-chunk-size':
          this.#writer.chunkSize = action.size;
          break;
        case 'connected':
          this.#app = action.app;
          this.#state = 'connected';
          this.#emit('connected', { app: action.app });
          break;
        case 'publish':
          this.#requestPublish(action.streamId, action.key, action.publishType);
          break;
        case 'end':
          this.#finish(action.reason, 'end');
          break;
        case 'log':
          this.#log(action.level, action.message, action.extra);
          break;
      }
    }
  }

  // ---- publish ----

  #requestPublish(streamId: number, key: string, publishType: string): void {
    this.#publishStreamId = streamId;
    this.#state = 'authorizing';
    this.#fingerprint = keyFingerprint(key);
    this.#log('info', 'rtmp publish requested');
    this.#emit('publish-requested', { keyFingerprint: this.#fingerprint, publishType });
    const app = this.#app!;
    Promise.resolve()
      .then(() => this.#options.onPublish({ session: this, app, key, publishType }))
      .then(
        (decision) => this.#decide(decision),
        (err: unknown) => {
          this.#log('error', 'rtmp onPublish failed', { error: errorText(err) });
          this.#decide({ accept: false, code: 'NetStream.Publish.Denied', description: 'Publishing is unavailable' });
        },
      );
  }

  #decide(decision: PublishDecision | undefined): void {
    try {
      const accepted = decision?.accept === true;
      if (this.#state !== 'authorizing') {
        // Closed (timeout, disconnect, kick) while onPublish ran: the caller still owns the sink, so end it.
        if (accepted) endSink(decision.sink, this.#endReason ?? 'disconnect', (level, message, extra) => this.#log(level, message, extra));
        return;
      }
      if (!accepted) {
        const code = decision?.accept === false && decision.code === 'NetStream.Publish.BadName' ? decision.code : 'NetStream.Publish.Denied';
        const description = (decision?.accept === false && decision.description) || 'Publishing refused';
        this.#log('info', 'rtmp publish rejected', { code });
        this.#apply(publishRejectActions(this.#publishStreamId, code, description));
        return;
      }
      this.#publish = new Publish(
        decision.sink,
        { clock: this.#options.clock, idleTimeoutMs: this.#options.idleTimeoutMs },
        {
          pauseInput: () => this.#socket.pause(),
          resumeInput: () => {
            if (this.#state !== 'closed') this.#socket.resume();
          },
          idle: () => this.#timeout('media idle'),
          log: (level, message, extra) => this.#log(level, message, extra),
        },
      );
      this.#state = 'publishing';
      this.#publishTimer.cancel();
      this.#reader.maxBufferedBytes = this.#options.maxMessageLength;
      for (const reply of publishStartReplies(this.#publishStreamId)) this.#send(reply);
      this.#publish.start();
      if (this.#state !== 'publishing') return; // the sink closed the session from its first write
      this.#log('info', 'rtmp publish started');
      this.#publishAnnounced = true;
      this.#emit('publish-started');
    } catch (err) {
      this.#fail(err);
    }
  }

  // ---- output ----

  #send(reply: Reply): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(this.#writer.encode({ ...reply, timestamp: 0 }));
  }

  #maybeAcknowledge(): void {
    if (this.#ackWindow === 0 || this.#state === 'handshake') return;
    if (this.#bytesIn - this.#lastAckAt < this.#ackWindow) return;
    this.#lastAckAt = this.#bytesIn;
    this.#send(controlReply(MessageType.Acknowledgement, acknowledgementPayload(this.#bytesIn % 2 ** 32)));
  }

  // ---- timers and ending ----

  #timeout(which: string): void {
    if (this.#state === 'closed') return;
    if (which === 'publish start' && this.#state === 'publishing') return;
    this.#log('info', `rtmp ${which} timeout`, { state: this.#state });
    this.#finish('timeout', 'destroy');
  }

  #fail(err: unknown): void {
    if (this.#state === 'closed') return;
    if (err instanceof RtmpProtocolError || err instanceof Amf0Error) {
      this.#log('warn', 'rtmp protocol violation', { error: err.message, state: this.#state });
    } else {
      this.#log('error', 'rtmp session failed', { error: errorText(err), state: this.#state });
    }
    this.#finish('error', 'destroy');
  }

  /**
   * The one way a session ends. `end` sends FIN after queued output (so a client reads the error status) and
   * destroys the socket after a grace period; `destroy` closes at once.
   */
  #finish(reason: SessionEndReason, mode: 'end' | 'destroy'): void {
    if (this.#state === 'closed') return;
    const publish = this.#state === 'publishing' ? this.#publish : undefined;
    this.#state = 'closed';
    this.#endReason = reason;
    this.#handshakeTimer.cancel();
    this.#publishTimer.cancel();
    this.#reader.stop();
    this.#handshake.release();
    if (publish) {
      publish.end(reason);
      const durationMs = this.#options.clock.now() - publish.startedAt;
      this.#log('info', 'rtmp publish ended', { reason, durationMs, bytesIn: this.#bytesIn, mediaMessages: publish.mediaMessages });
      if (this.#publishAnnounced) this.#emit('publish-ended', { reason, durationMs, mediaMessages: publish.mediaMessages });
    }
    this.#emit('ended', { reason });
    if (mode === 'end' && !this.#socket.destroyed) {
      this.#socket.end();
      this.#graceTimer = this.#options.clock.setTimeout(() => this.#socket.destroy(), END_GRACE_MS);
    } else {
      this.#socket.destroy();
    }
  }

  /** Emit a lifecycle event; a listener that throws is logged and does not affect the session. */
  #emit<K extends keyof SessionEvents>(name: K, ...args: SessionEvents[K]): void {
    try {
      (this.emit as (name: K, ...args: SessionEvents[K]) => boolean)(name, ...args);
    } catch (err) {
      this.#log('error', 'rtmp session event listener failed', { event: name, error: errorText(err) });
    }
  }

  /** @internal logging with the session's context; never the key, only its fingerprint. */
  #log(level: LogLevel, message: string, extra: Record<string, unknown> = {}): void {
    logTo(this.#options.logger, level, message, {
      session: this.id,
      remote: this.remoteAddress,
      ...(this.#app ? { app: this.#app } : {}),
      ...(this.#fingerprint ? { keyFingerprint: this.#fingerprint } : {}),
      ...extra,
    });
  }
}

function readU32(m: RtmpMessage, what: string): number {
  if (m.payload.length < 4) throw new RtmpProtocolError(`${what} message shorter than 4 bytes`);
  return m.payload.readUInt32BE(0);
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 peers on a dual-stack listener count as one address. */
export function normalizeIp(address: string | undefined): string | undefined {
  if (!address) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * One RTMP connection, publish side only: handshake, chunk stream, NetConnection/NetStream commands, and the
 * media of one accepted publish turned into an FLV byte stream for a sink.
 *
 * Nothing here throws out of a socket callback: every handler catches, logs once and closes this connection
 * only. A protocol violation (bad version, malformed chunk or AMF0, an over-limit length, a command out of
 * order) ends the connection with reason `error`.
 */
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { keyFingerprint } from '../../core/model.js';
import { Amf0Error, type Amf0Value, decodeAmf0, encodeAmf0, isAmf0Object } from './amf0.js';
import { ChunkReader, RtmpProtocolError, type RtmpMessage } from './chunk-reader.js';
import { ChunkWriter } from './chunk-writer.js';
import { flvHeader, flvTag, FlvTagType, scriptTagData, splitAggregate } from './flv.js';
import { createServerHandshake, HANDSHAKE_SIZE, RTMP_VERSION } from './handshake.js';
import {
  acknowledgementPayload,
  ChunkStreamId,
  isControlType,
  MessageType,
  PeerBandwidthLimit,
  setChunkSizePayload,
  setPeerBandwidthPayload,
  UserControlEvent,
  userControlPayload,
  windowAckSizePayload,
} from './messages.js';
import type { FlvSink, PublishDecision, PublishRejectCode, ResolvedRtmpOptions, SessionEndReason } from './options.js';

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

/** The socket a session runs on: a `net.Socket`, or any duplex stream (e.g. in a fuzzing harness). */
export type SessionSocket = Duplex & { readonly remoteAddress?: string; readonly remotePort?: number };

/** How the server learns about a session's life; internal to the server. */
export interface SessionHooks {
  onPublishStart(session: RtmpSession): void;
  onPublishEnd(session: RtmpSession): void;
  /** The socket has closed; called once, last. */
  onClosed(session: RtmpSession): void;
}

const NO_HOOKS: SessionHooks = { onPublishStart() {}, onPublishEnd() {}, onClosed() {} };

/** Control and user control messages are a few bytes; anything longer is garbage. */
const MAX_CONTROL_LENGTH = 64;
/** Acknowledgement windows smaller than this are raised to it, so a peer cannot make us ack every byte. */
const MIN_ACK_WINDOW = 4096;
/** After a graceful end (error status sent), how long the peer gets to read it before the socket is destroyed. */
const END_GRACE_MS = 2000;
/** The NetStream id `createStream` hands out. One publish per connection. */
const PUBLISH_STREAM_ID = 1;
const MAX_APP_LENGTH = 256;

/** `connect`'s app without `?query` and trailing slashes (no regular expression: the input is hostile). */
export function normalizeApp(app: string): string {
  const q = app.indexOf('?');
  let end = q >= 0 ? q : app.length;
  while (end > 0 && app.charCodeAt(end - 1) === 0x2f) end--;
  return app.slice(0, end);
}

/** The stream key of a publish name: everything before the first `?`. */
export function streamKeyOf(name: string): string {
  const q = name.indexOf('?');
  return q >= 0 ? name.slice(0, q) : name;
}

export class RtmpSession {
  /** Random id for logs (10 hex characters); not the route session id. */
  readonly id = randomBytes(5).toString('hex');
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** Epoch ms when the TCP connection was accepted. */
  readonly connectedAt = Date.now();

  readonly #socket: SessionSocket;
  readonly #options: ResolvedRtmpOptions;
  readonly #hooks: SessionHooks;
  readonly #reader: ChunkReader;
  readonly #writer = new ChunkWriter();

  #state: SessionState = 'handshake';
  #endReason: SessionEndReason | undefined;
  /** Handshake progress: bytes of C0+C1 collected, then bytes of C2 still to skip. */
  #c0c1: Buffer | null = Buffer.allocUnsafe(1 + HANDSHAKE_SIZE);
  #c0c1Filled = 0;
  #c2Left = HANDSHAKE_SIZE;
  #digestHandshake = false;

  #app: string | undefined;
  #fingerprint: string | undefined;
  #publishStreamId = PUBLISH_STREAM_ID;
  #sink: FlvSink | undefined;
  #publishStartedAt = 0;
  #lastMediaAt = 0;
  #mediaMessages = 0;

  #bytesIn = 0;
  #ackWindow = 0;
  #lastAckAt = 0;
  #pauseForDrain = false;
  #waitingForDrain = false;

  #handshakeTimer: NodeJS.Timeout | undefined;
  #publishTimer: NodeJS.Timeout | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #socketClosed = false;

  /** Sessions are created by `RtmpServer`; the constructor is public for harnesses that bring their own socket. */
  constructor(socket: SessionSocket, options: ResolvedRtmpOptions, hooks: SessionHooks = NO_HOOKS) {
    this.#socket = socket;
    this.#options = options;
    this.#hooks = hooks;
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
    this.#handshakeTimer = setTimeout(() => this.#timeout('handshake'), options.handshakeTimeoutMs).unref();
    this.#publishTimer = setTimeout(() => this.#timeout('publish start'), options.publishTimeoutMs).unref();
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
    return this.#digestHandshake;
  }

  get bytesIn(): number {
    return this.#bytesIn;
  }

  /** Audio, video and data messages received while publishing. */
  get mediaMessages(): number {
    return this.#mediaMessages;
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
        const rest = this.#handshake(data);
        if (rest && rest.length > 0) this.#reader.push(rest);
      } else {
        this.#reader.push(data);
      }
      if (this.state === 'closed') return;
      this.#maybeAcknowledge();
      if (this.#socket.writableLength > this.#options.maxOutputBuffer) {
        throw new RtmpProtocolError('peer is not reading its responses');
      }
      if (this.#pauseForDrain) this.#pauseUntilDrained();
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
    clearTimeout(this.#graceTimer);
    try {
      this.#hooks.onClosed(this);
    } catch (err) {
      this.#log('error', 'rtmp session close hook failed', { error: errorText(err) });
    }
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

  // ---- handshake ----

  /** Consume handshake bytes; returns what follows C2 (the first chunks), if anything. */
  #handshake(data: Buffer): Buffer | undefined {
    let pos = 0;
    const c0c1 = this.#c0c1;
    if (c0c1) {
      const n = Math.min(c0c1.length - this.#c0c1Filled, data.length);
      data.copy(c0c1, this.#c0c1Filled, 0, n);
      this.#c0c1Filled += n;
      pos = n;
      if (c0c1[0] !== RTMP_VERSION) throw new RtmpProtocolError(`unsupported RTMP version ${c0c1[0]}`);
      if (this.#c0c1Filled < c0c1.length) return undefined;
      const { response, digest } = createServerHandshake(c0c1.subarray(1));
      this.#digestHandshake = digest;
      this.#c0c1 = null;
      this.#socket.write(response);
    }
    const skip = Math.min(this.#c2Left, data.length - pos);
    this.#c2Left -= skip;
    pos += skip;
    if (this.#c2Left > 0) return undefined;
    this.#state = 'connecting';
    clearTimeout(this.#handshakeTimer);
    this.#log('debug', 'rtmp handshake done', { digest: this.#digestHandshake });
    return data.subarray(pos);
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
        this.#media(m.type, m.timestamp, m.payload);
        return;
      case MessageType.DataAmf0:
      case MessageType.DataAmf3:
        this.#data(m);
        return;
      case MessageType.Aggregate:
        this.#aggregate(m);
        return;
      case MessageType.CommandAmf0:
      case MessageType.CommandAmf3:
        this.#command(m);
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
      this.#send(ChunkStreamId.Control, MessageType.UserControl, 0, userControlPayload(UserControlEvent.PingResponse, m.payload.readUInt32BE(2)));
    }
  }

  #media(type: number, timestamp: number, payload: Buffer): void {
    if (this.#state !== 'publishing') return; // nothing flows before NetStream.Publish.Start
    this.#lastMediaAt = Date.now();
    this.#mediaMessages++;
    this.#writeSink(flvTag(type, timestamp, payload));
  }

  #data(m: RtmpMessage): void {
    if (this.#state !== 'publishing') return;
    // AMF3 data messages start with a format byte 0 before AMF0 values.
    const body = m.type === MessageType.DataAmf3 && m.payload[0] === 0 ? m.payload.subarray(1) : m.payload;
    const script = scriptTagData(body);
    this.#lastMediaAt = Date.now();
    if (script) this.#media(FlvTagType.Script, m.timestamp, script);
  }

  #aggregate(m: RtmpMessage): void {
    if (this.#state !== 'publishing') return;
    const { tags, truncated } = splitAggregate(m.payload, m.timestamp);
    if (truncated) throw new RtmpProtocolError('aggregate message with a truncated sub-message');
    for (const tag of tags) {
      if (this.#state !== 'publishing') return;
      if (tag.type === FlvTagType.Audio || tag.type === FlvTagType.Video) {
        this.#media(tag.type, tag.timestamp, tag.data);
      } else if (tag.type === FlvTagType.Script) {
        const script = scriptTagData(tag.data);
        if (script) this.#media(FlvTagType.Script, tag.timestamp, script);
      }
    }
  }

  #command(m: RtmpMessage): void {
    let values: Amf0Value[];
    if (m.type === MessageType.CommandAmf3) {
      // Tolerated: AMF3 commands start with a format byte 0 and usually carry AMF0 values. What does not
      // decode as AMF0 is ignored rather than treated as a violation.
      try {
        values = decodeAmf0(m.payload[0] === 0 ? m.payload.subarray(1) : m.payload);
      } catch (err) {
        if (!(err instanceof Amf0Error)) throw err;
        this.#log('debug', 'rtmp AMF3 command ignored', { error: err.message });
        return;
      }
      if (typeof values[0] !== 'string') return;
    } else {
      values = decodeAmf0(m.payload);
    }
    const [name, transaction] = values;
    if (typeof name !== 'string') throw new RtmpProtocolError('command without a name');
    const tx = typeof transaction === 'number' && Number.isFinite(transaction) ? transaction : 0;

    if (this.#state === 'connecting') {
      if (name !== 'connect') throw new RtmpProtocolError(`command before connect`);
      this.#connect(tx, values[2]);
      return;
    }
    switch (name) {
      case 'connect':
        throw new RtmpProtocolError('second connect');
      case 'FCUnpublish':
        // The publisher stops (FMLE, OBS and FFmpeg send it first, then deleteStream, then close the socket
        // without reading). It ends the publish like deleteStream, and gets no answer: an answer the peer
        // never reads makes its close() an abortive one (RST), which can drop the deleteStream it had not
        // sent yet (docs/rtmp.md, "How a publish ends").
        if (this.#state === 'publishing' || this.#state === 'authorizing') {
          this.#finish('unpublish', 'end');
          return;
        }
        if (tx > 0) this.#sendCommand(m.streamId, '_result', tx, null, undefined);
        return;
      case 'releaseStream':
      case 'FCPublish':
        if (tx > 0) this.#sendCommand(m.streamId, '_result', tx, null, undefined);
        return;
      case 'createStream':
        this.#sendCommand(0, '_result', tx, null, PUBLISH_STREAM_ID);
        return;
      case 'publish':
        this.#publish(m.streamId, values[3], values[4]);
        return;
      case 'deleteStream':
      case 'closeStream':
        if (this.#state === 'publishing' || this.#state === 'authorizing') this.#finish('unpublish', 'end');
        return;
      case 'play':
      case 'play2':
      case 'getStreamLength':
        this.#log('info', 'rtmp play refused', { command: name });
        this.#sendStatus(m.streamId || PUBLISH_STREAM_ID, 'error', 'NetStream.Play.Failed', 'This server only accepts publishing');
        this.#finish('error', 'end');
        return;
      default:
        this.#log('debug', 'rtmp command ignored', { command: name.slice(0, 64) });
        return;
    }
  }

  #connect(tx: number, commandObject: Amf0Value): void {
    const rawApp = isAmf0Object(commandObject) ? commandObject.app : undefined;
    const app = typeof rawApp === 'string' && rawApp.length <= MAX_APP_LENGTH ? normalizeApp(rawApp) : undefined;
    if (app === undefined || !this.#options.apps.includes(app)) {
      // The app name is not logged: a streamer who pasted the key into the server URL would leak it.
      this.#log('info', 'rtmp connect rejected: unknown application');
      this.#sendCommand(0, '_error', tx, null, {
        level: 'error',
        code: 'NetConnection.Connect.Rejected',
        description: `Unknown application; use one of: ${this.#options.apps.join(', ')}`,
      });
      this.#finish('error', 'end');
      return;
    }
    this.#app = app;
    this.#state = 'connected';
    const window = this.#options.windowAckSize;
    this.#send(ChunkStreamId.Control, MessageType.WindowAckSize, 0, windowAckSizePayload(window));
    this.#send(ChunkStreamId.Control, MessageType.SetPeerBandwidth, 0, setPeerBandwidthPayload(window, PeerBandwidthLimit.Dynamic));
    this.#send(ChunkStreamId.Control, MessageType.SetChunkSize, 0, setChunkSizePayload(this.#options.outChunkSize));
    this.#writer.chunkSize = this.#options.outChunkSize;
    this.#sendCommand(
      0,
      '_result',
      tx,
      { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
      { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 },
    );
  }

  #publish(streamId: number, rawName: Amf0Value, rawType: Amf0Value): void {
    if (this.#state === 'authorizing' || this.#state === 'publishing') throw new RtmpProtocolError('second publish');
    this.#publishStreamId = streamId || PUBLISH_STREAM_ID;
    const key = typeof rawName === 'string' ? streamKeyOf(rawName) : '';
    if (key.length === 0 || key.length > this.#options.maxKeyLength) {
      this.#log('info', 'rtmp publish rejected: missing or overlong stream key');
      this.#reject('NetStream.Publish.BadName', 'Invalid stream key');
      return;
    }
    this.#state = 'authorizing';
    this.#fingerprint = keyFingerprint(key);
    const publishType = typeof rawType === 'string' ? rawType.slice(0, 16) : 'live';
    this.#log('info', 'rtmp publish requested');
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
        if (accepted) this.#endSink(decision.sink, this.#endReason ?? 'disconnect');
        return;
      }
      if (!accepted) {
        const code = decision?.accept === false && decision.code === 'NetStream.Publish.BadName' ? decision.code : 'NetStream.Publish.Denied';
        const description = (decision?.accept === false && decision.description) || 'Publishing refused';
        this.#log('info', 'rtmp publish rejected', { code });
        this.#reject(code, description);
        return;
      }
      const sink = decision.sink;
      if (!sink || typeof sink.write !== 'function' || typeof sink.end !== 'function') {
        throw new TypeError('onPublish accepted without a sink having write() and end()');
      }
      this.#sink = sink;
      this.#state = 'publishing';
      this.#publishStartedAt = Date.now();
      this.#lastMediaAt = this.#publishStartedAt;
      clearTimeout(this.#publishTimer);
      this.#reader.maxBufferedBytes = this.#options.maxMessageLength;
      this.#hooks.onPublishStart(this);
      this.#send(ChunkStreamId.Control, MessageType.UserControl, 0, userControlPayload(UserControlEvent.StreamBegin, this.#publishStreamId));
      this.#sendStatus(this.#publishStreamId, 'status', 'NetStream.Publish.Start', 'Start publishing');
      this.#writeSink(flvHeader());
      this.#armIdleTimer(this.#options.idleTimeoutMs);
      this.#log('info', 'rtmp publish started');
    } catch (err) {
      this.#fail(err);
    }
  }

  #reject(code: PublishRejectCode, description: string): void {
    this.#sendStatus(this.#publishStreamId, 'error', code, description);
    this.#finish('error', 'end');
  }

  // ---- output ----

  #send(csid: number, type: number, streamId: number, payload: Buffer): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#socket.write(this.#writer.encode({ csid, type, streamId, timestamp: 0, payload }));
  }

  #sendCommand(streamId: number, name: string, tx: number, ...args: Amf0Value[]): void {
    this.#send(ChunkStreamId.Command, MessageType.CommandAmf0, streamId, encodeAmf0(name, tx, ...args));
  }

  #sendStatus(streamId: number, level: 'status' | 'error', code: string, description: string): void {
    this.#send(ChunkStreamId.Status, MessageType.CommandAmf0, streamId, encodeAmf0('onStatus', 0, null, { level, code, description }));
  }

  #maybeAcknowledge(): void {
    if (this.#ackWindow === 0 || this.#state === 'handshake') return;
    if (this.#bytesIn - this.#lastAckAt < this.#ackWindow) return;
    this.#lastAckAt = this.#bytesIn;
    this.#send(ChunkStreamId.Control, MessageType.Acknowledgement, 0, acknowledgementPayload(this.#bytesIn % 2 ** 32));
  }

  #writeSink(buf: Buffer): void {
    const sink = this.#sink;
    if (!sink) return;
    if (sink.write(buf) === false && sink.onDrain && !this.#waitingForDrain) this.#pauseForDrain = true;
  }

  #pauseUntilDrained(): void {
    const sink = this.#sink;
    this.#pauseForDrain = false;
    if (!sink?.onDrain || this.#waitingForDrain) return;
    this.#waitingForDrain = true;
    this.#socket.pause();
    sink.onDrain(() => {
      if (!this.#waitingForDrain) return;
      this.#waitingForDrain = false;
      if (this.#state !== 'closed') this.#socket.resume();
    });
  }

  // ---- timers and ending ----

  #armIdleTimer(delay: number): void {
    this.#idleTimer = setTimeout(() => {
      if (this.#state !== 'publishing') return;
      const idle = Date.now() - this.#lastMediaAt;
      if (idle >= this.#options.idleTimeoutMs) this.#timeout('media idle');
      else this.#armIdleTimer(this.#options.idleTimeoutMs - idle);
    }, delay).unref();
  }

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
    const wasPublishing = this.#state === 'publishing';
    this.#state = 'closed';
    this.#endReason = reason;
    clearTimeout(this.#handshakeTimer);
    clearTimeout(this.#publishTimer);
    clearTimeout(this.#idleTimer);
    this.#reader.stop();
    this.#c0c1 = null;
    this.#waitingForDrain = false;
    const sink = this.#sink;
    this.#sink = undefined;
    if (sink) this.#endSink(sink, reason);
    if (wasPublishing) {
      this.#log('info', 'rtmp publish ended', {
        reason,
        durationMs: Date.now() - this.#publishStartedAt,
        bytesIn: this.#bytesIn,
        mediaMessages: this.#mediaMessages,
      });
      try {
        this.#hooks.onPublishEnd(this);
      } catch (err) {
        this.#log('error', 'rtmp publish end hook failed', { error: errorText(err) });
      }
    }
    if (mode === 'end' && !this.#socket.destroyed) {
      this.#socket.end();
      this.#graceTimer = setTimeout(() => this.#socket.destroy(), END_GRACE_MS).unref();
    } else {
      this.#socket.destroy();
    }
  }

  #endSink(sink: FlvSink | undefined, reason: SessionEndReason): void {
    if (!sink || typeof sink.end !== 'function') return;
    try {
      sink.end(reason);
    } catch (err) {
      this.#log('error', 'rtmp sink end() threw', { error: errorText(err) });
    }
  }

  /** @internal logging with the session's context; never the key, only its fingerprint. */
  #log(level: 'debug' | 'info' | 'warn' | 'error', message: string, extra: Record<string, unknown> = {}): void {
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

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A logger that throws must not take the session down with it. */
export function logTo(
  logger: ResolvedRtmpOptions['logger'],
  level: 'debug' | 'info' | 'warn' | 'error',
  message: string,
  extra: Record<string, unknown>,
): void {
  try {
    logger[level](message, extra);
  } catch {
    // ignore
  }
}

/** `::ffff:1.2.3.4` → `1.2.3.4`, so IPv4 peers on a dual-stack listener count as one address. */
export function normalizeIp(address: string | undefined): string | undefined {
  if (!address) return undefined;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

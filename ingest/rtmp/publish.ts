/**
 * An accepted publish: audio, video, data and aggregate messages turned into FLV for the sink, the sink's
 * backpressure (reading stops while it is full), and the media-idle timer. It owns the sink from the accept
 * on and ends it exactly once.
 */
import { RtmpProtocolError, type RtmpMessage } from './chunk-reader.js';
import { type Clock, NO_TIMER, type Timer } from './clock.js';
import { flvHeader, flvTag, FlvTagType, scriptTagData, splitAggregate } from './flv.js';
import { errorText } from './log.js';
import { MessageType } from './messages.js';
import type { FlvSink, LogLevel, SessionEndReason } from './types.js';

/** What a publish asks of its session. */
export interface PublishHooks {
  /** Stop reading the socket: the sink is full. */
  pauseInput(): void;
  /** Read again: the sink drained. */
  resumeInput(): void;
  /** No media for `idleTimeoutMs`. */
  idle(): void;
  log(level: LogLevel, message: string, extra?: Record<string, unknown>): void;
}

export interface PublishOptions {
  readonly clock: Clock;
  readonly idleTimeoutMs: number;
}

/** `sink.end(reason)`, where a sink that throws is logged, not propagated. */
export function endSink(sink: FlvSink | undefined, reason: SessionEndReason, log: PublishHooks['log']): void {
  if (!sink || typeof sink.end !== 'function') return;
  try {
    sink.end(reason);
  } catch (err) {
    log('error', 'rtmp sink end() threw', { error: errorText(err) });
  }
}

export class Publish {
  readonly #sink: FlvSink;
  readonly #options: PublishOptions;
  readonly #hooks: PublishHooks;
  /** Epoch ms of the accept. */
  readonly startedAt: number;
  #lastMediaAt: number;
  #mediaMessages = 0;
  #pauseForDrain = false;
  #waitingForDrain = false;
  #idleTimer: Timer = NO_TIMER;
  #ended = false;

  /** Throws `TypeError` if `sink` lacks `write()` and `end()`. */
  constructor(sink: FlvSink, options: PublishOptions, hooks: PublishHooks) {
    if (!sink || typeof sink.write !== 'function' || typeof sink.end !== 'function') {
      throw new TypeError('onPublish accepted without a sink having write() and end()');
    }
    this.#sink = sink;
    this.#options = options;
    this.#hooks = hooks;
    this.startedAt = options.clock.now();
    this.#lastMediaAt = this.startedAt;
  }

  /** Audio, video and data messages received. */
  get mediaMessages(): number {
    return this.#mediaMessages;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** Write the FLV header and arm the idle timer. */
  start(): void {
    this.#write(flvHeader());
    this.#armIdleTimer(this.#options.idleTimeoutMs);
  }

  /** An RTMP audio, video, data or aggregate message; other types are not media and are ignored. */
  message(m: RtmpMessage): void {
    switch (m.type) {
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
      default:
        return;
    }
  }

  /** Called after each read from the socket: if a write found the sink full, stop reading until it drains. */
  applyBackpressure(): void {
    if (!this.#pauseForDrain) return;
    this.#pauseForDrain = false;
    const sink = this.#sink;
    if (!sink.onDrain || this.#waitingForDrain || this.#ended) return;
    this.#waitingForDrain = true;
    this.#hooks.pauseInput();
    sink.onDrain(() => {
      if (!this.#waitingForDrain) return;
      this.#waitingForDrain = false;
      this.#hooks.resumeInput();
    });
  }

  /** End the publish: the sink's `end(reason)`, once. Later media is dropped; a late drain is ignored. */
  end(reason: SessionEndReason): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#idleTimer.cancel();
    this.#waitingForDrain = false;
    endSink(this.#sink, reason, this.#hooks.log);
  }

  #media(type: number, timestamp: number, payload: Buffer): void {
    this.#lastMediaAt = this.#options.clock.now();
    this.#mediaMessages++;
    const sink = this.#sink;
    if (typeof sink.message !== 'function') {
      this.#write(flvTag(type, timestamp, payload));
      return;
    }
    if (this.#ended) return;
    if (sink.message(type, timestamp, payload) === false && sink.onDrain && !this.#waitingForDrain) this.#pauseForDrain = true;
  }

  #data(m: RtmpMessage): void {
    // AMF3 data messages start with a format byte 0 before AMF0 values.
    const body = m.type === MessageType.DataAmf3 && m.payload[0] === 0 ? m.payload.subarray(1) : m.payload;
    const script = scriptTagData(body);
    this.#lastMediaAt = this.#options.clock.now();
    if (script) this.#media(FlvTagType.Script, m.timestamp, script);
  }

  #aggregate(m: RtmpMessage): void {
    const { tags, truncated } = splitAggregate(m.payload, m.timestamp);
    if (truncated) throw new RtmpProtocolError('aggregate message with a truncated sub-message');
    for (const tag of tags) {
      if (this.#ended) return; // a sink write may have ended the session
      if (tag.type === FlvTagType.Audio || tag.type === FlvTagType.Video) {
        this.#media(tag.type, tag.timestamp, tag.data);
      } else if (tag.type === FlvTagType.Script) {
        const script = scriptTagData(tag.data);
        if (script) this.#media(FlvTagType.Script, tag.timestamp, script);
      }
    }
  }

  #write(buf: Buffer): void {
    if (this.#ended) return;
    const sink = this.#sink;
    if (sink.write(buf) === false && sink.onDrain && !this.#waitingForDrain) this.#pauseForDrain = true;
  }

  #armIdleTimer(delay: number): void {
    this.#idleTimer = this.#options.clock.setTimeout(() => {
      if (this.#ended) return;
      const idle = this.#options.clock.now() - this.#lastMediaAt;
      if (idle >= this.#options.idleTimeoutMs) this.#hooks.idle();
      else this.#armIdleTimer(this.#options.idleTimeoutMs - idle);
    }, delay);
  }
}

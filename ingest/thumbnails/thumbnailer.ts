/**
 * One stream's thumbnails: watches the publish's media messages, keeps the latest AVC sequence header, and on the
 * first keyframe of each interval of media time hands that one access unit to the task's `ThumbnailPool`.
 */
import { newMediaUnit, parseVideoTag } from '../packager/flv.js';
import { type AvcConfig, PackagerError, parseAvcConfig } from '../packager/index.js';
import { accessUnitAnnexB, parameterSetsAnnexB, thumbnailSize } from './avc';
import type { DecodeFailure, DecodeOutcome, ThumbnailPool } from './pool';

export interface Thumbnail {
  readonly jpeg: Buffer;
  readonly width: number;
  readonly height: number;
  /** epoch ms when made */
  readonly takenAt: number;
  /** the keyframe's RTMP timestamp */
  readonly mediaTimestamp: number;
}

export interface ThumbnailLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export interface ThumbnailerOptions {
  /** Seconds of media time between thumbnails; 0 = off. */
  readonly intervalSeconds: number;
  /** Scale down to this width, keep aspect, never upscale; even dimensions. */
  readonly maxWidth: number;
  /** Shared across all streams of the task. */
  readonly pool: ThumbnailPool;
  /** Called with each new thumbnail (a throw is logged, never passed on). */
  readonly onThumbnail?: (t: Thumbnail) => void;
  readonly log?: ThumbnailLog;
  /** The clock of `takenAt` (the interval runs on media time). @default Date.now */
  readonly now?: () => number;
}

/** Why a stream's thumbnail failed; each is logged once per stream. */
export type ThumbnailFailure = DecodeFailure | 'bad-sequence-header' | 'bad-frame' | 'callback' | 'internal';

const EMPTY = Buffer.alloc(0);
/** A decode that waited this long in the pool (or two intervals, if longer) is dropped unstarted. */
const MIN_STALE_MS = 10_000;

/** A backward step of the media clock longer than this is a restart of the timestamps: a thumbnail is due. */
const RESTART_MS = 1000;

interface VideoConfig {
  /** SPS and PPS, Annex B. */
  readonly parameterSets: Buffer;
  readonly lengthSize: AvcConfig['lengthSize'];
  readonly width: number;
  readonly height: number;
}

export class Thumbnailer {
  readonly #intervalMs: number;
  readonly #maxWidth: number;
  readonly #pool: ThumbnailPool;
  readonly #onThumbnail?: (t: Thumbnail) => void;
  readonly #log?: ThumbnailLog;
  readonly #now: () => number;
  readonly #unit = newMediaUnit();
  readonly #warned = new Set<ThumbnailFailure>();
  #config?: VideoConfig;
  #latest?: Thumbnail;
  /** The RTMP timestamp of the keyframe last sent to the pool. */
  #lastAttempt?: number;
  /** Video that is not AVC: never a thumbnail. */
  #otherCodec = false;
  #closed = false;
  #made = 0;

  constructor(opts: ThumbnailerOptions) {
    const seconds = Number.isFinite(opts.intervalSeconds) && opts.intervalSeconds > 0 ? opts.intervalSeconds : 0;
    this.#intervalMs = seconds * 1000;
    this.#maxWidth = Math.max(2, Math.floor(opts.maxWidth));
    this.#pool = opts.pool;
    this.#onThumbnail = opts.onThumbnail;
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
  }

  /** Every RTMP audio/video message of the publish (type 8/9/18, raw timestamp, FLV tag body): cheap, never throws. */
  push(type: number, timestamp: number, payload: Buffer): void {
    if (type !== 9 || this.#intervalMs === 0 || this.#closed || this.#otherCodec) return;
    try {
      this.#video(timestamp >>> 0, payload);
    } catch (err) {
      this.#warnOnce('internal', err);
    } finally {
      this.#unit.data = EMPTY; // keep no view of the caller's buffer
    }
  }

  /** The newest thumbnail of this publish, if one was made. */
  latest(): Thumbnail | undefined {
    return this.#latest;
  }

  /** Kills an in-flight decode, drops a waiting one and the state; later pushes do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.cancel(this);
    this.#config = undefined;
    this.#latest = undefined;
  }

  #video(timestamp: number, payload: Buffer): void {
    const unit = this.#unit;
    try {
      parseVideoTag(payload, unit);
    } catch (err) {
      // Not AVC: the packager refuses the stream; a malformed tag: the packager refuses it too. Neither is ours to log.
      if (err instanceof PackagerError && err.code === 'unsupported-codec') this.#otherCodec = true;
      return;
    }
    if (unit.kind === 'video-config') {
      this.#setConfig(unit.data);
      return;
    }
    if (unit.kind !== 'video-frame' || !unit.key || !this.#config || !this.#due(timestamp)) return;
    if (!this.#pool.accepts(this)) return; // the task is behind: the next keyframe tries again
    const config = this.#config;
    const annexB = accessUnitAnnexB(config.parameterSets, unit.data, config.lengthSize);
    const previous = this.#lastAttempt;
    this.#lastAttempt = timestamp;
    if (!annexB) {
      this.#warnOnce('bad-frame', 'keyframe NAL unit lengths do not add up', { mediaTimestamp: timestamp });
      return;
    }
    const size = thumbnailSize(config.width, config.height, this.#maxWidth);
    const staleAfterMs = Math.max(2 * this.#intervalMs, MIN_STALE_MS);
    this.#pool
      .decode(this, { annexB, ...size }, { staleAfterMs })
      .then((outcome) => this.#settle(outcome, timestamp, previous))
      .catch((err) => this.#warnOnce('internal', err));
  }

  #setConfig(record: Buffer): void {
    try {
      const avc = parseAvcConfig(record);
      this.#config = { parameterSets: parameterSetsAnnexB(avc.record), lengthSize: avc.lengthSize, width: avc.width, height: avc.height };
    } catch (err) {
      this.#config = undefined;
      this.#warnOnce('bad-sequence-header', err);
    }
  }

  /** Whether a keyframe at `timestamp` should become a thumbnail: the first, then one per interval of media time. */
  #due(timestamp: number): boolean {
    if (this.#lastAttempt === undefined) return true;
    const ahead = (timestamp - this.#lastAttempt) >>> 0; // modulo 2^32: RTMP timestamps wrap
    if (ahead >= 2 ** 31) return 2 ** 32 - ahead > RESTART_MS; // went back
    return ahead >= this.#intervalMs;
  }

  #settle(outcome: DecodeOutcome, timestamp: number, previous: number | undefined): void {
    if (this.#closed) return;
    if (outcome.kind === 'jpeg') {
      const t: Thumbnail = { jpeg: outcome.jpeg, width: outcome.width, height: outcome.height, takenAt: this.#now(), mediaTimestamp: timestamp };
      this.#latest = t;
      if (this.#made++ === 0)
        this.#log?.info('first thumbnail', { width: t.width, height: t.height, bytes: t.jpeg.length, mediaTimestamp: timestamp });
      try {
        this.#onThumbnail?.(t);
      } catch (err) {
        this.#warnOnce('callback', err);
      }
    } else if (outcome.kind === 'failed') {
      this.#warnOnce(outcome.cause, outcome.message, { mediaTimestamp: timestamp });
    } else if ((outcome.reason === 'queue-full' || outcome.reason === 'stale') && this.#lastAttempt === timestamp) {
      this.#lastAttempt = previous; // it never ran: the next keyframe may try again
    }
  }

  #warnOnce(cause: ThumbnailFailure, error: unknown, extra: Record<string, unknown> = {}): void {
    if (this.#warned.has(cause)) return;
    this.#warned.add(cause);
    const message = error instanceof Error ? error.message : String(error);
    try {
      this.#log?.warn('thumbnail failed; trying again at the next interval', { cause, error: message, ...extra });
    } catch {
      // a logger that throws must not reach push()
    }
  }
}

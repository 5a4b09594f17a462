/**
 * The packager: RTMP media messages in, CMAF objects (init, fragments, segments) and a live playlist out.
 * See index.ts for the contract and docs/packager.md for the design.
 */
import { type AacConfig, type AvcConfig, parseAacConfig, parseAvcConfig, sameConfig } from './codecs.js';
import { PackagerError } from './errors.js';
import { countNalus, type MediaUnit, newMediaUnit, parseAudioTag, parseMetadata, parseVideoTag, type StreamMetadata } from './flv.js';
import { type FragmentRun, fragmentSize, type InitTrack, writeFragment, writeInit } from './mp4.js';
import { type LowLatencyState, type OpenPlaylistSegment, type PartInfo, partUri, type PlaylistSegment, renderMediaPlaylist } from './playlist.js';
import { SampleQueue } from './queue.js';
import { derivedSessionId, maxOpenableSequence, SESSION_ID_PATTERN } from './sequence.js';

/** RTMP message types the packager reads. */
export const MessageType = { Audio: 8, Video: 9, Script: 18 } as const;

/** An init segment. */
export interface InitOutput {
  /** `<session>_init.mp4`. */
  readonly name: string;
  /** The (possibly derived) session id that prefixes this init and the segments that use it. */
  readonly session: string;
  readonly bytes: Buffer;
  /** RFC 6381 codec strings of the tracks, video first, e.g. `['avc1.64001f', 'mp4a.40.2']`. */
  readonly codecs: readonly string[];
  /** 0 for the session's first init, then 1, 2… after mid-stream configuration changes. */
  readonly generation: number;
}

/** A fragment (`moof` + `mdat`), emitted as soon as it is cut: an LL-HLS part later. */
export interface FragmentOutput {
  /** Name of the segment it belongs to (not yet complete). */
  readonly segmentName: string;
  readonly msn: number;
  /** Index of this fragment in its segment. */
  readonly index: number;
  /** The part's name, `<session>_<msn>.<index>.m4s` (`partUri`). */
  readonly name: string;
  readonly bytes: Buffer;
  readonly part: PartInfo;
}

/** A complete media segment: the concatenation of `chunks` (its fragments, in order). */
export interface SegmentOutput extends PlaylistSegment {
  /** `<session>_<msn>.m4s`. */
  readonly name: string;
  readonly chunks: readonly Buffer[];
  readonly byteLength: number;
}

/** A warning about the stream, for logs, metrics and `keyframe status`. */
export interface PackagerWarning {
  readonly code: 'keyframe-interval' | 'bitrate-over-cap' | 'no-sequence-header' | 'timestamp-jump' | 'missing-track' | 'dropped-frames';
  readonly message: string;
}

/** Output callbacks. They run synchronously inside `push()`/`end()`; an exception becomes an `internal` error. */
export interface PackagerOutputs {
  onInit?(init: InitOutput): void;
  onFragment?(fragment: FragmentOutput): void;
  onSegment?(segment: SegmentOutput): void;
  /** The rendered media playlist after every segment (with `lowLatency`, after every part too) and at the end. */
  onPlaylist?(text: string): void;
  onWarning?(warning: PackagerWarning): void;
}

export interface PackagerOptions extends PackagerOutputs {
  /** Per-publish session id, `[a-z0-9]{10}`. */
  readonly session: string;
  /** First media sequence number (see `timeBasedSequence`). */
  readonly mediaSequenceBase: number;
  /** Discontinuity sequence base (see `timeBasedSequence`). */
  readonly discontinuitySequenceBase: number;
  /** Quantum of time-based numbering; when set, no segment is opened ahead of the clock. @default undefined */
  readonly sequenceQuantumMs?: number;
  /** Epoch-ms clock. @default Date.now */
  readonly now?: () => number;
  /** Wall-clock time (epoch ms) of the stream's first media bytes. @default now() at the first audio/video push */
  readonly anchorMs?: number;
  /**
   * Where the segment grid starts (epoch ms on the packager's timeline), until the first flush. A transcoded
   * rendition that starts mid-publish passes the source's first segment start, so its grid lines are the
   * source's even when frame times do not divide the segment duration (29.97 fps). @default its first sample
   */
  readonly gridOriginMs?: number;
  /** Segment duration target, s (segments never exceed it, except for frame intervals above it). @default 1 */
  readonly segmentSeconds?: number;
  /** Fragment (part) duration limit, s; ≥ 0.05 and ≤ segmentSeconds. @default 0.334 (10 frames at 30 fps despite ms rounding) */
  readonly fragmentSeconds?: number;
  /** Segments in the live playlist. @default 6 */
  readonly playlistSize?: number;
  /**
   * LL-HLS: the playlist lists parts (the fragments, PART-TARGET = `fragmentSeconds`), a preload hint and
   * blocking-reload server control, and is rendered after every part. @default false
   */
  readonly lowLatency?: boolean;
  /** With `lowLatency`: how many of the newest complete segments keep their parts listed. @default 3 */
  readonly partSegments?: number;
  /** Largest object (segment or fragment) in bytes. @default 4_000_000 */
  readonly maxObjectBytes?: number;
  /** Media time to wait for the second track's sequence header without onMetaData saying. @default 1000 */
  readonly trackWaitMs?: number;
  /** A timestamp step beyond this (forward or backward, ms) is a discontinuity. @default 2000 */
  readonly jumpThresholdMs?: number;
  /** How long a fragment waits for the other track to catch up (media ms). @default 500 */
  readonly maxInterleaveMs?: number;
  /** Keyframe intervals above this raise a warning, s. @default 4 */
  readonly keyframeWarnSeconds?: number;
  /** Total bitrate above this raises a warning, bit/s. @default undefined (no cap) */
  readonly maxBitrateBps?: number;
  /** This session continues an earlier one of the same stream: tag its first segment EXT-X-DISCONTINUITY. */
  readonly continuation?: boolean;
}

/** Stream health as measured by the packager. */
export interface StreamHealth {
  readonly video?: {
    readonly codec: string;
    readonly width: number;
    readonly height: number;
    /** Measured over the last window; `frameRateHint` is the SPS VUI value. */
    readonly frameRate?: number;
    readonly frameRateHint?: number;
    readonly bitrateBps?: number;
    /** Last measured interval between keyframes, s. */
    readonly keyframeIntervalSeconds?: number;
  };
  readonly audio?: { readonly codec: string; readonly sampleRate: number; readonly channels: number; readonly bitrateBps?: number };
  /** Spread of (arrival − media time) over the last window, ms. */
  readonly jitterMs?: number;
  /** How far arrival has drifted from media time since the start (positive: media arrives late), ms. */
  readonly driftMs?: number;
  readonly segments: number;
  readonly discontinuities: number;
  readonly droppedFrames: number;
  readonly warnings: readonly PackagerWarning[];
}

type Kind = 'video' | 'audio';

interface Track {
  readonly kind: Kind;
  readonly id: number;
  timescale: number;
  config: AvcConfig | AacConfig;
  readonly q: SampleQueue;
  /** DTS of the last queued sample, ticks; -1 before any. */
  lastDts: number;
  /** Lowest DTS the next sample may take, ticks. */
  floor: number;
  lastDuration: number;
  /** In the current init segment. */
  inInit: boolean;
  /** Waiting for a keyframe (video) after an init change. */
  needKey: boolean;
  // health window
  winStartMs: number;
  winBytes: number;
  winFrames: number;
  bitrate?: number;
  frameRate?: number;
}

interface OpenSegment {
  readonly msn: number;
  readonly name: string;
  readonly startSec: number;
  readonly discontinuity: boolean;
  readonly discontinuitySequence: number;
  readonly initUri: string;
  readonly independent: boolean;
  readonly chunks: Buffer[];
  readonly parts: PartInfo[];
  /** The segment ends at the first leader sample at or after this time (s). */
  readonly gridEnd: number;
  bytes: number;
  durationSec: number;
}

const EPS = 1e-6;
/** Seconds: a sample this close before a segment grid line counts as on it (ms-rounded timestamps). */
const GRID_TOLERANCE = 0.002;

/** RTMP/FLV in, CMAF HLS out. One instance per publish. */
export class Packager {
  /** The error that stopped this packager, if any; every later `push` returns it. */
  error: PackagerError | undefined;

  private readonly o: Required<Omit<PackagerOptions, keyof PackagerOutputs | 'sequenceQuantumMs' | 'anchorMs' | 'maxBitrateBps' | 'gridOriginMs'>> &
    Pick<PackagerOptions, 'sequenceQuantumMs' | 'maxBitrateBps'>;
  private readonly out: PackagerOutputs;
  private readonly now: () => number;
  private readonly unit: MediaUnit = newMediaUnit();

  private anchorMs: number | undefined;
  private offsetMs = 0;
  private lastRaw = -1;
  private lastExt = 0;
  private maxExt = -Infinity;
  private firstFrameExt: number | undefined;
  private readonly trackLastExt: Record<Kind, number | undefined> = { video: undefined, audio: undefined };

  private meta: StreamMetadata | undefined;
  private video: Track | undefined;
  private audio: Track | undefined;
  private decided = false;
  private generation = 0;
  private sessionId: string;
  private initName = '';
  private init: InitOutput | undefined;

  private nextMsn: number;
  private lastDiscSeq: number | undefined;
  private pendingDiscontinuity = false;
  private fragmentSeq = 1;
  private seg: OpenSegment | undefined;
  /** Start of the segment grid (s); reset by every flush. */
  private gridOrigin: number | undefined;
  private readonly window: PlaylistSegment[] = [];
  private allIndependent = true;
  private ended = false;
  private segmentsDone = 0;
  private discontinuities = 0;
  private dropped = 0;

  private lastKeyMs: number | undefined;
  private keyIntervalMs: number | undefined;
  private jitterMin = Infinity;
  private jitterMax = -Infinity;
  private jitterWinStart: number | undefined;
  private jitter: number | undefined;
  private firstOffset: number | undefined;
  private lastOffset: number | undefined;
  private readonly warnings = new Map<string, PackagerWarning>();

  constructor(options: PackagerOptions) {
    if (!SESSION_ID_PATTERN.test(options.session)) throw new RangeError(`session ${JSON.stringify(options.session)} must match [a-z0-9]{10}`);
    const segmentSeconds = options.segmentSeconds ?? 1;
    const fragmentSeconds = options.fragmentSeconds ?? Math.min(0.334, segmentSeconds);
    if (!(segmentSeconds >= 0.5 && segmentSeconds <= 30)) throw new RangeError(`segmentSeconds ${segmentSeconds} must be within 0.5–30`);
    if (!(fragmentSeconds >= 0.05 && fragmentSeconds <= segmentSeconds)) {
      throw new RangeError(`fragmentSeconds ${fragmentSeconds} must be within 0.05 and segmentSeconds (${segmentSeconds})`);
    }
    for (const key of ['mediaSequenceBase', 'discontinuitySequenceBase'] as const) {
      if (!Number.isSafeInteger(options[key]) || options[key] < 0) throw new RangeError(`${key} ${options[key]} must be a non-negative integer`);
    }
    this.o = {
      session: options.session,
      mediaSequenceBase: options.mediaSequenceBase,
      discontinuitySequenceBase: options.discontinuitySequenceBase,
      sequenceQuantumMs: options.sequenceQuantumMs,
      now: options.now ?? Date.now,
      segmentSeconds,
      fragmentSeconds,
      playlistSize: options.playlistSize ?? 6,
      lowLatency: options.lowLatency ?? false,
      partSegments: options.partSegments ?? 3,
      maxObjectBytes: options.maxObjectBytes ?? 4_000_000,
      trackWaitMs: options.trackWaitMs ?? 1000,
      jumpThresholdMs: options.jumpThresholdMs ?? 2000,
      maxInterleaveMs: options.maxInterleaveMs ?? 500,
      keyframeWarnSeconds: options.keyframeWarnSeconds ?? 4,
      maxBitrateBps: options.maxBitrateBps,
      continuation: options.continuation ?? false,
    };
    this.out = options;
    this.now = this.o.now;
    this.anchorMs = options.anchorMs;
    if (options.gridOriginMs !== undefined) this.gridOrigin = options.gridOriginMs / 1000;
    this.sessionId = options.session;
    this.nextMsn = options.mediaSequenceBase;
  }

  /**
   * Feeds one RTMP message. Never throws: returns a `PackagerError` when the stream must be refused or closed
   * (and keeps returning it), else undefined.
   */
  push(type: number, timestamp: number, payload: Buffer): PackagerError | undefined {
    if (this.error) return this.error;
    if (this.ended) return new PackagerError('ended', 'push after end()');
    try {
      if (type === MessageType.Script) {
        const meta = parseMetadata(payload);
        if (meta && !this.decided) this.meta = meta;
      } else if (type === MessageType.Video) {
        parseVideoTag(payload, this.unit);
        this.media('video', timestamp, this.unit);
      } else if (type === MessageType.Audio) {
        parseAudioTag(payload, this.unit);
        this.media('audio', timestamp, this.unit);
      }
      return undefined;
    } catch (err) {
      return this.fail(err);
    }
  }

  /** Flushes everything, closes the last segment and renders the playlist with `#EXT-X-ENDLIST`. Never throws. */
  end(): PackagerError | undefined {
    if (this.ended) return this.error;
    try {
      if (!this.decided && (this.video || this.audio)) this.decide();
      if (this.decided) this.flush(true);
      this.ended = true;
      this.out.onPlaylist?.(this.playlist());
    } catch (err) {
      this.ended = true;
      return this.fail(err);
    }
    this.ended = true;
    return this.error;
  }

  /** The current media playlist. */
  playlist(): string {
    return renderMediaPlaylist({
      targetDuration: Math.ceil(this.o.segmentSeconds - EPS),
      segments: this.window,
      ended: this.ended,
      independentSegments: this.allIndependent && this.window.length > 0 && this.keyframesFitSegments(),
      lowLatency: this.o.lowLatency ? this.lowLatencyState() : undefined,
    });
  }

  private lowLatencyState(): LowLatencyState {
    const s = this.seg;
    const open: OpenPlaylistSegment | undefined = s && {
      msn: s.msn,
      uri: s.name,
      programDateTimeMs: s.startSec * 1000,
      discontinuity: s.discontinuity,
      discontinuitySequence: s.discontinuitySequence,
      initUri: s.initUri,
      parts: s.parts,
    };
    const preloadHint = s ? partUri(s.name, s.parts.length) : partUri(`${this.sessionId}_${this.nextMsn}.m4s`, 0);
    return { partTarget: this.o.fragmentSeconds, partSegments: this.o.partSegments, open, preloadHint };
  }

  /**
   * EXT-X-INDEPENDENT-SEGMENTS is a promise about every segment to come (RFC 8216 §6.2.1 lets a live playlist only
   * append), so it waits for a measured keyframe interval that fits in a segment: a long-GOP stream whose first
   * segment happens to start with a keyframe never claims it.
   */
  private keyframesFitSegments(): boolean {
    if (!this.video?.inInit) return true;
    return this.keyIntervalMs !== undefined && this.keyIntervalMs / 1000 <= this.o.segmentSeconds + GRID_TOLERANCE;
  }

  /** The current init segment, once the track set is known. */
  currentInit(): InitOutput | undefined {
    return this.init;
  }

  /** What the packager has measured. */
  /**
   * The mapping of RTMP timestamps onto the wall clock: epoch ms = unwrapped timestamp + this (undefined before
   * the first audio/video message). A transcoded rendition (ingest/renditions.ts) maps its copied timestamps the
   * same way, so its segments carry the same program date-times.
   */
  get timestampOffsetMs(): number | undefined {
    return this.firstFrameExt === undefined ? undefined : this.offsetMs;
  }

  health(): StreamHealth {
    const v = this.video?.inInit ? this.video : undefined;
    const a = this.audio?.inInit ? this.audio : undefined;
    const vc = v?.config as AvcConfig | undefined;
    const ac = a?.config as AacConfig | undefined;
    return {
      video: vc && {
        codec: vc.codec,
        width: vc.width,
        height: vc.height,
        frameRate: v!.frameRate,
        frameRateHint: vc.frameRate,
        bitrateBps: v!.bitrate,
        keyframeIntervalSeconds: this.keyIntervalMs === undefined ? undefined : this.keyIntervalMs / 1000,
      },
      audio: ac && { codec: ac.codec, sampleRate: ac.sampleRate, channels: ac.channels, bitrateBps: a!.bitrate },
      jitterMs: this.jitter,
      driftMs: this.firstOffset === undefined ? undefined : this.lastOffset! - this.firstOffset,
      segments: this.segmentsDone,
      discontinuities: this.discontinuities,
      droppedFrames: this.dropped,
      warnings: [...this.warnings.values()],
    };
  }

  // ---- input ----

  private fail(err: unknown): PackagerError {
    const message = `packager failure: ${(err as Error)?.message ?? String(err)}`;
    this.error = err instanceof PackagerError ? err : new PackagerError('internal', message, { cause: err });
    return this.error;
  }

  private unwrap(raw: number): number {
    raw >>>= 0;
    if (this.lastRaw < 0) this.lastExt = raw;
    else this.lastExt += (raw - this.lastRaw) | 0;
    this.lastRaw = raw;
    return this.lastExt;
  }

  private media(kind: Kind, timestamp: number, u: MediaUnit): void {
    const ext = this.unwrap(timestamp);
    if (u.kind === 'ignore' || u.kind === 'video-end') return;
    if (this.anchorMs === undefined) this.anchorMs = Math.round(this.now());
    if (this.firstFrameExt === undefined) {
      this.firstFrameExt = ext;
      this.offsetMs = this.anchorMs - ext;
      this.maxExt = ext;
    }
    if (u.kind === 'video-config' || u.kind === 'audio-config') {
      this.configure(kind, u.kind === 'video-config' ? parseAvcConfig(u.data) : parseAacConfig(u.data));
      return;
    }
    const track = kind === 'video' ? this.video : this.audio;
    if (!track) {
      this.dropped++;
      this.warn('no-sequence-header', `${kind} frames arrive before the ${kind} sequence header; dropping them`);
      return;
    }
    this.checkJump(kind, ext);
    const mediaMs = ext + this.offsetMs;
    this.observe(track, mediaMs, u.data.length, u.key);
    let size = u.data.length;
    if (kind === 'video') {
      const ls = (track.config as AvcConfig).lengthSize;
      const nalus = countNalus(u.data, ls);
      size += nalus * (4 - ls);
    }
    if (track.needKey) {
      if (kind === 'video' && !u.key) {
        this.dropped++;
        return;
      }
      track.needKey = false;
    }
    if (size + 1024 > this.o.maxObjectBytes) {
      throw new PackagerError('too-large', `a ${kind} frame of ${size} bytes exceeds the object budget of ${this.o.maxObjectBytes} bytes`, {
        rtmpDescription: 'a video frame is too large: lower the bitrate in OBS → Settings → Output',
      });
    }
    this.enqueue(track, mediaMs, u.cto, size, u.key, u.data);
    if (!this.decided) this.maybeDecide();
    if (this.decided) this.cut(false);
  }

  private checkJump(kind: Kind, ext: number): void {
    const last = this.trackLastExt[kind];
    const jump = this.o.jumpThresholdMs;
    const isJump = ext - this.maxExt > jump || ext < this.maxExt - jump || (last !== undefined && ext < last - 100);
    if (isJump) {
      this.warn('timestamp-jump', `timestamps jumped from ${Math.round(this.maxExt)} to ${ext} ms; starting a discontinuity`);
      if (this.decided) {
        this.flush(false);
        this.pendingDiscontinuity = true;
      }
      // Continue after everything written, with room for the interleave, and not before the wall clock.
      let endMs = -Infinity;
      for (const t of [this.video, this.audio]) if (t && t.floor > 0) endMs = Math.max(endMs, (t.floor / t.timescale) * 1000);
      const target = Math.max(endMs + this.o.maxInterleaveMs, this.now());
      this.offsetMs = Math.ceil(target) - ext;
      this.maxExt = ext;
      this.trackLastExt.video = undefined;
      this.trackLastExt.audio = undefined;
      this.lastKeyMs = undefined;
    }
    if (ext > this.maxExt) this.maxExt = ext;
    this.trackLastExt[kind] = ext;
  }

  private enqueue(t: Track, mediaMs: number, ctoMs: number, size: number, key: boolean, data: Buffer): void {
    if (t.kind === 'video') {
      let dts = Math.round(mediaMs * 90);
      let cto = ctoMs * 90;
      if (dts < t.floor) {
        cto -= t.floor - dts; // keep the presentation time
        dts = t.floor;
      }
      t.q.push(dts, cto, size, key, data);
      t.lastDts = dts;
      t.floor = dts + 1;
    } else {
      const c = t.config as AacConfig;
      const raw = Math.round((mediaMs * c.sampleRate) / 1000);
      let dts = raw;
      if (t.lastDts >= 0) {
        const expected = t.lastDts + c.samplesPerFrame;
        if (Math.abs(raw - expected) <= c.samplesPerFrame / 2 || raw < expected) dts = expected;
      }
      if (dts < t.floor) dts = t.floor;
      t.q.push(dts, 0, size, true, data);
      t.lastDts = dts;
      t.floor = dts + 1;
    }
  }

  private configure(kind: Kind, config: AvcConfig | AacConfig): void {
    const existing = kind === 'video' ? this.video : this.audio;
    if (existing && sameConfig(existing.config, config)) {
      if (this.decided && !existing.inInit) this.reinit();
      return;
    }
    const timescale = config.kind === 'avc' ? 90000 : config.sampleRate;
    if (!existing) {
      const t: Track = {
        kind,
        id: kind === 'video' ? 1 : 2,
        timescale,
        config,
        q: new SampleQueue(),
        lastDts: -1,
        floor: 0,
        lastDuration: 0,
        inInit: false,
        needKey: kind === 'video',
        winStartMs: NaN,
        winBytes: 0,
        winFrames: 0,
      };
      if (kind === 'video') this.video = t;
      else this.audio = t;
      if (this.decided) {
        // A track that was not in the init (it came after the bounded wait): a new init and a discontinuity.
        this.flush(false);
        this.reinit();
      }
      return;
    }
    if (!this.decided) {
      // A replaced header before the first init: the queued frames belong to the old one.
      existing.q.clear();
      existing.config = config;
      existing.timescale = timescale;
      existing.lastDts = -1;
      existing.floor = 0;
      existing.needKey = kind === 'video';
      return;
    }
    this.flush(false);
    const scale = timescale / existing.timescale;
    existing.floor = Math.ceil(existing.floor * scale);
    existing.lastDts = existing.lastDts < 0 ? -1 : Math.floor(existing.lastDts * scale);
    existing.config = config;
    existing.timescale = timescale;
    existing.needKey = kind === 'video';
    this.reinit();
  }

  private maybeDecide(): void {
    const v = !!this.video;
    const a = !!this.audio;
    if (v && a) {
      this.decide();
      return;
    }
    if (this.meta && (this.meta.hasVideo ? v : true) && (this.meta.hasAudio ? a : true) && (this.meta.hasVideo || this.meta.hasAudio)) {
      this.decide();
      return;
    }
    if (this.firstFrameExt !== undefined && this.maxExt - this.firstFrameExt >= this.o.trackWaitMs) this.decide();
  }

  private decide(): void {
    this.decided = true;
    const missing = this.meta?.hasAudio && !this.audio ? 'audio' : this.meta?.hasVideo && !this.video ? 'video' : undefined;
    if (missing) this.warn('missing-track', `onMetaData announced ${missing} but no ${missing} sequence header arrived; packaging without it`);
    this.writeInitSegment();
  }

  /** A new init segment mid-stream (the queues are already flushed). */
  private reinit(): void {
    this.generation++;
    this.sessionId = derivedSessionId(this.o.session, this.generation);
    this.pendingDiscontinuity = true;
    this.writeInitSegment();
  }

  private writeInitSegment(): void {
    const tracks: InitTrack[] = [];
    if (this.video) {
      this.video.inInit = true;
      tracks.push({ id: 1, kind: 'video', timescale: 90000, config: this.video.config as AvcConfig });
    }
    if (this.audio) {
      this.audio.inInit = true;
      tracks.push({ id: 2, kind: 'audio', timescale: this.audio.timescale, config: this.audio.config as AacConfig });
    }
    this.initName = `${this.sessionId}_init.mp4`;
    this.init = {
      name: this.initName,
      session: this.sessionId,
      bytes: writeInit(tracks),
      codecs: tracks.map((t) => t.config.codec),
      generation: this.generation,
    };
    this.out.onInit?.(this.init);
  }

  // ---- cutting ----

  /** The track whose decode timeline decides the cut points: video, unless it has stalled while audio flows. */
  private leader(): Track | undefined {
    const v = this.video?.inInit ? this.video : undefined;
    const a = this.audio?.inInit ? this.audio : undefined;
    if (v && a && v.q.n === 0 && a.q.n > 0) {
      const vLast = v.lastDts < 0 ? -Infinity : v.lastDts / v.timescale;
      if (a.lastDts / a.timescale - vLast > (this.o.maxInterleaveMs + this.o.jumpThresholdMs) / 1000) return a;
    }
    return v ?? a;
  }

  private other(l: Track): Track | undefined {
    const t = l === this.video ? this.audio : this.video;
    return t?.inInit ? t : undefined;
  }

  /** Cuts every fragment that is due. With `ending`, never waits for the other track. */
  private cut(ending: boolean): boolean {
    for (;;) {
      const l = this.leader();
      if (!l || l.q.n < 2) return true;
      const o = this.other(l);
      const found = this.findBoundary(l, o);
      if (!found) return true;
      const bSec = l.q.dts[found.b] / l.timescale;
      if (!ending && o && o.lastDts >= 0) {
        // Wait until the other track covers the boundary: once its newest sample ends at or past it, every
        // sample before it is in (the next one starts there). Waiting for a sample that *starts* past it
        // would hold each part for up to one more audio frame (~21 ms).
        const oLast = o.lastDts / o.timescale;
        const oEnd = (o.lastDts + this.defaultDuration(o)) / o.timescale;
        if (oEnd < bSec - EPS && l.lastDts / l.timescale - oLast < this.o.maxInterleaveMs / 1000) return true;
      }
      if (!this.emit(l, o, found.b, bSec, found.endSegment)) {
        // Held back by the clock: the queue may grow only up to one object.
        if (l.q.bytes + (o?.q.bytes ?? 0) > this.o.maxObjectBytes) this.blocked(false);
        return false;
      }
    }
  }

  /**
   * The next fragment boundary in the leader's queue: `b` is the index of the first sample of the next fragment.
   * Fragments never exceed `fragmentSeconds` (unless one frame interval does). Segments end on a grid of
   * `segmentSeconds` from the first sample after the last flush, at the first sample at or past the grid line,
   * so a keyframe interval that is a multiple of the segment duration gives keyframe-aligned segments.
   */
  private findBoundary(l: Track, o: Track | undefined): { b: number; endSegment: boolean } | undefined {
    const q = l.q;
    const ts = l.timescale;
    const F = this.o.fragmentSeconds;
    const start = q.dts[0] / ts;
    const gridEnd = this.seg ? this.seg.gridEnd : this.gridEndFor(start);
    let bytes = q.size[0];
    const otherBytes = o ? o.q.bytes + 16 * o.q.n : 0;
    const budget = this.o.maxObjectBytes - 512;
    for (let i = 1; i < q.n; i++) {
      const t = q.dts[i] / ts;
      const d = (q.dts[i] - q.dts[0]) / ts;
      if (d > F + EPS) return { b: i > 1 ? i - 1 : i, endSegment: i === 1 && t >= gridEnd - GRID_TOLERANCE };
      if (t >= gridEnd - GRID_TOLERANCE) return { b: i, endSegment: true };
      if (d >= F - EPS) return { b: i, endSegment: false };
      bytes += q.size[i] + 16;
      if (bytes + otherBytes > budget) return { b: i, endSegment: false };
    }
    return undefined;
  }

  private gridEndFor(startSec: number): number {
    const S = this.o.segmentSeconds;
    if (this.gridOrigin === undefined) return startSec + S;
    return this.gridOrigin + (Math.floor((startSec - this.gridOrigin + GRID_TOLERANCE) / S) + 1) * S;
  }

  /** Closes the open segment and emits everything queued (end, jump, configuration change). */
  private flush(ending: boolean): void {
    if (!this.cut(true)) {
      this.blocked(ending);
      return;
    }
    const l = this.leader();
    if (l && l.q.n >= 2) {
      const span = (l.q.last() + this.defaultDuration(l) - l.q.dts[0]) / l.timescale;
      if (span > this.o.fragmentSeconds + EPS) {
        const b = l.q.n - 1;
        if (!this.emit(l, this.other(l), b, l.q.dts[b] / l.timescale, false)) {
          this.blocked(ending);
          return;
        }
      }
    }
    const lead = l && l.q.n > 0 ? l : l && this.other(l)?.q.n ? this.other(l) : undefined;
    if (lead && !this.emit(lead, this.other(lead), lead.q.n, undefined, true)) {
      this.blocked(ending);
      return;
    }
    if (this.seg) this.closeSegment();
    this.gridOrigin = undefined;
  }

  private blocked(ending: boolean): void {
    if (ending) {
      // Ending less than one quantum after the start: drop the remainder rather than number ahead of the clock.
      for (const t of [this.video, this.audio]) t?.q.clear();
      if (this.seg) this.closeSegment();
      return;
    }
    throw new PackagerError('faster-than-realtime', 'media arrives faster than real time; segments cannot be numbered from the clock', {
      rtmpDescription: 'media arrives faster than real time; publish in real time (ffmpeg: use -re)',
    });
  }

  private defaultDuration(t: Track): number {
    if (t.kind === 'audio') return (t.config as AacConfig).samplesPerFrame;
    if (t.lastDuration > 0) return t.lastDuration;
    const fps = (t.config as AvcConfig).frameRate;
    return Math.round(90000 / (fps && fps >= 1 && fps <= 240 ? fps : 30));
  }

  /** Fills durations of the first `count` queued samples; the last one uses the next queued DTS or a default. */
  private durations(t: Track, count: number): number {
    const q = t.q;
    let sum = 0;
    for (let i = 0; i < count; i++) {
      const d = i + 1 < q.n ? q.dts[i + 1] - q.dts[i] : this.defaultDuration(t);
      q.duration[i] = d;
      sum += d;
    }
    if (count > 0) {
      t.lastDuration = q.duration[count - 1];
      if (count === q.n) t.floor = Math.max(t.floor, q.dts[count - 1] + q.duration[count - 1]);
    }
    return sum;
  }

  /**
   * Emits one fragment: the leader's first `b` samples and the other track's samples before `bSec` (all of them
   * when `bSec` is undefined). Returns false when the clock does not allow opening a segment yet.
   */
  private emit(l: Track, o: Track | undefined, b: number, bSec: number | undefined, endSegment: boolean): boolean {
    let k = 0;
    if (o) {
      if (bSec === undefined) k = o.q.n;
      else while (k < o.q.n && o.q.dts[k] / o.timescale < bSec - EPS) k++;
    }
    const leaderTicks = this.durations(l, b);
    if (o) this.durations(o, k);
    const startSec = l.q.dts[0] / l.timescale;
    const durationSec = (bSec === undefined ? leaderTicks : l.q.dts[b] - l.q.dts[0]) / l.timescale;
    const video = l.kind === 'video' ? l : o;
    const audio = l.kind === 'audio' ? l : o;
    const vCount = video === l ? b : k;
    const aCount = audio === l ? b : k;
    const runs: FragmentRun[] = [];
    if (video && vCount > 0) runs.push(this.run(video, vCount));
    if (audio && aCount > 0) runs.push(this.run(audio, aCount));
    const size = fragmentSize(runs);
    if (this.seg && this.seg.bytes + size > this.o.maxObjectBytes) this.closeSegment();
    if (!this.seg && !this.openSegment(startSec, l.kind === 'audio' || l.q.sync[0] === 1)) return false;
    const seg = this.seg!;
    const bytes = writeFragment(this.fragmentSeq++, runs);
    const part: PartInfo = { duration: durationSec, independent: l.kind === 'audio' || l.q.sync[0] === 1, offset: seg.bytes, length: bytes.length };
    seg.chunks.push(bytes);
    seg.parts.push(part);
    seg.bytes += bytes.length;
    seg.durationSec += durationSec;
    l.q.shift(b);
    o?.q.shift(k);
    const index = seg.parts.length - 1;
    this.out.onFragment?.({ segmentName: seg.name, msn: seg.msn, index, name: partUri(seg.name, index), bytes, part });
    if (endSegment) this.closeSegment();
    else if (this.o.lowLatency) this.out.onPlaylist?.(this.playlist());
    return true;
  }

  private run(t: Track, count: number): FragmentRun {
    const q = t.q;
    return {
      trackId: t.id,
      baseDecodeTime: q.dts[0],
      count,
      duration: q.duration,
      size: q.size,
      sync: q.sync,
      cto: t.kind === 'video' ? q.cto : undefined,
      data: q.data,
      nalLengthSize: t.kind === 'video' ? (t.config as AvcConfig).lengthSize : 4,
      first: 0,
    };
  }

  private openSegment(startSec: number, independent: boolean): boolean {
    const q = this.o.sequenceQuantumMs;
    if (q !== undefined && this.nextMsn > maxOpenableSequence(this.now(), q)) return false;
    const first = this.lastDiscSeq === undefined;
    const discontinuity = first ? this.o.continuation : this.pendingDiscontinuity;
    const discontinuitySequence = first ? this.o.discontinuitySequenceBase + 1 : this.lastDiscSeq! + (this.pendingDiscontinuity ? 1 : 0);
    if (!first && this.pendingDiscontinuity) this.discontinuities++;
    this.pendingDiscontinuity = false;
    this.lastDiscSeq = discontinuitySequence;
    const msn = this.nextMsn++;
    const gridEnd = this.gridEndFor(startSec);
    this.gridOrigin ??= startSec;
    this.seg = {
      msn,
      name: `${this.sessionId}_${msn}.m4s`,
      startSec,
      discontinuity,
      discontinuitySequence,
      initUri: this.initName,
      independent,
      gridEnd,
      chunks: [],
      parts: [],
      bytes: 0,
      durationSec: 0,
    };
    return true;
  }

  private closeSegment(): void {
    const s = this.seg!;
    this.seg = undefined;
    const info: SegmentOutput = {
      msn: s.msn,
      uri: s.name,
      name: s.name,
      duration: s.durationSec,
      programDateTimeMs: s.startSec * 1000,
      discontinuity: s.discontinuity,
      discontinuitySequence: s.discontinuitySequence,
      initUri: s.initUri,
      independent: s.independent,
      parts: s.parts,
      chunks: s.chunks,
      byteLength: s.bytes,
    };
    this.segmentsDone++;
    if (!s.independent) this.allIndependent = false;
    const { chunks: _chunks, byteLength: _len, name: _name, ...entry } = info;
    this.window.push(entry);
    if (this.window.length > this.o.playlistSize) this.window.shift();
    this.out.onSegment?.(info);
    this.out.onPlaylist?.(this.playlist());
  }

  // ---- health ----

  private observe(t: Track, mediaMs: number, bytes: number, key: boolean): void {
    const nowMs = this.now();
    const offset = nowMs - mediaMs;
    this.firstOffset ??= offset;
    this.lastOffset = offset;
    if (this.jitterWinStart === undefined || mediaMs - this.jitterWinStart >= 2000 || mediaMs < this.jitterWinStart) {
      if (this.jitterWinStart !== undefined && this.jitterMax >= this.jitterMin) this.jitter = this.jitterMax - this.jitterMin;
      this.jitterWinStart = mediaMs;
      this.jitterMin = Infinity;
      this.jitterMax = -Infinity;
    }
    this.jitterMin = Math.min(this.jitterMin, offset);
    this.jitterMax = Math.max(this.jitterMax, offset);

    if (Number.isNaN(t.winStartMs) || mediaMs < t.winStartMs) t.winStartMs = mediaMs;
    const span = mediaMs - t.winStartMs;
    if (span >= 2000) {
      t.bitrate = Math.round((t.winBytes * 8 * 1000) / span);
      t.frameRate = Math.round((t.winFrames * 1000 * 100) / span) / 100;
      t.winStartMs = mediaMs;
      t.winBytes = 0;
      t.winFrames = 0;
      this.checkBitrate();
    }
    t.winBytes += bytes;
    t.winFrames++;

    if (t.kind === 'video' && key) {
      if (this.lastKeyMs !== undefined && mediaMs > this.lastKeyMs) {
        this.keyIntervalMs = mediaMs - this.lastKeyMs;
        const s = this.keyIntervalMs / 1000;
        if (s > this.o.keyframeWarnSeconds) {
          this.warn('keyframe-interval', `keyframe interval ${s.toFixed(1)} s: set 1 or 2 s in OBS → Settings → Output → Keyframe Interval`);
        } else this.warnings.delete('keyframe-interval');
      }
      this.lastKeyMs = mediaMs;
    }
  }

  private checkBitrate(): void {
    const cap = this.o.maxBitrateBps;
    if (cap === undefined) return;
    const total = (this.video?.bitrate ?? 0) + (this.audio?.bitrate ?? 0);
    if (total > cap) {
      this.warn(
        'bitrate-over-cap',
        `bitrate ${(total / 1e6).toFixed(1)} Mbit/s is above the cap of ${(cap / 1e6).toFixed(1)} Mbit/s: ` +
          'lower it in OBS → Settings → Output → Bitrate',
      );
    } else this.warnings.delete('bitrate-over-cap');
  }

  private warn(code: PackagerWarning['code'], message: string): void {
    const prev = this.warnings.get(code);
    if (prev && (code !== 'timestamp-jump' || prev.message === message)) {
      if (prev.message !== message) this.warnings.set(code, { code, message });
      return;
    }
    const w = { code, message };
    this.warnings.set(code, w);
    this.out.onWarning?.(w);
  }
}

import { type Rung, rungSize, rungsBelow, SOURCE_RENDITION } from '../core/ladder';
import { newSessionId } from '../core/model';
import { BitrateWindow, type RenditionReport, renderMultivariantPlaylist, type VariantInfo, withRenditionReports } from './packager/multivariant';
import { type LivePosition, Packager, partUri, type SegmentOutput } from './packager/index.js';

/**
 * The renditions of one publish of a ladder channel (docs/ladder.md): the source, packaged as every publish is
 * (`source.m3u8`), and one transcoded rung per ladder rung below the source's height (`720p.m3u8`, …), each
 * packaged by its own `Packager` from the transcoder's output. `index.m3u8` is then the multivariant playlist.
 *
 * Alignment: the transcoder copies the source's timestamps and forces a keyframe at every line of the source's
 * segment grid. A rung's packager starts at such a keyframe, maps timestamps onto the wall clock exactly as the
 * source's packager does (`Packager.timestampOffsetMs`), and numbers from the source's segment at that time, so
 * rung segments have the source's sequence numbers and program date-times, and boundaries within a frame.
 *
 * Faults: when the transcoder goes down, its rungs leave the multivariant playlist and their media playlists
 * answer 404 (players switch to another variant); when it is up again, each rung starts a new packager (a new
 * session, a discontinuity) at the next grid keyframe and comes back. The source never waits for any of it.
 */

/** One rung as the transcoder makes it. */
export interface LadderRungSpec {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly videoKbps: number;
}

export type LadderState = 'starting' | 'up' | 'down' | 'failed';

/** What the renditions need of a running transcoder (ingest/ladder's supervisor behind an adapter). */
export interface LadderHandle {
  push(type: number, timestamp: number, payload: Buffer): void;
  close(): void;
}

export interface LadderStartInput {
  readonly rungs: readonly LadderRungSpec[];
  readonly source: { readonly width: number; readonly height: number; readonly frameRate?: number };
  /** The RTMP timestamp (ms) of the source's segment grid origin: keyframes go at origin + k × segmentSeconds. */
  readonly gridOriginTimestampMs: number;
  readonly segmentSeconds: number;
  onMessage(rung: string, type: number, timestamp: number, payload: Buffer): void;
  onState(state: LadderState, reason?: string): void;
}

/** Starts a ladder if the task has CPU for it; a refusal says why (the publish stays passthrough). */
export interface LadderStarter {
  start(input: LadderStartInput): LadderHandle | { readonly refused: string };
}

export interface RenditionsOptions {
  readonly playbackId: string;
  /** The channel's rung names (core/ladder.ts). */
  readonly ladder: readonly string[];
  readonly starter: LadderStarter;
  readonly source: Packager;
  readonly segmentSeconds: number;
  readonly fragmentSeconds?: number;
  readonly lowLatency: boolean;
  readonly playlistSize: number;
  readonly maxObjectBytes: number;
  /** Segments kept per rung in memory (window plus linger). */
  readonly keepSegments: number;
  /** The stream's object store (shared with the source). */
  readonly objects: Map<string, Buffer>;
  /** A rung packager's session id, so its objects are served (`<playbackId>/<session>`). */
  registerSession(session: string): void;
  /** A playlist changed: wake blocked requests. */
  onChange(): void;
  /** Where the source is (its rendition report), once its playlist is served. */
  sourcePosition(): LivePosition | undefined;
  readonly warn: (code: string, message: string) => void;
  readonly log?: { info(m: string, e?: Record<string, unknown>): void; warn(m: string, e?: Record<string, unknown>): void };
}

interface RungState {
  readonly spec: LadderRungSpec;
  packager?: Packager;
  session?: string;
  playlist?: string;
  lastMsn?: number;
  partMsn?: number;
  partIndex?: number;
  codecs: readonly string[];
  readonly window: BitrateWindow;
  readonly segments: { name: string; parts: number }[];
  headers: { video?: Buffer; audio?: Buffer; meta?: Buffer };
  /** Packagers started for this rung (the first is not a continuation). */
  generation: number;
  /** The transcoder is up: the rung may (re)start at the next grid keyframe. */
  live: boolean;
}

/**
 * The transcoder passes on only keyframes it forced at grid lines, but at 29.97 fps a grid line's first frame is
 * up to a frame after it: a keyframe within a quarter segment of a line starts that line's segment.
 */
const GRID_TOLERANCE_FRACTION = 0.25;

/** A rendition's report: its newest part when that is past its newest segment, else the segment. */
function reportOf(name: string, p: LivePosition): RenditionReport {
  const partNext = p.partMsn !== undefined && p.partMsn > p.lastMsn;
  return { name, lastMsn: partNext ? p.partMsn! : p.lastMsn, ...(partNext ? { lastPart: p.partIndex } : {}) };
}

export class Renditions {
  private readonly rungs = new Map<string, RungState>();
  private readonly sourceWindow: BitrateWindow;
  private sourceCodecs: readonly string[] = [];
  private handle: LadderHandle | undefined;
  private grid: { originMs: number; msn: number; dseq: number } | undefined;
  private headers: { video?: Buffer; audio?: Buffer; meta?: Buffer } = {};
  private state: LadderState | 'off' = 'off';
  private ended = false;

  constructor(private readonly o: RenditionsOptions) {
    this.sourceWindow = new BitrateWindow(o.playlistSize);
  }

  /** The transcoder's state, for health and status. */
  get ladderState(): LadderState | 'off' {
    return this.state;
  }

  /** The rungs being made now (in the multivariant playlist). */
  get activeRungs(): string[] {
    return [...this.rungs.values()].filter((r) => r.live && r.playlist !== undefined).map((r) => r.spec.name);
  }

  /** Every source media message, after the source's packager has it. Cheap; never throws. */
  pushSource(type: number, timestamp: number, payload: Buffer): void {
    if (this.ended) return;
    if (type === 18) this.headers.meta = payload;
    else if (type === 9 && payload.length > 1 && (payload[0] & 0x0f) === 7 && payload[1] === 0) this.headers.video = payload;
    else if (type === 8 && payload.length > 1 && payload[0] >> 4 === 10 && payload[1] === 0) this.headers.audio = payload;
    try {
      this.handle?.push(type, timestamp, payload);
    } catch (err) {
      this.o.log?.warn('ladder push failed', { error: (err as Error).message });
    }
  }

  sourceInit(codecs: readonly string[]): void {
    this.sourceCodecs = codecs;
  }

  /** Each source segment: its bitrate, and the first one starts the ladder (the grid origin is known then). */
  sourceSegment(segment: SegmentOutput): void {
    this.sourceWindow.add(segment.byteLength, segment.duration);
    if (this.grid || this.ended) return;
    this.grid = { originMs: segment.programDateTimeMs, msn: segment.msn, dseq: segment.discontinuitySequence };
    this.startLadder();
  }

  private startLadder(): void {
    const video = this.o.source.health().video;
    const offset = this.o.source.timestampOffsetMs;
    if (!video || offset === undefined || !this.grid) {
      this.o.warn('ladder-no-video', 'the ladder needs video: this stream is passed through only');
      return;
    }
    const rungs = rungsBelow(this.o.ladder, video.height);
    if (rungs.length === 0) {
      this.o.warn('ladder-no-rungs', `no ladder rung is below the source's ${video.height}p: only the source is offered`);
      return;
    }
    const specs = rungs.map((r: Rung) => ({ name: r.name, ...rungSize(r, video), videoKbps: r.videoKbps }));
    for (const spec of specs)
      this.rungs.set(spec.name, {
        spec,
        codecs: [],
        window: new BitrateWindow(this.o.playlistSize),
        segments: [],
        headers: {},
        generation: 0,
        live: false,
      });
    this.state = 'starting';
    const started = this.o.starter.start({
      rungs: specs,
      source: { width: video.width, height: video.height, ...(video.frameRate ? { frameRate: video.frameRate } : {}) },
      gridOriginTimestampMs: this.grid.originMs - offset,
      segmentSeconds: this.o.segmentSeconds,
      onMessage: (rung, type, timestamp, payload) => this.rungMessage(rung, type, timestamp, payload),
      onState: (state, reason) => this.ladderStateChanged(state, reason),
    });
    if ('refused' in started) {
      this.rungs.clear();
      this.state = 'off';
      this.o.warn('ladder-unavailable', `quality ladder not started (${started.refused}): this stream is passed through only`);
      return;
    }
    this.handle = started;
    // The transcoder needs the sequence headers it missed (the publish began before the ladder).
    for (const [type, h] of [
      [18, this.headers.meta],
      [9, this.headers.video],
      [8, this.headers.audio],
    ] as const) {
      if (h) started.push(type, 0, h);
    }
    this.o.log?.info('ladder started', { playbackId: this.o.playbackId, rungs: specs.map((s) => `${s.name} ${s.width}x${s.height}`) });
  }

  private ladderStateChanged(state: LadderState, reason?: string): void {
    if (this.ended) return;
    this.state = state;
    if (state === 'up') {
      for (const r of this.rungs.values()) r.live = true;
      this.o.log?.info('ladder up', { playbackId: this.o.playbackId });
      return;
    }
    if (state === 'down' || state === 'failed') {
      // Its rungs leave the multivariant playlist; a new packager starts when it is up again.
      for (const r of this.rungs.values()) this.dropRung(r);
      this.o.onChange();
      if (state === 'failed')
        this.o.warn('ladder-failed', `the transcoder failed${reason ? ` (${reason})` : ''}: this stream is passed through only`);
      else this.o.log?.warn('ladder down', { playbackId: this.o.playbackId, reason });
    }
  }

  private dropRung(r: RungState): void {
    r.live = false;
    r.packager = undefined;
    r.playlist = undefined;
    r.lastMsn = undefined;
    r.partMsn = undefined;
    r.partIndex = undefined;
    r.headers = {};
  }

  private rungMessage(name: string, type: number, timestamp: number, payload: Buffer): void {
    const r = this.rungs.get(name);
    if (!r || this.ended || !this.grid) return;
    if (!r.packager) {
      r.live = true;
      if (type === 18) r.headers.meta = payload;
      else if (type === 9 && payload.length > 1 && payload[1] === 0) r.headers.video = payload;
      else if (type === 8 && payload.length > 1 && payload[1] === 0) r.headers.audio = payload;
      else if (type === 9 && payload.length > 1 && payload[0] >> 4 === 1 && payload[1] === 1) this.maybeStartRung(r, timestamp, payload);
      return;
    }
    const err = r.packager.push(type, timestamp, payload);
    if (err) {
      this.o.log?.warn('rung packager refused its input', { playbackId: this.o.playbackId, rung: name, code: err.code });
      this.dropRung(r);
      r.live = true; // restart at the next grid keyframe
      this.o.onChange();
    }
  }

  /** A rung keyframe: if it is on a line of the source's segment grid, the rung's packager starts with it. */
  private maybeStartRung(r: RungState, timestamp: number, keyframe: Buffer): void {
    const offset = this.o.source.timestampOffsetMs;
    const grid = this.grid!;
    if (offset === undefined || !r.headers.video) return;
    const t = timestamp + offset;
    const S = this.o.segmentSeconds * 1000;
    const k = Math.round((t - grid.originMs) / S);
    if (k < 0 || Math.abs(t - (grid.originMs + k * S)) > GRID_TOLERANCE_FRACTION * S) return;
    const session = newSessionId();
    const continuation = r.generation > 0;
    r.generation++;
    r.session = session;
    r.segments.length = 0;
    const packager = new Packager({
      session,
      mediaSequenceBase: grid.msn + k,
      discontinuitySequenceBase: grid.dseq - 1 + (continuation ? 1 : 0),
      anchorMs: t,
      // The source's grid, not this packager's first sample: at 29.97 fps they drift apart by a frame.
      gridOriginMs: grid.originMs,
      segmentSeconds: this.o.segmentSeconds,
      ...(this.o.fragmentSeconds !== undefined ? { fragmentSeconds: this.o.fragmentSeconds } : {}),
      lowLatency: this.o.lowLatency,
      playlistSize: this.o.playlistSize,
      maxObjectBytes: this.o.maxObjectBytes,
      continuation,
      onInit: (init) => {
        this.o.objects.set(init.name, init.bytes);
        r.codecs = init.codecs;
        if (init.session !== session) this.o.registerSession(init.session);
      },
      onFragment: (f) => {
        if (this.o.lowLatency) this.o.objects.set(f.name, f.bytes);
        r.partMsn = f.msn;
        r.partIndex = f.index;
      },
      onSegment: (s) => {
        this.o.objects.set(s.name, s.chunks.length === 1 ? s.chunks[0] : Buffer.concat(s.chunks, s.byteLength));
        r.window.add(s.byteLength, s.duration);
        r.segments.push({ name: s.name, parts: s.parts.length });
        while (r.segments.length > this.o.keepSegments) {
          const old = r.segments.shift()!;
          this.o.objects.delete(old.name);
          for (let i = 0; i < old.parts; i++) this.o.objects.delete(partUri(old.name, i));
        }
        r.lastMsn = s.msn;
      },
      onPlaylist: (text) => {
        if (r.packager !== packager) return;
        if (r.lastMsn !== undefined) r.playlist = text;
        this.o.onChange();
      },
    });
    r.packager = packager;
    this.o.registerSession(session);
    // Its own sequence headers first, stamped at the keyframe (they anchor its timeline there), then the keyframe.
    for (const [type, h] of [
      [18, r.headers.meta],
      [9, r.headers.video],
      [8, r.headers.audio],
    ] as const) {
      if (h) packager.push(type, timestamp, h);
    }
    packager.push(9, timestamp, keyframe);
  }

  /** `index.m3u8`: the source first, then each rung that has a segment. */
  multivariant(): Buffer | undefined {
    const video = this.o.source.health().video;
    const variants: VariantInfo[] = [
      {
        name: SOURCE_RENDITION,
        peakBps: this.sourceWindow.peakBps,
        averageBps: this.sourceWindow.averageBps,
        ...(video ? { width: video.width, height: video.height, ...(video.frameRate ? { frameRate: video.frameRate } : {}) } : {}),
        codecs: this.sourceCodecs,
      },
    ];
    for (const r of this.rungs.values()) {
      if (!r.live || r.playlist === undefined) continue;
      variants.push({
        name: r.spec.name,
        peakBps: r.window.peakBps,
        averageBps: r.window.averageBps,
        width: r.spec.width,
        height: r.spec.height,
        ...(video?.frameRate ? { frameRate: video.frameRate } : {}),
        codecs: r.codecs,
      });
    }
    if (!(variants[0].peakBps > 0)) return undefined;
    return Buffer.from(renderMultivariantPlaylist(variants));
  }

  /** A rung's media playlist (with rendition reports), or undefined (unknown, not started, or down: 404). */
  rungPlaylist(name: string): string | undefined {
    const r = this.rungs.get(name);
    if (!r?.live || r.playlist === undefined) return undefined;
    return withRenditionReports(r.playlist, this.reports(name));
  }

  /** The source playlist with reports on the rungs. */
  withReports(sourcePlaylist: string): string {
    return withRenditionReports(sourcePlaylist, this.reports(SOURCE_RENDITION));
  }

  private reports(except: string): RenditionReport[] {
    const out: RenditionReport[] = [];
    const source = except !== SOURCE_RENDITION ? this.o.sourcePosition() : undefined;
    if (source) out.push(reportOf(SOURCE_RENDITION, source));
    for (const r of this.rungs.values()) {
      if (r.spec.name === except || r.playlist === undefined) continue;
      const p = this.position(r.spec.name);
      if (p) out.push(reportOf(r.spec.name, p));
    }
    return out;
  }

  /** A rung's live position (blocking reloads), by rendition name or by one of its sessions. */
  position(nameOrSession: string): LivePosition | undefined {
    for (const r of this.rungs.values()) {
      if (r.spec.name !== nameOrSession && r.session !== nameOrSession) continue;
      if (r.lastMsn === undefined || !r.live) return undefined;
      return { lastMsn: r.lastMsn, partMsn: r.partMsn, partIndex: r.partIndex, ended: this.ended };
    }
    return undefined;
  }

  isRung(name: string): boolean {
    return this.rungs.has(name);
  }

  /** The publish ended: the rungs flush their last segments and end; the transcoder stops. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.handle?.close();
    } catch {
      // closing a transcoder that is already gone
    }
    this.handle = undefined;
    for (const r of this.rungs.values()) r.packager?.end();
    this.o.onChange();
  }
}

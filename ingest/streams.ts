import type { OriginPath } from '../core/hls/paths';
import { BadRequestError, ConditionFailedError } from '../core/errors';
import { blockingHoldMs, MAX_BUFFERED_BODY_BYTES } from '../core/limits';
import { type Logger, partLog } from '../core/logger';
import { hashesEqual, hashStreamKey, keyFingerprint, newSessionId, type Channel, type Route, type StreamHealthReport } from '../core/model';
import type { ChannelStore, RouteStore } from '../core/store';
import type { AuthThrottle } from './auth-throttle';
import {
  type FlvTag,
  FlvTagReader,
  type LivePosition,
  Packager,
  PackagerError,
  type PackagerWarning,
  partUri,
  partVerdict,
  playlistVerdict,
  type SequenceNumbering,
  type StreamHealth,
  timeBasedSequence,
} from './packager/index.js';
import { fromPackagerSegment, type Recorder, type RecordingService } from './recorder/index.js';
import type { FlvSink, PublishDecision as RtmpPublishDecision, SessionEndReason } from './rtmp/index.js';
import { type Thumbnail, Thumbnailer, type ThumbnailPool } from './thumbnails/index.js';
import { type LadderStarter, Renditions } from './renditions';
import { SOURCE_RENDITION } from '../core/ladder';

/** Why a publish's media stopped, as the RTMP layer reports it. */
export type EndReason = SessionEndReason;

export interface PublishAttempt {
  /** The secret stream key. Never logged, never stored. */
  readonly streamKey: string;
  readonly remoteAddress: string;
  /** Ends the RTMP session from our side (a newer publish took over, or the task drains). */
  kick(reason: 'kicked' | 'server-close'): void;
}

/** The RTMP layer's decision (ingest/rtmp/types.ts); an accepted publish also names its playback ID. */
export type PublishDecision = RtmpPublishDecision<{ readonly playbackId: string }>;
export type { FlvSink };

export interface StreamManagerOptions {
  readonly store: ChannelStore & RouteStore;
  readonly logger?: Logger;
  readonly taskArn: string;
  /** Address and port at which the origin reaches this task's HLS server. */
  readonly advertiseHost: string;
  readonly advertisePort: number;
  readonly segmentSeconds: number;
  /** Fragment (LL-HLS part) duration limit, s: PART-TARGET. Default: the packager's (0.334 s). */
  readonly fragmentSeconds?: number;
  /** LL-HLS: parts in the playlist, blocking playlist reloads and part requests (docs/ll-hls.md). Default true. */
  readonly lowLatency?: boolean;
  /** The longest a blocking request is held before the current playlist (or a 404 for a part) answers it. Default 3 target durations. */
  readonly blockingHoldMs?: number;
  readonly playlistSize: number;
  readonly routeTtlSeconds: number;
  readonly reconnectGraceSeconds: number;
  readonly endLingerSeconds: number;
  /** How long a finished session's objects stay in memory for in-flight segment fetches. Default 30 s. */
  readonly cleanupDelaySeconds?: number;
  /** How long a segment that left the playlist window stays fetchable (in-flight and slow players). Default 10 s. */
  readonly segmentLingerSeconds?: number;
  readonly onActiveStreamsChanged?: (count: number) => void;
  /** Refuses publishes from a source with too many recent failures, before any key look-up. */
  readonly authThrottle?: AuthThrottle;
  /** Records the publishes of channels with recording on (docs/recording.md); unset: no recording on this task. */
  readonly recordings?: RecordingService;
  /** Each live stream's current JPEG (`/<playbackId>/thumbnail.jpg`), one keyframe decode per interval; unset: none. */
  readonly thumbnails?: { readonly pool: ThumbnailPool; readonly intervalSeconds: number; readonly maxWidth: number };
  /** Starts quality ladders (docs/ladder.md) when the task has CPU for them; unset: no ladders on this task. */
  readonly ladders?: LadderStarter & { load?(): number };
}

type StreamState = 'live' | 'grace' | 'ending' | 'ended' | 'superseded';

/** One live stream as `GET /streams` on the health port shows it (for `keyframe status`). */
export interface StreamStatus {
  readonly playbackId: string;
  readonly channel: string;
  readonly session: string;
  readonly state: 'live' | 'grace' | 'ending';
  readonly startedAt: number;
  /** Media sequence number of the newest segment, or undefined before the first. */
  readonly mediaSequence?: number;
  readonly health: StreamHealth;
}

/** A session's objects by file name: its init segments, and its newest segments (window plus linger). */
type ObjectStore = Map<string, Buffer>;

interface LiveStream {
  readonly channel: Channel;
  readonly session: string;
  readonly startedAt: number;
  readonly packager: Packager;
  readonly attempt: PublishAttempt;
  readonly objects: ObjectStore;
  /** Keys (`playbackId/session`) under which `objects` is served: the session and any derived session of a new init. */
  readonly objectKeys: Set<string>;
  /** The media playlist as the packager rendered it last; undefined before the first segment. */
  playlist?: Buffer;
  /** `#EXT-X-ENDLIST` may be served: the stream has ended (not merely lost its publisher). */
  endListed: boolean;
  state: StreamState;
  /** Newest segment's media sequence number (before any: the session's base − 1). */
  mediaSequence: number;
  /** Newest part written: its segment's msn and index (LL-HLS blocking requests wait on these). */
  partMsn?: number;
  partIndex?: number;
  /** Blocked requests, woken after every playlist render and when the stream stops. */
  readonly waiters: Set<() => void>;
  readonly discontinuitySequence: number;
  readonly warned: Set<PackagerWarning['code']>;
  /** This publish's handle on its recording (recorded channels only). Never blocks, never throws. */
  readonly recorder?: Recorder;
  readonly thumbnailer?: Thumbnailer;
  /** The newest thumbnail (kept after the publisher is gone, while the stream is still listed). */
  thumbnail?: Thumbnail;
  /** A ladder channel's renditions (`index.m3u8` is then the multivariant playlist). */
  renditions?: Renditions;
  /** Warnings of the stream manager itself (the ladder), beside the packager's; one per code. */
  readonly extraWarnings: { code: string; message: string }[];
  refused: boolean;
  heartbeat?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  done: Promise<void>;
  resolveDone: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENDLIST = /#EXT-X-ENDLIST\n$/;

/**
 * The publish lifecycle of one ingest task: authorize the key before the publish is accepted, point the
 * route at this task, package the stream in-process (ingest/packager: FLV tags to CMAF HLS, no ffmpeg) into a
 * bounded in-memory store, keep the route alive with heartbeats, and end the stream: end-of-list marker, a
 * short linger so players read it, then a compare-and-delete of the route.
 *
 * Numbering comes from the wall clock (`timeBasedSequence`), so a later session, on this task or any other,
 * even after a kill -9 that purged the route, continues above every number a viewer has seen; it is also kept
 * at or above what the route says.
 *
 * Duplicate publishers: the newer publish takes over (the older session is kicked), on this task at once and
 * on another task at that task's next heartbeat, whose conditional write fails. A publisher that reconnects
 * after a network drop therefore always wins.
 */
export class StreamManager {
  private readonly streams = new Map<string, LiveStream>();
  /** Sessions whose objects are still in memory (`playbackId/session` → store), for in-flight segment requests. */
  private readonly sessionObjects = new Map<string, ObjectStore>();
  private draining = false;
  /** Ladder channels' publishes that fell back to passthrough (the `LadderFallbacks` metric counts them). */
  ladderFallbacks = 0;

  constructor(private readonly opts: StreamManagerOptions) {}

  get activeStreams(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.state === 'live' || s.state === 'grace') n++;
    return n;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Resolves an HLS request to the bytes of an object of a session this task holds. LL-HLS blocking requests
   * (a playlist with `_HLS_msn`, a part not written yet) wait for it, at most `blockingHoldMs`; a reload more
   * than two segments ahead is a 400.
   */
  resolveObject = (path: OriginPath): Buffer | undefined | Promise<Buffer | undefined> => {
    if (path.kind === 'thumbnail') {
      const stream = this.streams.get(path.playbackId);
      return stream && stream.state !== 'superseded' ? stream.thumbnail?.jpeg : undefined;
    }
    if (path.kind === 'playlist') {
      const stream = this.streams.get(path.playbackId);
      const renditions = stream?.renditions;
      if (stream && renditions) return this.resolveRendition(stream, renditions, path);
      if (path.file !== 'index.m3u8') return undefined;
      if (!stream) return undefined;
      return this.blockingPlaylist(
        stream,
        path,
        () => this.position(stream),
        () => this.currentPlaylist(stream),
      );
    }
    const key = `${path.playbackId}/${path.session}`;
    const found = path.session ? this.sessionObjects.get(key)?.get(path.file) : undefined;
    if (found || path.kind !== 'part') return found;
    const stream = this.streams.get(path.playbackId);
    if (!stream?.objectKeys.has(key)) return undefined;
    // A rung's part waits on that rung; the source's on the source.
    const where = () => stream.renditions?.position(path.session!) ?? this.position(stream);
    if (partVerdict(where(), path.msn!, path.part!) !== 'wait') return undefined;
    return this.block(stream, () => stream.objects.has(path.file) || partVerdict(where(), path.msn!, path.part!) !== 'wait').then(() =>
      stream.objects.get(path.file),
    );
  };

  /** A ladder channel's playlists: `index.m3u8` multivariant, `source.m3u8` the source, `<rung>.m3u8` a rung. */
  private resolveRendition(stream: LiveStream, renditions: Renditions, path: OriginPath): Buffer | undefined | Promise<Buffer | undefined> {
    if (stream.state === 'superseded') return undefined;
    const name = path.file.slice(0, -'.m3u8'.length);
    if (name === 'index') {
      if (path.blocking) throw new BadRequestError('blocking reloads apply to media playlists, not the multivariant playlist');
      return renditions.multivariant();
    }
    if (name === SOURCE_RENDITION) {
      return this.blockingPlaylist(
        stream,
        path,
        () => this.position(stream),
        () => {
          const p = this.currentPlaylist(stream);
          return p ? Buffer.from(renditions.withReports(p.toString('utf8'))) : undefined;
        },
      );
    }
    if (!renditions.isRung(name)) return undefined;
    return this.blockingPlaylist(
      stream,
      path,
      () => renditions.position(name),
      () => {
        const text = renditions.rungPlaylist(name);
        return text === undefined ? undefined : Buffer.from(text);
      },
    );
  }

  /**
   * A media playlist, at once or, for an LL-HLS blocking reload (`_HLS_msn`, `_HLS_part`), once `position` has
   * what was asked for (at most `blockingHoldMs`); a reload more than two segments ahead is a 400. A rendition
   * with no position (not started, or down) answers at once.
   */
  private blockingPlaylist(
    stream: LiveStream,
    path: OriginPath,
    position: () => LivePosition | undefined,
    render: () => Buffer | undefined,
  ): Buffer | undefined | Promise<Buffer | undefined> {
    const msn = path.blocking?.msn;
    const part = path.blocking?.part;
    const now = position();
    if (msn === undefined || !now) return render();
    const verdict = playlistVerdict(now, msn, part);
    if (verdict === 'too-far') throw new BadRequestError('_HLS_msn is more than two segments ahead');
    if (verdict === 'ready') return render();
    return this.block(stream, () => {
      const p = position();
      return !p || playlistVerdict(p, msn, part) !== 'wait';
    }).then(render);
  }

  /** Load units for the scaling metric: a passthrough stream is 1; a ladder adds what it costs (docs/ladder.md). */
  get loadUnits(): number {
    return this.activeStreams + (this.opts.ladders?.load?.() ?? 0);
  }

  private currentPlaylist(stream: LiveStream | undefined): Buffer | undefined {
    if (!stream || stream.state === 'superseded' || !stream.playlist) return undefined;
    if (stream.endListed) return stream.playlist;
    // Between a lost publisher's last segment and the end of its grace the list is not over yet.
    const text = stream.playlist.toString('utf8');
    return ENDLIST.test(text) ? Buffer.from(text.replace(ENDLIST, '')) : stream.playlist;
  }

  private position(stream: LiveStream): LivePosition {
    return {
      lastMsn: stream.mediaSequence,
      partMsn: stream.partMsn,
      partIndex: stream.partIndex,
      // In the grace after a lost publisher, requests are still held: the publisher may come back.
      ended: stream.state === 'ending' || stream.state === 'ended' || stream.state === 'superseded',
    };
  }

  /** Resolves when `done()` holds after a playlist render or the stream stops, or after `blockingHoldMs`. */
  private block(stream: LiveStream, done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        stream.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, this.opts.blockingHoldMs ?? blockingHoldMs(this.opts.segmentSeconds));
      stream.waiters.add(check);
    });
  }

  private wake(stream: LiveStream): void {
    for (const check of [...stream.waiters]) check();
  }

  /** What the packager measures for each stream this task holds (the health port's `GET /streams`). */
  statuses(): StreamStatus[] {
    const out: StreamStatus[] = [];
    for (const s of this.streams.values()) {
      if (s.state !== 'live' && s.state !== 'grace' && s.state !== 'ending') continue;
      const health = s.packager.health();
      out.push({
        playbackId: s.channel.playbackId,
        channel: s.channel.name,
        session: s.session,
        state: s.state,
        startedAt: s.startedAt,
        mediaSequence: health.segments > 0 ? s.mediaSequence : undefined,
        health,
      });
    }
    return out;
  }

  /** Called by the RTMP layer when a client sends `publish`, before anything is accepted. */
  async onPublish(attempt: PublishAttempt): Promise<PublishDecision> {
    const log = this.opts.logger;
    if (this.draining) {
      return { accept: false, code: 'NetStream.Publish.Denied', description: 'Server is draining; reconnect to another server' };
    }
    const throttle = this.opts.authThrottle;
    const verdict = throttle?.check(attempt.remoteAddress);
    if (verdict && !verdict.allowed) {
      // No look-up, no hash: a throttled source learns nothing about any key and costs no table read.
      log?.debug('publish refused: source is backing off after failed keys', {
        remoteAddress: attempt.remoteAddress,
        retryAfterSeconds: verdict.retryAfterSeconds,
      });
      return {
        accept: false,
        code: 'NetStream.Publish.Denied',
        description: `Too many refused stream keys from your address; retry in ${verdict.retryAfterSeconds} s`,
      };
    }
    const keyHash = hashStreamKey(attempt.streamKey);
    let channel: Channel | undefined;
    try {
      channel = await this.opts.store.getChannelByKeyHash(keyHash);
    } catch (err) {
      log?.error('publish refused: channel look-up failed', { remoteAddress: attempt.remoteAddress, error: (err as Error).message });
      return { accept: false, code: 'NetStream.Publish.Denied', description: 'Authorization unavailable; retry later' };
    }
    if (!channel || channel.state !== 'active' || !hashesEqual(channel.keyHash, keyHash)) {
      const backoff = throttle?.recordFailure(attempt.remoteAddress) ?? false;
      log?.warn('publish refused: unknown or revoked stream key', {
        remoteAddress: attempt.remoteAddress,
        keyFingerprint: keyFingerprint(attempt.streamKey),
        revoked: channel?.state === 'revoked',
        ...(backoff ? { backoffStarted: true } : {}),
      });
      return { accept: false, code: 'NetStream.Publish.BadName', description: 'Stream key refused' };
    }
    throttle?.recordSuccess(attempt.remoteAddress);
    if (this.draining) {
      return { accept: false, code: 'NetStream.Publish.Denied', description: 'Server is draining; reconnect to another server' };
    }

    const playbackId = channel.playbackId;
    const session = newSessionId();

    // An older publish of this channel on this task gives way to the newer one.
    const previousLocal = this.streams.get(playbackId);
    if (previousLocal) this.supersede(previousLocal, 'a newer publish of the same channel started on this task');

    // A recorded channel's publish joins its recording (the same one after a reconnect within the window); the
    // route names it, for live rewind. Started before the route so the route carries its id.
    const recorder =
      channel.record && this.opts.recordings
        ? this.opts.recordings.start({ playbackId, channelName: channel.name, private: channel.private === true })
        : undefined;
    if (channel.record && !this.opts.recordings) {
      log?.warn('channel has recording on, but this task has no recording bucket: not recorded', { playbackId, session });
    }
    let continuation: Route | undefined;
    let numbering: SequenceNumbering | Omit<SequenceNumbering, 'sequenceQuantumMs'>;
    try {
      continuation = await this.opts.store.getRoute(playbackId);
      numbering = this.numberingFor(continuation);
      const now = Date.now();
      const route = this.routeFor({ playbackId, session, now, numbering, private: channel.private === true, recordingId: recorder?.recordingId });
      const replaced = await this.opts.store.putRoute(route);
      if (replaced && (!continuation || replaced.mediaSequence > continuation.mediaSequence)) {
        continuation = replaced;
        numbering = this.numberingFor(continuation);
      }
    } catch (err) {
      recorder?.end();
      log?.error('publish refused: route write failed', { playbackId, error: (err as Error).message });
      return { accept: false, code: 'NetStream.Publish.Denied', description: 'Routing unavailable; retry later' };
    }

    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const logContext = { playbackId, session };
    const partLogger = partLog(log, logContext);
    const objects: ObjectStore = new Map();
    const objectKeys = new Set<string>([`${playbackId}/${session}`]);
    const segmentOrder: { readonly name: string; readonly parts: number }[] = [];
    // The playlist window plus the linger, so a fetch that read the playlist just before a segment left it still succeeds.
    const keepSegments = this.opts.playlistSize + Math.ceil((this.opts.segmentLingerSeconds ?? 10) / this.opts.segmentSeconds);
    const initOrder: string[] = [];
    const thumbs = this.opts.thumbnails;
    const thumbnailer = thumbs
      ? new Thumbnailer({
          intervalSeconds: thumbs.intervalSeconds,
          maxWidth: thumbs.maxWidth,
          pool: thumbs.pool,
          onThumbnail: (t) => {
            stream.thumbnail = t;
            // The recording's poster is its first thumbnail (later ones are ignored by the recorder).
            recorder?.onPoster(t.jpeg);
          },
          ...(partLogger ? { log: partLogger } : {}),
        })
      : undefined;
    const stream: LiveStream = {
      channel,
      session,
      startedAt: Date.now(),
      attempt,
      objects,
      objectKeys,
      endListed: false,
      state: 'live',
      mediaSequence: numbering.mediaSequenceBase - 1,
      discontinuitySequence: numbering.discontinuitySequenceBase,
      warned: new Set(),
      waiters: new Set(),
      extraWarnings: [],
      ...(recorder ? { recorder } : {}),
      ...(thumbnailer ? { thumbnailer } : {}),
      refused: false,
      done,
      resolveDone,
      packager: new Packager({
        session,
        ...numbering,
        segmentSeconds: this.opts.segmentSeconds,
        ...(this.opts.fragmentSeconds !== undefined ? { fragmentSeconds: this.opts.fragmentSeconds } : {}),
        lowLatency: this.opts.lowLatency ?? true,
        playlistSize: this.opts.playlistSize,
        // The origin relays whole objects in one buffered function URL response.
        maxObjectBytes: MAX_BUFFERED_BODY_BYTES - 64 * 1024,
        continuation: continuation !== undefined,
        onInit: (init) => {
          objects.set(init.name, init.bytes);
          initOrder.push(init.name);
          // Segments in the window may still use the previous init or two; older ones go.
          while (initOrder.length > 3) objects.delete(initOrder.shift()!);
          const key = `${playbackId}/${init.session}`;
          objectKeys.add(key);
          this.sessionObjects.set(key, objects);
          recorder?.onInit(init.name, init.bytes);
          stream.renditions?.sourceInit(init.codecs);
        },
        onFragment: (fragment) => {
          // LL-HLS parts, served from memory as they are cut; they go with their segment.
          if (this.opts.lowLatency ?? true) objects.set(fragment.name, fragment.bytes);
          stream.partMsn = fragment.msn;
          stream.partIndex = fragment.index;
        },
        onSegment: (segment) => {
          objects.set(segment.name, segment.chunks.length === 1 ? segment.chunks[0] : Buffer.concat(segment.chunks, segment.byteLength));
          segmentOrder.push({ name: segment.name, parts: segment.parts.length });
          while (segmentOrder.length > keepSegments) {
            const old = segmentOrder.shift()!;
            objects.delete(old.name);
            for (let i = 0; i < old.parts; i++) objects.delete(partUri(old.name, i));
          }
          stream.mediaSequence = segment.msn;
          // After the live store has it: the recorder copies it to its spool and never makes the live edge wait.
          recorder?.onSegment(fromPackagerSegment(segment));
          stream.renditions?.sourceSegment(segment);
        },
        onPlaylist: (text) => {
          // Served from the first complete segment on, as without LL-HLS: a playlist of parts alone would be an
          // empty live playlist to players that ignore parts.
          if (stream.mediaSequence >= numbering.mediaSequenceBase) stream.playlist = Buffer.from(text);
          this.wake(stream);
        },
        onWarning: (warning) => {
          if (stream.warned.has(warning.code)) return;
          stream.warned.add(warning.code);
          log?.warn('stream warning', { ...logContext, code: warning.code, warning: warning.message });
        },
      }),
    };
    const warnOnce = (code: string, message: string) => {
      if (stream.extraWarnings.some((w) => w.code === code)) return;
      stream.extraWarnings.push({ code, message });
      if (code === 'ladder-unavailable' || code === 'ladder-failed') this.ladderFallbacks++;
      log?.warn('stream warning', { ...logContext, code, warning: message });
    };
    if (channel.ladder?.length) {
      if (this.opts.ladders) {
        stream.renditions = new Renditions({
          playbackId,
          ladder: channel.ladder,
          starter: this.opts.ladders,
          source: stream.packager,
          segmentSeconds: this.opts.segmentSeconds,
          ...(this.opts.fragmentSeconds !== undefined ? { fragmentSeconds: this.opts.fragmentSeconds } : {}),
          lowLatency: this.opts.lowLatency ?? true,
          playlistSize: this.opts.playlistSize,
          maxObjectBytes: MAX_BUFFERED_BODY_BYTES - 64 * 1024,
          keepSegments,
          objects,
          registerSession: (s) => {
            const key = `${playbackId}/${s}`;
            objectKeys.add(key);
            this.sessionObjects.set(key, objects);
          },
          onChange: () => this.wake(stream),
          sourcePosition: () => (stream.playlist ? this.position(stream) : undefined),
          warn: warnOnce,
          ...(partLogger ? { log: partLogger } : {}),
        });
      } else {
        warnOnce('ladder-unavailable', 'this task transcodes no ladders (not enabled): this stream is passed through only');
      }
    }
    this.streams.set(playbackId, stream);
    this.sessionObjects.set(`${playbackId}/${session}`, objects);
    stream.heartbeat = setInterval(() => void this.heartbeat(stream), (this.opts.routeTtlSeconds * 1000) / 3);
    stream.heartbeat.unref();
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    log?.info('publish started', {
      ...logContext,
      channel: channel.name,
      remoteAddress: attempt.remoteAddress,
      startNumber: numbering.mediaSequenceBase,
      discontinuitySequence: numbering.discontinuitySequenceBase,
      continuesFrom: continuation ? { taskArn: continuation.taskArn, session: continuation.session } : undefined,
      ...(recorder ? { recordingId: recorder.recordingId } : {}),
    });

    const reader = new FlvTagReader();
    const sink: FlvSink = {
      write: (buf) => {
        if (stream.state !== 'live') return;
        let tags: FlvTag[];
        try {
          tags = reader.push(buf);
        } catch (err) {
          return this.refuse(stream, new PackagerError('malformed', (err as Error).message));
        }
        for (const tag of tags) {
          const err = stream.packager.push(tag.type, tag.timestamp, tag.payload);
          if (err) return this.refuse(stream, err);
          thumbnailer?.push(tag.type, tag.timestamp, tag.payload);
          stream.renditions?.pushSource(tag.type, tag.timestamp, tag.payload);
        }
      },
      // The RTMP layer hands each media message over as it is: no FLV framing to build and parse back.
      message: (type, timestamp, payload) => {
        if (stream.state !== 'live') return;
        const err = stream.packager.push(type, timestamp, payload);
        if (err) return this.refuse(stream, err);
        thumbnailer?.push(type, timestamp, payload);
        stream.renditions?.pushSource(type, timestamp, payload);
      },
      end: (reason) => void this.onMediaEnd(stream, reason),
    };
    return { accept: true, sink, playbackId };
  }

  /**
   * Stops new publishes, waits for live ones to finish until the deadline, then disconnects the rest, gives
   * them `reconnectWindowMs` to move to another task, ends their playlists and removes their routes.
   */
  async drain(deadlineMs: number, reconnectWindowMs = Math.min(this.opts.reconnectGraceSeconds * 1000, 5000)): Promise<void> {
    this.draining = true;
    const log = this.opts.logger;
    log?.info('draining', { streams: this.activeStreams, deadlineMs });
    const deadline = Date.now() + deadlineMs;
    while (this.activeStreams > 0 && Date.now() < deadline) await sleep(Math.min(250, Math.max(1, deadline - Date.now())));
    const remaining = [...this.streams.values()];
    let kicked = 0;
    for (const s of remaining) {
      if (s.state === 'live') {
        s.attempt.kick('server-close');
        kicked++;
      }
    }
    if (kicked > 0 && reconnectWindowMs > 0) {
      // Publishers reconnect (through the NLB, to another task) and take their routes over; a stream that moved
      // keeps its media sequence there, and our conditional delete below leaves its new route alone.
      log?.info('drain deadline: publishers disconnected; waiting for them to move', { kicked, reconnectWindowMs });
      await sleep(reconnectWindowMs);
    }
    await Promise.all(remaining.map((s) => this.endStream(s, 'drain', { linger: false })));
    log?.info('drained', { ended: remaining.length });
  }

  /** Ends every stream at once with no linger (tests, fatal errors). */
  async close(): Promise<void> {
    this.draining = true;
    const all = [...this.streams.values()];
    for (const s of all) s.attempt.kick('server-close');
    await Promise.all(all.map((s) => this.endStream(s, 'close', { linger: false })));
  }

  private routeFor(input: {
    playbackId: string;
    session: string;
    now: number;
    numbering: Omit<SequenceNumbering, 'sequenceQuantumMs'>;
    private?: boolean;
    recordingId?: string;
  }): Route {
    return {
      playbackId: input.playbackId,
      taskArn: this.opts.taskArn,
      host: this.opts.advertiseHost,
      port: this.opts.advertisePort,
      session: input.session,
      startedAt: input.now,
      heartbeatAt: input.now,
      expiresAt: input.now + this.opts.routeTtlSeconds * 1000,
      mediaSequence: input.numbering.mediaSequenceBase - 1,
      // The first segment's discontinuity number (the packager gives it base + 1).
      discontinuitySequence: input.numbering.discontinuitySequenceBase + 1,
      ...(input.private ? { private: true } : {}),
      ...(input.recordingId ? { recordingId: input.recordingId } : {}),
    };
  }

  /**
   * Where a new session's numbering starts: from the clock (docs/packager.md, "Numbering"), which is above
   * anything an earlier session produced, and in any case at or above what the route says. The stored sequence
   * can be one heartbeat old, so the route's floor skips ahead by the segments a heartbeat interval can hold.
   * Should the route be ahead of the clock (a clock behind another task's), the route wins and the packager
   * numbers without the clock rule.
   */
  private numberingFor(previous?: Route): SequenceNumbering | Omit<SequenceNumbering, 'sequenceQuantumMs'> {
    const time = timeBasedSequence(Date.now());
    if (!previous) return time;
    const heartbeatSeconds = this.opts.routeTtlSeconds / 3;
    const margin = Math.ceil(heartbeatSeconds / this.opts.segmentSeconds) + 2;
    const msn = previous.mediaSequence + margin;
    const dseq = previous.discontinuitySequence + 1;
    if (msn <= time.mediaSequenceBase && dseq <= time.discontinuitySequenceBase) return time;
    this.opts.logger?.warn('route numbering is ahead of the clock; numbering from the route', {
      playbackId: previous.playbackId,
      routeMediaSequence: previous.mediaSequence,
      clockBase: time.mediaSequenceBase,
    });
    return { mediaSequenceBase: Math.max(msn, time.mediaSequenceBase), discontinuitySequenceBase: Math.max(dseq, time.discontinuitySequenceBase) };
  }

  /** What the route's heartbeat carries: the packager's measurements, the ladder, and every warning. */
  private healthOf(stream: LiveStream): StreamHealthReport {
    const base = healthReport(stream.packager.health());
    const r = stream.renditions;
    return {
      ...base,
      ...(r ? { ladder: { state: r.ladderState, rungs: r.activeRungs } } : {}),
      warnings: [...base.warnings, ...stream.extraWarnings],
    };
  }

  /** The packager refused the stream (unsupported codec, malformed media): end the publish, logged once. */
  private refuse(stream: LiveStream, err: PackagerError): void {
    if (stream.refused) return;
    stream.refused = true;
    this.opts.logger?.error('publish ended: the packager refused the stream', {
      playbackId: stream.channel.playbackId,
      session: stream.session,
      code: err.code,
      description: err.rtmpDescription,
      ...(err.code === 'internal' ? { error: err.message } : {}),
    });
    // The rtmp layer has no way yet to send a NetStream.Publish error after acceptance: close the session.
    const ending = this.endStream(stream, `packager: ${err.code}`);
    stream.attempt.kick('kicked');
    void ending;
  }

  private async heartbeat(stream: LiveStream): Promise<void> {
    if (stream.state !== 'live' && stream.state !== 'grace') return;
    const now = Date.now();
    try {
      await this.opts.store.heartbeatRoute({
        playbackId: stream.channel.playbackId,
        taskArn: this.opts.taskArn,
        session: stream.session,
        heartbeatAt: now,
        expiresAt: now + this.opts.routeTtlSeconds * 1000,
        mediaSequence: stream.mediaSequence,
        health: this.healthOf(stream),
      });
    } catch (err) {
      if (err instanceof ConditionFailedError) {
        this.supersede(stream, 'the route moved to a newer publish');
      } else {
        this.opts.logger?.warn('route heartbeat failed; will retry', { playbackId: stream.channel.playbackId, error: (err as Error).message });
      }
    }
  }

  /** Another session owns the channel now: stop this one without touching the route or the playlist. */
  private supersede(stream: LiveStream, why: string): void {
    if (stream.state === 'superseded' || stream.state === 'ended') return;
    this.opts.logger?.info('publish superseded', { playbackId: stream.channel.playbackId, session: stream.session, why });
    stream.state = 'superseded';
    this.wake(stream);
    this.stopTimers(stream);
    // Flush what the packager holds into the recording; a takeover on this task has already joined the
    // recording through start(), which makes this handle inert, so this ends only a recording that moved away.
    this.endPackager(stream);
    stream.recorder?.end();
    stream.attempt.kick('kicked');
    if (this.streams.get(stream.channel.playbackId) === stream) this.streams.delete(stream.channel.playbackId);
    this.scheduleCleanup(stream);
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    stream.resolveDone();
  }

  private async onMediaEnd(stream: LiveStream, reason: EndReason): Promise<void> {
    if (stream.state !== 'live') return;
    const log = this.opts.logger;
    if (reason === 'unpublish' || this.opts.reconnectGraceSeconds === 0) {
      log?.info('publish ended', { playbackId: stream.channel.playbackId, session: stream.session, reason });
      return this.endStream(stream, reason);
    }
    // An abrupt end: finish the last segment (served without the end-of-list marker until the grace is over),
    // keep the route alive, and wait for the publisher to return.
    stream.state = 'grace';
    log?.info('publisher gone; waiting for a reconnect', {
      playbackId: stream.channel.playbackId,
      session: stream.session,
      reason,
      graceSeconds: this.opts.reconnectGraceSeconds,
    });
    this.endPackager(stream);
    stream.grace = setTimeout(() => void this.endStream(stream, `${reason}, no reconnect`), this.opts.reconnectGraceSeconds * 1000);
    stream.grace.unref();
  }

  private async endStream(stream: LiveStream, why: string, opts: { linger?: boolean } = {}): Promise<void> {
    if (stream.state === 'ending' || stream.state === 'ended') return stream.done;
    if (stream.state === 'superseded') return;
    stream.state = 'ending';
    this.wake(stream);
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    const { playbackId } = stream.channel;
    if (stream.grace) clearTimeout(stream.grace);
    this.endPackager(stream);
    // The recording becomes VOD now, not after the linger: a replay is `ready` as soon as its uploads are done.
    stream.recorder?.end();
    stream.endListed = true;
    const ended = stream.playlist !== undefined;
    if (opts.linger !== false && ended && this.opts.endLingerSeconds > 0) {
      // Keep the route (and its heartbeat) so players fetch the end-of-list marker before the 404s start.
      await sleep(this.opts.endLingerSeconds * 1000);
    }
    this.stopTimers(stream);
    let removed = false;
    try {
      removed = await this.opts.store.deleteRoute(playbackId, this.opts.taskArn, stream.session);
    } catch (err) {
      this.opts.logger?.error('route delete failed; it expires by itself', { playbackId, error: (err as Error).message });
    }
    stream.state = 'ended';
    if (this.streams.get(playbackId) === stream) this.streams.delete(playbackId);
    this.opts.logger?.info('stream ended', {
      playbackId,
      session: stream.session,
      why,
      durationSeconds: Math.round((Date.now() - stream.startedAt) / 1000),
      lastSequence: stream.mediaSequence,
      routeRemoved: removed,
    });
    this.scheduleCleanup(stream);
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    stream.resolveDone();
  }

  /** Flushes the last segment and renders the final playlist (idempotent). */
  private endPackager(stream: LiveStream): void {
    stream.renditions?.end();
    const err = stream.packager.end();
    if (err && !stream.refused) {
      const { playbackId } = stream.channel;
      this.opts.logger?.warn('packager failed at the end of the stream', { playbackId, session: stream.session, code: err.code });
    }
  }

  private stopTimers(stream: LiveStream): void {
    if (stream.heartbeat) clearInterval(stream.heartbeat);
    if (stream.grace) clearTimeout(stream.grace);
    stream.thumbnailer?.close();
  }

  private scheduleCleanup(stream: LiveStream): void {
    const timer = setTimeout(
      () => {
        for (const key of stream.objectKeys) if (this.sessionObjects.get(key) === stream.objects) this.sessionObjects.delete(key);
      },
      (this.opts.cleanupDelaySeconds ?? 30) * 1000,
    );
    timer.unref();
  }
}

/** The packager's health as the route carries it (core/model.ts `StreamHealthReport`): measurements and warnings. */
export function healthReport(h: StreamHealth): StreamHealthReport {
  return {
    ...(h.video
      ? {
          video: {
            codec: h.video.codec,
            width: h.video.width,
            height: h.video.height,
            ...(h.video.frameRate !== undefined ? { frameRate: round(h.video.frameRate, 2) } : {}),
            ...(h.video.bitrateBps !== undefined ? { bitrateBps: Math.round(h.video.bitrateBps) } : {}),
            ...(h.video.keyframeIntervalSeconds !== undefined ? { keyframeIntervalSeconds: round(h.video.keyframeIntervalSeconds, 3) } : {}),
          },
        }
      : {}),
    ...(h.audio
      ? {
          audio: {
            codec: h.audio.codec,
            sampleRate: h.audio.sampleRate,
            channels: h.audio.channels,
            ...(h.audio.bitrateBps !== undefined ? { bitrateBps: Math.round(h.audio.bitrateBps) } : {}),
          },
        }
      : {}),
    ...(h.jitterMs !== undefined ? { jitterMs: Math.round(h.jitterMs) } : {}),
    segments: h.segments,
    discontinuities: h.discontinuities,
    warnings: h.warnings.map((w) => ({ code: w.code, message: w.message })),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

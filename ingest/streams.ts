import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { OriginPath } from '../core/hls/paths';
import { ConditionFailedError } from '../core/errors';
import type { Logger } from '../core/logger';
import { hashesEqual, hashStreamKey, keyFingerprint, newSessionId, type Channel, type Route } from '../core/model';
import type { ChannelStore, RouteStore } from '../core/store';
import type { AuthThrottle } from './auth-throttle';
import { buildHlsArgs } from './ffmpeg-args';
import { HlsTranscoder } from './ffmpeg';
import { endPlaylist, parsePlaylist } from './playlist';

/** Why a publish's media stopped, as the RTMP layer reports it. */
export type EndReason = 'unpublish' | 'disconnect' | 'error' | 'timeout' | 'kicked' | 'server-close';

export interface PublishAttempt {
  /** The secret stream key. Never logged, never stored. */
  readonly streamKey: string;
  readonly remoteAddress: string;
  /** Ends the RTMP session from our side (a newer publish took over, or the task drains). */
  kick(reason: 'kicked' | 'server-close'): void;
}

/** FLV out of the RTMP layer: the first write is the FLV header, every later write one whole tag. */
export interface FlvSink {
  write(buf: Buffer): void;
  end(reason: EndReason): void;
}

export type PublishDecision =
  | { readonly accept: true; readonly sink: FlvSink; readonly playbackId: string }
  | { readonly accept: false; readonly code: 'NetStream.Publish.BadName' | 'NetStream.Publish.Denied'; readonly description: string };

export interface StreamManagerOptions {
  readonly store: ChannelStore & RouteStore;
  readonly logger?: Logger;
  readonly taskArn: string;
  /** Address and port at which the origin reaches this task's HLS server. */
  readonly advertiseHost: string;
  readonly advertisePort: number;
  readonly hlsDir: string;
  readonly ffmpegPath: string;
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  readonly routeTtlSeconds: number;
  readonly reconnectGraceSeconds: number;
  readonly endLingerSeconds: number;
  /** How long a finished session's files stay on disk for in-flight segment fetches. */
  readonly cleanupDelaySeconds?: number;
  readonly onActiveStreamsChanged?: (count: number) => void;
  /** Refuses publishes from a source with too many recent failures, before any key look-up. */
  readonly authThrottle?: AuthThrottle;
}

type StreamState = 'live' | 'grace' | 'ending' | 'ended' | 'superseded';

interface LiveStream {
  readonly channel: Channel;
  readonly session: string;
  readonly dir: string;
  readonly startedAt: number;
  readonly transcoder: HlsTranscoder;
  readonly attempt: PublishAttempt;
  state: StreamState;
  mediaSequence: number;
  discontinuitySequence: number;
  heartbeat?: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
  done: Promise<void>;
  resolveDone: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The publish lifecycle of one ingest task: authorize the key before the publish is accepted, point the
 * route at this task, run one ffmpeg per stream, keep the route alive with heartbeats, and end the stream:
 * end-of-list marker, a short linger so players read it, then a compare-and-delete of the route.
 *
 * Duplicate publishers: the newer publish takes over (the older session is kicked), on this task at once and
 * on another task at that task's next heartbeat, whose conditional write fails. A publisher that reconnects
 * after a network drop therefore always wins, and the media sequence continues from the route.
 */
export class StreamManager {
  private readonly streams = new Map<string, LiveStream>();
  /** Sessions still holding files on disk, so the HLS server can serve in-flight segment requests. */
  private readonly sessionDirs = new Map<string, string>();
  private draining = false;

  constructor(private readonly opts: StreamManagerOptions) {}

  get activeStreams(): number {
    let n = 0;
    for (const s of this.streams.values()) if (s.state === 'live' || s.state === 'grace') n++;
    return n;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Resolves an HLS request to a file of a session this task holds. */
  resolveFile = (path: OriginPath): string | undefined => {
    if (path.kind === 'playlist') {
      const stream = this.streams.get(path.playbackId);
      return stream && stream.state !== 'superseded' ? join(stream.dir, path.file) : undefined;
    }
    const dir = path.session ? this.sessionDirs.get(`${path.playbackId}/${path.session}`) : undefined;
    return dir ? join(dir, path.file) : undefined;
  };

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
    const dir = join(this.opts.hlsDir, playbackId, session);
    await mkdir(dir, { recursive: true });

    // An older publish of this channel on this task gives way to the newer one.
    const previousLocal = this.streams.get(playbackId);
    if (previousLocal) this.supersede(previousLocal, 'a newer publish of the same channel started on this task');

    let continuation: Route | undefined;
    try {
      continuation = await this.opts.store.getRoute(playbackId);
      const now = Date.now();
      const route = this.routeFor({ playbackId, session, now, continuation, private: channel.private === true });
      const replaced = await this.opts.store.putRoute(route);
      if (replaced && (!continuation || replaced.mediaSequence > continuation.mediaSequence)) continuation = replaced;
    } catch (err) {
      log?.error('publish refused: route write failed', { playbackId, error: (err as Error).message });
      await rm(dir, { recursive: true, force: true });
      return { accept: false, code: 'NetStream.Publish.Denied', description: 'Routing unavailable; retry later' };
    }
    const { startNumber, discontinuitySequence } = this.continuationOf(continuation);

    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const logContext = { playbackId, session };
    const stream: LiveStream = {
      channel,
      session,
      dir,
      startedAt: Date.now(),
      attempt,
      state: 'live',
      mediaSequence: startNumber - 1,
      discontinuitySequence,
      done,
      resolveDone,
      transcoder: new HlsTranscoder({
        ffmpegPath: this.opts.ffmpegPath,
        logger: log,
        logContext,
        args: (restart) =>
          buildHlsArgs({
            dir,
            session,
            segmentSeconds: this.opts.segmentSeconds,
            playlistSize: this.opts.playlistSize,
            startNumber: restart === 0 ? startNumber : stream.mediaSequence + 2,
            discontinuity: restart > 0 || continuation !== undefined,
          }),
        onRestart: () => void this.refreshSequence(stream),
        onStop: (exit) => {
          if (!exit.expected && stream.state === 'live') {
            log?.error('ffmpeg gave up; ending the publish', { ...logContext, code: exit.code, signal: exit.signal });
            attempt.kick('kicked');
            void this.endStream(stream, 'ffmpeg failed');
          }
        },
      }),
    };
    this.streams.set(playbackId, stream);
    this.sessionDirs.set(`${playbackId}/${session}`, dir);
    stream.transcoder.start();
    stream.heartbeat = setInterval(() => void this.heartbeat(stream), (this.opts.routeTtlSeconds * 1000) / 3);
    stream.heartbeat.unref();
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    log?.info('publish started', {
      ...logContext,
      channel: channel.name,
      remoteAddress: attempt.remoteAddress,
      startNumber,
      continuesFrom: continuation ? { taskArn: continuation.taskArn, session: continuation.session } : undefined,
    });

    let headerSeen = false;
    const sink: FlvSink = {
      write: (buf) => {
        if (stream.state !== 'live') return;
        if (!headerSeen) {
          headerSeen = true;
          if (buf.length >= 9 && buf.toString('latin1', 0, 3) === 'FLV') return stream.transcoder.writeHeader(buf);
        }
        stream.transcoder.writeTag(buf);
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

  private routeFor(input: { playbackId: string; session: string; now: number; continuation?: Route; private?: boolean }): Route {
    const { startNumber, discontinuitySequence } = this.continuationOf(input.continuation);
    return {
      playbackId: input.playbackId,
      taskArn: this.opts.taskArn,
      host: this.opts.advertiseHost,
      port: this.opts.advertisePort,
      session: input.session,
      startedAt: input.now,
      heartbeatAt: input.now,
      expiresAt: input.now + this.opts.routeTtlSeconds * 1000,
      mediaSequence: startNumber - 1,
      discontinuitySequence,
      ...(input.private ? { private: true } : {}),
    };
  }

  /**
   * Where a new session's numbering starts. The stored sequence can be one heartbeat old, so the new session
   * skips ahead by the segments a heartbeat interval can hold: the sequence never goes backwards.
   */
  private continuationOf(previous?: Route): { startNumber: number; discontinuitySequence: number } {
    if (!previous) return { startNumber: 0, discontinuitySequence: 0 };
    const heartbeatSeconds = this.opts.routeTtlSeconds / 3;
    const margin = Math.ceil(heartbeatSeconds / this.opts.segmentSeconds) + 2;
    return { startNumber: previous.mediaSequence + margin, discontinuitySequence: previous.discontinuitySequence + 1 };
  }

  private async refreshSequence(stream: LiveStream): Promise<void> {
    try {
      const info = parsePlaylist(await readFile(join(stream.dir, 'index.m3u8'), 'utf8'));
      if (info.lastSequence !== undefined && info.lastSequence > stream.mediaSequence) stream.mediaSequence = info.lastSequence;
    } catch {
      // No playlist yet.
    }
  }

  private async heartbeat(stream: LiveStream): Promise<void> {
    if (stream.state !== 'live' && stream.state !== 'grace') return;
    await this.refreshSequence(stream);
    const now = Date.now();
    try {
      await this.opts.store.heartbeatRoute({
        playbackId: stream.channel.playbackId,
        taskArn: this.opts.taskArn,
        session: stream.session,
        heartbeatAt: now,
        expiresAt: now + this.opts.routeTtlSeconds * 1000,
        mediaSequence: stream.mediaSequence,
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
    this.stopTimers(stream);
    stream.attempt.kick('kicked');
    stream.transcoder.kill();
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
    // An abrupt end: finish the last segment, keep the route alive, and wait for the publisher to return.
    stream.state = 'grace';
    log?.info('publisher gone; waiting for a reconnect', {
      playbackId: stream.channel.playbackId,
      session: stream.session,
      reason,
      graceSeconds: this.opts.reconnectGraceSeconds,
    });
    await stream.transcoder.end();
    await this.refreshSequence(stream);
    if ((stream.state as StreamState) !== 'grace') return;
    stream.grace = setTimeout(() => void this.endStream(stream, `${reason}, no reconnect`), this.opts.reconnectGraceSeconds * 1000);
    stream.grace.unref();
  }

  private async endStream(stream: LiveStream, why: string, opts: { linger?: boolean } = {}): Promise<void> {
    if (stream.state === 'ending' || stream.state === 'ended') return stream.done;
    if (stream.state === 'superseded') return;
    stream.state = 'ending';
    this.opts.onActiveStreamsChanged?.(this.activeStreams);
    const { playbackId } = stream.channel;
    if (stream.grace) clearTimeout(stream.grace);
    await stream.transcoder.end();
    await this.refreshSequence(stream);
    const ended = await endPlaylist(join(stream.dir, 'index.m3u8')).catch(() => false);
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

  private stopTimers(stream: LiveStream): void {
    if (stream.heartbeat) clearInterval(stream.heartbeat);
    if (stream.grace) clearTimeout(stream.grace);
  }

  private scheduleCleanup(stream: LiveStream): void {
    const key = `${stream.channel.playbackId}/${stream.session}`;
    const timer = setTimeout(() => {
      this.sessionDirs.delete(key);
      void rm(stream.dir, { recursive: true, force: true });
    }, (this.opts.cleanupDelaySeconds ?? 30) * 1000);
    timer.unref();
  }
}

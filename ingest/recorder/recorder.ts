import {
  CACHE_RECORDING_EVENT_PLAYLIST,
  CACHE_RECORDING_POSTER,
  CACHE_RECORDING_SEGMENT,
  CACHE_RECORDING_VOD_PLAYLIST,
} from '../../core/hls/cache-control';
import { newRecordingId, type Recording, type RecordingGap, type RecordingState } from '../../core/model';
import type { RecordingStore } from '../../core/store';
import type { SegmentOutput } from '../packager/index.js';
import { RECORDING_PLAYLIST, RECORDING_POSTER, type RecordingObjects, recordingPrefix } from './objects';
import { type RecordedSegment, renderRecordingPlaylist } from './playlist';
import { Spool } from './spool';

/** A media segment as the packager emits it (`SegmentOutput`: see `fromPackagerSegment`). */
export interface RecorderSegmentInput {
  /** `<session>_<msn>.m4s`. */
  readonly name: string;
  readonly bytes: Buffer | readonly Buffer[];
  readonly durationSeconds: number;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms. */
  readonly programDateTime: number;
  readonly discontinuity: boolean;
}

/** The packager's `SegmentOutput` as the recorder takes it. */
export function fromPackagerSegment(s: SegmentOutput): RecorderSegmentInput {
  return { name: s.name, bytes: s.chunks, durationSeconds: s.duration, programDateTime: s.programDateTimeMs, discontinuity: s.discontinuity };
}

/** The handle of one publish of a recorded channel. Its methods never block and never throw. */
export interface Recorder {
  /** The recording this publish writes to (the same one after a reconnect within the window). */
  readonly recordingId: string;
  /** The packager's init (`<session>_init.mp4`), first and after every init change. */
  onInit(name: string, bytes: Buffer): void;
  onSegment(segment: RecorderSegmentInput): void;
  /** A thumbnail of the stream (JPEG): the first one of the recording becomes its poster; later ones are ignored. */
  onPoster(jpeg: Buffer): void;
  /** The publish ended: the playlist becomes VOD and the recording `ready` once its uploads are done. */
  end(): void;
}

/** What the recorder reports, for logs, metrics and tests. */
export type RecorderEvent =
  | { readonly type: 'uploaded'; readonly recordingId: string; readonly key: string }
  | { readonly type: 'upload-failed'; readonly recordingId: string; readonly key: string; readonly attempt: number; readonly error: string }
  | { readonly type: 'gap'; readonly recordingId: string; readonly gap: RecordingGap }
  | { readonly type: 'metadata-failed'; readonly recordingId: string; readonly error: string }
  | { readonly type: 'finalized'; readonly recording: Recording };

/** The logger subset the recorder uses (core/logger's Logger fits). */
export interface RecorderLog {
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
}

export interface RecordingServiceOptions {
  readonly objects: RecordingObjects;
  /** Recording metadata (the routing table). Without it, only objects are written. */
  readonly store?: RecordingStore;
  readonly spoolDir: string;
  readonly spoolMaxBytes: number;
  /** A publish of the same channel within this long after the last one ended continues its recording. Default 60. */
  readonly reconnectWindowSeconds?: number;
  /** The playlist's EXT-X-TARGETDURATION (at least; raised if a segment is longer). Default 2. */
  readonly targetDurationSeconds?: number;
  /** Retry backoff: first delay and cap, ms (each ±25 %). Default 250 and 5000. */
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Metadata is written after the first segment, then every this many segments, on each gap and at the end. Default 30. */
  readonly metadataEverySegments?: number;
  readonly now?: () => number;
  readonly log?: RecorderLog;
  readonly onEvent?: (event: RecorderEvent) => void;
}

type Item =
  | { kind: 'init'; name: string; size: number; file: Promise<string | undefined> }
  | {
      kind: 'segment';
      name: string;
      size: number;
      file: Promise<string | undefined>;
      session: string;
      msn: number;
      durationSeconds: number;
      programDateTime: number;
      discontinuity: boolean;
      initUri: string;
    }
  | { kind: 'dropped'; session: string; msn: number; durationSeconds: number; programDateTime: number; reason: RecordingGap['reason'] }
  | { kind: 'poster'; size: number; file: Promise<string | undefined> }
  | { kind: 'finalize' }
  | { kind: 'reopen' };

const SEGMENT_NAME = /^(.*)_(\d+)\.m4s$/;
const CACHE_IMMUTABLE = CACHE_RECORDING_SEGMENT;
const CACHE_VOD_PLAYLIST = CACHE_RECORDING_VOD_PLAYLIST;
const CACHE_POSTER = CACHE_RECORDING_POSTER;

function concat(bytes: Buffer | readonly Buffer[]): Buffer {
  // A copy either way: the spool owns it from here, whatever the caller does with its buffers.
  return Buffer.isBuffer(bytes) ? Buffer.from(bytes) : Buffer.concat(bytes as Buffer[]);
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** One recording: its playlist state and its upload queue, worked by one sequential loop. */
class RecordingJob {
  readonly id: string;
  readonly prefix: string;
  state: RecordingState = 'recording';
  /** The publish that writes now (a takeover or reconnect replaces it). */
  activePublish: symbol | undefined;
  endedAt: number | undefined;
  /** Every accepted object still in the spool or queued. */
  readonly queue: Item[] = [];
  readonly listed: RecordedSegment[] = [];
  readonly gaps: RecordingGap[] = [];
  private openGap: { -readonly [K in keyof RecordingGap]: RecordingGap[K] } | undefined;
  private discontinuityNext = false;
  private currentInit: string | undefined;
  /** Inits that never reached S3, and why: their segments are gaps too. */
  private readonly lostInits = new Map<string, RecordingGap['reason']>();
  private startedAt: number;
  private running = false;
  private idleWaiters: (() => void)[] = [];
  private sleeping: (() => void) | undefined;
  private sinceMetadata = 0;
  private posterTaken = false;
  abandoned = false;

  constructor(
    private readonly svc: RecordingServiceCore,
    readonly playbackId: string,
    readonly channelName: string,
    now: number,
    readonly isPrivate = false,
  ) {
    this.id = newRecordingId(now);
    this.prefix = recordingPrefix(playbackId, this.id);
    this.startedAt = now;
  }

  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  snapshot(): Recording {
    const durationSeconds = Math.round(this.listed.reduce((t, s) => t + s.durationSeconds, 0) * 1000) / 1000;
    return {
      id: this.id,
      playbackId: this.playbackId,
      channelName: this.channelName,
      state: this.state,
      startedAt: this.listed[0]?.programDateTime ?? this.startedAt,
      ...(this.endedAt !== undefined && this.state !== 'recording' ? { endedAt: this.endedAt } : {}),
      durationSeconds,
      segmentCount: this.listed.length,
      gaps: [...this.gaps],
      updatedAt: this.svc.now(),
      ...(this.isPrivate ? { private: true } : {}),
    };
  }

  /** A new publish joins (first, reconnect or takeover): its first segment follows a discontinuity. */
  join(publish: symbol): void {
    const reopening = this.activePublish === undefined && this.endedAt !== undefined;
    this.activePublish = publish;
    this.endedAt = undefined;
    this.discontinuityNext ||= this.listed.length > 0 || this.queue.some((i) => i.kind === 'segment');
    if (reopening) this.enqueue({ kind: 'reopen' });
  }

  acceptInit(name: string, bytes: Buffer): void {
    const body = concat(bytes);
    this.svc.spool.reserveAlways(body.length);
    this.currentInit = name;
    this.enqueue({ kind: 'init', name, size: body.length, file: this.spooled(body) });
  }

  acceptSegment(seg: RecorderSegmentInput): void {
    const m = SEGMENT_NAME.exec(seg.name);
    const session = m?.[1] ?? '';
    const msn = m ? Number(m[2]) : -1;
    const base = { session, msn, durationSeconds: seg.durationSeconds, programDateTime: seg.programDateTime };
    const size = Buffer.isBuffer(seg.bytes) ? seg.bytes.length : (seg.bytes as Buffer[]).reduce((t, b) => t + b.length, 0);
    if (this.currentInit === undefined) {
      this.enqueue({ kind: 'dropped', ...base, reason: 'missing-init' });
      return;
    }
    if (!this.svc.spool.reserve(size)) {
      this.enqueue({ kind: 'dropped', ...base, reason: 'spool-full' });
      return;
    }
    const file = this.spooled(concat(seg.bytes));
    this.enqueue({ kind: 'segment', name: seg.name, size, file, ...base, discontinuity: seg.discontinuity, initUri: this.currentInit });
  }

  acceptPoster(jpeg: Buffer): void {
    if (this.posterTaken) return;
    // Best effort: a poster that does not fit in the spool now is taken from a later thumbnail.
    if (!this.svc.spool.reserve(jpeg.length)) return;
    this.posterTaken = true;
    this.enqueue({ kind: 'poster', size: jpeg.length, file: this.spooled(Buffer.from(jpeg)) });
  }

  end(now: number): void {
    this.activePublish = undefined;
    this.endedAt = now;
    this.enqueue({ kind: 'finalize' });
  }

  /** Resolves when the queue is empty and the loop has stopped. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop retrying: what is not in S3 yet becomes a gap (drain deadline). */
  abandon(): void {
    this.abandoned = true;
    this.sleeping?.();
  }

  private spooled(body: Buffer): Promise<string | undefined> {
    // A failed spool write (disk full) is a gap, found when the item's turn comes.
    return this.svc.spool.write(body).catch((err) => {
      this.svc.log?.warn('recording spool write failed', { recordingId: this.id, error: message(err) });
      return undefined;
    });
  }

  private enqueue(item: Item): void {
    this.queue.push(item);
    if (!this.running) {
      this.running = true;
      void this.work();
    }
  }

  private async work(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const item = this.queue[0];
        await this.process(item);
        this.queue.shift();
        const next = this.queue[0];
        // More media queued, or the end (whose VOD playlist follows at once): no live playlist in between.
        const catchingUp =
          next !== undefined && (next.kind === 'segment' || next.kind === 'dropped' || next.kind === 'init' || next.kind === 'finalize');
        if ((item.kind === 'segment' || item.kind === 'dropped') && !catchingUp) await this.putPlaylist(false);
      }
    } catch (err) {
      // Not expected (every step catches its own errors); never let it reach the caller.
      this.svc.log?.warn('recording worker failed', { recordingId: this.id, error: message(err) });
      this.queue.length = 0;
    } finally {
      this.running = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async process(item: Item): Promise<void> {
    switch (item.kind) {
      case 'init': {
        const path = await item.file;
        // An init that is not in S3 loses the segments that need it (they would not decode).
        const ok = path !== undefined && (await this.upload(item.name, path, item.size, 'video/mp4'));
        if (!ok) this.lostInits.set(item.name, path ? 'upload-abandoned' : 'missing-init');
        if (!path) await this.svc.spool.release(undefined, item.size);
        return;
      }
      case 'segment': {
        const path = await item.file;
        const lost = this.lostInits.get(item.initUri);
        if (lost) {
          await this.svc.spool.release(path, item.size).catch(() => undefined);
          this.markDropped(item, lost);
          return;
        }
        const ok = path !== undefined && (await this.upload(item.name, path, item.size, 'video/iso.segment'));
        if (!ok) {
          if (!path) await this.svc.spool.release(undefined, item.size);
          this.markDropped(item, path ? 'upload-abandoned' : 'spool-full');
          return;
        }
        this.closeGap();
        this.listed.push({
          uri: item.name,
          durationSeconds: item.durationSeconds,
          programDateTime: item.programDateTime,
          discontinuity: item.discontinuity || this.discontinuityNext,
          initUri: item.initUri,
        });
        this.discontinuityNext = false;
        this.sinceMetadata++;
        if (this.listed.length === 1 || this.sinceMetadata >= this.svc.metadataEverySegments) await this.putMetadata(false);
        return;
      }
      case 'dropped':
        this.markDropped(item, item.reason);
        return;
      case 'poster': {
        const path = await item.file;
        const ok = path !== undefined && (await this.upload(RECORDING_POSTER, path, item.size, 'image/jpeg', CACHE_POSTER));
        if (!path) await this.svc.spool.release(undefined, item.size);
        if (!ok) this.posterTaken = false;
        return;
      }
      case 'reopen':
        this.state = 'recording';
        await this.putMetadata(false);
        return;
      case 'finalize': {
        if (this.activePublish !== undefined) return; // a reconnect came first: still recording
        this.closeGap();
        await this.putPlaylist(true);
        this.state = this.listed.length === 0 ? 'failed' : this.gaps.length > 0 ? 'incomplete' : 'ready';
        await this.putMetadata(true);
        this.svc.emit({ type: 'finalized', recording: this.snapshot() });
        this.svc.log?.info('recording finalized', { recordingId: this.id, state: this.state, segments: this.listed.length });
        return;
      }
    }
  }

  private markDropped(
    item: { session: string; msn: number; durationSeconds: number; programDateTime: number },
    reason: RecordingGap['reason'],
  ): void {
    this.discontinuityNext = true;
    const g = this.openGap;
    if (g && g.session === item.session && g.toMsn + 1 === item.msn && g.reason === reason) {
      g.toMsn = item.msn;
      g.seconds += item.durationSeconds;
      return;
    }
    this.closeGap();
    this.openGap = {
      session: item.session,
      fromMsn: item.msn,
      toMsn: item.msn,
      startedAt: item.programDateTime,
      seconds: item.durationSeconds,
      reason,
    };
  }

  private closeGap(): void {
    const g = this.openGap;
    if (!g) return;
    this.openGap = undefined;
    const gap: RecordingGap = { ...g, seconds: Math.round(g.seconds * 1000) / 1000 };
    this.gaps.push(gap);
    this.svc.emit({ type: 'gap', recordingId: this.id, gap });
    this.svc.log?.warn('recording gap', { recordingId: this.id, ...gap });
    this.sinceMetadata = this.svc.metadataEverySegments; // written with the next segment
  }

  /** Uploads a spooled file until it succeeds (or the drain deadline abandons it); frees its spool space either way. */
  private async upload(name: string, path: string, size: number, contentType: string, cacheControl = CACHE_IMMUTABLE): Promise<boolean> {
    const key = this.prefix + name;
    try {
      const body = await this.svc.spool.read(path);
      const ok = await this.retry(key, () => this.svc.objects.put(key, body, contentType, cacheControl));
      if (ok) this.svc.emit({ type: 'uploaded', recordingId: this.id, key });
      return ok;
    } catch (err) {
      this.svc.log?.warn('recording spool read failed', { recordingId: this.id, key, error: message(err) });
      return false;
    } finally {
      await this.svc.spool.release(path, size).catch(() => undefined);
    }
  }

  private async putPlaylist(ended: boolean): Promise<void> {
    const key = this.prefix + RECORDING_PLAYLIST;
    const cache = ended ? CACHE_VOD_PLAYLIST : CACHE_RECORDING_EVENT_PLAYLIST;
    // Rendered again on each attempt: a retry sends the newest state.
    const render = () => renderRecordingPlaylist(this.listed, { ended, targetDurationSeconds: this.svc.targetDurationSeconds });
    const ok = await this.retry(key, () => this.svc.objects.put(key, render(), 'application/vnd.apple.mpegurl', cache), ended ? 1 : 3);
    if (ok) this.svc.emit({ type: 'uploaded', recordingId: this.id, key });
  }

  private async putMetadata(final: boolean): Promise<void> {
    const store = this.svc.store;
    if (!store) return;
    this.sinceMetadata = 0;
    const attempt = async () => {
      try {
        await store.putRecording(this.snapshot());
      } catch (err) {
        this.svc.emit({ type: 'metadata-failed', recordingId: this.id, error: message(err) });
        throw err;
      }
    };
    // Progress updates are best effort (the next one carries the same facts); the final state is retried.
    await this.retry(`metadata ${this.id}`, attempt, final ? 1 : 2, !final);
  }

  /**
   * Runs `op` until it succeeds, with exponential backoff (±25 %). `minAttemptsWhenAbandoned` attempts are
   * still made after the drain deadline; `bounded` gives up after that many attempts even without it.
   */
  private async retry(what: string, op: () => Promise<void>, minAttemptsWhenAbandoned = 0, bounded = false): Promise<boolean> {
    let delay = this.svc.retryInitialMs;
    for (let attempt = 1; ; attempt++) {
      if (this.abandoned && attempt > minAttemptsWhenAbandoned) return false;
      try {
        await op();
        return true;
      } catch (err) {
        if (!what.startsWith('metadata')) this.svc.emit({ type: 'upload-failed', recordingId: this.id, key: what, attempt, error: message(err) });
        if (attempt === 1) this.svc.log?.warn('recording upload failed; retrying', { recordingId: this.id, what, error: message(err) });
        if (bounded && attempt >= minAttemptsWhenAbandoned) return false;
      }
      if (this.abandoned) return false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay * (0.75 + Math.random() * 0.5));
        this.sleeping = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.sleeping = undefined;
      delay = Math.min(delay * 2, this.svc.retryMaxMs);
    }
  }
}

/** What a RecordingJob needs from its service. */
interface RecordingServiceCore {
  readonly objects: RecordingObjects;
  readonly store?: RecordingStore;
  readonly spool: Spool;
  readonly targetDurationSeconds: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly metadataEverySegments: number;
  readonly log?: RecorderLog;
  now(): number;
  emit(event: RecorderEvent): void;
}

/**
 * The task's recordings: one `RecordingService` per ingest task, one `Recorder` per publish of a recorded
 * channel (docs/recording.md). Every object goes to the bounded spool, then to S3 in order, retried with
 * backoff; the playlist follows the uploads. Nothing here waits for S3 on the caller's behalf.
 */
export class RecordingService implements RecordingServiceCore {
  readonly objects: RecordingObjects;
  readonly store?: RecordingStore;
  readonly spool: Spool;
  readonly targetDurationSeconds: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  readonly metadataEverySegments: number;
  readonly log?: RecorderLog;
  private readonly windowMs: number;
  private readonly clock: () => number;
  private readonly listener?: (event: RecorderEvent) => void;
  private readonly byChannel = new Map<string, RecordingJob>();
  private readonly all = new Set<RecordingJob>();

  constructor(opts: RecordingServiceOptions) {
    this.objects = opts.objects;
    this.store = opts.store;
    this.spool = new Spool(opts.spoolDir, opts.spoolMaxBytes);
    this.targetDurationSeconds = opts.targetDurationSeconds ?? 2;
    this.retryInitialMs = opts.retryInitialMs ?? 250;
    this.retryMaxMs = opts.retryMaxMs ?? 5000;
    this.metadataEverySegments = opts.metadataEverySegments ?? 30;
    this.windowMs = (opts.reconnectWindowSeconds ?? 60) * 1000;
    this.clock = opts.now ?? Date.now;
    this.listener = opts.onEvent;
    this.log = opts.log;
  }

  now(): number {
    return this.clock();
  }

  emit(event: RecorderEvent): void {
    try {
      this.listener?.(event);
    } catch {
      // a listener's problem is not the recording's
    }
  }

  /** Bytes in the spool now. */
  get spoolUsedBytes(): number {
    return this.spool.usedBytes;
  }

  /** The recording of a channel as the recorder knows it (the current or last one on this task). */
  recordingOf(playbackId: string): Recording | undefined {
    return this.byChannel.get(playbackId)?.snapshot();
  }

  /**
   * A publish of a recorded channel was accepted. Continues the channel's recording if its last publish on
   * this task ended within the reconnect window (or is still on: a takeover), else starts a new one.
   */
  start(input: { playbackId: string; channelName: string; private?: boolean }): Recorder {
    const now = this.clock();
    this.sweep(now);
    let job = this.byChannel.get(input.playbackId);
    const continues = job && (job.activePublish !== undefined || (job.endedAt !== undefined && now - job.endedAt <= this.windowMs));
    if (!job || !continues) {
      job = new RecordingJob(this, input.playbackId, input.channelName, now, input.private === true);
      this.byChannel.set(input.playbackId, job);
      this.all.add(job);
      this.log?.info('recording started', { recordingId: job.id, playbackId: input.playbackId });
    }
    const publish = Symbol(job.id);
    job.join(publish);
    const current = job;
    const guard = (what: string, f: () => void) => {
      try {
        if (current.activePublish === publish) f();
      } catch (err) {
        this.log?.warn(`recorder ${what} failed`, { recordingId: current.id, error: message(err) });
      }
    };
    return {
      recordingId: job.id,
      onInit: (name, bytes) => guard('onInit', () => current.acceptInit(name, bytes)),
      onSegment: (segment) => guard('onSegment', () => current.acceptSegment(segment)),
      onPoster: (jpeg) => guard('onPoster', () => current.acceptPoster(jpeg)),
      end: () => guard('end', () => current.end(this.clock())),
    };
  }

  /**
   * Before the task exits: waits for every upload, playlist and metadata write. At the deadline, what is not in
   * S3 yet is recorded as a gap (`incomplete`) and the final playlist and metadata get one attempt each.
   * A publish still on is ended first (VOD, `ready`): call it after the stream manager has ended its publishes,
   * so their last segments are in.
   */
  async drain(opts: { timeoutMs?: number } = {}): Promise<void> {
    const jobs = [...this.all];
    // The task is exiting: a publish still on ends here (its handle's later end() is a no-op).
    for (const j of jobs) if (j.activePublish !== undefined) j.end(this.clock());
    const done = Promise.all(jobs.map((j) => j.whenIdle()));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), opts.timeoutMs ?? 60_000);
    });
    const first = await Promise.race([done.then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (first === 'deadline') {
      for (const j of jobs) j.abandon();
      await done;
    }
  }

  /** Forgets ended recordings whose window has passed and whose uploads are done. */
  private sweep(now: number): void {
    for (const [pid, job] of this.byChannel) {
      if (job.activePublish === undefined && job.endedAt !== undefined && now - job.endedAt > this.windowMs && job.idle) {
        this.byChannel.delete(pid);
        this.all.delete(job);
      }
    }
  }
}

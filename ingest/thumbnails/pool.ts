/**
 * The task's thumbnail decodes: one short ffmpeg per decode (one access unit in, one JPEG out), at most
 * `maxConcurrent` at once across every stream, each killed at `timeoutMs`. The queue holds at most one decode
 * per stream (a newer one takes the older one's place in line) and at most `maxQueued` in all; a decode that
 * waited longer than its `staleAfterMs` is dropped unstarted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { jpegSize } from './avc';

/** One access unit to decode (Annex B, parameter sets first) and the size to scale it to. */
export interface DecodeRequest {
  readonly annexB: Buffer;
  readonly width: number;
  readonly height: number;
}

/** Why a decode made no JPEG. */
export type DecodeFailure =
  /** `ffmpegPath` does not exist or cannot be run. */
  | 'ffmpeg-missing'
  /** Killed at `timeoutMs`. */
  | 'timeout'
  /** ffmpeg exited with an error or wrote no JPEG: data it cannot decode. */
  | 'decode-failed'
  /** ffmpeg wrote more than `MAX_JPEG_BYTES`. */
  | 'output-too-large';

/** Why a decode never ran (or was stopped by its owner): not a failure. */
export type DropReason = 'superseded' | 'queue-full' | 'stale' | 'cancelled' | 'closed';

export type DecodeOutcome =
  | { readonly kind: 'jpeg'; readonly jpeg: Buffer; readonly width: number; readonly height: number }
  | { readonly kind: 'failed'; readonly cause: DecodeFailure; readonly message: string }
  | { readonly kind: 'dropped'; readonly reason: DropReason };

export interface ThumbnailPoolOptions {
  readonly ffmpegPath: string;
  /** Decodes running at once. @default 2 */
  readonly maxConcurrent?: number;
  /** A decode still running after this long is killed (SIGKILL, its whole process group). @default 5000 */
  readonly timeoutMs?: number;
  /** Decodes waiting in all (one per stream at most). @default 64 */
  readonly maxQueued?: number;
}

export interface ThumbnailPoolStats {
  readonly running: number;
  readonly queued: number;
  /** ffmpeg processes started (or tried: a missing ffmpeg counts) since the pool was made. */
  readonly started: number;
  /** The most that ever ran at once. */
  readonly peakRunning: number;
}

/** A JPEG bigger than this is not a thumbnail: the decode is killed. */
export const MAX_JPEG_BYTES = 8 * 1024 * 1024;
/** After a kill or an exit, how long the pipes may stay open (held by a grandchild) before the decode is given up. */
const CLOSE_GRACE_MS = 2000;
/** mjpeg `-q:v` (2 best … 31 worst): some tens of KB at 640×360. */
export const JPEG_QUALITY = 5;

interface Job {
  readonly owner: object;
  readonly request: DecodeRequest;
  readonly enqueuedAt: number;
  readonly staleAfterMs: number;
  readonly resolve: (outcome: DecodeOutcome) => void;
}

interface Running {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** Stops it, for its owner or the pool's close: the job settles as dropped. */
  cancel(reason: 'cancelled' | 'closed'): void;
}

/** ffmpeg's argv for one decode: Annex B H.264 on stdin, one JPEG on stdout, one thread each step. */
export function decodeArgs(width: number, height: number): string[] {
  return [
    ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-threads', '1'],
    ...['-f', 'h264', '-c:v', 'h264', '-i', 'pipe:0'],
    ...['-an', '-sn', '-dn', '-frames:v', '1', '-vf', `scale=${width}:${height}`, '-filter_threads', '1', '-threads', '1'],
    ...['-f', 'image2pipe', '-c:v', 'mjpeg', '-q:v', String(JPEG_QUALITY), 'pipe:1'],
  ];
}

export class ThumbnailPool {
  readonly #ffmpegPath: string;
  readonly #maxConcurrent: number;
  readonly #timeoutMs: number;
  readonly #maxQueued: number;
  readonly #queue: Job[] = [];
  readonly #running = new Map<object, Running>();
  readonly #idleWaiters: (() => void)[] = [];
  #started = 0;
  #peak = 0;
  #closed = false;

  constructor(opts: ThumbnailPoolOptions) {
    this.#ffmpegPath = opts.ffmpegPath;
    this.#maxConcurrent = Math.max(1, Math.floor(opts.maxConcurrent ?? 2));
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#maxQueued = Math.max(1, Math.floor(opts.maxQueued ?? 64));
  }

  /** Whether `decode(owner, …)` would be queued now (rather than dropped as `queue-full` or `closed`). */
  accepts(owner: object): boolean {
    return !this.#closed && (this.#queue.length < this.#maxQueued || this.#queue.some((j) => j.owner === owner));
  }

  /**
   * Queues a decode for `owner` (a stream's thumbnailer). Never rejects. An earlier decode of the same owner
   * still waiting is dropped (`superseded`) and this one takes its place in line; one still running finishes
   * first (one decode per owner at a time).
   */
  decode(owner: object, request: DecodeRequest, opts: { staleAfterMs?: number } = {}): Promise<DecodeOutcome> {
    return new Promise((resolve) => {
      if (this.#closed) return resolve({ kind: 'dropped', reason: 'closed' });
      const job: Job = { owner, request, enqueuedAt: Date.now(), staleAfterMs: opts.staleAfterMs ?? Infinity, resolve };
      const i = this.#queue.findIndex((j) => j.owner === owner);
      if (i >= 0) {
        this.#queue[i].resolve({ kind: 'dropped', reason: 'superseded' });
        this.#queue[i] = job;
      } else if (this.#queue.length >= this.#maxQueued) {
        return resolve({ kind: 'dropped', reason: 'queue-full' });
      } else {
        this.#queue.push(job);
      }
      this.#pump();
    });
  }

  /** Drops `owner`'s waiting decode and kills its running one (both settle as `cancelled`). */
  cancel(owner: object): void {
    const i = this.#queue.findIndex((j) => j.owner === owner);
    if (i >= 0) this.#queue.splice(i, 1)[0].resolve({ kind: 'dropped', reason: 'cancelled' });
    this.#running.get(owner)?.cancel('cancelled');
    this.#checkIdle();
  }

  stats(): ThumbnailPoolStats {
    return { running: this.#running.size, queued: this.#queue.length, started: this.#started, peakRunning: this.#peak };
  }

  /** Resolves when nothing is queued or running (at once if nothing is). */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  /** Drops every waiting decode, kills the running ones and resolves when their processes have exited. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.resolve({ kind: 'dropped', reason: 'closed' });
    const running = [...this.#running.values()];
    for (const r of running) r.cancel('closed');
    await Promise.all(running.map((r) => r.exited));
    this.#checkIdle();
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.#maxConcurrent) {
      const i = this.#queue.findIndex((j) => !this.#running.has(j.owner));
      if (i < 0) break;
      const [job] = this.#queue.splice(i, 1);
      if (Date.now() - job.enqueuedAt > job.staleAfterMs) {
        job.resolve({ kind: 'dropped', reason: 'stale' });
        continue;
      }
      this.#start(job);
    }
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#running.size > 0 || this.#queue.length > 0) return;
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #start(job: Job): void {
    const { width, height, annexB } = job.request;
    let child: ChildProcess;
    let settled = false;
    let outcome: DecodeOutcome | undefined;
    let markExited!: () => void;
    const exited = new Promise<void>((r) => (markExited = r));
    let grace: NodeJS.Timeout | undefined;
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      this.#running.delete(job.owner);
      markExited();
      job.resolve(outcome ?? { kind: 'failed', cause: 'decode-failed', message: 'ffmpeg ended without a result' });
      this.#pump();
    };
    // Its own process group, so a kill also reaches whatever a wrapper script started.
    const kill = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    // Gone, but something it started still holds its stdout or stderr open: kill the group, settle without them.
    const abandon = (message: string) => {
      outcome ??= { kind: 'failed', cause: 'decode-failed', message };
      kill();
      child.stdout?.destroy();
      child.stderr?.destroy();
      finish();
    };
    const stop = (o: DecodeOutcome) => {
      outcome ??= o;
      kill();
      grace ??= setTimeout(() => abandon('ffmpeg was killed but its output stayed open'), CLOSE_GRACE_MS);
    };
    const timer = setTimeout(
      () => stop({ kind: 'failed', cause: 'timeout', message: `ffmpeg still running after ${this.#timeoutMs} ms` }),
      this.#timeoutMs,
    );
    try {
      child = spawn(this.#ffmpegPath, decodeArgs(width, height), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    } catch (err) {
      outcome = { kind: 'failed', cause: 'ffmpeg-missing', message: errorMessage(err) };
      clearTimeout(timer);
      job.resolve(outcome);
      return;
    }
    this.#started++;
    this.#running.set(job.owner, { child, exited, cancel: (reason) => stop({ kind: 'dropped', reason }) });
    this.#peak = Math.max(this.#peak, this.#running.size);

    const chunks: Buffer[] = [];
    let bytes = 0;
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > MAX_JPEG_BYTES) stop({ kind: 'failed', cause: 'output-too-large', message: `ffmpeg wrote more than ${MAX_JPEG_BYTES} bytes` });
      else chunks.push(c);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.stdin!.on('error', () => {}); // EPIPE when ffmpeg exits before reading it all: the exit code tells
    child.stdin!.end(annexB);
    child.once('error', (err: NodeJS.ErrnoException) => {
      const missing = err.code === 'ENOENT' || err.code === 'EACCES' || err.code === 'ENOEXEC';
      outcome ??= { kind: 'failed', cause: missing ? 'ffmpeg-missing' : 'decode-failed', message: `${this.#ffmpegPath}: ${err.message}` };
      finish();
    });
    child.once('exit', () => {
      grace ??= setTimeout(() => abandon('ffmpeg exited but its output stayed open (held by a process it started)'), CLOSE_GRACE_MS);
    });
    child.once('close', (code, signal) => {
      if (!outcome) {
        const jpeg = Buffer.concat(chunks);
        const size = code === 0 ? jpegSize(jpeg) : undefined;
        if (size) outcome = { kind: 'jpeg', jpeg, ...size };
        else {
          const said = stderr.trim().split('\n').slice(-3).join(' | ');
          const how = code === 0 ? 'wrote no JPEG' : signal ? `was killed (${signal})` : `exited with code ${code}`;
          outcome = { kind: 'failed', cause: 'decode-failed', message: `ffmpeg ${how}${said ? `: ${said}` : ''}` };
        }
      }
      finish();
    });
  }
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from '../core/logger';

/** FLV tag types and the bits of their first payload bytes that matter for a restart. */
const TAG_AUDIO = 8;
const TAG_VIDEO = 9;
const TAG_SCRIPT = 18;

export interface FlvTagInfo {
  readonly type: number;
  readonly keyframe: boolean;
  /** AVC/HEVC decoder configuration or AAC AudioSpecificConfig. */
  readonly sequenceHeader: boolean;
}

/** Reads what a restart needs from one complete FLV tag (11-byte header, payload, 4-byte trailer). */
export function inspectFlvTag(tag: Buffer): FlvTagInfo | undefined {
  if (tag.length < 12) return undefined;
  const type = tag[0] & 0x1f;
  const b0 = tag[11];
  const b1 = tag.length > 12 ? tag[12] : -1;
  if (type === TAG_VIDEO) {
    const exHeader = (b0 & 0x80) !== 0; // enhanced RTMP: packet type in the low nibble
    const frameType = (b0 >> 4) & (exHeader ? 0x07 : 0x0f);
    const sequenceHeader = exHeader ? (b0 & 0x0f) === 0 : (b0 & 0x0f) === 7 || (b0 & 0x0f) === 12 ? b1 === 0 : false;
    return { type, keyframe: frameType === 1, sequenceHeader };
  }
  if (type === TAG_AUDIO) {
    return { type, keyframe: false, sequenceHeader: b0 >> 4 === 10 && b1 === 0 };
  }
  return { type, keyframe: false, sequenceHeader: false };
}

export type TranscoderExit = { code: number | null; signal: NodeJS.Signals | null; expected: boolean };

export interface TranscoderOptions {
  readonly ffmpegPath: string;
  /** Called for each (re)start with how many restarts came before; returns the argv. */
  readonly args: (restart: number) => string[];
  readonly logger?: Logger;
  readonly logContext?: Record<string, unknown>;
  /** Restarts allowed within `restartWindowMs` before the transcoder gives up. */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  /** ffmpeg not reading its input: the buffered bytes past which it is treated as stuck and restarted. */
  readonly maxBufferedBytes?: number;
  /** Writes to ffmpeg are gathered for this long and sent as one (0: each tag at once). @default 20 */
  readonly batchMs?: number;
  /** Called once when the transcoder stops for good: after `end()`, or when restarts are used up. */
  readonly onStop?: (exit: TranscoderExit) => void;
  /** Called after each unexpected exit that is followed by a restart. */
  readonly onRestart?: (restart: number, exit: TranscoderExit) => void;
}

/**
 * One ffmpeg per stream, fed FLV on stdin. A supervisor in the manner of a restart loop: when ffmpeg dies
 * while the stream is live, it is started again and primed with the FLV header, the metadata and the codec
 * sequence headers it has seen, and video resumes at the next keyframe. Restarts are bounded.
 */
export class HlsTranscoder {
  private child?: ChildProcess;
  private flvHeader?: Buffer;
  private readonly primers = new Map<string, Buffer>();
  private waitForKeyframe = false;
  private ending = false;
  private stopped = false;
  private restarts: number[] = [];
  private restartCount = 0;
  private exitPromise?: Promise<TranscoderExit>;
  private readonly stderrTail: string[] = [];

  constructor(private readonly opts: TranscoderOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !this.stopped && this.child !== undefined;
  }

  /** The last lines ffmpeg printed, for error reports. */
  get lastErrors(): readonly string[] {
    return this.stderrTail;
  }

  start(): void {
    this.spawnChild();
  }

  /** Writes the FLV file header (once per stream, before any tag). */
  writeHeader(header: Buffer): void {
    this.flvHeader = header;
    this.forward(header);
  }

  /** Writes one complete FLV tag. */
  writeTag(tag: Buffer): void {
    if (this.stopped || this.ending) return;
    const info = inspectFlvTag(tag);
    if (info) {
      if (info.type === TAG_SCRIPT) this.primers.set('script', tag);
      else if (info.sequenceHeader) this.primers.set(info.type === TAG_VIDEO ? 'video' : 'audio', tag);
      if (this.waitForKeyframe) {
        if (info.type === TAG_VIDEO && info.keyframe && !info.sequenceHeader) this.waitForKeyframe = false;
        else return;
      }
    }
    this.forward(tag);
  }

  /** Ends the input and waits for ffmpeg to finish the last segment; kills it after `timeoutMs`. */
  async end(timeoutMs = 5000): Promise<TranscoderExit> {
    this.ending = true;
    const child = this.child;
    if (!child || !this.exitPromise) {
      this.finish({ code: 0, signal: null, expected: true });
      return { code: 0, signal: null, expected: true };
    }
    child.stdin?.end();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops at once (the stream was kicked or the task is going away). */
  kill(): void {
    this.ending = true;
    this.child?.kill('SIGKILL');
    if (!this.child) this.finish({ code: null, signal: 'SIGKILL', expected: true });
  }

  private forward(buf: Buffer): void {
    const child = this.child;
    const stdin = child?.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return;
    // Batch the tags of a few milliseconds into one pipe write: one write per tag cost the ingest more than
    // half its CPU (bench/pipe-batching.ts). end() uncorks, so nothing is held back at the end.
    const batchMs = this.opts.batchMs ?? 20;
    if (batchMs > 0 && stdin.writableCorked === 0) {
      stdin.cork();
      setTimeout(() => {
        if (!stdin.destroyed && stdin.writableCorked > 0) stdin.uncork();
      }, batchMs).unref();
    }
    stdin.write(buf);
    const limit = this.opts.maxBufferedBytes ?? 32 * 1024 * 1024;
    if (stdin.writableLength > limit) {
      this.opts.logger?.warn('ffmpeg is not reading its input; restarting it', {
        ...this.opts.logContext,
        bufferedBytes: stdin.writableLength,
      });
      child.kill('SIGKILL');
    }
  }

  private spawnChild(): void {
    const args = this.opts.args(this.restartCount);
    const child = spawn(this.opts.ffmpegPath, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child = child;
    child.stdin?.on('error', () => {
      // EPIPE when ffmpeg exits first; the exit handler decides what happens next.
    });
    let partial = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.trim()) continue;
        this.stderrTail.push(line);
        if (this.stderrTail.length > 20) this.stderrTail.shift();
        this.opts.logger?.warn('ffmpeg', { ...this.opts.logContext, line });
      }
    });
    this.exitPromise = new Promise<TranscoderExit>((resolve) => {
      let settled = false;
      const onExit = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (settled) return;
        settled = true;
        const exit: TranscoderExit = { code, signal, expected: this.ending };
        if (spawnError) {
          this.opts.logger?.error('ffmpeg could not start', { ...this.opts.logContext, ffmpegPath: this.opts.ffmpegPath, error: spawnError.message });
        }
        if (this.child === child) this.child = undefined;
        if (!this.ending && !spawnError && this.mayRestart()) {
          this.restartCount++;
          this.opts.logger?.warn('ffmpeg exited while the stream is live; restarting', {
            ...this.opts.logContext,
            code,
            signal,
            restart: this.restartCount,
          });
          this.opts.onRestart?.(this.restartCount, exit);
          this.spawnChild();
          this.prime();
        } else {
          this.finish(exit);
        }
        resolve(exit);
      };
      child.once('exit', (code, signal) => onExit(code, signal));
      child.once('error', (err) => onExit(null, null, err));
    });
  }

  private mayRestart(): boolean {
    const now = Date.now();
    const window = this.opts.restartWindowMs ?? 60_000;
    this.restarts = this.restarts.filter((t) => now - t < window);
    if (this.restarts.length >= (this.opts.maxRestarts ?? 3)) return false;
    this.restarts.push(now);
    return true;
  }

  private prime(): void {
    if (this.flvHeader) this.forward(this.flvHeader);
    for (const key of ['script', 'video', 'audio']) {
      const tag = this.primers.get(key);
      if (tag) this.forward(tag);
    }
    this.waitForKeyframe = true;
  }

  private finish(exit: TranscoderExit): void {
    if (this.stopped) return;
    this.stopped = true;
    this.opts.onStop?.(exit);
  }
}

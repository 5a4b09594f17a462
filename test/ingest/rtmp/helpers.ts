/**
 * Test helpers for the RTMP server: a scriptable raw RTMP client (built on the module's own chunk writer and
 * reader), ffmpeg/ffprobe runners, a recording sink and a recording logger.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Amf0Value, decodeAmf0, encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { ChunkReader, type RtmpMessage } from '../../../ingest/rtmp/chunk-reader.js';
import { ChunkWriter, type OutgoingMessage } from '../../../ingest/rtmp/chunk-writer.js';
import { HANDSHAKE_SIZE } from '../../../ingest/rtmp/handshake.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';
import type { FlvSink, RtmpLogger, SessionEndReason } from '../../../ingest/rtmp/index.js';

const execFileAsync = promisify(execFile);

export const FFMPEG = process.env.KEYFRAME_FFMPEG_PATH ?? 'ffmpeg';
export const FFPROBE = 'ffprobe';

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `check` returns true (or throw after `timeoutMs`). */
export async function until(check: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed: a deadline, never a silent wait. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

// ---- sink and logger ----

export class RecordingSink implements FlvSink {
  readonly chunks: Buffer[] = [];
  readonly ends: SessionEndReason[] = [];
  #ended!: (reason: SessionEndReason) => void;
  /** Resolves with the first `end` reason. */
  readonly ended = new Promise<SessionEndReason>((resolve) => (this.#ended = resolve));
  write(chunk: Buffer): void {
    this.chunks.push(chunk);
  }
  end(reason: SessionEndReason): void {
    this.ends.push(reason);
    this.#ended(reason);
  }
  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

export interface LogEntry {
  readonly level: string;
  readonly message: string;
  readonly extra?: Record<string, unknown>;
}

export class RecordingLogger implements RtmpLogger {
  readonly entries: LogEntry[] = [];
  debug(message: string, extra?: Record<string, unknown>): void {
    this.entries.push({ level: 'debug', message, extra });
  }
  info(message: string, extra?: Record<string, unknown>): void {
    this.entries.push({ level: 'info', message, extra });
  }
  warn(message: string, extra?: Record<string, unknown>): void {
    this.entries.push({ level: 'warn', message, extra });
  }
  error(message: string, extra?: Record<string, unknown>): void {
    this.entries.push({ level: 'error', message, extra });
  }
  count(level: string, message?: string): number {
    return this.entries.filter((e) => e.level === level && (message === undefined || e.message === message)).length;
  }
  /** Everything logged, serialized, to check that a secret never appears. */
  text(): string {
    return JSON.stringify(this.entries);
  }
}

// ---- raw client ----

/** A decoded command message from the server. */
export interface Command {
  readonly name: string;
  readonly tx: number;
  readonly args: Amf0Value[];
  readonly streamId: number;
}

export class RawClient {
  readonly socket: Socket;
  readonly writer = new ChunkWriter({ compress: true });
  readonly messages: RtmpMessage[] = [];
  handshakeResponse = Buffer.alloc(0);
  #reader: ChunkReader;
  #handshakeBytes: Buffer[] = [];
  #handshakeLength = 0;
  #inHandshake = true;
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#reader = new ChunkReader({
      onMessage: (m) => {
        if (m.type === MessageType.SetChunkSize) this.#reader.chunkSize = m.payload.readUInt32BE(0);
        this.messages.push(m);
      },
    });
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        resolve();
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, noDelay: true });
      socket.once('connect', () => resolve(new RawClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  #onData(d: Buffer): void {
    if (this.#inHandshake) {
      this.#handshakeBytes.push(d);
      this.#handshakeLength += d.length;
      if (this.#handshakeLength < 1 + 2 * HANDSHAKE_SIZE) return;
      const all = Buffer.concat(this.#handshakeBytes);
      this.handshakeResponse = all.subarray(0, 1 + 2 * HANDSHAKE_SIZE);
      this.#inHandshake = false;
      const rest = all.subarray(1 + 2 * HANDSHAKE_SIZE);
      if (rest.length > 0) this.#reader.push(rest);
      return;
    }
    this.#reader.push(d);
  }

  write(data: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  /** C0+C1 (plain unless a C1 is given), wait for S0+S1+S2, send C2. */
  async handshake(c1: Buffer = plainC1()): Promise<Buffer> {
    this.write(Buffer.concat([Buffer.from([3]), c1]));
    await until(() => !this.#inHandshake || this.#closed, 3000, 'S0+S1+S2');
    if (this.#inHandshake) throw new Error('closed during handshake');
    this.write(this.handshakeResponse.subarray(1, 1 + HANDSHAKE_SIZE)); // C2 echoes S1
    return this.handshakeResponse;
  }

  send(message: Partial<OutgoingMessage> & { type: number; payload: Buffer }): void {
    this.write(
      this.writer.encode({
        csid: message.csid ?? 3,
        streamId: message.streamId ?? 0,
        timestamp: message.timestamp ?? 0,
        type: message.type,
        payload: message.payload,
      }),
    );
  }

  command(name: string, tx: number, args: Amf0Value[] = [], streamId = 0, csid = 3): void {
    this.send({ csid, streamId, type: MessageType.CommandAmf0, payload: encodeAmf0(name, tx, ...args) });
  }

  setChunkSize(size: number): void {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(size >>> 0);
    this.send({ csid: 2, type: MessageType.SetChunkSize, payload: p });
    this.writer.chunkSize = size;
  }

  commands(): Command[] {
    return this.messages
      .filter((m) => m.type === MessageType.CommandAmf0)
      .map((m) => {
        const [name, tx, ...args] = decodeAmf0(m.payload);
        return { name: name as string, tx: tx as number, args, streamId: m.streamId };
      });
  }

  async waitForCommand(predicate: (c: Command) => boolean, timeoutMs = 3000): Promise<Command> {
    let found: Command | undefined;
    await until(() => (found = this.commands().find(predicate)) !== undefined || this.#closed, timeoutMs, 'command');
    found ??= this.commands().find(predicate);
    if (!found) throw new Error('connection closed before the expected command');
    return found;
  }

  async waitForStatus(code: string, timeoutMs = 3000): Promise<Command> {
    return this.waitForCommand((c) => c.name === 'onStatus' && (c.args[1] as { code?: string })?.code === code, timeoutMs);
  }

  /** connect → _result; returns the _result. */
  async connectApp(app = 'live'): Promise<Command> {
    this.command('connect', 1, [{ app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: `rtmp://127.0.0.1/${app}` }]);
    return this.waitForCommand((c) => c.tx === 1 && (c.name === '_result' || c.name === '_error'));
  }

  /** connect, releaseStream, FCPublish, createStream, publish; returns the first onStatus. */
  async publish(key: string): Promise<Command> {
    const connected = await this.connectApp();
    if (connected.name !== '_result') throw new Error(`connect failed: ${JSON.stringify(connected.args)}`);
    this.command('releaseStream', 2, [null, key]);
    this.command('FCPublish', 3, [null, key]);
    this.command('createStream', 4, [null]);
    await this.waitForCommand((c) => c.tx === 4 && c.name === '_result');
    this.command('publish', 5, [null, key, 'live'], 1, 4);
    return this.waitForCommand((c) => c.name === 'onStatus');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A plain C1: time, zero, random. */
export function plainC1(): Buffer {
  const c1 = randomBytes(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 0);
  c1.writeUInt32BE(0, 4);
  return c1;
}

// ---- ffmpeg ----

export interface FfmpegRun {
  readonly process: ChildProcess;
  readonly exit: Promise<{ code: number | null; stderr: string; ms: number }>;
}

/**
 * Publish a test pattern and a sine tone to `url` with the flags OBS-like encoders use. `seconds` bounds the
 * run; `size` distinguishes publishers.
 */
export function publishWithFfmpeg(url: string, options: { seconds?: number; size?: string } = {}): FfmpegRun {
  const seconds = options.seconds ?? 2;
  const size = options.size ?? '320x240';
  const args = [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    `testsrc=size=${size}:rate=30`,
    '-re',
    '-f',
    'lavfi',
    '-i',
    'sine',
    '-t',
    String(seconds),
    '-c:v',
    'libx264',
    '-g',
    '60',
    '-preset',
    'ultrafast',
    '-tune',
    'zerolatency',
    '-c:a',
    'aac',
    '-f',
    'flv',
    url,
  ];
  return run(FFMPEG, args);
}

/** Play `url` (the server must refuse). */
export function playWithFfmpeg(url: string): FfmpegRun {
  return run(FFMPEG, ['-hide_banner', '-nostdin', '-loglevel', 'error', '-rw_timeout', '5000000', '-i', url, '-t', '1', '-f', 'null', '-']);
}

function run(cmd: string, args: string[]): FfmpegRun {
  const started = Date.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    if (stderr.length < 64 * 1024) stderr += d;
  });
  const exit = new Promise<{ code: number | null; stderr: string; ms: number }>((resolve) =>
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - started })),
  );
  return { process: child, exit };
}

export interface ProbeResult {
  readonly streams: { codec_name: string; codec_type: string; width?: number; height?: number; nb_read_frames?: string }[];
  readonly format: { duration?: string; format_name?: string };
}

/** ffprobe an FLV byte stream (written to a temporary file), counting frames. */
export async function probeFlv(bytes: Buffer): Promise<ProbeResult> {
  const dir = await mkdtemp(join(tmpdir(), 'keyframe-rtmp-'));
  try {
    const file = join(dir, 'capture.flv');
    await writeFile(file, bytes);
    const { stdout } = await execFileAsync(FFPROBE, [
      '-v',
      'error',
      '-count_frames',
      '-show_entries',
      'stream=codec_name,codec_type,width,height,nb_read_frames:format=duration,format_name',
      '-of',
      'json',
      file,
    ]);
    return JSON.parse(stdout) as ProbeResult;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Kill a child still running at test end. */
export function killIfRunning(run: FfmpegRun | undefined): void {
  if (run && run.process.exitCode === null && run.process.signalCode === null) run.process.kill('SIGKILL');
}

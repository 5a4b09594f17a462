/**
 * Test helpers for the RTMP server: a scriptable raw RTMP client (built on the module's own chunk writer and
 * reader), ffmpeg/ffprobe runners, a recording sink, a recording logger, a log of every session's lifecycle
 * events and a manual clock.
 *
 * Nothing here sleeps: every wait is on an event (a message, a sink write, a session event, a socket 'close',
 * a child 'exit') and has a deadline that fails with a message naming what did not happen.
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
import type { Clock, FlvSink, RtmpLogger, RtmpServer, RtmpSession, SessionEndReason, SessionEvents, Timer } from '../../../ingest/rtmp/index.js';

const execFileAsync = promisify(execFile);

export const FFMPEG = process.env.KEYFRAME_FFMPEG_PATH ?? 'ffmpeg';
export const FFPROBE = 'ffprobe';

/** Default deadline of a wait: generous, because a wait that succeeds returns as soon as its event happens. */
export const WAIT_MS = 5000;

/** `promise`, or a rejection naming `what` once `timeoutMs` has passed: a deadline, never a silent wait. */
export function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * A condition re-checked whenever something that may change it happens (`notify()`): `wait` resolves as soon as
 * it holds, and rejects with `what` if it still does not at the deadline.
 */
export class Condition {
  #waiters: { check: () => boolean; resolve: () => void }[] = [];

  notify(): void {
    const ready = this.#waiters.filter((w) => w.check());
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  wait(check: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
    if (check()) return Promise.resolve();
    let waiter!: { check: () => boolean; resolve: () => void };
    const done = new Promise<void>((resolve) => {
      waiter = { check, resolve };
      this.#waiters.push(waiter);
    });
    return within(done, timeoutMs, what).finally(() => {
      this.#waiters = this.#waiters.filter((w) => w !== waiter);
    });
  }
}

// ---- sink and logger ----

export class RecordingSink implements FlvSink {
  readonly chunks: Buffer[] = [];
  readonly ends: SessionEndReason[] = [];
  readonly #changed = new Condition();
  #ended!: (reason: SessionEndReason) => void;
  /** Resolves with the first `end` reason. Wrap it in `within` where the end may not come. */
  readonly ended = new Promise<SessionEndReason>((resolve) => (this.#ended = resolve));
  write(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.#changed.notify();
  }
  end(reason: SessionEndReason): void {
    this.ends.push(reason);
    this.#ended(reason);
    this.#changed.notify();
  }
  /** Resolves once `count` buffers (the FLV header counts as one) have been written. */
  written(count: number, timeoutMs = WAIT_MS): Promise<void> {
    return this.#changed.wait(() => this.chunks.length >= count, `${count} sink writes (got ${this.chunks.length})`, timeoutMs);
  }
  /** The end reason, failing if the sink has not ended within `timeoutMs`. */
  endedWithin(timeoutMs = WAIT_MS): Promise<SessionEndReason> {
    return within(this.ended, timeoutMs, 'the sink to end');
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

// ---- session events ----

export interface LoggedEvent {
  readonly session: RtmpSession;
  readonly name: keyof SessionEvents;
  readonly payload: unknown;
}

export const SESSION_EVENT_NAMES: readonly (keyof SessionEvents)[] = [
  'handshake-done',
  'connected',
  'publish-requested',
  'publish-started',
  'publish-ended',
  'ended',
  'closed',
];

/**
 * Every lifecycle event of every session a server accepts, in order. Create it right after the server, before
 * any connection. Its listeners run after the server's own, so on `closed` the server's counts are current.
 */
export class SessionEventLog {
  readonly events: LoggedEvent[] = [];
  /** The sessions, in the order they were accepted. */
  readonly sessions: RtmpSession[] = [];
  readonly #changed = new Condition();

  constructor(server: RtmpServer) {
    server.on('session', (session) => this.watch(session));
  }

  /** Also log the events of a session made without the server (a harness socket). */
  watch(session: RtmpSession): void {
    this.sessions.push(session);
    this.#changed.notify();
    for (const name of SESSION_EVENT_NAMES) {
      session.on(name, (payload?: unknown) => {
        this.events.push({ session, name, payload });
        this.#changed.notify();
      });
    }
  }

  count(name: keyof SessionEvents): number {
    return this.events.filter((e) => e.name === name).length;
  }

  /** Resolves with the `count`-th event called `name` (counting from the first session), or fails at the deadline. */
  async next(name: keyof SessionEvents, count = 1, timeoutMs = WAIT_MS): Promise<LoggedEvent> {
    await this.#changed.wait(() => this.count(name) >= count, `${count} '${name}' session event(s) (got ${this.count(name)})`, timeoutMs);
    return this.events.filter((e) => e.name === name)[count - 1];
  }

  /** Resolves once `count` sessions have been accepted. */
  accepted(count: number, timeoutMs = WAIT_MS): Promise<void> {
    return this.#changed.wait(() => this.sessions.length >= count, `${count} accepted connection(s) (got ${this.sessions.length})`, timeoutMs);
  }

  /** Resolves once the server has no open connection (every session it accepted has emitted `closed`). */
  allClosed(server: RtmpServer, timeoutMs = WAIT_MS): Promise<void> {
    return this.#changed.wait(() => server.connectionCount === 0, `every connection to close (${server.connectionCount} open)`, timeoutMs);
  }
}

// ---- clock ----

/** A clock that moves only when told to: timeouts happen at `advance`, synchronously, in order. */
export class ManualClock implements Clock {
  #now = Date.UTC(2026, 0, 1);
  #seq = 0;
  #timers: { at: number; seq: number; callback: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const timer = { at: this.#now + ms, seq: this.#seq++, callback, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Timers armed and not cancelled or fired. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Move time forward by `ms`, firing every timer that falls due, earliest first (including ones they arm). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers.splice(this.#timers.indexOf(due), 1);
      this.#now = due.at;
      due.callback();
    }
    this.#now = target;
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
  #fin = false;
  #bytesReceived = 0;
  readonly #changed = new Condition();
  /** Resolves when the socket has closed (by either side). */
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.#reader = new ChunkReader({
      onMessage: (m) => {
        if (m.type === MessageType.SetChunkSize) this.#reader.chunkSize = m.payload.readUInt32BE(0);
        this.messages.push(m);
        this.#changed.notify();
      },
    });
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', () => {});
    socket.on('end', () => (this.#fin = true));
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.#closed = true;
        resolve();
        this.#changed.notify();
      }),
    );
  }

  /** Whether the server closed its side with FIN (an orderly close), as opposed to a reset. */
  get receivedFin(): boolean {
    return this.#fin;
  }

  /** Resolves when the server has closed the connection; fails if it has not within `timeoutMs`. */
  closedWithin(timeoutMs = WAIT_MS, what = 'the server to close the connection'): Promise<void> {
    return within(this.closed, timeoutMs, what);
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

  /** Every byte received so far, the handshake response included. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  #onData(d: Buffer): void {
    this.#bytesReceived += d.length;
    if (this.#inHandshake) {
      this.#handshakeBytes.push(d);
      this.#handshakeLength += d.length;
      if (this.#handshakeLength < 1 + 2 * HANDSHAKE_SIZE) return;
      const all = Buffer.concat(this.#handshakeBytes);
      this.handshakeResponse = all.subarray(0, 1 + 2 * HANDSHAKE_SIZE);
      this.#inHandshake = false;
      const rest = all.subarray(1 + 2 * HANDSHAKE_SIZE);
      if (rest.length > 0) this.#reader.push(rest);
      this.#changed.notify();
      return;
    }
    this.#reader.push(d);
  }

  write(data: Buffer | number[]): void {
    this.socket.write(Buffer.isBuffer(data) ? data : Buffer.from(data));
  }

  /** C0+C1 (plain unless a C1 is given), wait for S0+S1+S2, send C2 (an echo of S1 unless `c2` is given). */
  async handshake(c1: Buffer = plainC1(), c2?: Buffer): Promise<Buffer> {
    this.write(Buffer.concat([Buffer.from([3]), c1]));
    await this.#changed.wait(() => !this.#inHandshake || this.#closed, 'S0+S1+S2');
    if (this.#inHandshake) throw new Error('closed during handshake');
    this.write(c2 ?? this.handshakeResponse.subarray(1, 1 + HANDSHAKE_SIZE));
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

  /** The first command matching `predicate`, once it arrives; fails if the connection closes first or at the deadline. */
  async waitForCommand(predicate: (c: Command) => boolean, timeoutMs = WAIT_MS, what = 'the expected command'): Promise<Command> {
    let found: Command | undefined;
    await this.#changed.wait(() => (found = this.commands().find(predicate)) !== undefined || this.#closed, what, timeoutMs);
    found ??= this.commands().find(predicate);
    if (!found) throw new Error(`connection closed before ${what}`);
    return found;
  }

  async waitForStatus(code: string, timeoutMs = WAIT_MS): Promise<Command> {
    return this.waitForCommand((c) => c.name === 'onStatus' && (c.args[1] as { code?: string })?.code === code, timeoutMs, `onStatus ${code}`);
  }

  /** Resolves once `count` messages match `predicate`; fails if the connection closes first or at the deadline. */
  async waitForMessages(predicate: (m: RtmpMessage) => boolean, count: number, what: string, timeoutMs = WAIT_MS): Promise<RtmpMessage[]> {
    const matching = () => this.messages.filter(predicate);
    await this.#changed.wait(() => matching().length >= count || this.#closed, what, timeoutMs);
    if (matching().length < count) throw new Error(`connection closed before ${what}`);
    return matching();
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

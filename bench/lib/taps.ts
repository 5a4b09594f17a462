import http from 'node:http';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * Taps that time what happens on the wire without touching the code under test: a TCP proxy in front of
 * the RTMP port that notes the publisher's first byte and the publish handshake, and an HTTP proxy in front
 * of the DynamoDB endpoint that notes each call the ingest makes.
 */

/** A video keyframe the publisher sent: its RTMP timestamp and when its last byte passed the tap. */
export interface KeyframeArrival {
  readonly timestamp: number;
  readonly at: number;
}

export interface RtmpConnectionTimes {
  readonly id: number;
  /** Video keyframes (AVC NALU, not sequence headers) as they arrived, in order. */
  readonly keyframes: KeyframeArrival[];
  /** Every video frame (AVC NALU, key or not), as it arrived, in order: a segment may end on any frame. */
  readonly videoFrames: KeyframeArrival[];
  /** Every audio frame (AAC raw, not the sequence header), as it arrived, in order. */
  readonly audioFrames: KeyframeArrival[];
  /** RTMP timestamp of the first audio or video message. */
  firstMediaTimestamp?: number;
  /** The publisher's first byte (C0/C1). */
  firstClientByteAt?: number;
  /** The server's first byte (S0/S1). */
  firstServerByteAt?: number;
  /** The client sent its `publish` command. */
  publishCommandAt?: number;
  /** The server answered `NetStream.Publish.Start` (the publish was accepted). */
  publishStartAt?: number;
  /** The server refused (`NetStream.Publish.BadName` / `.Denied`). */
  publishRefusedAt?: number;
  /** The first client bytes after the publish was accepted: media time 0 of a `-re` publisher. */
  firstMediaAt?: number;
  closedAt?: number;
  clientBytes: number;
  serverBytes: number;
}

/** Finds an ASCII marker in a byte stream, across chunk boundaries. */
class Marker {
  private tail: Buffer = Buffer.alloc(0);
  constructor(private readonly needle: Buffer) {}
  feed(chunk: Buffer): boolean {
    const hay = this.tail.length ? Buffer.concat([this.tail, chunk]) : chunk;
    const found = hay.indexOf(this.needle) !== -1;
    this.tail = hay.subarray(Math.max(0, hay.length - this.needle.length + 1));
    return found;
  }
}

/** AMF0 string `publish` as a command name: 0x02, length 7, bytes. */
const PUBLISH_CMD = Buffer.concat([Buffer.from([0x02, 0x00, 0x07]), Buffer.from('publish')]);

/** The first bytes of a complete RTMP message from the client, with its type and timestamp. */
export interface RtmpMessageHead {
  readonly type: number;
  readonly timestamp: number;
  readonly length: number;
  /** Up to the first 2 bytes of the body. */
  readonly head: readonly number[];
}

interface ChunkStreamState {
  timestamp: number;
  delta: number;
  length: number;
  type: number;
  extended: boolean;
  remaining: number;
  head: number[];
  control: number[];
}

/**
 * A minimal parser of the client → server RTMP byte stream (after the 1 + 1536 + 1536-byte handshake):
 * chunk basic and message headers, extended timestamps, the client's Set Chunk Size. It calls back once
 * per complete message with its type, timestamp and first body bytes; bodies are not kept.
 */
export class RtmpMessageParser {
  private buf: Buffer = Buffer.alloc(0);
  private skip = 1 + 1536 + 1536;
  private chunkSize = 128;
  private readonly streams = new Map<number, ChunkStreamState>();
  private broken = false;

  constructor(private readonly onMessage: (m: RtmpMessageHead, at: number) => void) {}

  feed(chunk: Buffer, at: number): void {
    if (this.broken) return;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
      if (!chunk.length) return;
    }
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      while (this.parseChunk(at));
    } catch {
      this.broken = true; // not RTMP as expected: stop, the timings still work
    }
  }

  /** Parses one chunk if it is complete in the buffer; false when more bytes are needed. */
  private parseChunk(at: number): boolean {
    const b = this.buf;
    if (b.length < 1) return false;
    const fmt = b[0] >> 6;
    let csid = b[0] & 0x3f;
    let pos = 1;
    if (csid === 0) {
      if (b.length < 2) return false;
      csid = 64 + b[1];
      pos = 2;
    } else if (csid === 1) {
      if (b.length < 3) return false;
      csid = 64 + b[1] + b[2] * 256;
      pos = 3;
    }
    const headerSize = [11, 7, 3, 0][fmt];
    if (b.length < pos + headerSize) return false;
    const prev = this.streams.get(csid);
    const st: ChunkStreamState = prev ?? { timestamp: 0, delta: 0, length: 0, type: 0, extended: false, remaining: 0, head: [], control: [] };
    let ts = 0;
    if (fmt < 3) ts = b.readUIntBE(pos, 3);
    let length = st.length;
    let type = st.type;
    if (fmt <= 1) {
      length = b.readUIntBE(pos + 3, 3);
      type = b[pos + 6];
    }
    pos += headerSize;
    const extended = fmt < 3 ? ts === 0xffffff : st.extended;
    if (extended) {
      if (b.length < pos + 4) return false;
      if (fmt < 3) ts = b.readUInt32BE(pos);
      pos += 4;
    }
    const starting = st.remaining === 0;
    const bodyLength = starting ? length : st.remaining;
    const take = Math.min(this.chunkSize, bodyLength);
    if (b.length < pos + take) return false;
    // The chunk is complete: commit the header state.
    st.extended = extended;
    if (starting) {
      if (fmt === 0) {
        st.timestamp = ts;
        st.delta = 0;
      } else if (fmt === 1 || fmt === 2) {
        st.delta = ts;
        st.timestamp += ts;
      } else {
        st.timestamp += st.delta;
      }
      st.length = length;
      st.type = type;
      st.remaining = length;
      st.head = [];
      st.control = [];
    }
    const data = b.subarray(pos, pos + take);
    for (let i = 0; i < data.length && st.head.length < 2; i++) st.head.push(data[i]);
    if (st.type === 1) for (let i = 0; i < data.length && st.control.length < 4; i++) st.control.push(data[i]);
    st.remaining -= take;
    this.streams.set(csid, st);
    this.buf = b.subarray(pos + take);
    if (st.remaining === 0) {
      if (st.type === 1 && st.control.length === 4) this.chunkSize = Buffer.from(st.control).readUInt32BE(0) & 0x7fffffff;
      this.onMessage({ type: st.type, timestamp: st.timestamp, length: st.length, head: st.head }, at);
    }
    return true;
  }
}

export interface RtmpTap {
  readonly port: number;
  readonly connections: RtmpConnectionTimes[];
  close(): Promise<void>;
}

export async function startRtmpTap(target: { host: string; port: number }): Promise<RtmpTap> {
  const connections: RtmpConnectionTimes[] = [];
  const sockets = new Set<Socket>();
  let seq = 0;
  const server: Server = createServer((client) => {
    const times: RtmpConnectionTimes = { id: ++seq, clientBytes: 0, serverBytes: 0, keyframes: [], videoFrames: [], audioFrames: [] };
    const media = new RtmpMessageParser((m, at) => {
      if (m.type !== 8 && m.type !== 9) return;
      times.firstMediaTimestamp ??= m.timestamp;
      // FLV VIDEODATA: frame type 1 (key) + codec 7 (AVC) = 0x17, then AVCPacketType 1 (NALU).
      if (m.type === 9 && m.head[0] === 0x17 && m.head[1] === 0x01) times.keyframes.push({ timestamp: m.timestamp, at });
      // Any AVC NALU frame (frame type in the high nibble, codec 7).
      if (m.type === 9 && (m.head[0] & 0x0f) === 0x07 && m.head[1] === 0x01) times.videoFrames.push({ timestamp: m.timestamp, at });
      // FLV AUDIODATA: sound format 10 (AAC) in the high nibble, then AACPacketType 1 (raw).
      if (m.type === 8 && m.head[0] >> 4 === 10 && m.head[1] === 0x01) times.audioFrames.push({ timestamp: m.timestamp, at });
    });
    connections.push(times);
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const publishCmd = new Marker(PUBLISH_CMD);
    const started = new Marker(Buffer.from('NetStream.Publish.Start'));
    const badName = new Marker(Buffer.from('NetStream.Publish.BadName'));
    const denied = new Marker(Buffer.from('NetStream.Publish.Denied'));
    client.on('data', (chunk: Buffer) => {
      const now = Date.now();
      times.firstClientByteAt ??= now;
      times.clientBytes += chunk.length;
      media.feed(chunk, now);
      if (times.publishStartAt !== undefined) times.firstMediaAt ??= now;
      else if (times.publishCommandAt === undefined && publishCmd.feed(chunk)) times.publishCommandAt = now;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      const now = Date.now();
      times.firstServerByteAt ??= now;
      times.serverBytes += chunk.length;
      if (times.publishStartAt === undefined && started.feed(chunk)) times.publishStartAt = now;
      if (times.publishRefusedAt === undefined && (badName.feed(chunk) || denied.feed(chunk))) times.publishRefusedAt = now;
      client.write(chunk);
    });
    const teardown = () => {
      times.closedAt ??= Date.now();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', teardown);
    upstream.on('close', teardown);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface DynamoCall {
  /** `GetItem`, `PutItem`, `UpdateItem`, `Query`, ... */
  readonly op: string;
  /** Which item: `channel`, `route`, `task`, or `other` (from the key prefix in the request). */
  readonly item: 'channel' | 'route' | 'task' | 'other';
  readonly startedAt: number;
  endedAt: number;
  status: number;
}

export interface DynamoTap {
  readonly endpoint: string;
  readonly calls: DynamoCall[];
  /** Where to forward; requests that arrive before it is set wait for it. */
  setTarget(endpoint: string): void;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of the DynamoDB-compatible endpoint that records every call's operation and timing.
 * The target can be given later (the local stack starts its own endpoint after the tap must be known).
 */
export async function startDynamoTap(targetEndpoint?: string): Promise<DynamoTap> {
  let target: URL | undefined = targetEndpoint ? new URL(targetEndpoint) : undefined;
  let targetSet!: () => void;
  const targetReady = new Promise<void>((r) => (targetSet = r));
  if (target) targetSet();
  const calls: DynamoCall[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      await targetReady;
      const body = Buffer.concat(chunks);
      const target_ = String(req.headers['x-amz-target'] ?? '');
      const text = body.toString('utf8');
      const item: DynamoCall['item'] = text.includes('"KEY#')
        ? 'channel'
        : text.includes('"ROUTE#')
          ? 'route'
          : text.includes('"TASK#')
            ? 'task'
            : 'other';
      const call: DynamoCall = { op: target_.split('.').pop() ?? target_, item, startedAt: Date.now(), endedAt: 0, status: 0 };
      calls.push(call);
      const up = http.request(
        { host: target!.hostname, port: target!.port, method: req.method, path: req.url, headers: req.headers, agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
          upRes.on('end', () => {
            call.endedAt = Date.now();
            call.status = upRes.statusCode ?? 0;
          });
        },
      );
      up.on('error', () => {
        call.endedAt = Date.now();
        call.status = 502;
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    setTarget(endpoint) {
      target = new URL(endpoint);
      targetSet();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface CountingProxy {
  readonly port: number;
  readonly counts: { playlist: number; segment: number; bySegment: Record<string, number> };
  reset(): void;
  close(): Promise<void>;
}

/** An HTTP proxy in front of a task's HLS port that counts the requests reaching the task, by path. */
export async function startCountingProxy(target: { host: string; port: number }): Promise<CountingProxy> {
  const counts = { playlist: 0, segment: 0, bySegment: {} as Record<string, number> };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    if (path.endsWith('.m3u8')) counts.playlist++;
    else {
      counts.segment++;
      counts.bySegment[path] = (counts.bySegment[path] ?? 0) + 1;
    }
    const up = http.request({ host: target.host, port: target.port, method: req.method, path, headers: { accept: '*/*' }, agent }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    up.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    reset() {
      counts.playlist = 0;
      counts.segment = 0;
      counts.bySegment = {};
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        agent.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * Hostile input: every case must close that one connection (logging once), never throw out of a handler,
 * and leave the server serving others.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { createRtmpServer, type RtmpServer, type RtmpServerOptions } from '../../../ingest/rtmp/index.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';
import {
  type FfmpegRun,
  killIfRunning,
  ManualClock,
  probeFlv,
  publishWithFfmpeg,
  RawClient,
  RecordingLogger,
  RecordingSink,
  plainC1,
  SessionEventLog,
  WAIT_MS,
  within,
} from './helpers.js';

const KEY = 'kf_robustrobustrobustrobustrobust12';

let server: RtmpServer | undefined;
const sockets: Socket[] = [];
const clients: RawClient[] = [];
const runs: FfmpegRun[] = [];

afterEach(async () => {
  for (const r of runs.splice(0)) killIfRunning(r);
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Partial<RtmpServerOptions> = {}) {
  const logger = new RecordingLogger();
  const sinks: RecordingSink[] = [];
  server = createRtmpServer({
    logger,
    handshakeTimeoutMs: 500,
    publishTimeoutMs: 1500,
    onPublish: () => {
      const sink = new RecordingSink();
      sinks.push(sink);
      return { accept: true, sink };
    },
    ...options,
  });
  const events = new SessionEventLog(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, logger, sinks, events };
}

/** Open a raw socket, send `bytes`, and resolve with what came back once the server closes it. */
function sendRaw(port: number, bytes: Buffer | Buffer[], timeoutMs = 3000): Promise<{ received: Buffer; closedByServer: boolean; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ port, host: '127.0.0.1' });
    sockets.push(socket);
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(received), closedByServer: false, ms: Date.now() - started });
    }, timeoutMs);
    socket.on('data', (d) => received.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(received), closedByServer: true, ms: Date.now() - started });
    });
    socket.on('connect', () => {
      for (const b of Array.isArray(bytes) ? bytes : [bytes]) socket.write(b);
    });
  });
}

async function handshaken(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  clients.push(c);
  await c.handshake();
  return c;
}

function header(fmt0csid: number, length: number, type: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = fmt0csid;
  b.writeUIntBE(length, 4, 3);
  b[7] = type;
  return b;
}

/** The `i`-th junk connection's bytes: random bytes, a handshake then junk, a lone C0, or a giant declared length. */
function junkBytes(i: number): Buffer {
  switch (i % 4) {
    case 0:
      return randomBytes(1 + ((i * 97) % 3000));
    case 1:
      return Buffer.concat([Buffer.from([3]), randomBytes(1536), Buffer.alloc(1536), randomBytes(500)]);
    case 2:
      return Buffer.from([3]);
    default:
      return Buffer.concat([Buffer.from([3]), randomBytes(1536), Buffer.alloc(1536), header(0x03, 0xffffff, 20)]);
  }
}

describe('hostile connections', () => {
  it('closes a connection with a bad version byte at once, sending nothing', async () => {
    // A clock that never moves: no timeout can be what closes these connections.
    const { port, logger } = await start({ clock: new ManualClock() });
    for (const version of [0, 6, 0x16, 0xff]) {
      const r = await sendRaw(port, Buffer.concat([Buffer.from([version]), randomBytes(1536)]));
      expect(r.closedByServer).toBe(true);
      expect(r.received.length).toBe(0);
    }
    expect(logger.count('warn', 'rtmp protocol violation')).toBe(4);
  });

  it('closes a never-handshaking and a truncated-handshake connection after the handshake timeout', async () => {
    const clock = new ManualClock();
    const { port, logger, events } = await start({ handshakeTimeoutMs: 300, clock });
    const [silent, truncated, c2missing] = await Promise.all([0, 1, 2].map(() => RawClient.open(port)));
    clients.push(silent, truncated, c2missing);
    truncated.write(Buffer.concat([Buffer.from([3]), randomBytes(700)]));
    await c2missing.handshake(plainC1(), randomBytes(100));
    await events.accepted(3);
    clock.advance(299);
    expect(server!.sessions().map((s) => s.state)).toEqual(['handshake', 'handshake', 'handshake']);
    clock.advance(1);
    await Promise.all([silent, truncated, c2missing].map((c) => c.closedWithin()));
    expect(silent.bytesReceived).toBe(0);
    expect(truncated.bytesReceived).toBe(0);
    expect(c2missing.bytesReceived).toBe(1 + 2 * 1536);
    expect(logger.count('info', 'rtmp handshake timeout')).toBe(3);
    await events.allClosed(server!);
  });

  it('closes a connection that sends garbage after a valid handshake, logging one warning', async () => {
    const { port, logger } = await start();
    for (let i = 0; i < 10; i++) {
      const c = await handshaken(port);
      // 0x02-prefixed garbage: a chunk on csid 2 with a random header and body.
      c.write(Buffer.concat([Buffer.from([0x02, 0, 0, 0, 0, 0, 8, 20, 0, 0, 0, 0]), Buffer.from([0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42])]));
      await c.closedWithin();
    }
    expect(logger.count('warn', 'rtmp protocol violation')).toBe(10);
    const c = await handshaken(port);
    c.write(randomBytes(4096));
    await c.closedWithin();
  });

  it('refuses absurd chunk sizes', async () => {
    const { port, logger } = await start();
    for (const size of [0, 0x7fffffff, 0x80000000, 0x1000000]) {
      const c = await handshaken(port);
      const p = Buffer.alloc(4);
      p.writeUInt32BE(size);
      c.send({ csid: 2, type: MessageType.SetChunkSize, payload: p });
      await c.closedWithin();
    }
    expect(logger.entries.filter((e) => e.level === 'warn').map((e) => String(e.extra?.error))).toEqual([
      'chunk size 0 outside 1..16777215',
      'chunk size 2147483647 outside 1..16777215',
      'chunk size 2147483648 outside 1..16777215', // the reserved top bit set
      'chunk size 16777216 outside 1..16777215',
    ]);
  });

  it('refuses giant declared message lengths before reading the body', async () => {
    const { port, logger } = await start();
    const cases: Buffer[] = [
      header(0x03, 0xffffff, MessageType.CommandAmf0), // 16 MiB command
      header(0x03, 64 * 1024 + 1, MessageType.DataAmf0), // just over the command cap
      header(0x06, 0xffffff, MessageType.Video), // media before publishing: command cap applies
      header(0x02, 65, MessageType.SetChunkSize), // control messages are tiny
    ];
    for (const bytes of cases) {
      const c = await handshaken(port);
      c.write(bytes);
      await c.closedWithin();
    }
    expect(logger.count('warn', 'rtmp protocol violation')).toBe(4);
  });

  it('caps media message length once publishing, and AMF bombs in commands', async () => {
    const { port, sinks, logger } = await start({ maxMessageLength: 100_000 });
    const c = await handshaken(port);
    await c.publish(KEY);
    c.write(header(0x06, 100_001, MessageType.Video));
    await c.closedWithin();
    expect(sinks[0].ends).toEqual(['error']);

    const bombs = [
      Buffer.concat([encodeAmf0('connect', 1), Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff])]), // strict array of 4G
      Buffer.concat([encodeAmf0('connect', 1), Buffer.alloc(3000, 0x0a)]), // nested arrays
      Buffer.concat([encodeAmf0('connect', 1), Buffer.from([0x0c, 0x7f, 0xff, 0xff, 0xff, 0x41])]), // 2 GiB long string
      Buffer.from([0x11, 0x0a, 0x0b]), // AMF3 switch in an AMF0 command
    ];
    for (const payload of bombs) {
      const b = await handshaken(port);
      b.send({ type: MessageType.CommandAmf0, payload });
      await b.closedWithin();
    }
    expect(logger.count('warn', 'rtmp protocol violation')).toBe(1 + bombs.length);
  });

  it('caps chunk streams per connection', async () => {
    const { port, logger } = await start({ maxChunkStreams: 8 });
    const c = await handshaken(port);
    await c.connectApp();
    for (let csid = 10; csid < 30; csid++) c.send({ csid, type: MessageType.UserControl, payload: Buffer.from('00030000000100000000', 'hex') });
    await c.closedWithin();
    expect(logger.entries.find((e) => e.level === 'warn')?.extra?.error).toBe('more than 8 chunk streams');
  });

  it('closes a peer that never reads its responses', async () => {
    // No publish timeout here: only the output check may close this connection, however slow the machine.
    const { port, logger } = await start({ maxOutputBuffer: 64 * 1024, publishTimeoutMs: 600_000 });
    const c = await handshaken(port);
    await c.connectApp();
    c.socket.pause();
    const ping = Buffer.alloc(1 + 11 + 6);
    ping[0] = 0x02;
    ping.writeUIntBE(6, 4, 3);
    ping[7] = MessageType.UserControl;
    ping.writeUInt16BE(6, 12);
    // Pings until the pong backlog outgrows the socket buffers on both sides and the server gives up.
    const burst = Buffer.concat(Array.from({ length: 20_000 }, () => ping));
    const flood = async (): Promise<void> => {
      while (!c.isClosed) {
        if (c.socket.write(burst)) await new Promise(setImmediate);
        else await Promise.race([new Promise((r) => c.socket.once('drain', r)), c.closed]);
      }
    };
    await within(flood(), 20_000, 'the server to close a peer that does not read');
    expect(logger.entries.find((e) => e.level === 'warn')?.extra?.error).toBe('peer is not reading its responses');
  });
});

describe('connection caps', () => {
  it('closes connections over the per-IP cap at once, and admits again when one leaves', async () => {
    // A clock that never moves: no timeout can be what closes the refused connection.
    const { port, logger, events } = await start({ maxConnectionsPerIp: 3, clock: new ManualClock() });
    const held = await Promise.all([0, 1, 2].map(() => handshaken(port)));
    expect(server!.connectionCount).toBe(3);
    const over = await sendRaw(port, Buffer.concat([Buffer.from([3]), randomBytes(1536)]));
    expect(over.closedByServer).toBe(true);
    expect(over.received.length).toBe(0);
    expect(server!.refusedConnectionCount).toBe(1);
    expect(logger.count('debug', 'rtmp connection refused')).toBe(1);
    held[0].destroy();
    await events.next('closed');
    expect(server!.connectionCount).toBe(2);
    const again = await handshaken(port);
    expect((await again.connectApp()).name).toBe('_result');
  });

  it('closes connections over the total cap at once', async () => {
    const { port } = await start({ maxConnections: 2, maxConnectionsPerIp: Infinity, clock: new ManualClock() });
    await handshaken(port);
    await handshaken(port);
    const over = await sendRaw(port, Buffer.from([3]));
    expect(over.closedByServer).toBe(true);
    expect(server!.connectionCount).toBe(2);
  });
});

describe('serving a real publisher under attack', () => {
  it('keeps a real ffmpeg publish intact while junk connections come and go', async () => {
    // Junk is paced by the honest stream itself: a new hostile connection every other tag the sink receives
    // (about 40 a second with ffmpeg's -re), so the attack lasts exactly as long as the publish.
    const junk: Promise<unknown>[] = [];
    let tags = 0;
    const honest = new RecordingSink();
    const { port, logger, events } = await start({
      maxConnectionsPerIp: 200,
      handshakeTimeoutMs: 300,
      onPublish: () => ({
        accept: true,
        sink: {
          write: (chunk: Buffer) => {
            honest.write(chunk);
            if (++tags % 2 === 0) junk.push(sendRaw(port, junkBytes(tags / 2), 2000));
          },
          end: (reason) => honest.end(reason),
        },
      }),
    });
    const ff = publishWithFfmpeg(`rtmp://127.0.0.1:${port}/live/${KEY}`, { seconds: 2 });
    runs.push(ff);
    const { code } = await ff.exit;
    expect(code).toBe(0);
    expect(await honest.endedWithin()).toBe('unpublish');
    await Promise.all(junk);
    expect(junk.length).toBeGreaterThan(50);
    expect(honest.ends).toEqual(['unpublish']);
    expect(events.count('publish-started')).toBe(1);
    const probe = await probeFlv(honest.bytes);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(Number(probe.streams.find((s) => s.codec_type === 'video')!.nb_read_frames)).toBeGreaterThanOrEqual(58);
    expect(logger.count('error')).toBe(0);
    await events.allClosed(server!);
  });

  it('survives random byte streams after a valid handshake (property)', async () => {
    const { port, logger, events } = await start({ handshakeTimeoutMs: 300, publishTimeoutMs: 300 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), { minLength: 1, maxLength: 4 }), async (reads) => {
        const c = await RawClient.open(port);
        clients.push(c);
        await c.handshake();
        for (const r of reads) c.write(Buffer.from(r));
        // Closed by a violation, or at the latest by the 300 ms publish timeout.
        await c.closedWithin(WAIT_MS, 'the server to close a connection that sent random bytes');
      }),
      { numRuns: 40 },
    );
    expect(logger.count('error')).toBe(0);
    await events.allClosed(server!);
  });
});

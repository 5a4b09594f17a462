/**
 * Protocol-level tests of a session against a scripted client: commands and replies, media to FLV, control
 * messages, timeouts, kicks and counts. No ffmpeg here (see server.test.ts).
 */
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../../../core/logger.js';
import { Amf0EcmaArray, type Amf0Value, encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { flvHeader, flvTag } from '../../../ingest/rtmp/flv.js';
import {
  createRtmpServer,
  type PublishDecision,
  type PublishRequest,
  resolveRtmpOptions,
  type RtmpLogger,
  RtmpSession,
  type RtmpServer,
  type RtmpServerOptions,
} from '../../../ingest/rtmp/index.js';
import { ChunkWriter } from '../../../ingest/rtmp/chunk-writer.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';
import { plainC1, RawClient, RecordingLogger, RecordingSink, sleep, until } from './helpers.js';

const KEY = 'kf_secretsecretsecretsecretsecret12';

let server: RtmpServer | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Partial<RtmpServerOptions> = {}): Promise<{ port: number; logger: RecordingLogger; requests: PublishRequest[]; sinks: RecordingSink[] }> {
  const logger = new RecordingLogger();
  const requests: PublishRequest[] = [];
  const sinks: RecordingSink[] = [];
  server = createRtmpServer({
    logger,
    onPublish: (request) => {
      requests.push(request);
      const sink = new RecordingSink();
      sinks.push(sink);
      return { accept: true, sink };
    },
    ...options,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, logger, requests, sinks };
}

async function client(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  clients.push(c);
  return c;
}

/** Parse an FLV byte stream into [type, timestamp, data hex] after checking the header and back pointers. */
function parseFlv(bytes: Buffer): [number, number, string][] {
  expect(bytes.subarray(0, 13)).toEqual(flvHeader());
  const tags: [number, number, string][] = [];
  let pos = 13;
  while (pos < bytes.length) {
    const size = bytes.readUIntBE(pos + 1, 3);
    const ts = (bytes.readUIntBE(pos + 4, 3) | (bytes[pos + 7] << 24)) >>> 0;
    tags.push([bytes[pos], ts, bytes.subarray(pos + 11, pos + 11 + size).toString('hex')]);
    expect(bytes.readUInt32BE(pos + 11 + size)).toBe(11 + size);
    pos += 11 + size + 4;
  }
  expect(pos).toBe(bytes.length);
  return tags;
}

describe('options', () => {
  it('takes the project logger (Powertools) as its logger', () => {
    // Compile-time: tsc fails here if the Powertools Logger no longer fits RtmpLogger.
    const fits = (logger: Logger): RtmpLogger => logger;
    expect(typeof fits).toBe('function');
  });

  it('applies defaults and refuses nonsense at construction', () => {
    const o = resolveRtmpOptions({ onPublish: () => ({ accept: false }) });
    expect(o).toMatchObject({ apps: ['live'], handshakeTimeoutMs: 5000, publishTimeoutMs: 10_000, idleTimeoutMs: 30_000, maxConnections: 1000, maxConnectionsPerIp: 20 });
    expect(() => resolveRtmpOptions({ onPublish: () => ({ accept: false }), maxChunkSize: 0 })).toThrow(TypeError);
    expect(() => resolveRtmpOptions({ onPublish: () => ({ accept: false }), handshakeTimeoutMs: 1.5 })).toThrow(TypeError);
    expect(() => resolveRtmpOptions({ onPublish: () => ({ accept: false }), apps: [] })).toThrow(TypeError);
    expect(() => resolveRtmpOptions({} as RtmpServerOptions)).toThrow(/onPublish/);
  });
});

describe('connect and publish', () => {
  it('answers connect with window, bandwidth, chunk size and _result', async () => {
    const { port } = await start();
    const c = await client(port);
    await c.handshake();
    const result = await c.connectApp();
    expect(result.name).toBe('_result');
    expect(result.args[1]).toMatchObject({ level: 'status', code: 'NetConnection.Connect.Success' });
    const types = c.messages.map((m) => m.type);
    expect(types.slice(0, 4)).toEqual([MessageType.WindowAckSize, MessageType.SetPeerBandwidth, MessageType.SetChunkSize, MessageType.CommandAmf0]);
    expect(c.messages[0].payload.readUInt32BE(0)).toBe(5_000_000);
    expect(c.messages[1].payload.toString('hex')).toBe('004c4b40' + '02');
    expect(c.messages[2].payload.readUInt32BE(0)).toBe(4096);
  });

  it('accepts a publish: onPublish gets the key without its query, media becomes FLV, deleteStream ends it', async () => {
    const { port, requests, sinks, logger } = await start();
    const c = await client(port);
    await c.handshake();
    const status = await c.publish(`${KEY}?bitrate=6000`);
    expect(status.args[1]).toMatchObject({ level: 'status', code: 'NetStream.Publish.Start' });
    expect(status.streamId).toBe(1);
    expect(c.commands().filter((x) => x.name === '_result').map((x) => x.tx)).toEqual([1, 2, 3, 4]);
    expect(c.commands().find((x) => x.tx === 4)!.args[1]).toBe(1); // createStream → stream id 1
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ app: 'live', key: KEY, publishType: 'live' });
    expect(server!.publishingCount).toBe(1);

    const meta = encodeAmf0('onMetaData', new Amf0EcmaArray({ width: 320 }));
    c.send({ csid: 4, streamId: 1, type: MessageType.DataAmf0, payload: Buffer.concat([encodeAmf0('@setDataFrame'), meta]) });
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 0, payload: Buffer.from('1700000000aa', 'hex') });
    c.send({ csid: 4, streamId: 1, type: MessageType.Audio, timestamp: 0, payload: Buffer.from('af00bb', 'hex') });
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 33, payload: Buffer.alloc(5000, 7) });
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 0x1000005, payload: Buffer.from('2701', 'hex') });
    const aggregate = Buffer.concat([flvTag(8, 900, Buffer.from('af01', 'hex')), flvTag(9, 910, Buffer.from('2702', 'hex'))]);
    c.send({ csid: 7, streamId: 1, type: MessageType.Aggregate, timestamp: 0x1000010, payload: aggregate });
    await until(() => sinks[0].chunks.length >= 8, 3000, 'tags');
    c.command('FCUnpublish', 6, [null, KEY]);
    c.command('deleteStream', 7, [null, 1]);
    await until(() => sinks[0].ends.length > 0, 3000, 'end');
    expect(sinks[0].ends).toEqual(['unpublish']);
    expect(parseFlv(sinks[0].bytes)).toEqual([
      [18, 0, meta.toString('hex')],
      [9, 0, '1700000000aa'],
      [8, 0, 'af00bb'],
      [9, 33, Buffer.alloc(5000, 7).toString('hex')],
      [9, 0x1000005, '2701'],
      [8, 0x1000010, 'af01'],
      [9, 0x1000010 + 10, '2702'],
    ]);
    await c.closed;
    await until(() => server!.connectionCount === 0, 3000, 'connection count');
    expect(server!.publishingCount).toBe(0);
    expect(sinks[0].ends).toEqual(['unpublish']);
    expect(logger.text()).not.toContain(KEY);
    expect(logger.text()).toContain('keyFingerprint');
  });

  it('drops media sent before the publish is accepted', async () => {
    let release: (d: PublishDecision) => void = () => {};
    const sink = new RecordingSink();
    const { port } = await start({ onPublish: () => new Promise<PublishDecision>((r) => (release = r)) });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.command('createStream', 2, [null]);
    c.command('publish', 3, [null, KEY, 'live'], 1);
    await until(() => server!.sessions()[0]?.state === 'authorizing', 3000, 'authorizing');
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('17', 'hex') });
    await sleep(50);
    release({ accept: true, sink });
    await c.waitForStatus('NetStream.Publish.Start');
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 40, payload: Buffer.from('27', 'hex') });
    await until(() => sink.chunks.length === 2, 3000, 'tag');
    expect(parseFlv(sink.bytes)).toEqual([[9, 40, '27']]);
  });

  it('rejects with the code and description onPublish gives, without the key, and closes', async () => {
    const { port } = await start({ onPublish: () => ({ accept: false, code: 'NetStream.Publish.BadName', description: 'Unknown stream key' }) });
    const c = await client(port);
    await c.handshake();
    const status = await c.publish(KEY);
    expect(status.args[1]).toEqual({ level: 'error', code: 'NetStream.Publish.BadName', description: 'Unknown stream key' });
    await c.closed;
    expect(server!.publishingCount).toBe(0);
  });

  it('rejects with NetStream.Publish.Denied when onPublish throws', async () => {
    const { port, logger } = await start({
      onPublish: () => {
        throw new Error('table unreachable');
      },
    });
    const c = await client(port);
    await c.handshake();
    const status = await c.publish(KEY);
    expect(status.args[1]).toMatchObject({ level: 'error', code: 'NetStream.Publish.Denied' });
    await c.closed;
    expect(logger.count('error', 'rtmp onPublish failed')).toBe(1);
  });

  it('rejects an empty or overlong stream key as BadName without calling onPublish', async () => {
    const { port, requests } = await start({ maxKeyLength: 40 });
    for (const name of ['', '?only=query', 'k'.repeat(41)]) {
      const c = await client(port);
      await c.handshake();
      const status = await c.publish(name);
      expect(status.args[1]).toMatchObject({ level: 'error', code: 'NetStream.Publish.BadName' });
      await c.closed;
    }
    expect(requests).toEqual([]);
  });

  it('rejects an unknown application at connect', async () => {
    const { port, requests } = await start();
    const c = await client(port);
    await c.handshake();
    const result = await c.connectApp('live/kf_pasted_into_server_url');
    expect(result.name).toBe('_error');
    expect(result.args[1]).toMatchObject({ level: 'error', code: 'NetConnection.Connect.Rejected' });
    expect(JSON.stringify(result.args)).not.toContain('kf_pasted');
    await c.closed;
    expect(requests).toEqual([]);
  });

  it('accepts the app with a query or trailing slash, and other configured apps', async () => {
    const { port } = await start({ apps: ['live', 'backup'] });
    for (const app of ['live/', 'live?token=x', 'backup']) {
      const c = await client(port);
      await c.handshake();
      expect((await c.connectApp(app)).name).toBe('_result');
      expect(server!.sessions().find((s) => s.state === 'connected')?.app).toBe(app === 'backup' ? 'backup' : 'live');
      c.destroy();
      await c.closed;
      await until(() => server!.connectionCount === 0);
    }
  });

  it('refuses play with NetStream.Play.Failed and closes', async () => {
    const { port, logger } = await start();
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.command('createStream', 2, [null]);
    c.command('play', 3, [null, KEY], 1);
    const status = await c.waitForStatus('NetStream.Play.Failed');
    expect(status.args[1]).toMatchObject({ level: 'error' });
    await c.closed;
    expect(logger.count('info', 'rtmp play refused')).toBe(1);
  });

  it('ignores unknown commands and tolerates an AMF3 (type 17) connect', async () => {
    const { port, sinks } = await start();
    const c = await client(port);
    await c.handshake();
    c.send({ type: MessageType.CommandAmf3, payload: Buffer.concat([Buffer.from([0]), encodeAmf0('connect', 1, { app: 'live' })]) });
    await c.waitForCommand((x) => x.tx === 1 && x.name === '_result');
    c.command('_checkbw', 2, [null]);
    c.command('someVendorExtension', 0, [null, { a: 1 }]);
    c.send({ type: MessageType.CommandAmf3, payload: Buffer.from([0, 0x11, 0x0a]) }); // AMF3 body: ignored
    c.send({ type: MessageType.SharedObjectAmf0, payload: Buffer.from('garbage') });
    c.send({ type: 99, payload: Buffer.from('unknown type') });
    c.command('createStream', 3, [null]);
    await c.waitForCommand((x) => x.tx === 3 && x.name === '_result');
    c.command('publish', 4, [null, KEY, 'live'], 1);
    await c.waitForStatus('NetStream.Publish.Start');
    expect(sinks).toHaveLength(1);
  });
});

describe('control messages', () => {
  it('answers a ping request with a ping response carrying the same timestamp', async () => {
    const { port } = await start();
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.send({ csid: 2, type: MessageType.UserControl, payload: Buffer.from('0006' + 'cafebabe', 'hex') });
    await until(() => c.messages.some((m) => m.type === MessageType.UserControl && m.payload.readUInt16BE(0) === 7));
    const pong = c.messages.find((m) => m.type === MessageType.UserControl && m.payload.readUInt16BE(0) === 7)!;
    expect(pong.payload.toString('hex')).toBe('0007cafebabe');
  });

  it('sends an Acknowledgement each time the window the client set is reached', async () => {
    const { port, sinks } = await start();
    const c = await client(port);
    await c.handshake();
    const win = Buffer.alloc(4);
    win.writeUInt32BE(10_000);
    c.send({ csid: 2, type: MessageType.WindowAckSize, payload: win });
    await c.publish(KEY);
    for (let i = 0; i < 8; i++) {
      c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: i * 33, payload: Buffer.alloc(6000, i) });
      await sleep(15);
    }
    await until(() => sinks[0].chunks.length === 9);
    await until(() => c.messages.filter((m) => m.type === MessageType.Acknowledgement).length >= 2, 3000, 'acks');
    const acks = c.messages.filter((m) => m.type === MessageType.Acknowledgement).map((m) => m.payload.readUInt32BE(0));
    expect(acks[0]).toBeGreaterThanOrEqual(10_000);
    for (let i = 1; i < acks.length; i++) expect(acks[i] - acks[i - 1]).toBeGreaterThanOrEqual(10_000);
    expect(acks.at(-1)).toBeLessThanOrEqual(server!.sessions()[0].bytesIn);
  });

  it('follows the client chunk size, including 1 and very large ones', async () => {
    const { port, sinks } = await start();
    const c = await client(port);
    await c.handshake();
    c.setChunkSize(1);
    await c.publish(KEY);
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.alloc(300, 1) });
    c.setChunkSize(0xffffff);
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 33, payload: Buffer.alloc(70_000, 2) });
    await until(() => sinks[0].chunks.length === 3, 3000, 'tags');
    expect(parseFlv(sinks[0].bytes).map(([t, ts, hex]) => [t, ts, hex.length / 2])).toEqual([
      [9, 0, 300],
      [9, 33, 70_000],
    ]);
  });
});

describe('session control and timeouts', () => {
  it('kicks a publishing session: the sink ends once with "kicked", the socket closes', async () => {
    const { port, sinks } = await start();
    const c = await client(port);
    await c.handshake();
    await c.publish(KEY);
    const session = server!.sessions()[0];
    expect(session.state).toBe('publishing');
    session.close('kicked');
    session.close('server-close');
    await c.closed;
    expect(sinks[0].ends).toEqual(['kicked']);
    expect(session.endReason).toBe('kicked');
    await until(() => server!.connectionCount === 0);
    expect(server!.publishingCount).toBe(0);
  });

  it('ends a sink with "disconnect" when the publisher drops, and a late accept is ended too', async () => {
    let release: (d: PublishDecision) => void = () => {};
    const late = new RecordingSink();
    const { port } = await start({ onPublish: () => new Promise<PublishDecision>((r) => (release = r)) });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.command('publish', 2, [null, KEY, 'live'], 1);
    await until(() => server!.sessions()[0]?.state === 'authorizing');
    c.destroy();
    await until(() => server!.connectionCount === 0);
    release({ accept: true, sink: late });
    await sleep(20);
    expect(late.ends).toEqual(['disconnect']);
    expect(late.chunks).toEqual([]);
  });

  it('times out a publishing session that sends no media', async () => {
    const { port, sinks } = await start({ idleTimeoutMs: 300 });
    const c = await client(port);
    await c.handshake();
    await c.publish(KEY);
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('17', 'hex') });
    await c.closed;
    expect(sinks[0].ends).toEqual(['timeout']);
  });

  it('times out a connection that does not start publishing', async () => {
    const { port, logger } = await start({ publishTimeoutMs: 300 });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    const t0 = Date.now();
    await c.closed;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(logger.count('info', 'rtmp publish start timeout')).toBe(1);
  });

  it('ends every session with "server-close" on server.close()', async () => {
    const { port, sinks } = await start();
    const a = await client(port);
    const b = await client(port);
    await a.handshake();
    await b.handshake();
    await a.publish(KEY);
    await b.publish(`${KEY}x`);
    expect(server!.connectionCount).toBe(2);
    expect(server!.publishingCount).toBe(2);
    await server!.close();
    expect(sinks.map((s) => s.ends)).toEqual([['server-close'], ['server-close']]);
    expect(server!.connectionCount).toBe(0);
    expect(server!.publishingCount).toBe(0);
    expect(server!.listening).toBe(false);
  });

  it('pauses reading while the sink asks for backpressure, and resumes on drain', async () => {
    const chunks: Buffer[] = [];
    let resume: (() => void) | undefined;
    const { port } = await start({
      onPublish: () => ({
        accept: true,
        sink: {
          write: (b: Buffer) => {
            chunks.push(b);
            return chunks.length < 2; // full after the first tag
          },
          end: () => {},
          onDrain: (r: () => void) => (resume = r),
        },
      }),
    });
    const c = await client(port);
    await c.handshake();
    await c.publish(KEY);
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('17', 'hex') });
    await until(() => resume !== undefined, 3000, 'onDrain');
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 1, payload: Buffer.from('27', 'hex') });
    await sleep(100);
    expect(chunks).toHaveLength(2);
    resume!();
    await until(() => chunks.length === 3, 3000, 'resumed');
  });

  it('runs a whole publish fed one byte at a time through an in-memory socket', async () => {
    const out: Buffer[] = [];
    const socket = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    });
    const sink = new RecordingSink();
    const logger = new RecordingLogger();
    const session = new RtmpSession(socket, resolveRtmpOptions({ logger, onPublish: () => ({ accept: true, sink }) }));
    const w = new ChunkWriter({ compress: true });
    const cmd = (name: string, tx: number, args: Amf0Value[], streamId = 0) =>
      w.encode({ csid: 3, type: 20, streamId, timestamp: 0, payload: encodeAmf0(name, tx, ...args) });
    const input = Buffer.concat([
      Buffer.from([3]),
      plainC1(),
      Buffer.alloc(1536),
      cmd('connect', 1, [{ app: 'live' }]),
      cmd('createStream', 2, [null]),
      cmd('publish', 3, [null, KEY, 'live'], 1),
    ]);
    for (let i = 0; i < input.length; i++) socket.push(input.subarray(i, i + 1));
    await until(() => session.state === 'publishing', 3000, 'publishing');
    const media = Buffer.concat([
      w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 0, payload: Buffer.alloc(1000, 1) }),
      w.encode({ csid: 6, type: 9, streamId: 1, timestamp: 33, payload: Buffer.alloc(10, 2) }),
      cmd('deleteStream', 4, [null, 1]),
    ]);
    for (let i = 0; i < media.length; i++) socket.push(media.subarray(i, i + 1));
    await until(() => sink.ends.length === 1, 3000, 'end');
    expect(sink.ends).toEqual(['unpublish']);
    expect(parseFlv(sink.bytes).map(([t, ts, hex]) => [t, ts, hex.length / 2])).toEqual([
      [9, 0, 1000],
      [9, 33, 10],
    ]);
    expect(Buffer.concat(out)[0]).toBe(3);
    expect(logger.count('warn')).toBe(0);
  });
});

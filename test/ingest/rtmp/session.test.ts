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
import { ManualClock, plainC1, RawClient, RecordingLogger, RecordingSink, SESSION_EVENT_NAMES, SessionEventLog, within } from './helpers.js';

const KEY = 'kf_secretsecretsecretsecretsecret12';

let server: RtmpServer | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Partial<RtmpServerOptions> = {}): Promise<{
  port: number;
  logger: RecordingLogger;
  requests: PublishRequest[];
  sinks: RecordingSink[];
  events: SessionEventLog;
}> {
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
  const events = new SessionEventLog(server);
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, logger, requests, sinks, events };
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

function isPingResponse(m: { type: number; payload: Buffer }): boolean {
  return m.type === MessageType.UserControl && m.payload.readUInt16BE(0) === 7;
}

describe('options', () => {
  it('takes the project logger (Powertools) as its logger', () => {
    // Compile-time: tsc fails here if the Powertools Logger no longer fits RtmpLogger.
    const fits = (logger: Logger): RtmpLogger => logger;
    expect(typeof fits).toBe('function');
  });

  it('applies defaults and refuses nonsense at construction', () => {
    const o = resolveRtmpOptions({ onPublish: () => ({ accept: false }) });
    expect(o).toMatchObject({
      apps: ['live'],
      handshakeTimeoutMs: 5000,
      publishTimeoutMs: 10_000,
      idleTimeoutMs: 30_000,
      maxConnections: 1000,
      maxConnectionsPerIp: 20,
    });
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
    const { port, requests, sinks, logger, events } = await start();
    const c = await client(port);
    await c.handshake();
    const status = await c.publish(`${KEY}?bitrate=6000`);
    expect(status.args[1]).toMatchObject({ level: 'status', code: 'NetStream.Publish.Start' });
    expect(status.streamId).toBe(1);
    expect(
      c
        .commands()
        .filter((x) => x.name === '_result')
        .map((x) => x.tx),
    ).toEqual([1, 2, 3, 4]);
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
    await sinks[0].written(8);
    c.command('FCUnpublish', 6, [null, KEY]);
    c.command('deleteStream', 7, [null, 1]);
    expect(await sinks[0].endedWithin()).toBe('unpublish');
    expect(parseFlv(sinks[0].bytes)).toEqual([
      [18, 0, meta.toString('hex')],
      [9, 0, '1700000000aa'],
      [8, 0, 'af00bb'],
      [9, 33, Buffer.alloc(5000, 7).toString('hex')],
      [9, 0x1000005, '2701'],
      [8, 0x1000010, 'af01'],
      [9, 0x1000010 + 10, '2702'],
    ]);
    await c.closedWithin();
    await events.allClosed(server!);
    expect(server!.publishingCount).toBe(0);
    expect(sinks[0].ends).toEqual(['unpublish']);
    expect(logger.text()).not.toContain(KEY);
    expect(logger.text()).toContain('keyFingerprint');
  });

  it('drops media sent before the publish is accepted', async () => {
    let release: (d: PublishDecision) => void = () => {};
    const sink = new RecordingSink();
    const { port, events } = await start({ onPublish: () => new Promise<PublishDecision>((r) => (release = r)) });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.command('createStream', 2, [null]);
    c.command('publish', 3, [null, KEY, 'live'], 1);
    await events.next('publish-requested');
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('17', 'hex') });
    // The server answers a ping after it has handled everything sent before it: the video above included.
    c.send({ csid: 2, type: MessageType.UserControl, payload: Buffer.from('0006' + '00000001', 'hex') });
    await c.waitForMessages(isPingResponse, 1, 'the ping response');
    release({ accept: true, sink });
    await c.waitForStatus('NetStream.Publish.Start');
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 40, payload: Buffer.from('27', 'hex') });
    await sink.written(2);
    expect(parseFlv(sink.bytes)).toEqual([[9, 40, '27']]);
  });

  it('rejects with the code and description onPublish gives, without the key, and closes', async () => {
    const { port } = await start({ onPublish: () => ({ accept: false, code: 'NetStream.Publish.BadName', description: 'Unknown stream key' }) });
    const c = await client(port);
    await c.handshake();
    const status = await c.publish(KEY);
    expect(status.args[1]).toEqual({ level: 'error', code: 'NetStream.Publish.BadName', description: 'Unknown stream key' });
    await c.closedWithin();
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
    await c.closedWithin();
    expect(logger.count('error', 'rtmp onPublish failed')).toBe(1);
  });

  it('rejects an empty or overlong stream key as BadName without calling onPublish', async () => {
    const { port, requests } = await start({ maxKeyLength: 40 });
    for (const name of ['', '?only=query', 'k'.repeat(41)]) {
      const c = await client(port);
      await c.handshake();
      const status = await c.publish(name);
      expect(status.args[1]).toMatchObject({ level: 'error', code: 'NetStream.Publish.BadName' });
      await c.closedWithin();
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
    await c.closedWithin();
    expect(requests).toEqual([]);
  });

  it('accepts the app with a query or trailing slash, and other configured apps', async () => {
    const { port, events } = await start({ apps: ['live', 'backup'] });
    for (const app of ['live/', 'live?token=x', 'backup']) {
      const c = await client(port);
      await c.handshake();
      expect((await c.connectApp(app)).name).toBe('_result');
      expect(server!.sessions().find((s) => s.state === 'connected')?.app).toBe(app === 'backup' ? 'backup' : 'live');
      c.destroy();
      await events.allClosed(server!);
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
    await c.closedWithin();
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
    const [pong] = await c.waitForMessages(isPingResponse, 1, 'the ping response');
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
      // One message per read on the server's side: it acknowledges at most once per read.
      await sinks[0].written(i + 2);
    }
    await c.waitForMessages((m) => m.type === MessageType.Acknowledgement, 2, 'two acknowledgements');
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
    await sinks[0].written(3);
    expect(parseFlv(sinks[0].bytes).map(([t, ts, hex]) => [t, ts, hex.length / 2])).toEqual([
      [9, 0, 300],
      [9, 33, 70_000],
    ]);
  });
});

describe('session control and timeouts', () => {
  it('kicks a publishing session: the sink ends once with "kicked", the socket closes', async () => {
    const { port, sinks, events } = await start();
    const c = await client(port);
    await c.handshake();
    await c.publish(KEY);
    const session = server!.sessions()[0];
    expect(session.state).toBe('publishing');
    session.close('kicked');
    session.close('server-close');
    await c.closedWithin();
    expect(sinks[0].ends).toEqual(['kicked']);
    expect(session.endReason).toBe('kicked');
    await events.allClosed(server!);
    expect(server!.publishingCount).toBe(0);
  });

  it('ends a sink with "disconnect" when the publisher drops, and a late accept is ended too', async () => {
    let release: (d: PublishDecision) => void = () => {};
    const late = new RecordingSink();
    const { port, events } = await start({ onPublish: () => new Promise<PublishDecision>((r) => (release = r)) });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    c.command('publish', 2, [null, KEY, 'live'], 1);
    await events.next('publish-requested');
    c.destroy();
    await events.allClosed(server!);
    release({ accept: true, sink: late });
    expect(await late.endedWithin()).toBe('disconnect');
    expect(late.ends).toEqual(['disconnect']);
    expect(late.chunks).toEqual([]);
  });

  it('times out a publishing session that sends no media, counting from its last media', async () => {
    const clock = new ManualClock();
    const { port, sinks } = await start({ idleTimeoutMs: 300, clock });
    const c = await client(port);
    await c.handshake();
    await c.publish(KEY);
    clock.advance(200);
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('17', 'hex') });
    await sinks[0].written(2);
    clock.advance(299); // 300 ms after the accept, but only 99 ms after the media
    expect(sinks[0].ends).toEqual([]);
    clock.advance(1);
    expect(sinks[0].ends).toEqual(['timeout']);
    await c.closedWithin();
  });

  it('times out a connection that does not start publishing', async () => {
    const clock = new ManualClock();
    const { port, logger } = await start({ publishTimeoutMs: 300, clock });
    const c = await client(port);
    await c.handshake();
    await c.connectApp();
    clock.advance(299);
    expect(server!.sessions()[0].state).toBe('connected');
    clock.advance(1);
    await c.closedWithin();
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
});

/** A session on an in-memory socket: what it writes is collected, what the test pushes is what it reads. */
function memorySession(options: Partial<RtmpServerOptions> & Pick<RtmpServerOptions, 'onPublish'>) {
  const out: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk);
      cb();
    },
  });
  const logger = new RecordingLogger();
  const session = new RtmpSession(socket, resolveRtmpOptions({ logger, ...options }));
  const events: string[] = [];
  for (const name of SESSION_EVENT_NAMES) {
    session.on(name, (payload?: unknown) => events.push(payload === undefined ? name : `${name} ${JSON.stringify(payload)}`));
  }
  const w = new ChunkWriter({ compress: true });
  const cmd = (name: string, tx: number, args: Amf0Value[], streamId = 0) =>
    w.encode({ csid: 3, type: 20, streamId, timestamp: 0, payload: encodeAmf0(name, tx, ...args) });
  const video = (timestamp: number, payload: Buffer) => w.encode({ csid: 6, type: 9, streamId: 1, timestamp, payload });
  const publishBytes = Buffer.concat([
    Buffer.from([3]),
    plainC1(),
    Buffer.alloc(1536),
    cmd('connect', 1, [{ app: 'live' }]),
    cmd('createStream', 2, [null]),
    cmd('publish', 3, [null, KEY, 'live'], 1),
  ]);
  const started = within(new Promise<void>((resolve) => session.once('publish-started', resolve)), 5000, "the session's 'publish-started' event");
  return { socket, session, out, logger, events, cmd, video, publishBytes, started };
}

describe('a session on an in-memory socket', () => {
  it('runs a whole publish fed one byte at a time', async () => {
    const sink = new RecordingSink();
    const { socket, out, logger, cmd, video, publishBytes, started } = memorySession({ onPublish: () => ({ accept: true, sink }) });
    for (let i = 0; i < publishBytes.length; i++) socket.push(publishBytes.subarray(i, i + 1));
    await started;
    const media = Buffer.concat([video(0, Buffer.alloc(1000, 1)), video(33, Buffer.alloc(10, 2)), cmd('deleteStream', 4, [null, 1])]);
    for (let i = 0; i < media.length; i++) socket.push(media.subarray(i, i + 1));
    expect(await sink.endedWithin()).toBe('unpublish');
    expect(sink.ends).toEqual(['unpublish']);
    expect(parseFlv(sink.bytes).map(([t, ts, hex]) => [t, ts, hex.length / 2])).toEqual([
      [9, 0, 1000],
      [9, 33, 10],
    ]);
    expect(Buffer.concat(out)[0]).toBe(3);
    expect(logger.count('warn')).toBe(0);
  });

  it('emits its lifecycle events in order, with the end reason', async () => {
    const clock = new ManualClock();
    const sink = new RecordingSink();
    const { socket, session, events, cmd, video, publishBytes, started } = memorySession({ clock, onPublish: () => ({ accept: true, sink }) });
    socket.push(publishBytes);
    await started;
    clock.advance(1234);
    socket.push(Buffer.concat([video(0, Buffer.from('17', 'hex')), cmd('FCUnpublish', 4, [null, KEY])]));
    expect(await sink.endedWithin()).toBe('unpublish');
    expect(events).toEqual([
      'handshake-done {"digest":false}',
      'connected {"app":"live"}',
      `publish-requested {"keyFingerprint":"${session.keyFingerprint}","publishType":"live"}`,
      'publish-started',
      'publish-ended {"reason":"unpublish","durationMs":1234,"mediaMessages":1}',
      'ended {"reason":"unpublish"}',
    ]);
    expect(session.connectedAt).toBe(clock.now() - 1234);
  });

  it('pauses reading while the sink asks for backpressure, and resumes on drain', async () => {
    const chunks: Buffer[] = [];
    let drained!: (resume: () => void) => void;
    const full = new Promise<() => void>((r) => (drained = r));
    let afterThird!: () => void;
    const written = new Promise<void>((r) => (afterThird = r));
    const { socket, video, publishBytes, started } = memorySession({
      onPublish: () => ({
        accept: true,
        sink: {
          write: (b: Buffer) => {
            chunks.push(b);
            if (chunks.length === 3) afterThird();
            return chunks.length < 2; // full after the first tag
          },
          end: () => {},
          onDrain: (resume: () => void) => drained(resume),
        },
      }),
    });
    socket.push(publishBytes);
    await started;
    socket.push(video(0, Buffer.from('17', 'hex')));
    const resume = await within(full, 5000, 'onDrain');
    const second = video(1, Buffer.from('27', 'hex'));
    socket.push(second);
    await new Promise(setImmediate); // a paused stream delivers nothing, however long we wait
    expect(chunks).toHaveLength(2);
    expect(socket.isPaused()).toBe(true);
    expect(socket.readableLength).toBe(second.length);
    resume();
    await within(written, 5000, 'the write after the resume');
    expect(chunks).toHaveLength(3);
  });
});

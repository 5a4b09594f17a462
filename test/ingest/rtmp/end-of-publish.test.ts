/**
 * How a publish ends when the publisher stops: the end must be `unpublish` (the streamer stopped; the stream
 * ends at once), not `disconnect` (a dropped connection; the stream waits for a reconnect), even when the
 * TCP connection is torn down abruptly right after the commands that say so.
 *
 * The first case replays, byte for byte in shape, what ffmpeg's rtmp_close does on a loaded machine (seen
 * with tcpdump on loopback): FCUnpublish goes out; the server's answer arrives before ffmpeg closes; ffmpeg
 * writes deleteStream's 8-byte chunk header, but Nagle holds the 34-byte body back until that header is
 * acknowledged; close() then finds the unread answer in the receive queue, so the kernel aborts the
 * connection (RST) and drops the body that was never sent. The server sees FCUnpublish, half a chunk and a
 * reset.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { createRtmpServer, type RtmpServer, type RtmpServerOptions } from '../../../ingest/rtmp/index.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';
import { RawClient, RecordingSink } from './helpers.js';

const KEY = 'kf_endendendendendendendendendend12';

let server: RtmpServer | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await server?.close();
  server = undefined;
});

async function start(options: Partial<RtmpServerOptions> = {}) {
  const sinks: RecordingSink[] = [];
  server = createRtmpServer({
    onPublish: () => {
      const sink = new RecordingSink();
      sinks.push(sink);
      return { accept: true, sink };
    },
    ...options,
  });
  const { port } = await server.listen(0, '127.0.0.1');
  return { port, sinks };
}

async function publishing(port: number): Promise<RawClient> {
  const c = await RawClient.open(port);
  clients.push(c);
  await c.handshake();
  const status = await c.publish(KEY);
  expect(status.args[1]).toMatchObject({ code: 'NetStream.Publish.Start' });
  c.send({ csid: 6, streamId: 1, type: MessageType.Video, payload: Buffer.from('1700000000aa', 'hex') });
  return c;
}

/** The bytes of one command message, as the client's chunk writer would send them next. */
function commandBytes(c: RawClient, name: string, tx: number, streamId: number, ...args: Parameters<typeof encodeAmf0>): Buffer {
  return c.writer.encode({ csid: 3, streamId, timestamp: 0, type: MessageType.CommandAmf0, payload: encodeAmf0(name, tx, ...args) });
}

describe('the end of a publish', () => {
  it('is unpublish when FCUnpublish arrives and the connection is reset before deleteStream is complete', async () => {
    const { port, sinks } = await start();
    const c = await publishing(port);
    c.write(commandBytes(c, 'FCUnpublish', 6, 0, null, KEY));
    const del = commandBytes(c, 'deleteStream', 7, 0, null, 1);
    c.write(del.subarray(0, 8));
    c.socket.resetAndDestroy();
    expect(await sinks[0].ended).toBe('unpublish');
  });

  it('is unpublish when a complete deleteStream is followed at once by a reset', async () => {
    const { port, sinks } = await start();
    const c = await publishing(port);
    c.write(commandBytes(c, 'deleteStream', 7, 0, null, 1));
    c.socket.resetAndDestroy();
    expect(await sinks[0].ended).toBe('unpublish');
  });

  it('is unpublish when deleteStream and a reset arrive while reading is paused for the sink', async () => {
    let resume: (() => void) | undefined;
    let paused!: () => void;
    const full = new Promise<void>((r) => (paused = r));
    const sink = new RecordingSink();
    const { port } = await start({
      onPublish: () => ({
        accept: true,
        sink: {
          write: (b: Buffer) => {
            sink.write(b);
            return sink.chunks.length < 2; // full after the first tag
          },
          end: (reason) => sink.end(reason),
          onDrain: (r: () => void) => {
            resume = r;
            paused();
          },
        },
      }),
    });
    const c = await publishing(port);
    await full;
    c.send({ csid: 6, streamId: 1, type: MessageType.Video, timestamp: 33, payload: Buffer.from('2701', 'hex') });
    c.write(commandBytes(c, 'FCUnpublish', 6, 0, null, KEY));
    c.write(commandBytes(c, 'deleteStream', 7, 0, null, 1));
    c.socket.resetAndDestroy();
    await c.closed;
    expect(sink.ends).toEqual([]);
    resume!();
    expect(await sink.ended).toBe('unpublish');
    expect(sink.chunks).toHaveLength(3);
  });

  it('sends nothing in answer to FCUnpublish of the live stream, and closes with FIN', async () => {
    const { port, sinks } = await start();
    const c = await publishing(port);
    let fin = false;
    c.socket.on('end', () => (fin = true));
    c.command('FCUnpublish', 6, [null, KEY]);
    expect(await sinks[0].ended).toBe('unpublish');
    await c.closed;
    expect(fin).toBe(true);
    expect(c.commands().filter((x) => x.tx === 6)).toEqual([]);
  });

  it('still answers FCUnpublish outside a publish, and keeps the connection', async () => {
    const { port, sinks } = await start();
    const c = await RawClient.open(port);
    clients.push(c);
    await c.handshake();
    await c.connectApp();
    c.command('FCUnpublish', 2, [null, KEY]);
    await c.waitForCommand((x) => x.tx === 2 && x.name === '_result');
    c.command('createStream', 3, [null]);
    c.command('publish', 4, [null, KEY, 'live'], 1, 4);
    await c.waitForStatus('NetStream.Publish.Start');
    expect(sinks).toHaveLength(1);
  });
});

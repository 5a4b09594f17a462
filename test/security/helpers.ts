/**
 * Helpers for the security tests: RTMP clients that connect from a chosen loopback address (so per-IP
 * limits can be exercised from one machine) and read the server's answer.
 */
import { connect, type Socket } from 'node:net';
import { decodeAmf0 } from '../../ingest/rtmp/amf0';
import { ChunkReader, type RtmpMessage } from '../../ingest/rtmp/chunk-reader';
import { HANDSHAKE_SIZE } from '../../ingest/rtmp/handshake';
import { MessageType } from '../../ingest/rtmp/messages';
import { handshake, Rng, Transcript } from '../../bench/fuzz/rtmp-cases';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Conn {
  readonly socket: Socket;
  readonly opened: number;
  /** Resolves with the time (ms since open) the server closed the connection. */
  readonly closed: Promise<number>;
  /** Every byte received, handshake included. */
  received(): Buffer;
  /** Decoded messages after the handshake. */
  messages(): RtmpMessage[];
  /** `onStatus` codes and descriptions received so far. */
  statuses(): Array<{ code: string; description: string }>;
}

/** A TCP connection to the RTMP port from `localAddress`; resolves once connected (or closed at once). */
export function openFrom(port: number, localAddress = '127.0.0.1'): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    const opened = Date.now();
    const chunks: Buffer[] = [];
    const msgs: RtmpMessage[] = [];
    let size = 0;
    let fed = 0;
    const reader = new ChunkReader({
      onMessage: (m) => {
        if (m.type === MessageType.SetChunkSize) reader.chunkSize = m.payload.readUInt32BE(0);
        msgs.push(m);
      },
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      const skip = 1 + 2 * HANDSHAKE_SIZE;
      if (size > skip) {
        const all = Buffer.concat(chunks);
        try {
          reader.push(all.subarray(Math.max(skip, fed)));
        } catch {
          // not our concern here
        }
        fed = size;
      }
    });
    socket.on('error', () => {});
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - opened)));
    socket.once('connect', () =>
      resolve({
        socket,
        opened,
        closed,
        received: () => Buffer.concat(chunks),
        messages: () => msgs,
        statuses: () =>
          msgs
            .filter((m) => m.type === MessageType.CommandAmf0)
            .map((m) => decodeAmf0(m.payload))
            .filter((v) => v[0] === 'onStatus')
            .map((v) => v[3] as { code: string; description: string }),
      }),
    );
    socket.once('error', reject);
  });
}

/** Handshake, connect, createStream and publish `key`, without waiting between them. */
export function publishBytes(key: string, seed = 1): Buffer {
  const rng = new Rng(seed);
  return Buffer.concat([handshake(rng), new Transcript().connect().publishSequence(key).bytes()]);
}

/** Publishes `key` from `localAddress`; resolves with the first onStatus (or none if the server closed first). */
export async function publishFrom(port: number, key: string, localAddress = '127.0.0.1', timeoutMs = 5000): Promise<{ conn: Conn; code?: string; description?: string }> {
  const conn = await openFrom(port, localAddress);
  conn.socket.write(publishBytes(key));
  const deadline = Date.now() + timeoutMs;
  let closed = false;
  void conn.closed.then(() => (closed = true));
  while (Date.now() < deadline) {
    const status = conn.statuses()[0];
    if (status) return { conn, code: status.code, description: status.description };
    if (closed) break;
    await sleep(10);
  }
  return { conn };
}

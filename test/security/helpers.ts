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
import { EventLog, withDeadline } from '../support/wait';

/** An `onStatus` the server sent. */
export interface RtmpStatus {
  readonly code: string;
  readonly description: string;
}

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
  statuses(): RtmpStatus[];
  /** The same, as they arrive, to wait on. */
  readonly statusLog: EventLog<RtmpStatus>;
}

/** A TCP connection to the RTMP port from `localAddress`; resolves once connected (or closed at once). */
export function openFrom(port: number, localAddress = '127.0.0.1'): Promise<Conn> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress, noDelay: true });
    const opened = Date.now();
    const chunks: Buffer[] = [];
    const msgs: RtmpMessage[] = [];
    const statusLog = new EventLog<RtmpStatus>();
    let size = 0;
    let fed = 0;
    const reader = new ChunkReader({
      onMessage: (m) => {
        if (m.type === MessageType.SetChunkSize) reader.chunkSize = m.payload.readUInt32BE(0);
        msgs.push(m);
        if (m.type !== MessageType.CommandAmf0) return;
        let v: unknown[] = [];
        try {
          v = decodeAmf0(m.payload);
        } catch {
          // not a command we can read: not a status either
        }
        if (v[0] === 'onStatus') statusLog.push(v[3] as RtmpStatus);
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
        statuses: () => [...statusLog.entries],
        statusLog,
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

/**
 * Publishes `key` from `localAddress`; resolves with the first onStatus, or with none if the server closed the
 * connection first. Fails if neither happens within `timeoutMs`.
 */
export async function publishFrom(
  port: number,
  key: string,
  localAddress = '127.0.0.1',
  timeoutMs = 15_000,
): Promise<{ conn: Conn; code?: string; description?: string }> {
  const conn = await openFrom(port, localAddress);
  conn.socket.write(publishBytes(key));
  // Data is read before 'close' is emitted: a status sent just before the close is in the log by then.
  const first = Promise.race([conn.statusLog.when(() => true), conn.closed.then(() => conn.statuses()[0])]);
  const status = await withDeadline(first, `an onStatus or a close after publishing from ${localAddress}`, timeoutMs);
  return status ? { conn, code: status.code, description: status.description } : { conn };
}

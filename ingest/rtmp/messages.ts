/**
 * RTMP message type ids, user control events and the payloads of the protocol control messages the server
 * sends. Numbers are from Adobe's RTMP specification 1.0 (§5.4, §6.2, §7.1).
 */

export const MessageType = {
  SetChunkSize: 1,
  Abort: 2,
  Acknowledgement: 3,
  UserControl: 4,
  WindowAckSize: 5,
  SetPeerBandwidth: 6,
  Audio: 8,
  Video: 9,
  DataAmf3: 15,
  SharedObjectAmf3: 16,
  CommandAmf3: 17,
  DataAmf0: 18,
  SharedObjectAmf0: 19,
  CommandAmf0: 20,
  Aggregate: 22,
} as const;

export const UserControlEvent = {
  StreamBegin: 0,
  StreamEof: 1,
  StreamDry: 2,
  SetBufferLength: 3,
  StreamIsRecorded: 4,
  PingRequest: 6,
  PingResponse: 7,
} as const;

/** Chunk stream ids the server sends on. 2 is reserved for protocol control messages. */
export const ChunkStreamId = {
  Control: 2,
  Command: 3,
  Status: 5,
} as const;

/** Peer bandwidth limit types (§5.4.5). */
export const PeerBandwidthLimit = { Hard: 0, Soft: 1, Dynamic: 2 } as const;

/** True for the protocol control and user control message types (1–6). */
export function isControlType(type: number): boolean {
  return type >= MessageType.SetChunkSize && type <= MessageType.SetPeerBandwidth;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

export function setChunkSizePayload(size: number): Buffer {
  return u32(size & 0x7fffffff);
}

export function windowAckSizePayload(size: number): Buffer {
  return u32(size);
}

export function acknowledgementPayload(sequenceNumber: number): Buffer {
  return u32(sequenceNumber);
}

export function setPeerBandwidthPayload(size: number, limit: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt32BE(size >>> 0);
  b[4] = limit;
  return b;
}

/** User control message: event type (2 bytes) then event data (here always a 4-byte stream id or timestamp). */
export function userControlPayload(event: number, value: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUInt16BE(event);
  b.writeUInt32BE(value >>> 0, 2);
  return b;
}

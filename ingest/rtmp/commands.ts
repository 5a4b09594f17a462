/**
 * NetConnection and NetStream commands (AMF0 command messages, and AMF3 ones tolerated): what a publish-only
 * server answers to each, as a list of actions for the session to carry out. Pure: no socket, no timer, no
 * state of its own; the session passes its state in and applies the actions in order.
 *
 * A command out of order (anything before `connect`, a second `connect` or `publish`) or one that does not
 * decode throws `RtmpProtocolError` or `Amf0Error`: a protocol violation that ends the connection.
 */
import { Amf0Error, type Amf0Value, decodeAmf0, encodeAmf0, isAmf0Object } from './amf0.js';
import { RtmpProtocolError, type RtmpMessage } from './chunk-reader.js';
import {
  ChunkStreamId,
  MessageType,
  PeerBandwidthLimit,
  setChunkSizePayload,
  setPeerBandwidthPayload,
  UserControlEvent,
  userControlPayload,
  windowAckSizePayload,
} from './messages.js';
import type { LogLevel, PublishRejectCode, SessionEndReason, SessionState } from './types.js';

/** The NetStream id `createStream` hands out. One publish per connection. */
export const PUBLISH_STREAM_ID = 1;
const MAX_APP_LENGTH = 256;

/** A message the server sends (timestamp 0). */
export interface Reply {
  readonly csid: number;
  readonly type: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export type CommandAction =
  /** Send a message. */
  | { readonly kind: 'send'; readonly reply: Reply }
  /** Send with this chunk size from now on (after the Set Chunk Size that announced it). */
  | { readonly kind: 'out-chunk-size'; readonly size: number }
  /** `connect` accepted: the session is `connected` to `app`. */
  | { readonly kind: 'connected'; readonly app: string }
  /** A well-formed `publish`: ask `onPublish`, then answer with `publishStartReplies` or `publishRejectReplies`. */
  | { readonly kind: 'publish'; readonly streamId: number; readonly key: string; readonly publishType: string }
  /** End the session gracefully with `reason`: FIN after the queued output, so the peer reads what was sent. */
  | { readonly kind: 'end'; readonly reason: SessionEndReason }
  | { readonly kind: 'log'; readonly level: LogLevel; readonly message: string; readonly extra?: Record<string, unknown> };

/** What the command handling needs to know of the session and its options. */
export interface CommandContext {
  readonly state: SessionState;
  readonly apps: readonly string[];
  readonly maxKeyLength: number;
  readonly outChunkSize: number;
  readonly windowAckSize: number;
}

/** `connect`'s app without `?query` and trailing slashes (no regular expression: the input is hostile). */
export function normalizeApp(app: string): string {
  const q = app.indexOf('?');
  let end = q >= 0 ? q : app.length;
  while (end > 0 && app.charCodeAt(end - 1) === 0x2f) end--;
  return app.slice(0, end);
}

/** The stream key of a publish name: everything before the first `?`. */
export function streamKeyOf(name: string): string {
  const q = name.indexOf('?');
  return q >= 0 ? name.slice(0, q) : name;
}

export function commandReply(streamId: number, name: string, tx: number, ...args: Amf0Value[]): Reply {
  return { csid: ChunkStreamId.Command, type: MessageType.CommandAmf0, streamId, payload: encodeAmf0(name, tx, ...args) };
}

export function statusReply(streamId: number, level: 'status' | 'error', code: string, description: string): Reply {
  const payload = encodeAmf0('onStatus', 0, null, { level, code, description });
  return { csid: ChunkStreamId.Status, type: MessageType.CommandAmf0, streamId, payload };
}

export function controlReply(type: number, payload: Buffer): Reply {
  return { csid: ChunkStreamId.Control, type, streamId: 0, payload };
}

/** What an accepted publish is answered with: User Control StreamBegin, then NetStream.Publish.Start. */
export function publishStartReplies(streamId: number): Reply[] {
  return [
    controlReply(MessageType.UserControl, userControlPayload(UserControlEvent.StreamBegin, streamId)),
    statusReply(streamId, 'status', 'NetStream.Publish.Start', 'Start publishing'),
  ];
}

/** A refused publish: the error status, then the end of the session. */
export function publishRejectActions(streamId: number, code: PublishRejectCode, description: string): CommandAction[] {
  return [send(statusReply(streamId, 'error', code, description)), { kind: 'end', reason: 'error' }];
}

function send(reply: Reply): CommandAction {
  return { kind: 'send', reply };
}

/** Decode a command message; `ignored` (with the reason, if any, to log) for an AMF3 command not understood. */
function decodeCommand(m: RtmpMessage): { values: Amf0Value[] } | { ignored: string } {
  if (m.type !== MessageType.CommandAmf3) return { values: decodeAmf0(m.payload) };
  // Tolerated: AMF3 commands start with a format byte 0 and usually carry AMF0 values. What does not decode
  // as AMF0 is ignored rather than treated as a violation.
  try {
    const values = decodeAmf0(m.payload[0] === 0 ? m.payload.subarray(1) : m.payload);
    return typeof values[0] === 'string' ? { values } : { ignored: '' };
  } catch (err) {
    if (!(err instanceof Amf0Error)) throw err;
    return { ignored: err.message };
  }
}

/** The actions that answer one command message (type 17 or 20) in session state `ctx.state`. */
export function handleCommand(m: RtmpMessage, ctx: CommandContext): CommandAction[] {
  const decoded = decodeCommand(m);
  if ('ignored' in decoded) {
    return decoded.ignored ? [{ kind: 'log', level: 'debug', message: 'rtmp AMF3 command ignored', extra: { error: decoded.ignored } }] : [];
  }
  const { values } = decoded;
  const [name, transaction] = values;
  if (typeof name !== 'string') throw new RtmpProtocolError('command without a name');
  const tx = typeof transaction === 'number' && Number.isFinite(transaction) ? transaction : 0;
  const publishing = ctx.state === 'publishing' || ctx.state === 'authorizing';

  if (ctx.state === 'connecting') {
    if (name !== 'connect') throw new RtmpProtocolError(`command before connect`);
    return connect(tx, values[2], ctx);
  }
  switch (name) {
    case 'connect':
      throw new RtmpProtocolError('second connect');
    case 'FCUnpublish':
      // The publisher stops (FMLE, OBS and FFmpeg send it first, then deleteStream, then close the socket
      // without reading). It ends the publish like deleteStream, and gets no answer: an answer the peer
      // never reads makes its close() an abortive one (RST), which can drop the deleteStream it had not
      // sent yet (docs/rtmp.md, "How a publish ends").
      if (publishing) return [{ kind: 'end', reason: 'unpublish' }];
      return tx > 0 ? [send(commandReply(m.streamId, '_result', tx, null, undefined))] : [];
    case 'releaseStream':
    case 'FCPublish':
      return tx > 0 ? [send(commandReply(m.streamId, '_result', tx, null, undefined))] : [];
    case 'createStream':
      return [send(commandReply(0, '_result', tx, null, PUBLISH_STREAM_ID))];
    case 'publish':
      return publish(m.streamId, values[3], values[4], ctx);
    case 'deleteStream':
    case 'closeStream':
      return publishing ? [{ kind: 'end', reason: 'unpublish' }] : [];
    case 'play':
    case 'play2':
    case 'getStreamLength':
      return [
        { kind: 'log', level: 'info', message: 'rtmp play refused', extra: { command: name } },
        send(statusReply(m.streamId || PUBLISH_STREAM_ID, 'error', 'NetStream.Play.Failed', 'This server only accepts publishing')),
        { kind: 'end', reason: 'error' },
      ];
    default:
      return [{ kind: 'log', level: 'debug', message: 'rtmp command ignored', extra: { command: name.slice(0, 64) } }];
  }
}

function connect(tx: number, commandObject: Amf0Value, ctx: CommandContext): CommandAction[] {
  const rawApp = isAmf0Object(commandObject) ? commandObject.app : undefined;
  const app = typeof rawApp === 'string' && rawApp.length <= MAX_APP_LENGTH ? normalizeApp(rawApp) : undefined;
  if (app === undefined || !ctx.apps.includes(app)) {
    return [
      // The app name is not logged: a streamer who pasted the key into the server URL would leak it.
      { kind: 'log', level: 'info', message: 'rtmp connect rejected: unknown application' },
      send(
        commandReply(0, '_error', tx, null, {
          level: 'error',
          code: 'NetConnection.Connect.Rejected',
          description: `Unknown application; use one of: ${ctx.apps.join(', ')}`,
        }),
      ),
      { kind: 'end', reason: 'error' },
    ];
  }
  const window = ctx.windowAckSize;
  return [
    { kind: 'connected', app },
    send(controlReply(MessageType.WindowAckSize, windowAckSizePayload(window))),
    send(controlReply(MessageType.SetPeerBandwidth, setPeerBandwidthPayload(window, PeerBandwidthLimit.Dynamic))),
    send(controlReply(MessageType.SetChunkSize, setChunkSizePayload(ctx.outChunkSize))),
    { kind: 'out-chunk-size', size: ctx.outChunkSize },
    send(
      commandReply(
        0,
        '_result',
        tx,
        { fmsVer: 'FMS/3,0,1,123', capabilities: 31 },
        { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 },
      ),
    ),
  ];
}

function publish(messageStreamId: number, rawName: Amf0Value, rawType: Amf0Value, ctx: CommandContext): CommandAction[] {
  if (ctx.state === 'authorizing' || ctx.state === 'publishing') throw new RtmpProtocolError('second publish');
  const streamId = messageStreamId || PUBLISH_STREAM_ID;
  const key = typeof rawName === 'string' ? streamKeyOf(rawName) : '';
  if (key.length === 0 || key.length > ctx.maxKeyLength) {
    return [
      { kind: 'log', level: 'info', message: 'rtmp publish rejected: missing or overlong stream key' },
      ...publishRejectActions(streamId, 'NetStream.Publish.BadName', 'Invalid stream key'),
    ];
  }
  const publishType = typeof rawType === 'string' ? rawType.slice(0, 16) : 'live';
  return [{ kind: 'publish', streamId, key, publishType }];
}

/**
 * The command handling on its own: a command message in, actions out, no socket.
 */
import { describe, expect, it } from 'vitest';
import { type Amf0Value, decodeAmf0, encodeAmf0 } from '../../../ingest/rtmp/amf0.js';
import { RtmpProtocolError, type RtmpMessage } from '../../../ingest/rtmp/chunk-reader.js';
import { type CommandAction, type CommandContext, handleCommand } from '../../../ingest/rtmp/commands.js';
import { MessageType } from '../../../ingest/rtmp/messages.js';
import type { SessionState } from '../../../ingest/rtmp/types.js';

const CONTEXT: Omit<CommandContext, 'state'> = { apps: ['live'], maxKeyLength: 16, outChunkSize: 4096, windowAckSize: 5_000_000 };

function command(name: string, tx: number, args: Amf0Value[] = [], streamId = 0): RtmpMessage {
  return { csid: 3, type: MessageType.CommandAmf0, streamId, timestamp: 0, payload: encodeAmf0(name, tx, ...args) };
}

function run(state: SessionState, m: RtmpMessage): CommandAction[] {
  return handleCommand(m, { ...CONTEXT, state });
}

/** Actions with sent messages shown as [type, decoded AMF0 of commands]. */
function readable(actions: CommandAction[]): unknown[] {
  return actions.map((a) => {
    if (a.kind !== 'send') return a;
    const { type, streamId, payload } = a.reply;
    return type === MessageType.CommandAmf0 ? ['send', streamId, ...decodeAmf0(payload)] : ['send', type, payload.toString('hex')];
  });
}

describe('handleCommand', () => {
  it('accepts connect: state first, then window, bandwidth, chunk size (sent with) and _result', () => {
    const actions = readable(run('connecting', command('connect', 1, [{ app: 'live/?x=1' }])));
    expect(actions.slice(0, 5)).toEqual([
      { kind: 'connected', app: 'live' },
      ['send', MessageType.WindowAckSize, '004c4b40'],
      ['send', MessageType.SetPeerBandwidth, '004c4b4002'],
      ['send', MessageType.SetChunkSize, '00001000'],
      { kind: 'out-chunk-size', size: 4096 },
    ]);
    expect(actions[5]).toMatchObject(['send', 0, '_result', 1, { fmsVer: 'FMS/3,0,1,123' }, { code: 'NetConnection.Connect.Success' }]);
  });

  it('rejects an unknown app without naming it, and ends the session', () => {
    const actions = readable(run('connecting', command('connect', 1, [{ app: 'live/kf_secret' }])));
    expect(actions[0]).toMatchObject({ kind: 'log', message: 'rtmp connect rejected: unknown application' });
    expect(actions[1]).toMatchObject(['send', 0, '_error', 1, null, { code: 'NetConnection.Connect.Rejected' }]);
    expect(actions[2]).toEqual({ kind: 'end', reason: 'error' });
    expect(JSON.stringify(actions)).not.toContain('kf_secret');
  });

  it('refuses anything before connect, and a second connect or publish', () => {
    expect(() => run('connecting', command('createStream', 2, [null]))).toThrow(RtmpProtocolError);
    expect(() => run('connected', command('connect', 2, [{ app: 'live' }]))).toThrow('second connect');
    expect(() => run('publishing', command('publish', 3, [null, 'k', 'live'], 1))).toThrow('second publish');
    expect(() => run('connected', { ...command('x', 1), payload: encodeAmf0(5) })).toThrow('command without a name');
  });

  it('turns a publish into a request with the key before any query, or a BadName refusal', () => {
    expect(run('connected', command('publish', 5, [null, 'key1?bitrate=1', 'live'], 1))).toEqual([
      { kind: 'publish', streamId: 1, key: 'key1', publishType: 'live' },
    ]);
    for (const name of ['', '?q', 'k'.repeat(17)]) {
      const actions = readable(run('connected', command('publish', 5, [null, name, 'live'], 1)));
      expect(actions[1]).toMatchObject(['send', 1, 'onStatus', 0, null, { level: 'error', code: 'NetStream.Publish.BadName' }]);
      expect(actions[2]).toEqual({ kind: 'end', reason: 'error' });
    }
  });

  it('ends a publish on FCUnpublish without answering it, and answers it otherwise', () => {
    for (const state of ['publishing', 'authorizing'] as const) {
      expect(run(state, command('FCUnpublish', 6, [null, 'key1']))).toEqual([{ kind: 'end', reason: 'unpublish' }]);
      expect(run(state, command('deleteStream', 7, [null, 1]))).toEqual([{ kind: 'end', reason: 'unpublish' }]);
    }
    expect(readable(run('connected', command('FCUnpublish', 6, [null, 'key1'])))).toEqual([['send', 0, '_result', 6, null, undefined]]);
    expect(run('connected', command('deleteStream', 7, [null, 1]))).toEqual([]);
  });

  it('refuses play and ignores what it does not know', () => {
    const play = readable(run('connected', command('play', 3, [null, 'k'], 1)));
    expect(play[1]).toMatchObject(['send', 1, 'onStatus', 0, null, { code: 'NetStream.Play.Failed' }]);
    expect(play[2]).toEqual({ kind: 'end', reason: 'error' });
    expect(run('connected', command('someVendorExtension', 0))).toMatchObject([{ kind: 'log', level: 'debug' }]);
    const amf3 = { ...command('x', 0), type: MessageType.CommandAmf3, payload: Buffer.from([0, 0x11, 0x0a]) };
    expect(run('connected', amf3)).toMatchObject([{ kind: 'log', message: 'rtmp AMF3 command ignored' }]);
  });
});

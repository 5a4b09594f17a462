import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main';
import { hashStreamKey, PLAYBACK_ID_PATTERN, STREAM_KEY_PATTERN } from '../../core/model';
import { writeLocalState } from '../../local/state';
import { startTestTable, type TestTable } from '../support/dynamo';

let t: TestTable;
let previousDir: string | undefined;

beforeAll(async () => {
  t = await startTestTable();
  const dir = await mkdtemp(join(tmpdir(), 'kf-cli-'));
  previousDir = process.env.KEYFRAME_STATE_DIR;
  process.env.KEYFRAME_STATE_DIR = dir;
  await writeLocalState(dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    dynamoEndpoint: t.dynamo.endpoint,
    tableName: t.tableName,
    rtmpUrl: 'rtmp://127.0.0.1:1935/live',
    playbackBaseUrl: 'http://127.0.0.1:8080',
    playerBaseUrl: 'http://127.0.0.1:8080',
  });
});
afterAll(async () => {
  if (previousDir === undefined) delete process.env.KEYFRAME_STATE_DIR;
  else process.env.KEYFRAME_STATE_DIR = previousDir;
  await t.close();
});

async function run(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(argv, (s) => (out += s));
  return { code, out };
}

describe('keyframe keys', () => {
  it('create --json prints a key once, stores only its hash', async () => {
    const { code, out } = await run('keys', 'create', 'studio-a', '--json');
    expect(code).toBe(0);
    const created = JSON.parse(out);
    expect(created.streamKey).toMatch(STREAM_KEY_PATTERN);
    expect(created.playbackId).toMatch(PLAYBACK_ID_PATTERN);
    expect(created.rtmpUrl).toBe('rtmp://127.0.0.1:1935/live');
    expect(created.publishUrl).toBe(`rtmp://127.0.0.1:1935/live/${created.streamKey}`);
    expect(created.playbackUrl).toBe(`http://127.0.0.1:8080/${created.playbackId}/index.m3u8`);
    expect(created.playerUrl).toBe(`http://127.0.0.1:8080/watch/${created.playbackId}`);
    const stored = await t.store.getChannelByKeyHash(hashStreamKey(created.streamKey));
    expect(stored).toMatchObject({ name: 'studio-a', playbackId: created.playbackId, state: 'active' });

    const listed = await run('keys', 'list', '--json');
    expect(listed.out).not.toContain(created.streamKey);
    expect(JSON.parse(listed.out)).toEqual([expect.objectContaining({ name: 'studio-a', playbackId: created.playbackId, state: 'active' })]);
  });

  it('create prints OBS settings as text', async () => {
    const { out } = await run('keys', 'create', 'studio-b');
    expect(out).toContain('Server:      rtmp://127.0.0.1:1935/live');
    expect(out).toMatch(/Stream Key:  kf_[A-Za-z0-9_-]{32}/);
    expect(out).toContain('Playback URL:');
  });

  it('revoke by name or playback ID; a second revoke is a clear error', async () => {
    const created = JSON.parse((await run('keys', 'create', 'studio-c', '--json')).out);
    const { out } = await run('keys', 'revoke', created.playbackId);
    expect(out).toContain('Revoked channel "studio-c"');
    expect((await t.store.getChannelByKeyHash(hashStreamKey(created.streamKey)))?.state).toBe('revoked');
    await expect(run('keys', 'revoke', 'studio-c')).rejects.toThrow('no active channel named or with playback ID "studio-c"');
  });

  it('create --record and update --record|--no-record; list and the text say so', async () => {
    const created = JSON.parse((await run('keys', 'create', 'rec-a', '--record', '--json')).out);
    expect(created.record).toBe(true);
    expect((await t.store.getChannelByKeyHash(hashStreamKey(created.streamKey)))?.record).toBe(true);
    expect((await run('keys', 'list')).out).toMatch(/rec-a .*\(recorded\)/);
    const off = await run('keys', 'update', 'rec-a', '--no-record');
    expect(off.out).toContain('recording off (recordings made so far are kept), from its next publish');
    expect((await t.store.getChannelByKeyHash(hashStreamKey(created.streamKey)))?.record).toBeUndefined();
    const on = JSON.parse((await run('keys', 'update', created.playbackId, '--record', '--json')).out);
    expect(on).toMatchObject({ name: 'rec-a', record: true });
    const text = (await run('keys', 'create', 'rec-b', '--record')).out;
    expect(text).toContain('Recording: on. Each publish is recorded; see: keyframe recordings list rec-b');
    await expect(run('keys', 'update', 'rec-a')).rejects.toThrow('keys update needs an option to change: --record, --no-record, --ladder');
    await expect(run('keys', 'update', 'rec-a', '--record', '--no-record')).rejects.toThrow('pick one of --record and --no-record');
    await expect(run('keys', 'update', 'nope', '--record')).rejects.toThrow('no active channel named or with playback ID "nope"');
    await expect(run('keys', 'create', 'rec-c', '--no-record')).rejects.toThrow('--no-record applies to keys update only');
    await expect(run('keys', 'list', '--record')).rejects.toThrow('--record applies to keys create and keys update only');
  });

  it('create --ladder [rungs] and update --ladder|--no-ladder; list and the text say so; unknown rungs refused', async () => {
    const dflt = JSON.parse((await run('keys', 'create', 'abr-a', '--ladder', '--json')).out);
    expect(dflt.ladder).toEqual(['720p', '480p', '360p']);
    expect((await t.store.getChannelByKeyHash(hashStreamKey(dflt.streamKey)))?.ladder).toEqual(['720p', '480p', '360p']);
    const picked = JSON.parse((await run('keys', 'create', 'abr-b', '--ladder', '360p,1080p', '--json')).out);
    expect(picked.ladder).toEqual(['1080p', '360p']); // highest first
    expect((await run('keys', 'create', 'abr-c', '--ladder', '240p')).out).toContain('Quality ladder: source + 240p');
    expect((await run('keys', 'list')).out).toMatch(/abr-b .*\(ladder 1080p,360p\)/);
    const changed = JSON.parse((await run('keys', 'update', 'abr-b', '--ladder', '480p', '--json')).out);
    expect(changed.ladder).toEqual(['480p']);
    const both = await run('keys', 'update', 'abr-b', '--no-ladder', '--record');
    expect(both.out).toContain('recording on; no ladder (passthrough only), from its next publish');
    const stored = await t.store.getChannelByKeyHash(hashStreamKey(picked.streamKey));
    expect(stored?.ladder).toBeUndefined();
    expect(stored?.record).toBe(true);
    await expect(run('keys', 'create', 'abr-d', '--ladder', '4k')).rejects.toThrow(
      'unknown ladder rung "4k": use some of 1080p,720p,480p,360p,240p,160p',
    );
    await expect(run('keys', 'update', 'abr-a', '--ladder', '--no-ladder')).rejects.toThrow('pick one of --ladder and --no-ladder');
    await expect(run('keys', 'create', 'abr-e', '--no-ladder')).rejects.toThrow('--no-ladder applies to keys update only');
  });

  it('refuses bad names and duplicates with the fix in the message', async () => {
    await expect(run('keys', 'create', '../etc')).rejects.toThrow('channel name "../etc" is invalid');
    await run('keys', 'create', 'dup');
    await expect(run('keys', 'create', 'dup')).rejects.toThrow('revoke it first with: keyframe keys revoke dup');
    await expect(run('keys', 'create')).rejects.toThrow('keys create needs a channel name');
    await expect(run('keys', 'rotate', 'x')).rejects.toThrow('unknown command "keys rotate"');
  });

  it('says how to start the local stack when none runs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kf-cli-none-'));
    const saved = process.env.KEYFRAME_STATE_DIR;
    process.env.KEYFRAME_STATE_DIR = dir;
    try {
      await expect(run('keys', 'list')).rejects.toThrow('no local stack is running');
    } finally {
      process.env.KEYFRAME_STATE_DIR = saved;
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChannelExistsError, ConditionFailedError } from '../../core/errors';
import { hashStreamKey, newPlaybackId, newSessionId, newStreamKey, type Route } from '../../core/model';
import { startTestTable, type TestTable } from '../support/dynamo';

let t: TestTable;
beforeAll(async () => {
  t = await startTestTable();
});
afterAll(async () => {
  await t.close();
});

function route(overrides: Partial<Route> = {}): Route {
  const now = Date.now();
  return {
    playbackId: newPlaybackId(),
    taskArn: 'arn:aws:ecs:local:000000000000:task/keyframe/a',
    host: '127.0.0.1',
    port: 9001,
    session: newSessionId(),
    startedAt: now,
    heartbeatAt: now,
    expiresAt: now + 15_000,
    mediaSequence: 0,
    discontinuitySequence: 0,
    ...overrides,
  };
}

describe('channels', () => {
  it('stores only the key hash and finds the channel by it', async () => {
    const key = newStreamKey();
    const created = await t.store.createChannel({ name: 'alice', keyHash: hashStreamKey(key), playbackId: newPlaybackId() });
    const found = await t.store.getChannelByKeyHash(hashStreamKey(key));
    expect(found).toEqual(created);
    expect(JSON.stringify(await t.store.listChannels())).not.toContain(key);
    expect(await t.store.getChannelByKeyHash(hashStreamKey(newStreamKey()))).toBeUndefined();
  });

  it('refuses a second active channel with the same name, and frees the name on revoke', async () => {
    const first = await t.store.createChannel({ name: 'bob', keyHash: hashStreamKey(newStreamKey()), playbackId: newPlaybackId() });
    await expect(t.store.createChannel({ name: 'bob', keyHash: hashStreamKey(newStreamKey()), playbackId: newPlaybackId() })).rejects.toBeInstanceOf(
      ChannelExistsError,
    );
    const revoked = await t.store.revokeChannel(first.playbackId);
    expect(revoked?.state).toBe('revoked');
    expect((await t.store.getChannelByKeyHash(first.keyHash))?.state).toBe('revoked');
    expect(await t.store.revokeChannel('bob')).toBeUndefined();
    const again = await t.store.createChannel({ name: 'bob', keyHash: hashStreamKey(newStreamKey()), playbackId: newPlaybackId() });
    expect(again.state).toBe('active');
  });
});

describe('channel options', () => {
  it('record is stored, changed by updateChannel (on and off), and only for an active channel', async () => {
    const key = newStreamKey();
    const created = await t.store.createChannel({ name: 'rec', keyHash: hashStreamKey(key), playbackId: newPlaybackId(), record: true });
    expect(created.record).toBe(true);
    expect((await t.store.getChannelByKeyHash(hashStreamKey(key)))?.record).toBe(true);
    const off = await t.store.updateChannel('rec', { record: false });
    expect(off?.record).toBeUndefined();
    expect((await t.store.getChannelByKeyHash(hashStreamKey(key)))?.record).toBeUndefined();
    const on = await t.store.updateChannel(created.playbackId, { record: true });
    expect(on?.record).toBe(true);
    expect((await t.store.listChannels()).find((c) => c.playbackId === created.playbackId)?.record).toBe(true);
    await t.store.revokeChannel('rec');
    expect(await t.store.updateChannel(created.playbackId, { record: false })).toBeUndefined();
    expect((await t.store.getChannelByKeyHash(hashStreamKey(key)))?.record).toBe(true);
    expect(await t.store.updateChannel('no-such', { record: true })).toBeUndefined();
  });

  it('ladder: stored in order, replaced, turned off with null, left alone when absent', async () => {
    const key = newStreamKey();
    const c = await t.store.createChannel({ name: 'abr', keyHash: hashStreamKey(key), playbackId: newPlaybackId(), ladder: ['720p', '360p'] });
    expect(c.ladder).toEqual(['720p', '360p']);
    expect((await t.store.getChannelByKeyHash(hashStreamKey(key)))?.ladder).toEqual(['720p', '360p']);
    expect((await t.store.updateChannel('abr', { record: true }))?.ladder).toEqual(['720p', '360p']);
    expect((await t.store.updateChannel('abr', { ladder: ['1080p', '480p', '160p'] }))?.ladder).toEqual(['1080p', '480p', '160p']);
    expect(await t.store.getChannelByKeyHash(hashStreamKey(key))).toMatchObject({ ladder: ['1080p', '480p', '160p'], record: true });
    const off = await t.store.updateChannel(c.playbackId, { ladder: null });
    expect(off?.ladder).toBeUndefined();
    expect((await t.store.getChannelByKeyHash(hashStreamKey(key)))?.ladder).toBeUndefined();
  });

  it('a route carries its recording id', async () => {
    const r = route({ recordingId: 'abcdefghi0123456' });
    await t.store.putRoute(r);
    expect((await t.store.getRoute(r.playbackId))?.recordingId).toBe('abcdefghi0123456');
    const plain = route();
    await t.store.putRoute(plain);
    expect((await t.store.getRoute(plain.playbackId))?.recordingId).toBeUndefined();
  });
});

describe('routes', () => {
  it('returns the route it replaced when a newer publish takes over', async () => {
    const a = route();
    expect(await t.store.putRoute(a)).toBeUndefined();
    const b = route({ playbackId: a.playbackId, taskArn: 'arn:task/b', mediaSequence: 0 });
    const old = await t.store.putRoute(b);
    expect(old).toEqual(a);
    expect(await t.store.getRoute(a.playbackId)).toEqual(b);
  });

  it('compare-and-delete: an old session cannot delete the new route', async () => {
    const a = route();
    await t.store.putRoute(a);
    const b = route({ playbackId: a.playbackId, taskArn: 'arn:task/b' });
    await t.store.putRoute(b);
    expect(await t.store.deleteRoute(a.playbackId, a.taskArn, a.session)).toBe(false);
    expect(await t.store.deleteRouteOfTask(a.playbackId, a.taskArn)).toBe(false);
    expect((await t.store.getRoute(a.playbackId))?.session).toBe(b.session);
    expect(await t.store.deleteRoute(b.playbackId, b.taskArn, b.session)).toBe(true);
    expect(await t.store.getRoute(a.playbackId)).toBeUndefined();
  });

  it('heartbeat extends only its own route', async () => {
    const a = route();
    await t.store.putRoute(a);
    await t.store.heartbeatRoute({ ...a, heartbeatAt: a.heartbeatAt + 5, expiresAt: a.expiresAt + 5000, mediaSequence: 7 });
    const stored = await t.store.getRoute(a.playbackId);
    expect(stored?.mediaSequence).toBe(7);
    expect(stored?.expiresAt).toBe(a.expiresAt + 5000);
    await expect(t.store.heartbeatRoute({ ...a, session: newSessionId(), mediaSequence: 8 })).rejects.toBeInstanceOf(ConditionFailedError);
  });

  it('finds the routes of a task through the index', async () => {
    const task = `arn:task/${newSessionId()}`;
    const r1 = route({ taskArn: task });
    const r2 = route({ taskArn: task });
    await t.store.putRoute(r1);
    await t.store.putRoute(r2);
    await t.store.putRoute(route());
    const ids = (await t.store.listRoutesOfTask(task)).map((r) => r.playbackId).sort();
    expect(ids).toEqual([r1.playbackId, r2.playbackId].sort());
    expect((await t.store.listRoutes()).length).toBeGreaterThanOrEqual(3);
  });
});

describe('tasks', () => {
  it('orders by version and never resurrects a stopped task', async () => {
    const taskArn = `arn:task/${newSessionId()}`;
    const at = new Date().toISOString();
    expect(await t.store.applyTaskState({ taskArn, status: 'PENDING', version: 1, at })).toBe('applied');
    expect(await t.store.applyTaskState({ taskArn, ip: '10.0.0.5', status: 'RUNNING', version: 3, at })).toBe('applied');
    expect(await t.store.applyTaskState({ taskArn, status: 'PENDING', version: 2, at })).toBe('stale');
    expect(await t.store.applyTaskState({ taskArn, ip: '10.0.0.5', status: 'RUNNING', version: 3, at })).toBe('stale');
    expect(await t.store.getTask(taskArn)).toMatchObject({ status: 'RUNNING', version: 3, ip: '10.0.0.5' });
    expect(await t.store.applyTaskState({ taskArn, status: 'STOPPED', version: 5, at })).toBe('applied');
    expect(await t.store.applyTaskState({ taskArn, status: 'STOPPED', version: 5, at })).toBe('stale');
    expect(await t.store.applyTaskState({ taskArn, ip: '10.0.0.5', status: 'RUNNING', version: 9, at })).toBe('stale');
    expect((await t.store.getTask(taskArn))?.status).toBe('STOPPED');
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPlaybackId, newSessionId, type Route } from '../../../core/model';
import { applyTaskEvent } from '../../../functions/task-events/apply';
import { startTestTable, type TestTable } from '../../support/dynamo';
import { taskEvent } from '../../support/events';

let t: TestTable;
beforeAll(async () => {
  t = await startTestTable();
});
afterAll(async () => {
  await t.close();
});

const arn = () => `arn:aws:ecs:us-east-1:111122223333:task/keyframe-ingest/${newSessionId()}`;
function route(taskArn: string, playbackId = newPlaybackId()): Route {
  const now = Date.now();
  return {
    playbackId,
    taskArn,
    host: '10.0.3.57',
    port: 8080,
    session: newSessionId(),
    startedAt: now,
    heartbeatAt: now,
    expiresAt: now + 15000,
    mediaSequence: 3,
    discontinuitySequence: 0,
  };
}

describe('applyTaskEvent against the real table', () => {
  it('RUNNING registers; STOPPED removes every route of the task and only those', async () => {
    const task = arn();
    const other = arn();
    expect(await applyTaskEvent(taskEvent(task, 'RUNNING', 4), { store: t.store })).toMatchObject({ result: 'applied' });
    expect(await t.store.getTask(task)).toMatchObject({ status: 'RUNNING', ip: '10.0.3.57', version: 4 });
    const mine = [route(task), route(task)];
    const theirs = route(other);
    for (const r of [...mine, theirs]) await t.store.putRoute(r);
    const out = await applyTaskEvent(taskEvent(task, 'STOPPED', 7), { store: t.store });
    expect(out).toEqual({ result: 'applied', taskArn: task, status: 'STOPPED', routesPurged: 2 });
    for (const r of mine) expect(await t.store.getRoute(r.playbackId)).toBeUndefined();
    expect(await t.store.getRoute(theirs.playbackId)).toEqual(theirs);
  });

  it('a duplicate STOPPED is stale but still purges a route that appeared since', async () => {
    const task = arn();
    await applyTaskEvent(taskEvent(task, 'STOPPED', 7), { store: t.store });
    const late = route(task);
    await t.store.putRoute(late);
    expect(await applyTaskEvent(taskEvent(task, 'STOPPED', 7), { store: t.store })).toMatchObject({ result: 'stale', routesPurged: 1 });
    expect(await t.store.getRoute(late.playbackId)).toBeUndefined();
  });

  it('a late RUNNING after STOPPED never resurrects the task', async () => {
    const task = arn();
    await applyTaskEvent(taskEvent(task, 'STOPPED', 7), { store: t.store });
    expect(await applyTaskEvent(taskEvent(task, 'RUNNING', 4), { store: t.store })).toMatchObject({ result: 'stale' });
    expect((await t.store.getTask(task))?.status).toBe('STOPPED');
  });

  it('a STOPPED event does not remove a route that moved to another task', async () => {
    const oldTask = arn();
    const newTask = arn();
    const playbackId = newPlaybackId();
    await t.store.putRoute(route(oldTask, playbackId));
    const moved = route(newTask, playbackId);
    await t.store.putRoute(moved);
    await applyTaskEvent(taskEvent(oldTask, 'STOPPED', 9), { store: t.store });
    expect(await t.store.getRoute(playbackId)).toEqual(moved);
  });
});

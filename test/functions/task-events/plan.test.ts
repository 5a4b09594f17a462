import { describe, expect, it } from 'vitest';
import { MalformedEventError, planTaskEvent } from '../../../functions/task-events/plan';
import { ecsEvent } from '../../support/events';

const TASK = 'arn:aws:ecs:us-east-1:111122223333:task/keyframe-ingest/8c1f4d2a9b3e4f6a8d7c5b4a3e2f1d0c';
const CLUSTER = 'arn:aws:ecs:us-east-1:111122223333:cluster/keyframe-ingest';

describe('planTaskEvent', () => {
  it('RUNNING registers the task with its private IP', () => {
    expect(planTaskEvent(ecsEvent('ecs-task-running'))).toEqual({
      kind: 'apply',
      taskArn: TASK,
      status: 'RUNNING',
      version: 4,
      ip: '10.0.3.57',
      at: '2026-11-20T12:00:04.861Z',
      purgeRoutes: false,
    });
  });

  it('STOPPED marks the task stopped and purges its routes', () => {
    expect(planTaskEvent(ecsEvent('ecs-task-stopped'))).toMatchObject({ kind: 'apply', status: 'STOPPED', version: 7, purgeRoutes: true });
  });

  it('other statuses update the record without touching routes', () => {
    const e = ecsEvent('ecs-task-running');
    e.detail.lastStatus = 'DEACTIVATING';
    expect(planTaskEvent(e)).toMatchObject({ status: 'DEACTIVATING', purgeRoutes: false });
  });

  it('falls back to the container interface when the ENI attachment has no address', () => {
    const e = ecsEvent('ecs-task-running');
    e.detail.attachments = [];
    e.detail.containers[0].networkInterfaces[0].privateIpv4Address = '10.0.9.9';
    expect(planTaskEvent(e)).toMatchObject({ ip: '10.0.9.9' });
  });

  it('ignores events of another cluster', () => {
    expect(planTaskEvent(ecsEvent('ecs-task-running'), { clusterArn: `${CLUSTER}-other` })).toMatchObject({ kind: 'ignore' });
    expect(planTaskEvent(ecsEvent('ecs-task-running'), { clusterArn: CLUSTER })).toMatchObject({ kind: 'apply' });
  });

  const bad: Array<[string, (e: any) => unknown, string]> = [
    ['not an object', () => 'hello', 'the event is not an object'],
    ['wrong source', (e) => ((e.source = 'aws.ec2'), e), 'source is "aws.ec2", expected "aws.ecs"'],
    [
      'wrong detail-type',
      (e) => ((e['detail-type'] = 'ECS Container Instance State Change'), e),
      'detail-type is "ECS Container Instance State Change"',
    ],
    ['no detail', (e) => (delete e.detail, e), 'detail is missing or not an object'],
    ['bad task ARN', (e) => ((e.detail.taskArn = 'arn:aws:ecs:us-east-1:1:task/../../x y'), e), 'detail.taskArn'],
    ['unknown status', (e) => ((e.detail.lastStatus = 'EXPLODED'), e), 'detail.lastStatus "EXPLODED" is not an ECS task status'],
    ['version as string', (e) => ((e.detail.version = '4'), e), 'detail.version "4" is not a non-negative integer'],
    ['negative version', (e) => ((e.detail.version = -1), e), 'detail.version -1'],
    ['missing version', (e) => (delete e.detail.version, e), 'detail.version undefined'],
  ];
  for (const [name, edit, message] of bad) {
    it(`rejects a malformed event: ${name}`, () => {
      const e = edit(structuredClone(ecsEvent('ecs-task-running')));
      expect(() => planTaskEvent(e)).toThrowError(MalformedEventError);
      expect(() => planTaskEvent(e)).toThrowError(message);
    });
  }
});

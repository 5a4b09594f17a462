import { EventEmitter } from 'node:events';
import { DescribeServicesCommand, DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import { describe, expect, it, vi } from 'vitest';
import {
  decideDeployment,
  DeploymentWatcher,
  ecsDeploymentSource,
  LOCAL_SERVICE_NAME,
  localDeploymentSource,
  regionOfArn,
  taskOriginOf,
  type DeploymentSource,
  type ServiceDeployment,
  type WatcherTimers,
} from '../../ingest/deployment';
import { EventLog } from '../support/wait';

const CLUSTER = 'arn:aws:ecs:eu-west-1:123456789012:cluster/Keyframe-IngestCluster1A2B3C';
const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/Keyframe-IngestCluster1A2B3C/0123456789abcdef';
const OURS = 'ecs-svc/1111111111111111111';
const NEWER = 'ecs-svc/2222222222222222222';

const deployment = (id: string, status: string, runningCount: number, desiredCount = 2): ServiceDeployment => ({
  id,
  status,
  runningCount,
  desiredCount,
});

describe('taskOriginOf', () => {
  it('reads the service from `group` and the deployment from `startedBy`', () => {
    expect(taskOriginOf({ group: 'service:Keyframe-IngestService-abc', startedBy: OURS })).toEqual({
      service: 'Keyframe-IngestService-abc',
      deploymentId: OURS,
    });
  });

  it('finds no origin for a task that no service deployment started', () => {
    expect(taskOriginOf({ group: 'family:keyframe-ingest', startedBy: 'me' })).toBeUndefined();
    expect(taskOriginOf({ group: 'service:x' })).toBeUndefined();
    expect(taskOriginOf({ group: 'service:x', startedBy: 'codedeploy/abc' })).toBeUndefined();
    expect(taskOriginOf({})).toBeUndefined();
  });
});

describe('decideDeployment', () => {
  const cases: Array<[string, ServiceDeployment[], ReturnType<typeof decideDeployment>]> = [
    ['ours is the primary deployment: current', [deployment(OURS, 'PRIMARY', 2)], { kind: 'current' }],
    [
      'a newer primary whose tasks are still starting: waiting (publishers need somewhere to go)',
      [deployment(NEWER, 'PRIMARY', 1), deployment(OURS, 'ACTIVE', 2, 0)],
      { kind: 'waiting', by: NEWER, running: 1, desired: 2 },
    ],
    [
      'a newer primary whose tasks all run: superseded',
      [deployment(NEWER, 'PRIMARY', 2), deployment(OURS, 'ACTIVE', 2, 0)],
      { kind: 'superseded', by: NEWER },
    ],
    ['ours no longer listed at all: superseded', [deployment(NEWER, 'PRIMARY', 3, 3)], { kind: 'superseded', by: NEWER }],
    [
      'a newer primary scaled to zero: superseded',
      [deployment(NEWER, 'PRIMARY', 0, 0), deployment(OURS, 'ACTIVE', 1, 0)],
      { kind: 'superseded', by: NEWER },
    ],
    ['no primary in the answer: unknown', [deployment(OURS, 'ACTIVE', 2)], { kind: 'unknown', reason: 'the service has no PRIMARY deployment' }],
    ['an empty answer: unknown', [], { kind: 'unknown', reason: 'the service has no PRIMARY deployment' }],
  ];
  for (const [name, deployments, verdict] of cases) {
    it(name, () => expect(decideDeployment({ ours: OURS, deployments })).toEqual(verdict));
  }
});

describe('ecsDeploymentSource (the SDK mocked at send)', () => {
  function clientAnswering(answers: { tasks?: unknown; services?: unknown }) {
    const client = new ECSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const send = vi.spyOn(client, 'send').mockImplementation(async (command: unknown) => {
      if (command instanceof DescribeTasksCommand) return answers.tasks;
      if (command instanceof DescribeServicesCommand) return answers.services;
      throw new Error('unexpected command');
    });
    return { client, send };
  }

  it('asks DescribeTasks for its own ARN, then DescribeServices for its service, in its cluster', async () => {
    const { client, send } = clientAnswering({
      tasks: { tasks: [{ taskArn: TASK, group: 'service:Keyframe-IngestService-abc', startedBy: OURS }], failures: [] },
      services: {
        services: [
          {
            serviceName: 'Keyframe-IngestService-abc',
            deployments: [
              { id: NEWER, status: 'PRIMARY', desiredCount: 2, runningCount: 2, rolloutState: 'IN_PROGRESS' },
              { id: OURS, status: 'ACTIVE', desiredCount: 0, runningCount: 2, rolloutState: 'COMPLETED' },
            ],
          },
        ],
        failures: [],
      },
    });
    const source = ecsDeploymentSource({ clusterArn: CLUSTER, taskArn: TASK, client });
    expect(await source.origin()).toEqual({ service: 'Keyframe-IngestService-abc', deploymentId: OURS });
    expect(await source.deployments('Keyframe-IngestService-abc')).toEqual([
      { id: NEWER, status: 'PRIMARY', desiredCount: 2, runningCount: 2, rolloutState: 'IN_PROGRESS' },
      { id: OURS, status: 'ACTIVE', desiredCount: 0, runningCount: 2, rolloutState: 'COMPLETED' },
    ]);
    const [tasks, services] = send.mock.calls.map((c) => c[0] as DescribeTasksCommand | DescribeServicesCommand);
    expect(tasks).toBeInstanceOf(DescribeTasksCommand);
    expect(tasks.input).toEqual({ cluster: CLUSTER, tasks: [TASK] });
    expect(services).toBeInstanceOf(DescribeServicesCommand);
    expect(services.input).toEqual({ cluster: CLUSTER, services: ['Keyframe-IngestService-abc'] });
  });

  it('turns ECS failures into errors that name the reason', async () => {
    const { client } = clientAnswering({
      tasks: { tasks: [], failures: [{ arn: TASK, reason: 'MISSING' }] },
      services: { services: [], failures: [{ arn: 'arn:aws:ecs:eu-west-1:123456789012:service/c/s', reason: 'MISSING' }] },
    });
    const source = ecsDeploymentSource({ clusterArn: CLUSTER, taskArn: TASK, client });
    await expect(source.origin()).rejects.toThrow(`DescribeTasks failed: MISSING for ${TASK}`);
    await expect(source.deployments('s')).rejects.toThrow('DescribeServices failed: MISSING for arn:aws:ecs:eu-west-1:123456789012:service/c/s');
  });

  it('finds no origin for a standalone task', async () => {
    const { client } = clientAnswering({ tasks: { tasks: [{ taskArn: TASK, group: 'family:keyframe', startedBy: 'someone' }] } });
    expect(await ecsDeploymentSource({ clusterArn: CLUSTER, taskArn: TASK, client }).origin()).toBeUndefined();
  });

  it("reads the region of an ARN (the client's region when none is given)", () => {
    expect(regionOfArn(CLUSTER)).toBe('eu-west-1');
    expect(regionOfArn('keyframe')).toBeUndefined();
  });
});

describe('localDeploymentSource (the local stack over IPC)', () => {
  it('answers the deployments the fleet last announced, and nothing before', async () => {
    const channel = new EventEmitter();
    const source = localDeploymentSource('ecs-svc/local-1', channel);
    expect(await source.origin()).toEqual({ service: LOCAL_SERVICE_NAME, deploymentId: 'ecs-svc/local-1' });
    expect(await source.deployments(LOCAL_SERVICE_NAME)).toEqual([]);
    const announced = [deployment('ecs-svc/local-2', 'PRIMARY', 1, 1), deployment('ecs-svc/local-1', 'ACTIVE', 1, 0)];
    channel.emit('message', { type: 'deployments', deployments: announced });
    channel.emit('message', { type: 'something-else', deployments: [] });
    expect(await source.deployments(LOCAL_SERVICE_NAME)).toEqual(announced);
  });
});

/** Timers driven by the test: each scheduled callback is recorded, and runs only when the test fires it. */
function manualTimers(): WatcherTimers & { scheduled: EventLog<{ ms: number; fn: () => void; cleared: boolean }> } {
  const scheduled = new EventLog<{ ms: number; fn: () => void; cleared: boolean }>();
  return {
    scheduled,
    setTimeout(fn, ms) {
      const entry = { ms, fn, cleared: false };
      scheduled.push(entry);
      return entry;
    },
    clearTimeout(handle) {
      (handle as { cleared: boolean }).cleared = true;
    },
  };
}

/** A source whose answers the test changes between checks, counting the calls. */
function scriptedSource(initial: { origin?: () => Promise<unknown>; deployments: ServiceDeployment[] | (() => Promise<ServiceDeployment[]>) }) {
  const calls = { origin: 0, deployments: 0 };
  const state = { ...initial };
  const source: DeploymentSource = {
    async origin() {
      calls.origin++;
      return (state.origin ? await state.origin() : { service: 'svc', deploymentId: OURS }) as never;
    },
    async deployments() {
      calls.deployments++;
      return typeof state.deployments === 'function' ? state.deployments() : state.deployments;
    },
  };
  return { source, calls, state };
}

describe('DeploymentWatcher', () => {
  it('polls every 15–25 s until a newer deployment runs, then calls onSuperseded once and stops', async () => {
    const timers = manualTimers();
    const { source, calls, state } = scriptedSource({ deployments: [deployment(OURS, 'PRIMARY', 2)] });
    const superseded = new EventLog<{ by: string; ours: string }>();
    const randoms = [0, 0.999999, 0.5];
    const watcher = new DeploymentWatcher(source, {
      everyMs: 20_000,
      timers,
      random: () => randoms.shift() ?? 0.5,
      onSuperseded: (v) => superseded.push(v),
    });
    watcher.start();
    const first = await timers.scheduled.waitFor('the first poll to be scheduled', () => true);
    expect(first.ms).toBe(15_000);
    expect(calls).toEqual({ origin: 1, deployments: 1 });

    state.deployments = [deployment(NEWER, 'PRIMARY', 1), deployment(OURS, 'ACTIVE', 2, 0)];
    first.fn();
    const second = await timers.scheduled.waitFor('the second poll', (e) => e !== first);
    expect(second.ms).toBe(25_000);
    expect(superseded.entries, 'the new tasks are not all running yet').toEqual([]);

    state.deployments = [deployment(NEWER, 'PRIMARY', 2), deployment(OURS, 'ACTIVE', 2, 0)];
    second.fn();
    expect(await superseded.waitFor('the verdict', () => true)).toEqual({ by: NEWER, ours: OURS });
    expect(watcher.done).toBe(true);
    expect(timers.scheduled.entries, 'no poll after the verdict').toHaveLength(2);
    // The origin is asked once; every poll reads the deployments.
    expect(calls).toEqual({ origin: 1, deployments: 3 });
    expect(await watcher.check()).toEqual({ kind: 'superseded', by: NEWER });
    expect(superseded.entries, 'called once').toHaveLength(1);
  });

  it('stops at once for a task no service deployment started', async () => {
    const timers = manualTimers();
    const { source, calls } = scriptedSource({ origin: async () => undefined, deployments: [] });
    const watcher = new DeploymentWatcher(source, { everyMs: 20_000, timers, onSuperseded: () => expect.fail('not superseded') });
    expect(await watcher.check()).toEqual({ kind: 'standalone' });
    expect(watcher.done).toBe(true);
    expect(calls.deployments).toBe(0);
  });

  it('asks again next time when ECS does not answer, the origin as well as the deployments', async () => {
    const { source, calls, state } = scriptedSource({
      origin: async () => {
        throw new Error('AccessDeniedException: not authorized to perform: ecs:DescribeTasks');
      },
      deployments: [deployment(NEWER, 'PRIMARY', 2)],
    });
    const superseded: unknown[] = [];
    const watcher = new DeploymentWatcher(source, { everyMs: 20_000, timers: manualTimers(), onSuperseded: (v) => superseded.push(v) });
    expect(await watcher.check()).toEqual({ kind: 'error', error: 'AccessDeniedException: not authorized to perform: ecs:DescribeTasks' });
    state.origin = undefined;
    state.deployments = async () => {
      throw new Error('ThrottlingException: Rate exceeded');
    };
    expect(await watcher.check()).toEqual({ kind: 'error', error: 'ThrottlingException: Rate exceeded' });
    state.deployments = [deployment(NEWER, 'PRIMARY', 2)];
    expect(await watcher.check()).toEqual({ kind: 'superseded', by: NEWER });
    expect(calls).toEqual({ origin: 2, deployments: 2 });
    expect(superseded).toEqual([{ by: NEWER, ours: OURS }]);
  });

  it('stop() cancels the next poll', async () => {
    const timers = manualTimers();
    const { source } = scriptedSource({ deployments: [deployment(OURS, 'PRIMARY', 2)] });
    const watcher = new DeploymentWatcher(source, { everyMs: 20_000, timers, onSuperseded: () => expect.fail('not superseded') });
    watcher.start();
    const next = await timers.scheduled.waitFor('the first poll to be scheduled', () => true);
    watcher.stop();
    expect(next.cleared).toBe(true);
    expect(watcher.done).toBe(true);
  });
});

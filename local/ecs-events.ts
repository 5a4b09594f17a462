import type { TaskStatus } from '../core/model';

export const LOCAL_CLUSTER_ARN = 'arn:aws:ecs:local:000000000000:cluster/keyframe-local';

export function localTaskArn(id: string): string {
  return `arn:aws:ecs:local:000000000000:task/keyframe-local/${id}`;
}

/**
 * An `ECS Task State Change` event for a local ingest process, shaped like the ones EventBridge delivers
 * (test/fixtures/events), so the local stack drives the same task-events code as AWS.
 */
export function localTaskEvent(input: { taskArn: string; status: TaskStatus; version: number; ip: string; at?: Date }): Record<string, unknown> {
  const at = (input.at ?? new Date()).toISOString();
  return {
    version: '0',
    id: `local-${input.taskArn.split('/').pop()}-${input.version}`,
    'detail-type': 'ECS Task State Change',
    source: 'aws.ecs',
    account: '000000000000',
    time: at,
    region: 'local',
    resources: [input.taskArn],
    detail: {
      attachments: [
        {
          id: 'local-eni',
          type: 'eni',
          status: input.status === 'STOPPED' ? 'DELETED' : 'ATTACHED',
          details: [{ name: 'privateIPv4Address', value: input.ip }],
        },
      ],
      clusterArn: LOCAL_CLUSTER_ARN,
      containers: [{ name: 'ingest', lastStatus: input.status, taskArn: input.taskArn, networkInterfaces: [{ privateIpv4Address: input.ip }] }],
      desiredStatus: input.status === 'STOPPED' ? 'STOPPED' : 'RUNNING',
      lastStatus: input.status,
      launchType: 'FARGATE',
      taskArn: input.taskArn,
      updatedAt: at,
      version: input.version,
    },
  };
}

import { describe, expect, it } from 'vitest';
import { resolveTaskIdentity } from '../../ingest/identity';

describe('resolveTaskIdentity', () => {
  it('prefers explicit env', async () => {
    expect(await resolveTaskIdentity({ taskArn: 'arn:x', taskIp: '127.0.0.1' })).toEqual({ taskArn: 'arn:x', ip: '127.0.0.1' });
  });

  it('reads the ECS task metadata endpoint v4', async () => {
    const seen: string[] = [];
    const id = await resolveTaskIdentity({ ecsMetadataUri: 'http://169.254.170.2/v4/abc' }, async (url) => {
      seen.push(url);
      return url.endsWith('/task')
        ? { TaskARN: 'arn:aws:ecs:us-east-1:1:task/c/t1', Containers: [] }
        : { Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.3.57'] }] };
    });
    expect(id).toEqual({ taskArn: 'arn:aws:ecs:us-east-1:1:task/c/t1', ip: '10.0.3.57' });
    expect(seen).toEqual(['http://169.254.170.2/v4/abc/task', 'http://169.254.170.2/v4/abc']);
  });

  it('returns the cluster ARN from the task metadata (`Cluster`), for the deployment checks', async () => {
    const cluster = 'arn:aws:ecs:eu-west-1:123456789012:cluster/Keyframe-IngestCluster1A2B3C';
    const id = await resolveTaskIdentity({ ecsMetadataUri: 'http://169.254.170.2/v4/abc' }, async (url) =>
      url.endsWith('/task')
        ? { Cluster: cluster, TaskARN: `${cluster.replace(':cluster/', ':task/')}/0123abcd`, Containers: [] }
        : { Networks: [{ NetworkMode: 'awsvpc', IPv4Addresses: ['10.0.3.57'] }] },
    );
    expect(id).toEqual({
      taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/Keyframe-IngestCluster1A2B3C/0123abcd',
      ip: '10.0.3.57',
      clusterArn: cluster,
    });
  });

  it('says what to set when it cannot tell', async () => {
    await expect(resolveTaskIdentity({})).rejects.toThrow('set KEYFRAME_TASK_ARN and KEYFRAME_TASK_IP');
  });
});

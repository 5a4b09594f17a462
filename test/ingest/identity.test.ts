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

  it('says what to set when it cannot tell', async () => {
    await expect(resolveTaskIdentity({})).rejects.toThrow('set KEYFRAME_TASK_ARN and KEYFRAME_TASK_IP');
  });
});

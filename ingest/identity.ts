import { hostname } from 'node:os';
import type { IngestConfig } from './config';

export interface TaskIdentity {
  readonly taskArn: string;
  /** The address the origin uses to reach this task's HLS server. */
  readonly ip: string;
  /** On ECS, the cluster's ARN (task metadata `Cluster`): where the task asks about its service's deployments. */
  readonly clusterArn?: string;
}

/**
 * Who this task is. Explicit settings win (the local stack sets both); on ECS the task metadata endpoint v4
 * gives the task ARN, the awsvpc private IP and the cluster ARN.
 */
export async function resolveTaskIdentity(
  known: IngestConfig['identity'],
  fetchJson: (url: string) => Promise<unknown> = async (url) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
  },
): Promise<TaskIdentity> {
  const taskArn = known.taskArn;
  const ip = known.taskIp;
  if (taskArn && ip) return { taskArn, ip };
  const metadata = known.ecsMetadataUri;
  if (!metadata) {
    throw new Error('cannot tell which task this is: set KEYFRAME_TASK_ARN and KEYFRAME_TASK_IP, or run on ECS (ECS_CONTAINER_METADATA_URI_V4)');
  }
  const task = (await fetchJson(`${metadata}/task`)) as {
    TaskARN?: string;
    Cluster?: string;
    Containers?: Array<{ Networks?: Array<{ IPv4Addresses?: string[] }> }>;
  };
  const container = (await fetchJson(metadata)) as { Networks?: Array<{ IPv4Addresses?: string[] }> };
  const foundArn = taskArn ?? task.TaskARN;
  const foundIp = ip ?? container.Networks?.[0]?.IPv4Addresses?.[0] ?? task.Containers?.[0]?.Networks?.[0]?.IPv4Addresses?.[0];
  if (!foundArn || !foundIp) {
    throw new Error(`the ECS task metadata at ${metadata} has no task ARN or IPv4 address (host ${hostname()})`);
  }
  const clusterArn = typeof task.Cluster === 'string' && task.Cluster !== '' ? task.Cluster : undefined;
  return { taskArn: foundArn, ip: foundIp, ...(clusterArn ? { clusterArn } : {}) };
}

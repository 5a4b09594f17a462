import type { TaskStatus } from '../../core/model';

/**
 * Pure mapping from an `ECS Task State Change` event to what the store must do. No AWS here: the handler
 * and the local stack both feed events through it.
 */
export interface EcsTaskStateChange {
  readonly source?: unknown;
  readonly 'detail-type'?: unknown;
  readonly time?: unknown;
  readonly detail?: unknown;
}

export type TaskEventPlan =
  | { readonly kind: 'ignore'; readonly reason: string }
  | {
      readonly kind: 'apply';
      readonly taskArn: string;
      readonly status: TaskStatus;
      readonly version: number;
      readonly ip?: string;
      readonly at: string;
      /** STOPPED: every route that points at the task goes, even if the event itself is a repeat. */
      readonly purgeRoutes: boolean;
    };

export class MalformedEventError extends Error {
  constructor(message: string) {
    super(`malformed ECS task state change event: ${message}`);
    this.name = 'MalformedEventError';
  }
}

const STATUSES: ReadonlySet<string> = new Set<TaskStatus>([
  'PROVISIONING',
  'PENDING',
  'ACTIVATING',
  'RUNNING',
  'DEACTIVATING',
  'STOPPING',
  'DEPROVISIONING',
  'STOPPED',
]);

const TASK_ARN = /^arn:[a-z0-9-]+:ecs:[a-z0-9-]*:\d*:task\/[A-Za-z0-9_/-]{1,255}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The task's private IPv4 address from the ENI attachment, or from the first container's interface. */
export function taskIp(detail: Record<string, unknown>): string | undefined {
  const ipv4 = /^(\d{1,3}\.){3}\d{1,3}$/;
  if (Array.isArray(detail.attachments)) {
    for (const att of detail.attachments) {
      if (!isRecord(att) || att.type !== 'eni' || !Array.isArray(att.details)) continue;
      for (const d of att.details) {
        if (isRecord(d) && d.name === 'privateIPv4Address' && typeof d.value === 'string' && ipv4.test(d.value)) return d.value;
      }
    }
  }
  if (Array.isArray(detail.containers)) {
    for (const c of detail.containers) {
      if (!isRecord(c) || !Array.isArray(c.networkInterfaces)) continue;
      for (const ni of c.networkInterfaces) {
        if (isRecord(ni) && typeof ni.privateIpv4Address === 'string' && ipv4.test(ni.privateIpv4Address)) return ni.privateIpv4Address;
      }
    }
  }
  return undefined;
}

export function planTaskEvent(event: unknown, opts: { clusterArn?: string } = {}): TaskEventPlan {
  if (!isRecord(event)) throw new MalformedEventError('the event is not an object');
  if (event.source !== 'aws.ecs') throw new MalformedEventError(`source is ${JSON.stringify(event.source)}, expected "aws.ecs"`);
  if (event['detail-type'] !== 'ECS Task State Change') {
    throw new MalformedEventError(`detail-type is ${JSON.stringify(event['detail-type'])}, expected "ECS Task State Change"`);
  }
  const detail = event.detail;
  if (!isRecord(detail)) throw new MalformedEventError('detail is missing or not an object');
  const { taskArn, lastStatus, version, clusterArn } = detail;
  if (typeof taskArn !== 'string' || !TASK_ARN.test(taskArn)) {
    throw new MalformedEventError(`detail.taskArn ${JSON.stringify(taskArn)} is not an ECS task ARN`);
  }
  if (typeof lastStatus !== 'string' || !STATUSES.has(lastStatus)) {
    throw new MalformedEventError(`detail.lastStatus ${JSON.stringify(lastStatus)} is not an ECS task status`);
  }
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 0) {
    throw new MalformedEventError(`detail.version ${JSON.stringify(version)} is not a non-negative integer`);
  }
  if (opts.clusterArn !== undefined && clusterArn !== opts.clusterArn) {
    return { kind: 'ignore', reason: `event for cluster ${String(clusterArn)}, not ${opts.clusterArn}` };
  }
  const status = lastStatus as TaskStatus;
  const ip = taskIp(detail);
  const at = typeof detail.updatedAt === 'string' ? detail.updatedAt : typeof event.time === 'string' ? event.time : new Date().toISOString();
  return {
    kind: 'apply',
    taskArn,
    status,
    version,
    ...(ip ? { ip } : {}),
    at,
    purgeRoutes: status === 'STOPPED',
  };
}

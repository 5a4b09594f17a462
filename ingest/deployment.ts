import { DescribeServicesCommand, DescribeTasksCommand, ECSClient } from '@aws-sdk/client-ecs';
import type { Logger } from '../core/logger';

/**
 * Is this task still part of its service's current deployment? A `cdk deploy` that changes the task definition
 * starts a new ECS deployment beside the old one; the old deployment's tasks must then let go of their scale-in
 * protection (which blocks deployments too) and drain, so the deploy completes within the drain window
 * (docs/deploy.md, "Updating while streams are live").
 *
 * The decision is pure (`taskOriginOf`, `decideDeployment`); `DeploymentWatcher` polls a `DeploymentSource`: ECS
 * (`ecsDeploymentSource`: DescribeTasks once, DescribeServices on each poll) or the local stack's fleet
 * (`localDeploymentSource`, over IPC).
 */

/** Which service deployment started this task. */
export interface TaskOrigin {
  /** The service's name (DescribeTasks `group` is `service:<name>`). */
  readonly service: string;
  /** The deployment's ID (DescribeTasks `startedBy`, `ecs-svc/<digits>`; the same as the deployment's `id`). */
  readonly deploymentId: string;
}

/** One entry of DescribeServices' `deployments`: the fields the decision reads. */
export interface ServiceDeployment {
  readonly id: string;
  /** `PRIMARY` (the newest), `ACTIVE` (older ones still running tasks) or `INACTIVE`. */
  readonly status: string;
  readonly desiredCount: number;
  readonly runningCount: number;
  /** `IN_PROGRESS`, `COMPLETED` or `FAILED`. */
  readonly rolloutState?: string;
}

export type DeploymentVerdict =
  /** Our deployment is the primary one: nothing to do. */
  | { readonly kind: 'current' }
  /** A newer deployment is primary but its tasks are not all running yet: stay, so publishers have somewhere to go. */
  | { readonly kind: 'waiting'; readonly by: string; readonly running: number; readonly desired: number }
  /** A newer deployment is primary and its tasks run: release protection and drain. */
  | { readonly kind: 'superseded'; readonly by: string }
  /** The answer says nothing usable (no primary deployment). */
  | { readonly kind: 'unknown'; readonly reason: string };

const SERVICE_GROUP = /^service:(.+)$/;

/** The service deployment that started a task, from its DescribeTasks entry; undefined for a task no service started. */
export function taskOriginOf(task: { readonly group?: string; readonly startedBy?: string }): TaskOrigin | undefined {
  const service = SERVICE_GROUP.exec(task.group ?? '')?.[1];
  const deploymentId = task.startedBy;
  if (!service || !deploymentId?.startsWith('ecs-svc/')) return undefined;
  return { service, deploymentId };
}

/**
 * Whether the deployment that started this task is still the primary one. A task of an older deployment is
 * superseded once the primary deployment's tasks all run (`runningCount >= desiredCount`), so that publishers
 * asked to move find new tasks: until then it is `waiting`. A rollback is a new primary deployment like any other.
 */
export function decideDeployment(input: { readonly ours: string; readonly deployments: readonly ServiceDeployment[] }): DeploymentVerdict {
  const primary = input.deployments.find((d) => d.status === 'PRIMARY');
  if (!primary) return { kind: 'unknown', reason: 'the service has no PRIMARY deployment' };
  if (primary.id === input.ours) return { kind: 'current' };
  if (primary.runningCount < primary.desiredCount) {
    return { kind: 'waiting', by: primary.id, running: primary.runningCount, desired: primary.desiredCount };
  }
  return { kind: 'superseded', by: primary.id };
}

/** Where the watcher learns which deployment it belongs to and which deployments its service has. */
export interface DeploymentSource {
  /** This task's origin; undefined when no service deployment started it (nothing to watch). */
  origin(): Promise<TaskOrigin | undefined>;
  /** The service's deployments now. */
  deployments(service: string): Promise<readonly ServiceDeployment[]>;
}

/** The one ECS client method the adapter uses; a real ECSClient has it. */
export type EcsDescribeClient = Pick<ECSClient, 'send'>;

/** The region of an ECS ARN (`arn:<partition>:ecs:<region>:...`). */
export function regionOfArn(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return region ? region : undefined;
}

/**
 * ECS as the source: DescribeTasks on the task's own ARN for its origin, DescribeServices for the deployments. The
 * task role needs `ecs:DescribeTasks` on the cluster's tasks and `ecs:DescribeServices` on its services
 * (infra/ingest-service.ts).
 */
export function ecsDeploymentSource(opts: {
  readonly clusterArn: string;
  readonly taskArn: string;
  readonly region?: string;
  readonly client?: EcsDescribeClient;
}): DeploymentSource {
  const region = opts.region ?? regionOfArn(opts.clusterArn);
  const client: EcsDescribeClient = opts.client ?? new ECSClient(region ? { region } : {});
  const failed = (call: string, failures: ReadonlyArray<{ arn?: string; reason?: string; detail?: string }> | undefined) => {
    const f = failures?.[0];
    return new Error(
      `${call} failed: ${f ? `${f.reason ?? 'unknown reason'} for ${f.arn ?? 'unknown resource'}${f.detail ? ` (${f.detail})` : ''}` : 'no answer'}`,
    );
  };
  return {
    async origin() {
      const out = await client.send(new DescribeTasksCommand({ cluster: opts.clusterArn, tasks: [opts.taskArn] }));
      const task = out.tasks?.find((t) => t.taskArn === opts.taskArn) ?? out.tasks?.[0];
      if (!task) throw failed('DescribeTasks', out.failures);
      return taskOriginOf(task);
    },
    async deployments(service) {
      const out = await client.send(new DescribeServicesCommand({ cluster: opts.clusterArn, services: [service] }));
      const found = out.services?.[0];
      if (!found) throw failed('DescribeServices', out.failures);
      return (found.deployments ?? []).map((d) => ({
        id: d.id ?? '',
        status: d.status ?? '',
        desiredCount: d.desiredCount ?? 0,
        runningCount: d.runningCount ?? 0,
        rolloutState: d.rolloutState,
      }));
    },
  };
}

/** The local fleet's service name (local/tasks.ts), the stand-in for the ECS service's. */
export const LOCAL_SERVICE_NAME = 'keyframe-local-ingest';

/** What the local fleet tells each of its tasks, over IPC, whenever its deployments change: DescribeServices' answer. */
export interface LocalDeploymentsMessage {
  readonly type: 'deployments';
  readonly deployments: readonly ServiceDeployment[];
}

/**
 * The local stack as the source: the task's deployment comes from its environment (the stand-in for DescribeTasks),
 * and the service's deployments from the last `deployments` message the fleet sent (the stand-in for
 * DescribeServices). Nothing announced yet reads as no deployments at all.
 */
export function localDeploymentSource(
  deploymentId: string,
  channel: { on(event: 'message', listener: (message: unknown) => void): unknown },
): DeploymentSource {
  let latest: readonly ServiceDeployment[] = [];
  channel.on('message', (message) => {
    const m = message as Partial<LocalDeploymentsMessage> | undefined;
    if (m?.type === 'deployments' && Array.isArray(m.deployments)) latest = m.deployments;
  });
  return {
    origin: async () => ({ service: LOCAL_SERVICE_NAME, deploymentId }),
    deployments: async () => latest,
  };
}

/** Timers, injectable so tests drive the polling by hand. */
export interface WatcherTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: WatcherTimers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** What one check found: a verdict, or that there is nothing to watch, or that the source did not answer. */
export type WatchResult = DeploymentVerdict | { readonly kind: 'standalone' } | { readonly kind: 'error'; readonly error: string };

export interface DeploymentWatcherOptions {
  /** Mean time between checks; each wait is this ±25 % so the tasks of a fleet do not ask together. */
  readonly everyMs: number;
  /** Called once, when the task is superseded. */
  readonly onSuperseded: (verdict: { readonly by: string; readonly ours: string }) => void;
  readonly logger?: Logger;
  readonly timers?: WatcherTimers;
  /** In [0, 1). Default Math.random. */
  readonly random?: () => number;
}

/**
 * Polls a `DeploymentSource` until the task is superseded (then calls `onSuperseded` once and stops), until it
 * turns out no service deployment started it, or until `stop()`. A source that fails is asked again next time.
 */
export class DeploymentWatcher {
  private origin?: TaskOrigin;
  private timer?: unknown;
  private finished = false;
  private lastReported?: string;
  private readonly timers: WatcherTimers;

  constructor(
    private readonly source: DeploymentSource,
    private readonly opts: DeploymentWatcherOptions,
  ) {
    this.timers = opts.timers ?? realTimers;
  }

  /** Whether the watcher has stopped for good (superseded, standalone, or stopped). */
  get done(): boolean {
    return this.finished;
  }

  /** Checks now, then on the timer. */
  start(): void {
    void this.tick();
  }

  stop(): void {
    this.finished = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One check: resolve the origin if not known yet, read the deployments, decide, act. */
  async check(): Promise<WatchResult> {
    const log = this.opts.logger;
    try {
      if (!this.origin) {
        const origin = await this.source.origin();
        if (!origin) {
          log?.info('no service deployment started this task: not watching for newer deployments');
          this.stop();
          return { kind: 'standalone' };
        }
        this.origin = origin;
        log?.info('watching for newer deployments', { ecsService: origin.service, deploymentId: origin.deploymentId });
      }
      const verdict = decideDeployment({ ours: this.origin.deploymentId, deployments: await this.source.deployments(this.origin.service) });
      this.report(verdict);
      if (verdict.kind === 'superseded' && !this.finished) {
        this.stop();
        this.opts.onSuperseded({ by: verdict.by, ours: this.origin.deploymentId });
      }
      return verdict;
    } catch (err) {
      const error = (err as Error).message;
      log?.warn('deployment check failed; will retry', { error });
      return { kind: 'error', error };
    }
  }

  private report(verdict: DeploymentVerdict): void {
    const key = verdict.kind === 'waiting' || verdict.kind === 'superseded' ? `${verdict.kind}:${verdict.by}` : verdict.kind;
    if (key === this.lastReported) return;
    this.lastReported = key;
    const log = this.opts.logger;
    if (verdict.kind === 'waiting') {
      log?.info('a newer deployment is starting; staying until its tasks run', {
        by: verdict.by,
        running: verdict.running,
        desired: verdict.desired,
      });
    } else if (verdict.kind === 'superseded') {
      log?.info('superseded by a newer deployment', { by: verdict.by, ours: this.origin?.deploymentId });
    } else if (verdict.kind === 'unknown') {
      log?.debug('deployment check inconclusive', { reason: verdict.reason });
    }
  }

  private async tick(): Promise<void> {
    if (this.finished) return;
    await this.check();
    if (this.finished) return;
    const jitter = 0.75 + 0.5 * (this.opts.random ?? Math.random)();
    this.timer = this.timers.setTimeout(() => void this.tick(), Math.max(1, Math.round(this.opts.everyMs * jitter)));
  }
}

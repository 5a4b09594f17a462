import type { Logger } from '../../core/logger';
import type { RouteStore, TaskStateResult, TaskStore } from '../../core/store';
import { planTaskEvent } from './plan';

export interface TaskEventOutcome {
  readonly result: TaskStateResult | 'ignored';
  readonly taskArn?: string;
  readonly status?: string;
  readonly routesPurged: number;
}

/**
 * Applies one task-state event to the store: the task record (ordered by `detail.version`, STOPPED
 * terminal) and, on STOPPED, a conditional delete of every route that still points at the task.
 * Safe to run any number of times for the same event, in any order with the others.
 */
export async function applyTaskEvent(
  event: unknown,
  deps: { store: TaskStore & Pick<RouteStore, 'listRoutesOfTask' | 'deleteRouteOfTask'>; clusterArn?: string; logger?: Logger },
): Promise<TaskEventOutcome> {
  const plan = planTaskEvent(event, { clusterArn: deps.clusterArn });
  if (plan.kind === 'ignore') {
    deps.logger?.info('task event ignored', { reason: plan.reason });
    return { result: 'ignored', routesPurged: 0 };
  }
  const result = await deps.store.applyTaskState(plan);
  let routesPurged = 0;
  if (plan.purgeRoutes) {
    const routes = await deps.store.listRoutesOfTask(plan.taskArn);
    const deleted = await Promise.all(routes.map((r) => deps.store.deleteRouteOfTask(r.playbackId, plan.taskArn)));
    routesPurged = deleted.filter(Boolean).length;
  }
  deps.logger?.info('task event applied', {
    taskArn: plan.taskArn,
    status: plan.status,
    version: plan.version,
    result,
    routesPurged,
  });
  return { result, taskArn: plan.taskArn, status: plan.status, routesPurged };
}

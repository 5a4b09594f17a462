import { createDynamoStore } from '../../core/dynamo-store';
import { createLogger } from '../../core/logger';
import { emfMetrics, type MetricSink } from '../../core/metrics';
import type { LambdaModules } from '../../core/lambdas';
import type { Env } from '../../core/settings/schema';
import { taskEventsSettings } from '../../core/settings/task-events';
import { applyTaskEvent, type TaskEventOutcome } from './apply';

export type TaskEventsHandler = (event: unknown) => Promise<TaskEventOutcome>;

/**
 * EventBridge target for `ECS Task State Change`, built from an environment (the Lambda's own, or the one the
 * local stack writes with the same schema). A malformed event throws: Lambda retries it, then it lands in the
 * dead-letter queue with the error, so it is never dropped silently.
 */
export function createTaskEventsHandler(env?: Env, opts: { metrics?: MetricSink } = {}): TaskEventsHandler {
  const settings = taskEventsSettings.load(env);
  const logger = createLogger('task-events', settings.logLevel);
  const metrics = opts.metrics ?? emfMetrics('task-events');
  const store = createDynamoStore({ tableName: settings.tableName, endpoint: settings.dynamoEndpoint });
  const clusterArn = settings.clusterArn;
  return async (event) => {
    try {
      const outcome = await applyTaskEvent(event, { store, clusterArn, logger });
      if (outcome.result === 'applied') metrics.addMetric('TaskEventsApplied', 'Count', 1);
      if (outcome.result === 'stale') metrics.addMetric('TaskEventsStale', 'Count', 1);
      if (outcome.routesPurged > 0) metrics.addMetric('RoutesPurged', 'Count', outcome.routesPurged);
      return outcome;
    } catch (err) {
      logger.error('task event failed', { error: err as Error });
      throw err;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/** The factory the local Lambda runtime calls (core/lambdas.ts). */
export const createHandler: LambdaModules['taskEvents']['createHandler'] = (env, deps = {}) => createTaskEventsHandler(env, deps);

let built: TaskEventsHandler | undefined;

/** The Lambda entry point: built once per execution environment from its environment. */
export const handler: TaskEventsHandler = (event) => (built ??= createTaskEventsHandler())(event);

import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createDynamoStore } from '../../core/dynamo-store';
import { getOptionalString, getString } from '../../core/settings/env';
import { createLogger } from '../../core/logger';
import { applyTaskEvent, type TaskEventOutcome } from './apply';

const logger = createLogger('task-events');
const metrics = new Metrics({ namespace: 'Keyframe', serviceName: 'task-events' });
const store = createDynamoStore({
  tableName: getString('KEYFRAME_TABLE'),
  endpoint: getOptionalString('KEYFRAME_DYNAMODB_ENDPOINT'),
});
const clusterArn = getOptionalString('KEYFRAME_CLUSTER_ARN');

/**
 * EventBridge target for `ECS Task State Change`. A malformed event throws: Lambda retries it, then it lands
 * in the dead-letter queue with the error, so it is never dropped silently.
 */
export async function handler(event: unknown): Promise<TaskEventOutcome> {
  try {
    const outcome = await applyTaskEvent(event, { store, clusterArn, logger });
    if (outcome.result === 'applied') metrics.addMetric('TaskEventsApplied', MetricUnit.Count, 1);
    if (outcome.result === 'stale') metrics.addMetric('TaskEventsStale', MetricUnit.Count, 1);
    if (outcome.routesPurged > 0) metrics.addMetric('RoutesPurged', MetricUnit.Count, outcome.routesPurged);
    return outcome;
  } catch (err) {
    logger.error('task event failed', { error: err as Error });
    throw err;
  } finally {
    metrics.publishStoredMetrics();
  }
}

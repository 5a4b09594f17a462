import type { RouteStore } from '../shared/store';
import { createDynamoStore } from '../shared/dynamo-store';
import { createLogger } from '../shared/logger';
import { readOriginConfig } from './config';
import { createFunctionUrlHandler, type OriginFunctionUrlHandler } from './lambda';
import { createPowertoolsMetrics, powertoolsOriginMetrics } from './metrics';
import { createOrigin } from './origin';

/**
 * Builds the origin's function-URL handler from an environment: the one composition shared by the Lambda
 * (handler.ts, from process.env) and the local stack (which passes its own env and store).
 */
export function createLambdaOrigin(opts: {
  env?: Record<string, string | undefined>;
  routes?: Pick<RouteStore, 'getRoute'>;
} = {}): OriginFunctionUrlHandler {
  const config = readOriginConfig(opts.env ?? process.env);
  const metrics = createPowertoolsMetrics();
  const origin = createOrigin({
    routes: opts.routes ?? createDynamoStore({ tableName: config.tableName, endpoint: config.dynamoEndpoint }),
    routeCacheMs: config.routeCacheMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    segmentSeconds: config.segmentSeconds,
    logger: createLogger('origin'),
    metrics: powertoolsOriginMetrics(metrics),
  });
  return createFunctionUrlHandler(origin, { flush: () => metrics.publishStoredMetrics() });
}

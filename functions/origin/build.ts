import type { RouteStore } from '../shared/store';
import { createDynamoStore } from '../shared/dynamo-store';
import { createLogger } from '../shared/logger';
import { playbackKeyFromEnv } from '../shared/playback-secret';
import { readOriginConfig, readOriginSecurityConfig } from './config';
import { createFunctionUrlHandler, type OriginFunctionUrlHandler } from './lambda';
import { createPowertoolsMetrics, powertoolsOriginMetrics } from './metrics';
import { createOrigin } from './origin';
import type { StreamListing } from './streams';
import { createUpstreamGuard } from './upstream-guard';

/**
 * Builds the origin's function-URL handler from an environment: the one composition shared by the Lambda
 * (handler.ts, from process.env) and the local stack (which passes its own env and store).
 */
export function createLambdaOrigin(opts: {
  env?: Record<string, string | undefined>;
  routes?: Pick<RouteStore, 'getRoute'> & StreamListing;
} = {}): OriginFunctionUrlHandler {
  const config = readOriginConfig(opts.env ?? process.env);
  const security = readOriginSecurityConfig(opts.env ?? process.env);
  const metrics = createPowertoolsMetrics();
  const store = opts.routes ?? createDynamoStore({ tableName: config.tableName, endpoint: config.dynamoEndpoint });
  const origin = createOrigin({
    routes: store,
    // Private channels stay out of the public stream list (their playback IDs are not advertised).
    listing: { listRoutes: () => store.listRoutes(), listChannels: async () => (await store.listChannels()).filter((c) => !c.private) },
    routeCacheMs: config.routeCacheMs,
    upstreamTimeoutMs: config.upstreamTimeoutMs,
    segmentSeconds: config.segmentSeconds,
    logger: createLogger('origin'),
    metrics: powertoolsOriginMetrics(metrics),
    upstreamGuard: createUpstreamGuard({ cidrs: security.upstreamCidrs, ports: security.upstreamPorts }),
    playbackKey: playbackKeyFromEnv(security, opts.env ?? process.env),
  });
  return createFunctionUrlHandler(origin, { flush: () => metrics.publishStoredMetrics() });
}

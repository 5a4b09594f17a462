import { createDynamoStore } from '../core/dynamo-store';
import { createLogger } from '../core/logger';
import { emfMetrics } from '../core/metrics';
import { startIngest } from './app';
import { loadIngestConfig } from './config';
import { resolveTaskIdentity } from './identity';
import { ecsAgentProtectionClient, ScaleInProtector } from './protection';

/**
 * The ingest container's entrypoint (and each local task's process). Exits 0 after a SIGTERM drain, 1 when
 * it cannot start; tells a parent process (the local stack) over IPC when it is ready and when it drains.
 */
let logger = createLogger('ingest');

async function main(): Promise<void> {
  const config = loadIngestConfig();
  logger = createLogger('ingest', config.logLevel);
  const identity = await resolveTaskIdentity(config.identity);
  const store = createDynamoStore({ tableName: config.tableName, endpoint: config.dynamoEndpoint, region: config.region });
  // On ECS, a task with live publishers protects itself from scale-in (the agent endpoint is only there).
  let protector: ScaleInProtector | undefined;
  const app = await startIngest(config, {
    store,
    identity,
    logger,
    onActiveStreamsChanged: () => void protector?.evaluate(),
  });
  const agentUri = config.ecsAgentUri;
  if (agentUri) {
    protector = new ScaleInProtector(ecsAgentProtectionClient(agentUri), () => ({
      activeStreams: app.streams.activeStreams,
      draining: app.streams.isDraining,
    }), { logger });
    protector.start();
  }
  logger.info('ingest ready', {
    taskArn: identity.taskArn,
    ip: identity.ip,
    rtmpPort: app.rtmpPort,
    hlsPort: app.hlsPort,
    healthPort: app.healthPort,
    segmentSeconds: config.segmentSeconds,
    rtmp: { ...config.rtmp, maxConnectionsPerIp: String(config.rtmp.maxConnectionsPerIp) },
    authThrottle: config.authThrottle,
  });
  process.send?.({ type: 'ready', rtmpPort: app.rtmpPort, hlsPort: app.hlsPort, healthPort: app.healthPort });

  const metrics = emfMetrics('ingest');
  const publish = () => {
    metrics.addMetric('ActiveStreams', 'Count', app.streams.activeStreams);
    metrics.publishStoredMetrics();
  };
  const metricsTimer = setInterval(publish, 60_000);
  metricsTimer.unref();

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    clearInterval(metricsTimer);
    process.send?.({ type: 'draining' });
    logger.info('draining on signal', { signal, activeStreams: app.streams.activeStreams, drainSeconds: config.drainSeconds });
    await app.drain(config.drainSeconds * 1000);
    await protector?.evaluate();
    protector?.stop();
    publish();
    logger.info('ingest stopped', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('disconnect', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  logger.error('ingest failed to start', { error: err.message });
  process.exit(1);
});

import { createDynamoStore } from '../core/dynamo-store';
import { createLogger } from '../core/logger';
import { emfMetrics } from '../core/metrics';
import { startIngest } from './app';
import { loadIngestConfig } from './config';
import { DeploymentWatcher, ecsDeploymentSource, localDeploymentSource, type DeploymentSource } from './deployment';
import { resolveTaskIdentity } from './identity';
import { ecsAgentProtectionClient, ScaleInProtector } from './protection';

/**
 * The ingest container's entrypoint (and each local task's process). Exits 0 after a drain (on SIGTERM, or when a
 * newer deployment supersedes the task), 1 when it cannot start; tells a parent process (the local stack) over IPC
 * when it is ready and when it drains.
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

  const metrics = emfMetrics('ingest');
  let fallbacksSeen = 0;
  const publish = () => {
    metrics.addMetric('LadderFallbacks', 'Count', app.streams.ladderFallbacks - fallbacksSeen);
    fallbacksSeen = app.streams.ladderFallbacks;
    metrics.addMetric('ActiveStreams', 'Count', app.streams.activeStreams);
    // The metric the service scales on (core/metrics.ts): the publishes' cost in load units, a ladder's its CPU.
    metrics.addMetric('IngestLoad', 'Count', app.streams.loadUnits);
    metrics.publishStoredMetrics();
  };
  const metricsTimer = setInterval(publish, 60_000);
  metricsTimer.unref();

  let watcher: DeploymentWatcher | undefined;
  let stopping = false;
  /** Stops taking publishes (healthz 503), drains for drainSeconds, releases protection at once, and exits 0. */
  const drainAndExit = async (why: string, detail: Record<string, unknown> = {}) => {
    if (stopping) return;
    stopping = true;
    clearInterval(metricsTimer);
    watcher?.stop();
    process.send?.({ type: 'draining', why });
    logger.info(why === 'superseded' ? 'draining: superseded by a newer deployment' : 'draining on signal', {
      ...detail,
      activeStreams: app.streams.activeStreams,
      drainSeconds: config.drainSeconds,
    });
    const drained = app.drain(config.drainSeconds * 1000);
    // The drain has begun (the view reads draining): protection goes now, not after the drain.
    void protector?.evaluate();
    await drained;
    await protector?.evaluate();
    protector?.stop();
    publish();
    logger.info('ingest stopped', { why });
    process.exit(0);
  };
  const superseded = (reason: string) => void drainAndExit('superseded', { reason });

  const agentUri = config.ecsAgentUri;
  if (agentUri) {
    protector = new ScaleInProtector(
      ecsAgentProtectionClient(agentUri),
      () => ({ activeStreams: app.streams.activeStreams, draining: app.streams.isDraining }),
      { logger, onSuperseded: superseded },
    );
    protector.start();
  }
  // Is this task still in its service's primary deployment? On ECS, DescribeTasks/DescribeServices; in the local
  // stack, the fleet's announcements over IPC. Superseded: the protector releases protection and starts the drain.
  let source: DeploymentSource | undefined;
  if (agentUri && identity.clusterArn) {
    source = ecsDeploymentSource({ clusterArn: identity.clusterArn, taskArn: identity.taskArn, region: config.region });
  } else if (config.localDeploymentId && process.send) {
    source = localDeploymentSource(config.localDeploymentId, process);
  }
  if (source) {
    watcher = new DeploymentWatcher(source, {
      everyMs: config.deploymentPollSeconds * 1000,
      logger,
      onSuperseded: ({ by, ours }) => {
        const reason = `deployment ${ours} replaced by ${by}`;
        if (protector) void protector.supersede(reason);
        else superseded(reason);
      },
    });
  }

  logger.info('ingest ready', {
    taskArn: identity.taskArn,
    ip: identity.ip,
    clusterArn: identity.clusterArn,
    rtmpPort: app.rtmpPort,
    hlsPort: app.hlsPort,
    healthPort: app.healthPort,
    segmentSeconds: config.segmentSeconds,
    rtmp: { ...config.rtmp, maxConnectionsPerIp: String(config.rtmp.maxConnectionsPerIp) },
    authThrottle: config.authThrottle,
  });
  process.send?.({ type: 'ready', rtmpPort: app.rtmpPort, hlsPort: app.hlsPort, healthPort: app.healthPort });
  watcher?.start();

  const onSignal = (signal: NodeJS.Signals) => {
    void drainAndExit(signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('disconnect', () => onSignal('SIGTERM'));
}

main().catch((err: Error) => {
  logger.error('ingest failed to start', { error: err.message });
  process.exit(1);
});

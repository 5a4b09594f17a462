import { arch } from 'node:os';
import { Aws, CfnOutput, CfnRule, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import { Port } from 'aws-cdk-lib/aws-ec2';
import type { Construct } from 'constructs';
import { Cdn } from './cdn';
import {
  type IngestArchitecture,
  ingestEphemeralStorageGiB,
  ingestTaskSize,
  type KeyframeConfig,
  ladderCpuBudgetVcpu,
  recordingSpoolMiB,
  resolveIngestArchitecture,
  scalingTargetLoad,
  taskLoadCapacity,
} from './config';
import { IngestLoadBalancer } from './ingest-load-balancer';
import { INGEST_PORTS, IngestService } from './ingest-service';
import { Network } from './network';
import { Observability } from './observability';
import { Origin } from './origin';
import { OUTPUT_KEYS } from './output-keys';
import { REPO_ROOT } from './paths';
import { PLAYER_PATH, PlayerSite } from './player-site';
import { Recordings } from './recordings';
import { arnRegion, FUNCTION_URL_UNSUPPORTED_REGIONS } from './regions';
import { RoutingTable } from './routing-table';
import { TaskStateSync } from './task-state-sync';

export interface KeyframeStackProps extends StackProps {
  readonly config: KeyframeConfig;
  /** The built player page (player/dist) if there is one. @default - no player page */
  readonly playerDirectory?: string;
  /** Repository root: Docker build context and Lambda entries. @default REPO_ROOT */
  readonly repoRoot?: string;
  /** The CPU architecture of the machine building the image, for `ingestArchitecture: host`. @default os.arch() */
  readonly hostArchitecture?: string;
}

/**
 * The Keyframe platform. This class only wires the constructs together and declares the outputs; each
 * concern lives in its own construct. Construct IDs are stable: renaming one replaces the resource.
 */
export class KeyframeStack extends Stack {
  readonly network: Network;
  readonly routingTable: RoutingTable;
  readonly recordings: Recordings;
  readonly ingest: IngestService;
  readonly ingestLoadBalancer: IngestLoadBalancer;
  readonly taskStateSync: TaskStateSync;
  readonly origin: Origin;
  readonly playerSite?: PlayerSite;
  readonly cdn: Cdn;
  readonly observability: Observability;
  /** The ingest tasks' architecture (config.ingestArchitecture with `host` resolved). */
  readonly ingestArchitecture: IngestArchitecture;

  constructor(scope: Construct, id: string, props: KeyframeStackProps) {
    super(scope, id, {
      description: 'Keyframe: self-hosted live streaming (RTMP ingest on Fargate, HLS through CloudFront)',
      ...props,
    });
    const { config } = props;
    const logRetention = config.logRetentionDays;

    this.ingestArchitecture = resolveIngestArchitecture(config.ingestArchitecture, props.hostArchitecture ?? arch());
    this.addRegionRules(config);

    this.network = new Network(this, 'Network', {
      natGateways: config.natGateways,
      availabilityZones: config.availabilityZones,
      logRetention,
    });
    const { vpc } = this.network;

    this.routingTable = new RoutingTable(this, 'RoutingTable', {
      removalPolicy: config.tableRemovalPolicy,
      deletionProtection: config.tableDeletionProtection,
    });

    // Recordings (docs/recording.md): the bucket is kept on `cdk destroy` (the streamers' data).
    this.recordings = new Recordings(this, 'Recordings', { retentionDays: config.recordingRetentionDays });

    // One ingest service for every publish (docs/deploy.md, "Quality ladders"): the NLB cannot route by stream key,
    // so with ladders on every task gets the ladder size and budget, and the load metric counts what ladders cost.
    const taskSize = ingestTaskSize(config);
    this.ingest = new IngestService(this, 'Ingest', {
      vpc,
      table: this.routingTable,
      cpu: taskSize.cpu,
      memoryLimitMiB: taskSize.memoryMiB,
      architecture: this.ingestArchitecture,
      ecsExec: config.ecsExec,
      minTasks: config.minTasks,
      maxTasks: config.maxTasks,
      targetLoadPerTask: scalingTargetLoad(config),
      ladderCpuBudget: ladderCpuBudgetVcpu(config),
      segmentSeconds: config.segmentSeconds,
      playlistSize: config.playlistSize,
      drainSeconds: config.drainSeconds,
      logRetention,
      imageDirectory: props.repoRoot ?? REPO_ROOT,
      recording: {
        recordings: this.recordings,
        spoolMiB: recordingSpoolMiB(config),
        ephemeralStorageGiB: ingestEphemeralStorageGiB(config),
      },
    });

    this.ingestLoadBalancer = new IngestLoadBalancer(this, 'IngestLoadBalancer', {
      vpc,
      service: this.ingest.service,
      drainSeconds: config.drainSeconds,
      rtmpsCertificateArn: config.rtmpsCertificateArn,
    });

    this.taskStateSync = new TaskStateSync(this, 'TaskStateSync', {
      cluster: this.ingest.cluster,
      table: this.routingTable,
      logRetention,
      reservedConcurrency: config.taskEventsReservedConcurrency || undefined,
    });

    this.origin = new Origin(this, 'Origin', {
      vpc,
      table: this.routingTable,
      segmentSeconds: config.segmentSeconds,
      playlistSize: config.playlistSize,
      logRetention,
      logSampleRate: config.originLogSampleRate,
      recordings: this.recordings,
    });
    // The tasks' HLS port is reachable from the origin function and nothing else.
    this.origin.securityGroup.connections.allowTo(this.ingest.securityGroup, Port.tcp(INGEST_PORTS.hls), 'HLS: origin function to ingest tasks');

    if (props.playerDirectory) {
      this.playerSite = new PlayerSite(this, 'PlayerSite', { sourceDirectory: props.playerDirectory, logRetention });
    }

    this.cdn = new Cdn(this, 'Cdn', {
      functionUrl: this.origin.functionUrl,
      segmentSeconds: config.segmentSeconds,
      priceClass: config.priceClass,
      originShieldRegion: config.originShieldRegion,
      domainName: config.domainName,
      domainCertificateArn: config.domainCertificateArn,
      accessLogRetentionDays: config.cdnAccessLogs ? config.logRetentionDays : undefined,
      playerBucket: this.playerSite?.bucket,
      wafRateLimit: config.wafRateLimit,
      webAclArn: config.webAclArn,
      // /recordings/*: playlists and posters to the origin, segments and inits from the bucket (OAC); first.
      leadingBehaviors: (ctx) => this.recordings.behaviors(ctx),
    });
    // The player upload invalidates /watch/* on this distribution, so a deploy ships the new page at once.
    this.playerSite?.deployTo(this.cdn.distribution);

    this.observability = new Observability(this, 'Observability', {
      cluster: this.ingest.cluster,
      service: this.ingest.service,
      minTasks: config.minTasks,
      maxTasks: config.maxTasks,
      loadMetric: this.ingest.loadMetric,
      targetLoadPerTask: scalingTargetLoad(config),
      taskLoadCapacity: taskLoadCapacity(taskSize.cpu),
      loadBalancer: this.ingestLoadBalancer.loadBalancer,
      targetGroup: this.ingestLoadBalancer.targetGroup,
      originFunction: this.origin.handler.function,
      taskEventsFunction: this.taskStateSync.handler.function,
      taskEventsReservedConcurrency: config.taskEventsReservedConcurrency || undefined,
      lambdaConcurrencyQuota: config.lambdaConcurrencyQuota,
      deadLetterQueue: this.taskStateSync.deadLetterQueue,
      distribution: this.cdn.distribution,
      alarmEmail: config.alarmEmail,
    });

    // Outputs (keys are a contract with cli/stack-outputs.ts).
    const playbackBaseUrl = `https://${config.domainName ?? this.cdn.domainName}`;
    new CfnOutput(this, OUTPUT_KEYS.rtmpUrl, {
      description: 'OBS "Server" (the stream key goes in "Stream Key")',
      value: `rtmp://${this.ingestLoadBalancer.dnsName}/live`,
    });
    if (config.rtmpsCertificateArn && config.ingestDomainName) {
      new CfnOutput(this, OUTPUT_KEYS.rtmpsUrl, {
        description: `RTMPS server (TLS 443); point ${config.ingestDomainName} (CNAME) at the IngestDnsTarget output`,
        value: `rtmps://${config.ingestDomainName}/live`,
      });
      new CfnOutput(this, OUTPUT_KEYS.ingestDnsTarget, {
        description: `The NLB's DNS name: the CNAME target of ${config.ingestDomainName}`,
        value: this.ingestLoadBalancer.dnsName,
      });
    }
    new CfnOutput(this, OUTPUT_KEYS.playbackBaseUrl, {
      description: 'Playback: <base>/<playbackId>/index.m3u8',
      value: playbackBaseUrl,
    });
    if (this.playerSite) {
      new CfnOutput(this, OUTPUT_KEYS.playerUrl, {
        description: 'Web player: the stream list; a stream plays at <url><playbackId> (the distribution root redirects here)',
        value: `${playbackBaseUrl}/${PLAYER_PATH}`,
      });
    }
    new CfnOutput(this, OUTPUT_KEYS.distributionDomainName, {
      description: 'CloudFront domain (the CNAME target of keyframe:domainName)',
      value: this.cdn.domainName,
    });
    new CfnOutput(this, OUTPUT_KEYS.tableName, {
      description: 'Routing table (stream keys, routes, tasks)',
      value: this.routingTable.tableName,
    });
    new CfnOutput(this, OUTPUT_KEYS.recordingBucketName, {
      description: `Recordings bucket (objects under recordings/; kept ${config.recordingRetentionDays} days; keyframe recordings delete --stack)`,
      value: this.recordings.bucket.bucketName,
    });
    new CfnOutput(this, OUTPUT_KEYS.createStreamKeyCommand, {
      description: 'Creates a channel and prints its secret stream key and playback ID',
      value: `npx keyframe keys create <name> --stack ${this.stackName} --region ${this.region}`,
    });
    new CfnOutput(this, OUTPUT_KEYS.dashboardUrl, {
      description: 'CloudWatch dashboard',
      value: this.observability.dashboardUrl,
    });
    new CfnOutput(this, OUTPUT_KEYS.alarmTopicArn, {
      description: 'SNS topic the alarms notify; subscribe to it',
      value: this.observability.alarmTopic.topicArn,
    });
    new CfnOutput(this, OUTPUT_KEYS.playbackSecretArn, {
      description: 'Secrets Manager secret that signs private-channel playback tokens (keyframe playback-url --stack)',
      value: this.origin.playbackSecret.secretArn,
    });
  }

  /**
   * The stack is region-agnostic, so what depends on the region is checked by template rules: CloudFormation
   * evaluates them when the change set is created, before any resource exists, and stops with the message.
   */
  private addRegionRules(config: KeyframeConfig): void {
    const assertions: Array<{ assert: ReturnType<typeof Fn.conditionNot>; assertDescription: string }> = [
      {
        assert: Fn.conditionNot(Fn.conditionContains([...FUNCTION_URL_UNSUPPORTED_REGIONS], Aws.REGION)),
        assertDescription:
          'Keyframe serves HLS through a Lambda function URL behind CloudFront, and this region has no function URLs. ' +
          'Deploy to another region (docs/deploy.md, "Regions").',
      },
    ];
    const rtmpsRegion = config.rtmpsCertificateArn ? arnRegion(config.rtmpsCertificateArn) : undefined;
    if (rtmpsRegion) {
      assertions.push({
        assert: Fn.conditionEquals(Aws.REGION, rtmpsRegion),
        assertDescription: `keyframe:rtmpsCertificateArn is a certificate in ${rtmpsRegion}; the NLB only uses certificates of its own region. Deploy to ${rtmpsRegion} or use a certificate of this region.`,
      });
    }
    const zone = config.availabilityZones?.[0];
    if (zone) {
      const zoneRegion = zone.slice(0, -1);
      assertions.push({
        assert: Fn.conditionEquals(Aws.REGION, zoneRegion),
        assertDescription: `keyframe:availabilityZones names zones of ${zoneRegion}; deploy to ${zoneRegion} or name zones of this region.`,
      });
    }
    if (config.wafRateLimit !== undefined) {
      assertions.push({
        assert: Fn.conditionEquals(Aws.REGION, 'us-east-1'),
        assertDescription:
          'keyframe:wafRateLimit creates a CloudFront web ACL, which only us-east-1 can create. Create one there and set keyframe:webAclArn instead (docs/deploy.md, "WAF").',
      });
    }
    new CfnRule(this, 'SupportedRegion', { assertions });
  }
}

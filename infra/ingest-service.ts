import { type CfnElement, Duration, IgnoreMode, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { type IVpc, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import {
  AvailabilityZoneRebalancing,
  AwsLogDriverMode,
  Cluster,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateService,
  FargateTaskDefinition,
  LinuxParameters,
  LogDrivers,
  OperatingSystemFamily,
  Protocol,
  UlimitName,
  type ContainerDefinition,
} from 'aws-cdk-lib/aws-ecs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Metric, Stats } from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { STOP_TIMEOUT_HEADROOM_SECONDS } from './config';
import { PATHS, REPO_ROOT } from './paths';
import type { Recordings } from './recordings';
import type { RoutingTable } from './routing-table';
import { type MetricName, METRICS_NAMESPACE } from '../core/metrics';
import { ingestSettings } from '../core/settings/ingest';

/** The ports the ingest container listens on (docs/architecture.md). */
export const INGEST_PORTS = { rtmp: 1935, hls: 8080, health: 8081 } as const;
export const INGEST_CONTAINER_NAME = 'ingest';
/** The scaling metric's name, from the metric contract (core/metrics.ts). */
export const INGEST_LOAD_METRIC: MetricName<'ingest'> = 'IngestLoad';

/**
 * The container health check. The image has Node and no curl: an HTTP GET to /healthz, healthy on 200
 * (the task answers 503 while draining), failing after 3 s if nothing answers.
 */
export const HEALTH_CHECK_SCRIPT =
  `const r=require('http').get('http://127.0.0.1:${INGEST_PORTS.health}/healthz',s=>process.exit(s.statusCode===200?0:1));` +
  `r.on('error',()=>process.exit(1));r.setTimeout(3000,()=>process.exit(1))`;

/**
 * How the ingest image's build context is staged from the repository root. .dockerignore allow-lists what
 * the build reads; these excludes keep the heavy directories out even if it is edited carelessly.
 * Exported so the Dockerfile test stages exactly the same context.
 */
export const INGEST_IMAGE_ASSET_OPTIONS = {
  file: PATHS.ingestDockerfile,
  ignoreMode: IgnoreMode.DOCKER,
  exclude: ['node_modules', 'cdk.out', '.git', 'test', 'test-artifacts', 'dist', '.keyframe'],
} as const;

/**
 * IngestLoad per task: the Average of the tasks' once-a-minute data points (one per task), so the load of the
 * average task. The scaling policy tracks it; the dashboard and the capacity alarm read it too.
 */
export function ingestLoadMetric(statistic: string = Stats.AVERAGE): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: INGEST_LOAD_METRIC,
    dimensionsMap: { service: 'ingest' },
    statistic,
    period: Duration.minutes(1),
  });
}

export interface IngestServiceProps {
  readonly vpc: IVpc;
  readonly table: RoutingTable;
  readonly cpu: number;
  readonly memoryLimitMiB: number;
  readonly architecture: 'arm64' | 'x86_64';
  readonly minTasks: number;
  readonly maxTasks: number;
  /**
   * Target of the load-based scaling policy: IngestLoad per task (load units, core/metrics.ts), averaged over the
   * tasks. A passthrough stream is one unit, a transcoded ladder its CPU in units.
   */
  readonly targetLoadPerTask: number;
  /**
   * Quality ladders (docs/deploy.md, "Quality ladders"): the vCPU the task's transcoders may use in all
   * (KEYFRAME_LADDER_CPU_BUDGET); 0 with ladders off, so every publish is passthrough. Always set: the task's own
   * default counts the machine's cores, and a Fargate task sees the host's, not its vCPU.
   */
  readonly ladderCpuBudget: number;
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  readonly drainSeconds: number;
  readonly logRetention: RetentionDays;
  /** The Docker build context. @default REPO_ROOT */
  readonly imageDirectory?: string;
  /** ECS Exec into the tasks (`aws ecs execute-command`). @default false */
  readonly ecsExec?: boolean;
  /**
   * Recording (docs/recording.md): the bucket the tasks upload to (put/delete under recordings/ only), the
   * upload spool's cap, and the ephemeral storage that holds it. @default - recording off on the tasks
   */
  readonly recording?: {
    readonly recordings: Recordings;
    /** KEYFRAME_RECORDING_SPOOL_MIB. */
    readonly spoolMiB: number;
    /** The task's ephemeral storage, GiB (21–200); unset keeps Fargate's included 20 GiB. */
    readonly ephemeralStorageGiB?: number;
  };
}

/**
 * The Fargate ingest service: RTMP publishes in, HLS out to the origin. One cluster (Container Insights on),
 * one task definition built from ingest/Dockerfile, a service in the private subnets that never drops
 * below its running count during a deploy and rolls back a deploy that does not stabilize.
 *
 * The load balancer and who may reach which port are wired outside (IngestLoadBalancer, the stack).
 */
export class IngestService extends Construct {
  readonly cluster: Cluster;
  readonly taskDefinition: FargateTaskDefinition;
  readonly container: ContainerDefinition;
  readonly service: FargateService;
  readonly securityGroup: SecurityGroup;
  readonly logGroup: LogGroup;
  /** Container Insights' performance log group, with the stack's retention. */
  readonly insightsLogGroup: LogGroup;
  /** The metric the service scales on: IngestLoad per task (Average over the tasks, per minute). */
  readonly loadMetric: Metric;

  constructor(scope: Construct, id: string, props: IngestServiceProps) {
    super(scope, id);
    const arm = props.architecture === 'arm64';

    this.cluster = new Cluster(this, 'Cluster', {
      vpc: props.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    // Container Insights writes performance events to this log group, and creates it with no expiry if it does
    // not exist. Created here first (same name), it keeps the stack's retention and is deleted with the stack.
    this.insightsLogGroup = new LogGroup(this, 'InsightsLogGroup', {
      logGroupName: `/aws/ecs/containerinsights/${this.cluster.clusterName}/performance`,
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu,
      memoryLimitMiB: props.memoryLimitMiB,
      // The recording spool lives on the task's ephemeral storage: sized from the same config value.
      ...(props.recording?.ephemeralStorageGiB !== undefined ? { ephemeralStorageGiB: props.recording.ephemeralStorageGiB } : {}),
      runtimePlatform: {
        cpuArchitecture: arm ? CpuArchitecture.ARM64 : CpuArchitecture.X86_64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    props.table.grant(this.taskDefinition.taskRole, ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query']);
    props.recording?.recordings.grantTaskWrites(this.taskDefinition.taskRole);
    // A task with live publishers protects itself from scale-in through the ECS agent (ingest/protection.ts),
    // which calls UpdateTaskProtection with the task role: allowed on this cluster's tasks only.
    const clusterTasks = Stack.of(this).formatArn({ service: 'ecs', resource: 'task', resourceName: `${this.cluster.clusterName}/*` });
    this.taskDefinition.addToTaskRolePolicy(new PolicyStatement({ actions: ['ecs:UpdateTaskProtection'], resources: [clusterTasks] }));
    // A deploy while streams are live (ingest/deployment.ts): the task reads its own `group` and `startedBy`
    // (DescribeTasks) and polls its service's deployments (DescribeServices); when a newer deployment is primary,
    // it releases its protection and drains. Read-only, on this cluster's tasks and services only.
    const clusterServices = Stack.of(this).formatArn({ service: 'ecs', resource: 'service', resourceName: `${this.cluster.clusterName}/*` });
    this.taskDefinition.addToTaskRolePolicy(new PolicyStatement({ actions: ['ecs:DescribeTasks'], resources: [clusterTasks] }));
    this.taskDefinition.addToTaskRolePolicy(new PolicyStatement({ actions: ['ecs:DescribeServices'], resources: [clusterServices] }));

    this.container = this.taskDefinition.addContainer('Container', {
      containerName: INGEST_CONTAINER_NAME,
      // Staged at synth (no build); `cdk deploy` builds it with Docker for the task's architecture.
      image: ContainerImage.fromAsset(props.imageDirectory ?? REPO_ROOT, {
        ...INGEST_IMAGE_ASSET_OPTIONS,
        exclude: [...INGEST_IMAGE_ASSET_OPTIONS.exclude],
        platform: arm ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
      }),
      essential: true,
      environment: ingestSettings.toEnv({
        region: Stack.of(this).region,
        tableName: props.table.tableName,
        rtmpPort: INGEST_PORTS.rtmp,
        hlsPort: INGEST_PORTS.hls,
        healthPort: INGEST_PORTS.health,
        segmentSeconds: props.segmentSeconds,
        playlistSize: props.playlistSize,
        drainSeconds: props.drainSeconds,
        logLevel: 'INFO',
        // The task sees the NLB's addresses, not the publishers' (client IP preservation is off), so a
        // per-address cap would cap every publisher behind one NLB node together; the total cap stays.
        maxConnectionsPerIp: Infinity,
        ladderCpuBudget: props.ladderCpuBudget,
        // Recordings: uploads to the bucket in the task's own region (S3 through the VPC's gateway endpoint).
        ...(props.recording ? { recordingBucket: props.recording.recordings.bucket.bucketName, recordingSpoolMiB: props.recording.spoolMiB } : {}),
        // taskArn / taskIp: read by the task from the ECS metadata endpoint v4.
      }),
      portMappings: [
        { name: 'rtmp', containerPort: INGEST_PORTS.rtmp, protocol: Protocol.TCP },
        { name: 'hls', containerPort: INGEST_PORTS.hls, protocol: Protocol.TCP },
        { name: 'health', containerPort: INGEST_PORTS.health, protocol: Protocol.TCP },
      ],
      healthCheck: {
        command: ['CMD', 'node', '-e', HEALTH_CHECK_SCRIPT],
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      // SIGTERM starts the drain; SIGKILL comes drainSeconds + 10 s later (Fargate allows at most 120 s).
      stopTimeout: Duration.seconds(props.drainSeconds + STOP_TIMEOUT_HEADROOM_SECONDS),
      // An init process as PID 1 forwards SIGTERM to Node and reaps any orphaned ffmpeg.
      linuxParameters: new LinuxParameters(this, 'LinuxParameters', { initProcessEnabled: true }),
      ulimits: [{ name: UlimitName.NOFILE, softLimit: 65_536, hardLimit: 65_536 }],
      logging: LogDrivers.awsLogs({
        logGroup: this.logGroup,
        streamPrefix: 'ingest',
        // A CloudWatch Logs hiccup must not block the process writing a live stream.
        mode: AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
    });

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Keyframe ingest tasks: RTMP and health from the NLB, HLS from the origin only',
      // Image pull, DynamoDB, CloudWatch Logs and the ECS agent: all outbound HTTPS, via NAT or endpoints.
      allowAllOutbound: true,
    });

    this.service = new FargateService(this, 'Service', {
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      // desiredCount is left out on purpose: CloudFormation then starts the service with one task and never
      // resets the count on later deploys (which would stop scaled-out tasks and their live publishes);
      // the scaling target's minimum (minTasks) sets the floor.
      securityGroups: [this.securityGroup],
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      assignPublicIp: false,
      platformVersion: FargatePlatformVersion.LATEST,
      // A deploy starts the new tasks first (up to twice the count) and stops an old task only after the new ones
      // are healthy, so publishers moved off a draining task always find room (docs/deploy.md, "Updating while live").
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      // AZ rebalancing would stop a running task to even out the zones: never with live publishes on it.
      availabilityZoneRebalancing: AvailabilityZoneRebalancing.DISABLED,
      enableExecuteCommand: props.ecsExec ?? false,
      healthCheckGracePeriod: Duration.seconds(60),
      enableECSManagedTags: true,
    });

    // No task may write to the insights log group before it has its retention.
    this.service.node.addDependency(this.insightsLogGroup);

    const scaling = this.service.autoScaleTaskCount({ minCapacity: props.minTasks, maxCapacity: props.maxTasks });
    scaling.scaleOnCpuUtilization('Cpu', {
      targetUtilizationPercent: 60,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });
    // Each task publishes IngestLoad once a minute (EMF, ingest/main.ts): its publishes' cost in load units, a
    // passthrough stream 1 and a ladder its transcoder's CPU. The Average over the tasks' data points is the load
    // per task, so a ladder scales the service out as the CPU it takes would, not as one stream. Scale-in never
    // stops a task with live publishers: those tasks hold ECS task scale-in protection (ingest/protection.ts).
    this.loadMetric = ingestLoadMetric();
    scaling.scaleToTrackCustomMetric('IngestLoad', {
      metric: this.loadMetric,
      targetValue: props.targetLoadPerTask,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.minutes(5),
    });

    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds only non-secret settings (table name, bucket name, ports, segment and drain durations, ladder CPU budget, log level); the task has no secrets, and its AWS access comes from the task role.',
    });
    const clusterLogicalId = Stack.of(this).getLogicalId(this.cluster.node.defaultChild as CfnElement);
    Validations.of(this.taskDefinition.taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/<${clusterLogicalId}>/*]`,
      reason:
        'ecs:UpdateTaskProtection and ecs:DescribeTasks on the tasks of this cluster only; task IDs are generated at launch, ' +
        'so the task part of the ARN is a wildcard.',
    });
    Validations.of(this.taskDefinition.taskRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/<${clusterLogicalId}>/*]`,
      reason:
        'ecs:DescribeServices (read-only) on the services of this cluster only, which holds just the ingest service; ' +
        'its name is generated by CloudFormation, so the service part of the ARN is a wildcard.',
    });
    if (props.ecsExec) {
      Validations.of(this.taskDefinition.taskRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'ECS Exec (keyframe:ecsExec) needs ssmmessages:CreateControlChannel, CreateDataChannel, OpenControlChannel and OpenDataChannel, which take no resource-level permissions (the SSM agent\'s documented policy, on Resource "*"); off by default.',
      });
    }
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken, needed to pull the image, supports no resource-level permissions; the image-pull and log actions are scoped to the asset repository and the log group.',
    });
  }
}

import { Duration } from 'aws-cdk-lib';
import { type IVpc, Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { FunctionUrlAuthType, InvokeMode, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Validations } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { INGEST_PORTS } from './ingest-service';
import { KeyframeFunction } from './node-function';
import { PATHS } from './paths';
import type { Recordings } from './recordings';
import type { RoutingTable } from './routing-table';
import { originSettings } from '../core/settings/origin';

export interface OriginProps {
  readonly vpc: IVpc;
  readonly table: RoutingTable;
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  readonly logRetention: RetentionDays;
  /** Share of successful requests logged (keyframe:originLogSampleRate); errors always are. */
  readonly logSampleRate: number;
  /** The recordings bucket: the origin serves recordings' playlists and posters from it. @default - recordings off (404) */
  readonly recordings?: Recordings;
}

/**
 * The origin function: resolves a playback ID to its task and fetches the file from the task's HLS port.
 * It runs in the private subnets (to reach the tasks) with its own security group, and is reachable only
 * through its function URL with AWS_IAM auth, which CloudFront signs with Origin Access Control (see Cdn).
 *
 * Responses are buffered: function URLs do not stream responses inside a VPC, which is why the config
 * refuses segment sizes above the buffered limit.
 */
export class Origin extends Construct {
  readonly handler: KeyframeFunction;
  readonly securityGroup: SecurityGroup;
  readonly functionUrl: FunctionUrl;
  /** HMAC key for private-channel playback tokens (docs/security.md). */
  readonly playbackSecret: Secret;

  constructor(scope: Construct, id: string, props: OriginProps) {
    super(scope, id);

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Keyframe origin function: HTTPS to AWS APIs, HLS to the ingest tasks',
      allowAllOutbound: false,
    });
    // DynamoDB and S3 through their gateway endpoints (whose prefix lists are not known offline): HTTPS out.
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to DynamoDB');

    this.playbackSecret = new Secret(this, 'PlaybackSecret', {
      description: 'Keyframe: HMAC key that signs private-channel playback tokens (keyframe playback-url)',
      // A plain random string (no JSON template): the origin and the CLI use it as the HMAC key.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.playbackSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the playback-token HMAC key would invalidate every playback URL already handed out; operators rotate it deliberately (docs/security.md) rather than on a schedule.',
    });

    this.handler = new KeyframeFunction(this, 'Handler', {
      entry: PATHS.originEntry,
      description: 'Keyframe origin: HLS playlists and segments from the ingest tasks, behind CloudFront',
      memorySize: 512,
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      environment: originSettings.toEnv({
        tableName: props.table.tableName,
        segmentSeconds: props.segmentSeconds,
        routeCacheMs: 1000,
        upstreamTimeoutMs: 2000,
        logSampleRate: props.logSampleRate,
        logLevel: 'INFO',
        // The upstream guard: the origin fetches only from task addresses inside this VPC, on the HLS port.
        upstreamCidrs: props.vpc.vpcCidrBlock,
        upstreamPorts: String(INGEST_PORTS.hls),
        // Read with the AWS SDK on the first private request, kept in memory and refreshed (core/playback-secret.ts).
        playbackSecretArn: this.playbackSecret.secretArn,
        // Recordings' playlists and posters (S3 through the VPC's gateway endpoint, in the function's own region:
        // Lambda sets AWS_REGION itself).
        ...(props.recordings ? { recordingBucket: props.recordings.bucket.bucketName } : {}),
      }),
    });
    props.recordings?.grantOriginReads(this.handler.role);
    this.playbackSecret.grantRead(this.handler.role);
    // Route look-ups (GetItem); Query and Scan for the public stream list (GET /api/streams, which lists
    // live routes and active channels: functions/origin/streams.ts). Read-only either way.
    props.table.grant(this.handler.role, ['GetItem', 'Query', 'Scan']);

    this.functionUrl = this.handler.function.addFunctionUrl({
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.BUFFERED,
    });
  }
}

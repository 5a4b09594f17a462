import { Duration } from 'aws-cdk-lib';
import { type IVpc, Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import { FunctionUrlAuthType, InvokeMode, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { KeyframeFunction } from './node-function';
import { PATHS } from './paths';
import type { RoutingTable } from './routing-table';

export interface OriginProps {
  readonly vpc: IVpc;
  readonly table: RoutingTable;
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  readonly logRetention: RetentionDays;
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

  constructor(scope: Construct, id: string, props: OriginProps) {
    super(scope, id);

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Keyframe origin function: HTTPS to AWS APIs, HLS to the ingest tasks',
      allowAllOutbound: false,
    });
    // DynamoDB through its gateway endpoint (whose prefix list is not known offline): HTTPS out.
    this.securityGroup.addEgressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS to DynamoDB');

    this.handler = new KeyframeFunction(this, 'Handler', {
      entry: PATHS.originEntry,
      description: 'Keyframe origin: HLS playlists and segments from the ingest tasks, behind CloudFront',
      memorySize: 512,
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [this.securityGroup],
      environment: {
        KEYFRAME_TABLE: props.table.tableName,
        KEYFRAME_SEGMENT_SECONDS: String(props.segmentSeconds),
        KEYFRAME_PLAYLIST_SIZE: String(props.playlistSize),
        KEYFRAME_ROUTE_CACHE_MS: '1000',
        KEYFRAME_UPSTREAM_TIMEOUT_MS: '2000',
        KEYFRAME_LOG_LEVEL: 'INFO',
      },
    });
    // Route look-ups (GetItem); Query and Scan for the public stream list (GET /api/streams, which lists
    // live routes and active channels: functions/origin/streams.ts). Read-only either way.
    props.table.grant(this.handler.role, ['GetItem', 'Query', 'Scan']);

    this.functionUrl = this.handler.function.addFunctionUrl({
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.BUFFERED,
    });
  }
}

import { RemovalPolicy } from 'aws-cdk-lib';
import { FlowLogDestination, FlowLogTrafficType, GatewayVpcEndpointAwsService, SubnetType, Vpc } from 'aws-cdk-lib/aws-ec2';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

export interface NetworkProps {
  /** NAT gateways (1, or 2 for one per AZ). @default 1 */
  readonly natGateways?: number;
  /** The two AZs to use. @default - the first two of the region (`Fn::GetAZs`) */
  readonly availabilityZones?: readonly string[];
  readonly logRetention: RetentionDays;
}

/**
 * The VPC: two AZs, public subnets for the NLB and NAT, private subnets for the ingest tasks and the origin
 * function. DynamoDB and S3 (ECR image layers) go through free gateway endpoints instead of NAT.
 * Rejected traffic is logged (VPC flow logs) to a log group with retention.
 */
export class Network extends Construct {
  readonly vpc: Vpc;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const flowLogs = new LogGroup(this, 'FlowLogs', {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.vpc = new Vpc(this, 'Vpc', {
      // Fn::GetAZs can list a zone without Fargate capacity; keyframe:availabilityZones names the two to use.
      ...(props.availabilityZones ? { availabilityZones: [...props.availabilityZones] } : { maxAzs: 2 }),
      natGateways: props.natGateways ?? 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Nothing here uses the default security group; locking it down would add a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: {
        DynamoDb: { service: GatewayVpcEndpointAwsService.DYNAMODB },
        S3: { service: GatewayVpcEndpointAwsService.S3 },
      },
      flowLogs: {
        Rejected: {
          destination: FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: FlowLogTrafficType.REJECT,
        },
      },
    });
  }
}

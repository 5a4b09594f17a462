import { Duration, Validations } from 'aws-cdk-lib';
import { type IVpc, Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import type { FargateService } from 'aws-cdk-lib/aws-ecs';
import {
  ListenerCertificate,
  type NetworkListener,
  NetworkLoadBalancer,
  NetworkTargetGroup,
  Protocol,
  SslPolicy,
  TargetType,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import { INGEST_CONTAINER_NAME, INGEST_PORTS } from './ingest-service';

/**
 * NLB TCP idle timeout for RTMP. A live publish sends media continuously, so only a stalled encoder goes
 * idle; the NLB default (350 s) keeps it connected far longer than any player would wait, and is stated
 * here so the choice is visible.
 */
export const RTMP_TCP_IDLE_TIMEOUT = Duration.seconds(350);

export interface IngestLoadBalancerProps {
  readonly vpc: IVpc;
  readonly service: FargateService;
  /** Seconds a stopping task drains; the deregistration delay matches it. */
  readonly drainSeconds: number;
  /** ACM certificate for RTMPS (TLS 443 → 1935). @default - no RTMPS listener */
  readonly rtmpsCertificateArn?: string;
}

/**
 * The public RTMP entry: an internet-facing NLB with its own security group, TCP 1935 (and TLS 443 for
 * RTMPS when a certificate is given), forwarding to the ingest tasks by IP.
 *
 * Client IP preservation is off (the IP-target default, stated explicitly): the tasks see the NLB's
 * address, so their security group admits the NLB's group instead of the whole internet, and ingest
 * authorizes by stream key, not by address. Cross-zone load balancing is on so a publish reaches a healthy
 * task even when one AZ has none (a single-task deployment).
 */
export class IngestLoadBalancer extends Construct {
  readonly loadBalancer: NetworkLoadBalancer;
  readonly securityGroup: SecurityGroup;
  readonly targetGroup: NetworkTargetGroup;
  readonly rtmpListener: NetworkListener;
  readonly rtmpsListener?: NetworkListener;

  constructor(scope: Construct, id: string, props: IngestLoadBalancerProps) {
    super(scope, id);

    this.securityGroup = new SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: 'Keyframe ingest NLB: RTMP(S) from anywhere; only to the ingest tasks',
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(INGEST_PORTS.rtmp), 'RTMP publishes from anywhere (stream keys authorize)');
    if (props.rtmpsCertificateArn) {
      this.securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(443), 'RTMPS publishes from anywhere (stream keys authorize)');
    }

    this.loadBalancer = new NetworkLoadBalancer(this, 'LoadBalancer', {
      vpc: props.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: SubnetType.PUBLIC },
      securityGroups: [this.securityGroup],
      crossZoneEnabled: true,
    });

    this.targetGroup = new NetworkTargetGroup(this, 'TargetGroup', {
      vpc: props.vpc,
      port: INGEST_PORTS.rtmp,
      protocol: Protocol.TCP,
      targetType: TargetType.IP,
      preserveClientIp: false,
      // ECS deregisters a stopping task, waits up to this long (less once its connections close), then
      // sends SIGTERM. Matching the drain gives publishes the same grace before the task's own drain.
      deregistrationDelay: Duration.seconds(props.drainSeconds),
      healthCheck: {
        protocol: Protocol.HTTP,
        port: String(INGEST_PORTS.health),
        path: '/healthz',
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
    });
    this.targetGroup.addTarget(props.service.loadBalancerTarget({ containerName: INGEST_CONTAINER_NAME, containerPort: INGEST_PORTS.rtmp }));
    // The NLB has a security group, so the tasks admit it by group: RTMP and the health check, nothing else.
    props.service.connections.allowFrom(this.securityGroup, Port.tcp(INGEST_PORTS.rtmp), 'RTMP: NLB to ingest tasks');
    props.service.connections.allowFrom(this.securityGroup, Port.tcp(INGEST_PORTS.health), 'Health checks: NLB to ingest tasks');

    this.rtmpListener = this.loadBalancer.addListener('RtmpListener', {
      port: INGEST_PORTS.rtmp,
      protocol: Protocol.TCP,
      defaultTargetGroups: [this.targetGroup],
      tcpIdleTimeout: RTMP_TCP_IDLE_TIMEOUT,
    });
    if (props.rtmpsCertificateArn) {
      this.rtmpsListener = this.loadBalancer.addListener('RtmpsListener', {
        port: 443,
        protocol: Protocol.TLS,
        certificates: [ListenerCertificate.fromArn(props.rtmpsCertificateArn)],
        sslPolicy: SslPolicy.RECOMMENDED_TLS,
        defaultTargetGroups: [this.targetGroup],
      });
    }

    Validations.of(this.securityGroup).acknowledge({
      id: 'AwsSolutions-EC23',
      reason:
        'This is the public RTMP ingest endpoint: encoders (OBS, ffmpeg) publish from anywhere, and each publish is authorized by its secret stream key. Only the RTMP (and RTMPS) port is open.',
    });
    Validations.of(this.loadBalancer).acknowledge({
      id: 'AwsSolutions-ELB2',
      reason:
        'NLB access logs cover TLS listeners only, so plain RTMP would not be logged at all; the ingest task logs each publish start and end, and the NLB flow and health metrics are on the dashboard.',
    });
  }

  get dnsName(): string {
    return this.loadBalancer.loadBalancerDnsName;
  }
}

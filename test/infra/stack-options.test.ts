import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_KEYS } from '../../infra/output-keys';
import { cfnLintErrors, findCfnLint, logicalIdOf, type Synthesized, synthesize } from './synth';

/**
 * Every option on: RTMPS, a custom domain, Origin Shield, access logs, the player page, longer segments, a
 * shorter drain, x86 tasks, a destroyable table. One synthesis for the whole file.
 */
const RTMPS_CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/aaaaaaaa-1111-2222-3333-444444444444';
const CDN_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/bbbbbbbb-1111-2222-3333-444444444444';

let s: Synthesized;
let playerDir: string;

beforeAll(() => {
  playerDir = mkdtempSync(join(tmpdir(), 'keyframe-player-'));
  writeFileSync(join(playerDir, 'index.html'), '<!doctype html><title>Keyframe</title>');
  s = synthesize(
    {
      'keyframe:stackName': 'Keyframe-Test',
      'keyframe:segmentSeconds': '4',
      'keyframe:maxSegmentSeconds': '4',
      'keyframe:playlistSize': '5',
      'keyframe:drainSeconds': '60',
      'keyframe:minTasks': '2',
      'keyframe:maxTasks': '6',
      'keyframe:ingestArchitecture': 'x86_64',
      'keyframe:ingestCpu': '2048',
      'keyframe:ingestMemoryMiB': '4096',
      'keyframe:natGateways': '2',
      'keyframe:rtmpsCertificateArn': RTMPS_CERT,
      'keyframe:domainName': 'live.example.com',
      'keyframe:domainCertificateArn': CDN_CERT,
      'keyframe:originShieldRegion': 'eu-central-1',
      'keyframe:priceClass': 'PriceClass_All',
      'keyframe:logRetentionDays': '90',
      'keyframe:tableRemovalPolicy': 'destroy',
      'keyframe:tableDeletionProtection': 'true',
      'keyframe:cdnAccessLogs': 'true',
      'keyframe:alarmEmail': 'ops@example.com',
    },
    { playerDirectory: playerDir },
  );
}, 180_000);

afterAll(() => {
  s?.dispose();
  if (playerDir) rmSync(playerDir, { recursive: true, force: true });
});

const resourcesOf = (type: string) => Object.entries(s.template.findResources(type)) as Array<[string, { Properties: Record<string, any> }]>;

describe('with every option', () => {
  it('adds a TLS 443 listener for RTMPS with the certificate, to the same targets, and opens 443 on the NLB', () => {
    const targetGroup = logicalIdOf(s.template, 'AWS::ElasticLoadBalancingV2::TargetGroup');
    const listeners = resourcesOf('AWS::ElasticLoadBalancingV2::Listener').map(([, r]) => r.Properties);
    expect(listeners.map((l) => [l.Port, l.Protocol]).sort()).toEqual([
      [1935, 'TCP'],
      [443, 'TLS'],
    ]);
    expect(listeners.find((l) => l.Port === 443)).toMatchObject({
      Certificates: [{ CertificateArn: RTMPS_CERT }],
      SslPolicy: expect.stringMatching(/^ELBSecurityPolicy-TLS13/),
      DefaultActions: [{ Type: 'forward', TargetGroupArn: { Ref: targetGroup } }],
    });
    const nlbSgId = s.stack.getLogicalId(s.stack.ingestLoadBalancer.securityGroup.node.defaultChild as never);
    const ingress = s.template.toJSON().Resources[nlbSgId].Properties.SecurityGroupIngress;
    expect(ingress.map((r: { FromPort: number; CidrIp: string }) => [r.FromPort, r.CidrIp])).toEqual([
      [1935, '0.0.0.0/0'],
      [443, '0.0.0.0/0'],
    ]);
  });

  it('matches the deregistration delay and stopTimeout to the drain', () => {
    s.template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', {
      TargetGroupAttributes: Match.arrayWith([{ Key: 'deregistration_delay.timeout_seconds', Value: '60' }]),
    });
    const [container] = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions;
    expect(container.StopTimeout).toBe(70);
    expect(container.Environment).toEqual(expect.arrayContaining([{ Name: 'KEYFRAME_DRAIN_SECONDS', Value: '60' }]));
  });

  it('sizes and places the tasks as configured', () => {
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '2048',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    s.template.resourceCountIs('AWS::EC2::NatGateway', 2);
  });

  it('caps playlist TTLs at half of a 4 s segment', () => {
    const id = s.stack.getLogicalId(s.stack.cdn.playlistCachePolicy.node.defaultChild as never);
    expect(s.template.toJSON().Resources[id].Properties.CachePolicyConfig).toMatchObject({ MinTTL: 0, DefaultTTL: 1, MaxTTL: 2 });
  });

  it('serves the custom domain with its us-east-1 certificate and TLS 1.2, through Origin Shield', () => {
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    expect(config.Aliases).toEqual(['live.example.com']);
    expect(config.ViewerCertificate).toEqual({
      AcmCertificateArn: CDN_CERT,
      MinimumProtocolVersion: 'TLSv1.2_2021',
      SslSupportMethod: 'sni-only',
    });
    expect(config.PriceClass).toBe('PriceClass_All');
    const functionOrigin = config.Origins.find((o: { CustomOriginConfig?: unknown }) => o.CustomOriginConfig);
    expect(functionOrigin.OriginShield).toEqual({ Enabled: true, OriginShieldRegion: 'eu-central-1' });
  });

  it('writes access logs to a private, expiring, retained bucket', () => {
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    expect(config.Logging).toMatchObject({ Prefix: 'cloudfront/' });
    const bucketId = s.stack.getLogicalId(s.stack.cdn.accessLogBucket?.node.defaultChild as never);
    expect(config.Logging.Bucket).toEqual({ 'Fn::GetAtt': [bucketId, 'RegionalDomainName'] });
    s.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 90, Status: 'Enabled' })] },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
    });
  });

  it('serves the player page from a private bucket under /watch/* through OAC', () => {
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    const watch = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === '/watch/*');
    expect(watch).toMatchObject({ ViewerProtocolPolicy: 'redirect-to-https' });
    const s3Origin = config.Origins.find((o: { Id: string }) => o.Id === watch.TargetOriginId);
    expect(s3Origin.S3OriginConfig).toEqual({ OriginAccessIdentity: '' });
    expect(s3Origin.OriginAccessControlId).toBeDefined();
    s.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always' },
    });
    const distributionId = logicalIdOf(s.template, 'AWS::CloudFront::Distribution');
    s.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Principal: { Service: 'cloudfront.amazonaws.com' },
            Condition: {
              StringEquals: {
                'AWS:SourceArn': {
                  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: distributionId }]],
                },
              },
            },
          }),
        ]),
      },
    });
    s.template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: 'watch/', Prune: true });
  });

  it('outputs the RTMPS URL and the player URL on the custom domain', () => {
    const outputs = s.template.toJSON().Outputs;
    expect(JSON.stringify(outputs[OUTPUT_KEYS.rtmpsUrl].Value)).toMatch(/rtmps:\/\/.*DNSName.*:443\/live/);
    expect(outputs[OUTPUT_KEYS.playbackBaseUrl].Value).toBe('https://live.example.com');
    expect(outputs[OUTPUT_KEYS.playerUrl].Value).toBe('https://live.example.com/watch/index.html');
    expect(outputs[OUTPUT_KEYS.createStreamKeyCommand].Value).toEqual({
      'Fn::Join': ['', ['npx keyframe keys create <name> --stack Keyframe-Test --region ', { Ref: 'AWS::Region' }]],
    });
    expect(s.stack.stackName).toBe('Keyframe-Test');
  });

  it('lets the table be destroyed when asked, with deletion protection', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
    });
  });

  it('subscribes the alarm email and keeps every log group at the configured retention', () => {
    s.template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
    for (const [, g] of resourcesOf('AWS::Logs::LogGroup')) expect(g.Properties.RetentionInDays).toBe(90);
  });

  it('leaves no cdk-nag AwsSolutions finding unacknowledged', () => {
    expect(s.nagFindings()).toEqual([]);
  });

  const cfnLint = findCfnLint();
  it.runIf(cfnLint)('passes cfn-lint with no errors', () => {
    expect(cfnLintErrors(cfnLint as string, s.templatePath)).toEqual([]);
  });
});

import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { playerUrl } from '../../core/channels';
import { viewerRequestFunctionCode } from '../../infra/edge/viewer-request';
import { OUTPUT_KEYS } from '../../infra/output-keys';
import { PLAYER_INDEX, PLAYER_PATH_PREFIX } from '../../infra/player-site';
import { FUNCTION_URL_UNSUPPORTED_REGIONS } from '../../infra/regions';
import { playbackIdFromLocation } from '../../player/src/page-config';
import { cfnLintAllRegions, findCfnLint, logicalIdOf, type Synthesized, synthesize } from './synth';
import { functionsWithoutThrottleAlarm, regionKeyedMappings, topicPoliciesBlockingCloudWatch } from './template-rules';

/**
 * Every option on: RTMPS on its own domain, a custom domain, Origin Shield, access logs, the player page, longer
 * segments, a shorter drain, x86 tasks, a destroyable table, named AZs, ECS Exec, a WAF rate rule, more reserved
 * concurrency and a larger quota, a week of recordings with a 50 GiB spool, quality ladders on 8 vCPU / 16 GiB tasks. One synthesis for the whole file, for us-east-1 (where the WAF web ACL can be made).
 */
const RTMPS_CERT = 'arn:aws:acm:us-east-1:123456789012:certificate/aaaaaaaa-1111-2222-3333-444444444444';
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
      'keyframe:ladders': 'true',
      'keyframe:ladderTaskCpu': '8192',
      'keyframe:ladderTaskMemoryMiB': '16384',
      'keyframe:natGateways': '2',
      'keyframe:rtmpsCertificateArn': RTMPS_CERT,
      'keyframe:ingestDomainName': 'ingest.example.com',
      'keyframe:availabilityZones': 'us-east-1a,us-east-1b',
      'keyframe:ecsExec': 'true',
      'keyframe:taskEventsReservedConcurrency': '10',
      'keyframe:lambdaConcurrencyQuota': '3000',
      'keyframe:wafRateLimit': '3000',
      'keyframe:domainName': 'live.example.com',
      'keyframe:domainCertificateArn': CDN_CERT,
      'keyframe:originShieldRegion': 'eu-central-1',
      'keyframe:priceClass': 'PriceClass_All',
      'keyframe:logRetentionDays': '90',
      'keyframe:tableRemovalPolicy': 'destroy',
      'keyframe:tableDeletionProtection': 'true',
      'keyframe:cdnAccessLogs': 'true',
      'keyframe:alarmEmail': 'ops@example.com',
      'keyframe:recordingRetentionDays': '7',
      'keyframe:recordingSpoolGiB': '50',
    },
    { playerDirectory: playerDir, deployRegion: 'us-east-1' },
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

  it('sizes and places the tasks as configured: the ladder size, with ladders on', () => {
    s.template.hasResourceProperties('AWS::ECS::TaskDefinition', {
      Cpu: '8192',
      Memory: '16384',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
    });
    const [container] = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties.ContainerDefinitions;
    // Three quarters of the 8 vCPU for the transcoders (KEYFRAME_LADDER_CPU_BUDGET, in vCPU).
    expect(container.Environment).toEqual(expect.arrayContaining([{ Name: 'KEYFRAME_LADDER_CPU_BUDGET', Value: '6' }]));
    s.template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6 });
    s.template.resourceCountIs('AWS::EC2::NatGateway', 2);
  });

  it('scales on load per task with ladders on: 60 units per vCPU of the ladder task, and alarms at 125 % of it', () => {
    const policies = resourcesOf('AWS::ApplicationAutoScaling::ScalingPolicy').map(([, r]) => r.Properties.TargetTrackingScalingPolicyConfiguration);
    const load = policies.find((p) => p?.CustomizedMetricSpecification);
    expect(load).toMatchObject({
      TargetValue: 480,
      CustomizedMetricSpecification: {
        Namespace: 'Keyframe',
        MetricName: 'IngestLoad',
        Dimensions: [{ Name: 'service', Value: 'ingest' }],
        Statistic: 'Average',
      },
    });
    const alarm = resourcesOf('AWS::CloudWatch::Alarm').find(([, a]) => a.Properties.MetricName === 'IngestLoad')?.[1].Properties;
    expect(alarm).toMatchObject({ Threshold: 600, EvaluationPeriods: 15, ComparisonOperator: 'GreaterThanThreshold' });
    expect(alarm?.AlarmDescription).toContain('maxTasks=6');
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
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':cloudfront::', { Ref: 'AWS::AccountId' }, ':distribution/', { Ref: distributionId }],
                  ],
                },
              },
            },
          }),
        ]),
      },
    });
    s.template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: 'watch/', Prune: true });
  });

  it('keeps recordings the configured days, and sizes the task storage and the spool from one value', () => {
    const bucketId = s.stack.getLogicalId(s.stack.recordings.bucket.node.defaultChild as never);
    const rules = s.template.toJSON().Resources[bucketId].Properties.LifecycleConfiguration.Rules;
    expect(rules).toContainEqual(
      expect.objectContaining({ Id: 'RecordingRetention', Prefix: 'recordings/', ExpirationInDays: 7, Status: 'Enabled' }),
    );
    const taskDef = resourcesOf('AWS::ECS::TaskDefinition')[0][1].Properties;
    // 50 GiB of spool + 4 GiB for the image and logs.
    expect(taskDef.EphemeralStorage).toEqual({ SizeInGiB: 54 });
    const env = Object.fromEntries(taskDef.ContainerDefinitions[0].Environment.map((e: { Name: string; Value: unknown }) => [e.Name, e.Value]));
    expect(env.KEYFRAME_RECORDING_SPOOL_MIB).toBe(String(50 * 1024));
    // Both recordings behaviours that reach the origin, and the thumbnail's, go through Origin Shield as the rest do.
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    expect(config.CacheBehaviors.map((b: { PathPattern: string }) => b.PathPattern)).toEqual([
      '/recordings/*.m3u8',
      '/recordings/*.jpg',
      '/recordings/*',
      '/*/thumbnail.jpg',
      '*.m3u8',
      '/watch/*',
    ]);
  });

  it('outputs the RTMPS URL on the ingest domain (with its CNAME target) and the player URL on the custom domain', () => {
    const outputs = s.template.toJSON().Outputs;
    expect(outputs[OUTPUT_KEYS.rtmpsUrl].Value).toBe('rtmps://ingest.example.com/live');
    expect(JSON.stringify(outputs[OUTPUT_KEYS.ingestDnsTarget].Value)).toMatch(/DNSName/);
    expect(outputs[OUTPUT_KEYS.playbackBaseUrl].Value).toBe('https://live.example.com');
    expect(outputs[OUTPUT_KEYS.playerUrl].Value).toBe('https://live.example.com/watch/');
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

  it('serves the player at the URL the CLI prints: the edge maps it onto the uploaded page, which reads the ID back', () => {
    const base = s.template.toJSON().Outputs[OUTPUT_KEYS.playbackBaseUrl].Value as string;
    const printed = new URL(playerUrl({ rtmpUrl: 'rtmp://x/live', playbackBaseUrl: base, playerBaseUrl: base }, 'AbCdEfGhIjKl') as string);
    // 1. The distribution's /watch/* behavior takes the path, to the player bucket.
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    const watch = config.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === `/${PLAYER_PATH_PREFIX}/*`);
    expect(printed.pathname.startsWith(`/${PLAYER_PATH_PREFIX}/`)).toBe(true);
    expect(config.Origins.find((o: { Id: string }) => o.Id === watch.TargetOriginId).S3OriginConfig).toBeDefined();
    // 2. Its viewer-request function (the one in this template) rewrites the path to the page's object.
    const fnId = s.stack.getLogicalId(s.stack.cdn.viewerRequestFunction.node.defaultChild as never);
    const code = s.template.toJSON().Resources[fnId].Properties.FunctionCode as string;
    expect(code).toBe(viewerRequestFunctionCode({ playerPrefix: PLAYER_PATH_PREFIX }));
    expect(watch.FunctionAssociations[0].FunctionARN).toEqual({ 'Fn::GetAtt': [fnId, 'FunctionARN'] });
    const sandbox: Record<string, unknown> = {};
    runInNewContext(`${code}\nthis.handler = handler;`, sandbox);
    const out = (sandbox.handler as (e: unknown) => { uri: string })({ request: { method: 'GET', uri: printed.pathname, querystring: {} } });
    expect(out.uri).toBe(`/${PLAYER_INDEX}`);
    // 3. The upload puts index.html (from the built page) under that prefix.
    expect(existsSync(join(playerDir, PLAYER_INDEX.slice(PLAYER_PATH_PREFIX.length + 1)))).toBe(true);
    s.template.hasResourceProperties('Custom::CDKBucketDeployment', { DestinationBucketKeyPrefix: `${PLAYER_PATH_PREFIX}/` });
    // 4. The page reads the playback ID from the address bar, which the rewrite leaves alone.
    expect(playbackIdFromLocation({ pathname: printed.pathname, search: printed.search })).toBe('AbCdEfGhIjKl');
  });

  it("invalidates the player's cached copies on every upload", () => {
    const distributionId = logicalIdOf(s.template, 'AWS::CloudFront::Distribution');
    s.template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DistributionId: { Ref: distributionId },
      DistributionPaths: ['/watch/*'],
    });
  });

  it('puts a WAF rate rule per client IP in front of the distribution', () => {
    const aclId = logicalIdOf(s.template, 'AWS::WAFv2::WebACL');
    s.template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: 3000, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
        }),
      ],
    });
    const config = resourcesOf('AWS::CloudFront::Distribution')[0][1].Properties.DistributionConfig;
    expect(config.WebACLId).toEqual({ 'Fn::GetAtt': [aclId, 'Arn'] });
  });

  it('places the VPC in the named zones, runs ECS Exec, and reserves the configured concurrency', () => {
    const zones = resourcesOf('AWS::EC2::Subnet').map(([, r]) => r.Properties.AvailabilityZone);
    expect([...new Set(zones)].sort()).toEqual(['us-east-1a', 'us-east-1b']);
    s.template.hasResourceProperties('AWS::ECS::Service', { EnableExecuteCommand: true });
    const taskEventsFn = s.stack.getLogicalId(s.stack.taskStateSync.handler.function.node.defaultChild as never);
    expect(s.template.toJSON().Resources[taskEventsFn].Properties.ReservedConcurrentExecutions).toBe(10);
    const alarms = resourcesOf('AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    expect(alarms.find((a) => a.MetricName === 'ClaimedAccountConcurrency')?.Threshold).toBe(2400);
  });

  it('checks at deploy that the region fits the certificate, the zones and the web ACL', () => {
    const assertions = s.template.toJSON().Rules.SupportedRegion.Assertions as Array<{ Assert: unknown; AssertDescription: string }>;
    const equalsRegion = assertions.filter(
      (a) => JSON.stringify(a.Assert) === JSON.stringify({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] }),
    );
    expect(equalsRegion.map((a) => a.AssertDescription.split(' ')[0])).toEqual([
      'keyframe:rtmpsCertificateArn',
      'keyframe:availabilityZones',
      'keyframe:wafRateLimit',
    ]);
  });

  it('keeps the template rules: no region-keyed mapping, CloudWatch may publish, every function has a throttle alarm', () => {
    const template = s.template.toJSON();
    expect(regionKeyedMappings(template)).toEqual([]);
    expect(topicPoliciesBlockingCloudWatch(template)).toEqual([]);
    // The player upload's handler runs only while CloudFormation deploys (its failure fails the deploy).
    expect(functionsWithoutThrottleAlarm(template, ['CustomCDKBucketDeployment'])).toEqual([]);
  });

  it('leaves no cdk-nag AwsSolutions finding unacknowledged', () => {
    expect(s.nagFindings()).toEqual([]);
  });

  const cfnLint = findCfnLint();
  it.runIf(cfnLint)('passes cfn-lint in every commercial region but those without function URLs', () => {
    const { errors, missingTypes } = cfnLintAllRegions(cfnLint as string, s.templatePath);
    expect(errors).toEqual([]);
    expect(missingTypes).toEqual({ 'AWS::Lambda::Url': [...FUNCTION_URL_UNSUPPORTED_REGIONS].sort() });
  });
});

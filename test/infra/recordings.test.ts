/**
 * The Recordings construct alone (no bundling, milliseconds): the bucket's protections and retention, the task
 * role's prefix-only writes and the origin role's prefix-only reads, the CloudFront behaviours (ahead of the
 * distribution's own `*.m3u8`: playlists and posters to the origin, the rest to the bucket through OAC) with
 * their own cache policies, and cdk-nag clean with reasons. The whole stack's wiring is in stack.test.ts.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AllowedMethods, CachePolicy, Distribution } from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { RECORDING_PATH_PATTERNS, Recordings } from '../../infra/recordings';

function synth(retentionDays = 30) {
  const app = new App();
  const stack = new Stack(app, 'RecordingsTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const origin = new HttpOrigin('origin.example.com');
  // Declared before the distribution (behaviours are rendered in order), with the origin the Cdn would pass.
  let recordings: Recordings | undefined;
  const leading = () => recordings!.behaviors({ functionOrigin: origin });
  const distribution = () =>
    new Distribution(stack, 'Distribution', {
      defaultBehavior: { origin },
      additionalBehaviors: {
        ...leading(),
        '*.m3u8': { origin, cachePolicy: CachePolicy.CACHING_DISABLED, allowedMethods: AllowedMethods.ALLOW_GET_HEAD },
      },
    });
  const role = new Role(stack, 'TaskRole', { assumedBy: new ServicePrincipal('ecs-tasks.amazonaws.com') });
  const originRole = new Role(stack, 'OriginRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  recordings = new Recordings(stack, 'Recordings', { retentionDays });
  recordings.grantTaskWrites(role);
  recordings.grantOriginReads(originRole);
  distribution();
  const template = Template.fromStack(stack);
  const nag = () =>
    new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} at ${r.constructPath}`))
      .filter((f) => f.includes('/Recordings/') || f.includes('/TaskRole/') || f.includes('/OriginRole/'));
  return { template, nag, stack };
}

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown; Principal?: unknown };

describe('Recordings', () => {
  it('bucket: public access blocked, encrypted, TLS only, recordings expire after the retention', () => {
    const { template } = synth(45);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: 'recordings/', ExpirationInDays: 45, Status: 'Enabled' })]) },
    });
    const [policy] = Object.values(template.findResources('AWS::S3::BucketPolicy')) as {
      Properties: { PolicyDocument: { Statement: Statement[] } };
    }[];
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // OAC: CloudFront reads objects, for this distribution only.
    const read = statements.find((s) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('cloudfront.amazonaws.com'));
    expect(read?.Action).toBe('s3:GetObject');
    expect(JSON.stringify(read?.Condition)).toContain('AWS:SourceArn');
    const buckets = template.findResources('AWS::S3::Bucket');
    expect(Object.values(buckets)[0]).toMatchObject({ DeletionPolicy: 'Retain' });
  });

  const roleStatements = (template: Template, role: string) =>
    (
      Object.values(template.findResources('AWS::IAM::Policy')) as {
        Properties: { PolicyDocument: { Statement: Statement[] }; Roles: { Ref: string }[] };
      }[]
    )
      .filter((p) => p.Properties.Roles.some((r) => r.Ref.startsWith(role)))
      .flatMap((p) => p.Properties.PolicyDocument.Statement);

  it('the task role may put and delete under recordings/ only: no read, no list, no other key', () => {
    const { template, stack } = synth();
    const statements = roleStatements(template, 'TaskRole');
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions.filter((a) => a.startsWith('s3:')).sort()).toEqual(['s3:DeleteObject', 's3:PutObject']);
    expect(actions.filter((a) => /^s3:(Get|List)/.test(a))).toEqual([]);
    for (const s of statements) {
      const resources = JSON.stringify(stack.resolve(s.Resource));
      expect(resources).toMatch(/\/recordings\/\*"/);
    }
  });

  it('the origin role may get under recordings/ only: exactly s3:GetObject on <bucket>/recordings/*', () => {
    const { template, stack } = synth();
    const statements = roleStatements(template, 'OriginRole');
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('s3:GetObject');
    expect(JSON.stringify(stack.resolve(statements[0].Resource))).toMatch(
      /^\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["RecordingsBucket[0-9A-F]+","Arn"\]\},"\/recordings\/\*"\]\]\}$/,
    );
  });

  it('CloudFront: playlists and posters to the origin, the rest from the bucket through OAC, all ahead of *.m3u8', () => {
    const { template } = synth();
    const [dist] = Object.values(template.findResources('AWS::CloudFront::Distribution')) as {
      Properties: {
        DistributionConfig: {
          CacheBehaviors: { PathPattern: string; CachePolicyId: unknown; TargetOriginId: string }[];
          Origins: { Id: string; DomainName: unknown; S3OriginConfig?: unknown; OriginAccessControlId?: unknown }[];
          DefaultCacheBehavior: { TargetOriginId: string };
        };
      };
    }[];
    const config = dist.Properties.DistributionConfig;
    const behaviors = config.CacheBehaviors;
    expect(behaviors.map((b) => b.PathPattern)).toEqual([
      RECORDING_PATH_PATTERNS.playlist,
      RECORDING_PATH_PATTERNS.poster,
      RECORDING_PATH_PATTERNS.objects,
      '*.m3u8',
    ]);
    expect(RECORDING_PATH_PATTERNS).toEqual({ playlist: '/recordings/*.m3u8', poster: '/recordings/*.jpg', objects: '/recordings/*' });
    const originOf = (b: { TargetOriginId: string }) => config.Origins.find((o) => o.Id === b.TargetOriginId)!;
    // Playlists and posters: the origin function (here the stand-in HTTP origin, the default behaviour's).
    expect(behaviors[0].TargetOriginId).toBe(config.DefaultCacheBehavior.TargetOriginId);
    expect(behaviors[1].TargetOriginId).toBe(config.DefaultCacheBehavior.TargetOriginId);
    expect(behaviors[0].CachePolicyId).toEqual(behaviors[1].CachePolicyId);
    // Segments and inits: the bucket, signed with OAC.
    const bucketOrigin = originOf(behaviors[2]);
    expect(JSON.stringify(bucketOrigin.DomainName)).toContain('RecordingsBucket');
    expect(bucketOrigin.OriginAccessControlId).toBeDefined();
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }),
    });
    const policies = Object.values(template.findResources('AWS::CloudFront::CachePolicy')) as {
      Properties: { CachePolicyConfig: { Comment: string; MaxTTL: number; DefaultTTL: number; MinTTL: number } };
    }[];
    const viaOrigin = policies.find((p) => p.Properties.CachePolicyConfig.Comment.includes('playlists'))!.Properties.CachePolicyConfig;
    const objects = policies.find((p) => p.Properties.CachePolicyConfig.Comment.includes('segments'))!.Properties.CachePolicyConfig;
    // The origin's max-age decides (1 s live, 60 s VOD, a day for posters); the token is part of the key.
    expect(viaOrigin).toMatchObject({
      MinTTL: 0,
      DefaultTTL: 1,
      MaxTTL: 86_400,
      ParametersInCacheKeyAndForwardedToOrigin: {
        QueryStringsConfig: { QueryStringBehavior: 'whitelist', QueryStrings: ['token'] },
        CookiesConfig: { CookieBehavior: 'none' },
        HeadersConfig: { HeaderBehavior: 'none' },
      },
    });
    expect(objects).toMatchObject({
      MinTTL: 86_400,
      DefaultTTL: 365 * 86_400,
      MaxTTL: 365 * 86_400,
      ParametersInCacheKeyAndForwardedToOrigin: { QueryStringsConfig: { QueryStringBehavior: 'none' } },
    });
  });

  it('cdk-nag: no unacknowledged finding on the bucket, its policy or the grants', () => {
    const findings = synth().nag();
    expect(findings, findings.join('\n')).toEqual([]);
  });
});

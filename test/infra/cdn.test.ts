import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, FunctionUrlAuthType, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { Cdn } from '../../infra/cdn';
import { originSettings } from '../../core/settings/origin';

/**
 * The Cdn construct alone (no bundling, so it synthesizes in milliseconds): the web ACL options that the
 * whole-stack tests cannot all turn on at once (a distribution has one web ACL).
 */
function cdnWith(props: Partial<ConstructorParameters<typeof Cdn>[2]>) {
  const app = new App();
  const stack = new Stack(app, 'CdnTest');
  const fn = new LambdaFunction(stack, 'Origin', {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler=async()=>({})'),
  });
  const url = fn.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
  const cdn = new Cdn(stack, 'Cdn', { functionUrl: url, segmentSeconds: 1, priceClass: 'PriceClass_100', ...props });
  const acknowledged = cdn.distribution.node.metadata
    .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((m) => Object.keys(m.data as Record<string, string>).map((k) => k.replace(/^annotation::/i, '')));
  return { template: Template.fromStack(stack), acknowledged };
}

const ACL = 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/kf/11111111-2222-3333-4444-555555555555';

describe('Cdn web ACL options', () => {
  it('attaches an existing web ACL by ARN, creates none, and no longer waives the WAF finding', () => {
    const { template, acknowledged } = cdnWith({ webAclArn: ACL });
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    template.hasResourceProperties('AWS::CloudFront::Distribution', { DistributionConfig: { WebACLId: ACL } });
    expect(acknowledged).not.toContain('AwsSolutions-CFR2');
  });

  it('without one, has no web ACL and states why (AwsSolutions-CFR2)', () => {
    const { template, acknowledged } = cdnWith({});
    template.resourceCountIs('AWS::WAFv2::WebACL', 0);
    type Distribution = { Properties: { DistributionConfig: object } };
    const [distribution] = Object.values(template.findResources('AWS::CloudFront::Distribution')) as Distribution[];
    expect(distribution.Properties.DistributionConfig).not.toHaveProperty('WebACLId');
    expect(acknowledged).toContain('AwsSolutions-CFR2');
  });

  it('with a rate limit, creates a CLOUDFRONT-scope web ACL that blocks an IP over the limit', () => {
    const { template, acknowledged } = cdnWith({ wafRateLimit: 1200 });
    template.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'CLOUDFRONT',
      Rules: [
        {
          Name: 'RatePerIp',
          Priority: 0,
          Action: { Block: {} },
          Statement: { RateBasedStatement: { Limit: 1200, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
          VisibilityConfig: { CloudWatchMetricsEnabled: true, MetricName: 'KeyframeRatePerIp', SampledRequestsEnabled: true },
        },
      ],
    });
    expect(acknowledged).not.toContain('AwsSolutions-CFR2');
  });
});

describe('Cdn and LL-HLS', () => {
  const { template } = cdnWith({});
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  const policies = Object.values(resources).filter((r) => r.Type === 'AWS::CloudFront::CachePolicy');
  const policy = (comment: RegExp) => policies.find((p) => comment.test(p.Properties.CachePolicyConfig.Comment))!.Properties.CachePolicyConfig;
  const distribution = Object.values(resources).find((r) => r.Type === 'AWS::CloudFront::Distribution')!.Properties.DistributionConfig;

  it('keys playlists on the token and the blocking-reload parameters, and nothing else', () => {
    const qs = policy(/playlists/).ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig;
    expect(qs.QueryStringBehavior).toBe('whitelist');
    expect([...qs.QueryStrings].sort()).toEqual(['_HLS_msn', '_HLS_part', '_HLS_skip', 'token']);
  });

  it('gives playlists a TTL that lets the origin max-age=1 through, never 0 (no-cache) by default', () => {
    const p = policy(/playlists/);
    expect(p.DefaultTTL).toBe(1);
    expect(p.MaxTTL).toBeGreaterThanOrEqual(1);
  });

  it('serves parts (*.m4s) with the segment behaviour: long, immutable, no query string in the key', () => {
    const segments = policy(/segments/);
    expect(segments.MaxTTL).toBe(14 * 86400);
    expect(segments.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStringBehavior).toBe('none');
    // Only playlists and thumbnails (and the player, and recordings) have their own behaviour: a part path falls
    // to the default one.
    const patterns = (distribution.CacheBehaviors as { PathPattern: string }[]).map((b) => b.PathPattern);
    expect(patterns).toEqual(['/*/thumbnail.jpg', '*.m3u8']);
    expect(distribution.DefaultCacheBehavior.CachePolicyId).toEqual({
      Ref: Object.keys(resources).find((k) => resources[k] === policies.find((p) => p.Properties.CachePolicyConfig === segments)),
    });
  });

  it('waits for the origin longer than the longest blocking request (hold + upstream timeout)', () => {
    const timeout = distribution.Origins[0].CustomOriginConfig.OriginReadTimeout;
    const holdMs = originSettings.load({ KEYFRAME_TABLE: 't' }).blockingHoldMs + originSettings.load({ KEYFRAME_TABLE: 't' }).upstreamTimeoutMs;
    expect(timeout * 1000).toBeGreaterThan(holdMs);
  });
});

describe('Cdn leading behaviours', () => {
  it('puts them before its own, in the order given, with the function origin, CORS policy and edge function it passes', () => {
    let seen: Parameters<NonNullable<ConstructorParameters<typeof Cdn>[2]['leadingBehaviors']>>[0] | undefined;
    const { template } = cdnWith({
      leadingBehaviors: (ctx) => {
        seen = ctx;
        return {
          '/first/*': {
            origin: ctx.functionOrigin,
            functionAssociations: ctx.functionAssociations,
            responseHeadersPolicy: ctx.responseHeadersPolicy,
          },
          '/second/*': { origin: ctx.functionOrigin },
        };
      },
    });
    expect(seen?.functionAssociations).toHaveLength(1);
    const config = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0].Properties.DistributionConfig;
    const patterns = (config.CacheBehaviors as { PathPattern: string }[]).map((b) => b.PathPattern);
    expect(patterns).toEqual(['/first/*', '/second/*', '/*/thumbnail.jpg', '*.m3u8']);
    expect(config.CacheBehaviors[0].TargetOriginId).toBe(config.DefaultCacheBehavior.TargetOriginId);
    expect(config.CacheBehaviors[0].FunctionAssociations).toEqual(config.DefaultCacheBehavior.FunctionAssociations);
  });
});

import { App, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, FunctionUrlAuthType, Runtime } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { Cdn } from '../../infra/cdn';

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

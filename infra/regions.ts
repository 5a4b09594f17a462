/**
 * Region facts the stack and `keyframe doctor` depend on. No CDK imports: the config and the CLI use them too.
 *
 * The template holds no region-keyed mapping (a mapping that lacks a new region fails the deploy with "Unable to
 * get mapping"); where a region matters, it is one of these lists, checked at synth or by a template rule.
 */

/** Every commercial AWS region (not China, GovCloud, ISO or the European Sovereign Cloud), as of cfn-lint 1.51. */
export const COMMERCIAL_REGIONS = [
  'af-south-1',
  'ap-east-1',
  'ap-east-2',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
  'ap-south-1',
  'ap-south-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ca-central-1',
  'ca-west-1',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'il-central-1',
  'me-central-1',
  'me-south-1',
  'mx-central-1',
  'sa-east-1',
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
] as const;

/**
 * Regions without Lambda function URLs (`AWS::Lambda::Url`), which the origin needs behind CloudFront OAC.
 * The AWS Lambda guide ("Creating and managing Lambda function URLs") lists the first eleven; cfn-lint's
 * CloudFormation schemas also lack the type in mx-central-1. A template rule refuses a deploy to any of them
 * with this explanation, before anything is created.
 */
export const FUNCTION_URL_UNSUPPORTED_REGIONS = [
  'ap-south-2',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-6',
  'ap-southeast-7',
  'ap-east-2',
  'ca-west-1',
  'eu-south-2',
  'eu-central-2',
  'il-central-1',
  'me-central-1',
  'mx-central-1',
] as const;

/** The commercial regions the stack deploys to. */
export const SUPPORTED_REGIONS: readonly string[] = COMMERCIAL_REGIONS.filter(
  (r) => !(FUNCTION_URL_UNSUPPORTED_REGIONS as readonly string[]).includes(r),
);

/**
 * Regions that host an Origin Shield (CloudFront's regional edge caches), from the CloudFront guide's
 * "Choosing the AWS Region for Origin Shield". Pick the one nearest the stack's region.
 */
export const ORIGIN_SHIELD_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'ap-south-1',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'sa-east-1',
] as const;

/** The region of an ARN (`arn:partition:service:region:account:...`), or undefined if it has none. */
export function arnRegion(arn: string): string | undefined {
  const region = arn.split(':')[3];
  return region ? region : undefined;
}

import { type CfnElement, DefaultStackSynthesizer, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type { IDistribution } from 'aws-cdk-lib/aws-cloudfront';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, CacheControl, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';

/** Where the player page is served from, under the distribution (the `/watch/*` behavior). */
export const PLAYER_PATH_PREFIX = 'watch';
/** The player page's file in the bucket. */
export const PLAYER_INDEX = `${PLAYER_PATH_PREFIX}/index.html`;
/**
 * The player's URL path: `/watch/` is the stream list and `/watch/<playbackId>` plays a stream, deployed and
 * locally alike (the distribution's viewer-request function maps them onto the uploaded files).
 */
export const PLAYER_PATH = `${PLAYER_PATH_PREFIX}/`;

export interface PlayerSiteProps {
  /** The built player page (player/dist), uploaded under `watch/`. */
  readonly sourceDirectory: string;
  readonly logRetention: RetentionDays;
}

/**
 * The web player page: a private bucket (read only by CloudFront through Origin Access Control, see Cdn)
 * and the upload of the built page (`deployTo`, once the distribution exists, so the upload can invalidate the
 * page's cached copies). The stack creates it only when player/dist has been built at synth.
 */
export class PlayerSite extends Construct {
  readonly bucket: Bucket;
  private readonly props: PlayerSiteProps;

  constructor(scope: Construct, id: string, props: PlayerSiteProps) {
    super(scope, id);
    this.props = props;

    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // The deployment below removes its files on delete (retainOnDelete: false), so the bucket is empty
      // by the time CloudFormation deletes it.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Holds only the public player page, written by the deployment and read by CloudFront alone (OAC); reads show in the CloudFront metrics and, when enabled, its access logs.',
    });
  }

  /** Uploads the built page under `watch/` and invalidates `/watch/*` on the distribution after each upload. */
  deployTo(distribution: IDistribution): void {
    const logGroup = new LogGroup(this, 'DeploymentLogs', {
      retention: this.props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new Role(this, 'DeploymentRole', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Uploads the Keyframe player page to its bucket',
    });
    logGroup.grantWrite(role);

    new BucketDeployment(this, 'Deployment', {
      sources: [Source.asset(this.props.sourceDirectory)],
      destinationBucket: this.bucket,
      destinationKeyPrefix: `${PLAYER_PATH_PREFIX}/`,
      retainOnDelete: false,
      prune: true,
      cacheControl: [CacheControl.setPublic(), CacheControl.maxAge(Duration.minutes(5))],
      logGroup,
      role,
      // Every deploy invalidates the page's cached copies, so viewers get the new page at once (not after max-age).
      distribution,
      distributionPaths: [`/${PLAYER_PATH_PREFIX}/*`],
    });

    // BucketDeployment grants its handler read on the CDK asset bucket and read/write on this bucket. The
    // wildcards are S3's action families and object keys within exactly those two buckets.
    const stack = Stack.of(this);
    const qualifier = this.node.tryGetContext('@aws-cdk/core:bootstrapQualifier') ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    const bucketLogicalId = stack.getLogicalId(this.bucket.node.defaultChild as CfnElement);
    const iamReasons: Record<string, string> = {
      'Action::s3:GetObject*': 'reads the staged page and the files already in this bucket (GetObject and its version/ACL/tagging variants)',
      'Action::s3:GetBucket*': 'reads the location and settings of the asset bucket and this bucket',
      'Action::s3:List*': 'lists the staged asset and the watch/ prefix to sync them (prune removes stale files)',
      'Action::s3:DeleteObject*': 'deletes player files no longer in player/dist (prune), and all of them when the stack is deleted',
      'Action::s3:Abort*': 'aborts multipart uploads it started',
      [`Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*`]:
        'reads objects of the CDK bootstrap asset bucket, where the zipped page is staged',
      [`Resource::<${bucketLogicalId}.Arn>/*`]: 'writes objects of this player bucket',
    };
    for (const [finding, what] of Object.entries(iamReasons)) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[${finding}]`,
        reason: `BucketDeployment's upload handler ${what}; its grants cover only the asset bucket and this player bucket.`,
      });
    }
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'BucketDeployment\'s upload handler creates and then polls one CloudFront invalidation of /watch/* after each upload; aws-cdk-lib grants cloudfront:CreateInvalidation and cloudfront:GetInvalidation (nothing else) on Resource "*".',
    });
    // The upload runs in BucketDeployment's shared handler (one per stack), created beside the stack root.
    for (const child of stack.node.children) {
      if (child.node.id.startsWith('Custom::CDKBucketDeployment')) {
        Validations.of(child).acknowledge({
          id: 'AwsSolutions-L1',
          reason: 'The BucketDeployment handler is a Python function whose runtime aws-cdk-lib pins and upgrades; it runs only during deploys.',
        });
      }
    }
  }
}

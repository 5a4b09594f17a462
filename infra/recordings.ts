import { type CfnElement, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  type BehaviorOptions,
  CacheCookieBehavior,
  CachedMethods,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  type Distribution,
  type IResponseHeadersPolicy,
  S3OriginAccessControl,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RECORDINGS_PREFIX } from '../core/model';

export interface RecordingsProps {
  /** Recordings are deleted this many days after they were written (a lifecycle rule on the prefix). */
  readonly retentionDays: number;
  /** What `cdk destroy` does with the bucket. @default RemovalPolicy.RETAIN (recordings are the streamers' data) */
  readonly removalPolicy?: RemovalPolicy;
}

/** The CloudFront path patterns of recordings, playlist first (CloudFront takes the first pattern that matches). */
export const RECORDING_PATH_PATTERNS = { playlist: `/${RECORDINGS_PREFIX}*.m3u8`, objects: `/${RECORDINGS_PREFIX}*` } as const;

/**
 * Recordings (docs/recording.md): a private bucket the ingest tasks write under `recordings/` and CloudFront reads
 * through Origin Access Control, with its own cache policies (a playlist that grows while live: seconds; segments
 * and inits that never change: a year).
 */
export class Recordings extends Construct {
  readonly bucket: Bucket;
  readonly playlistCachePolicy: CachePolicy;
  readonly objectCachePolicy: CachePolicy;

  constructor(scope: Construct, id: string, props: RecordingsProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      lifecycleRules: [
        { id: 'RecordingRetention', prefix: RECORDINGS_PREFIX, expiration: Duration.days(props.retentionDays) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Written only by the ingest task role (put/delete under recordings/) and read only by CloudFront (OAC); reads show in the CloudFront metrics and, when enabled, its access logs, and a server access log bucket would cost per recording segment.',
    });

    this.playlistCachePolicy = new CachePolicy(this, 'PlaylistCachePolicy', {
      comment: 'Keyframe recording playlists: grow while live; honour the max-age the recorder sets (1 s live, 60 s VOD)',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(1),
      maxTtl: Duration.seconds(60),
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    this.objectCachePolicy = new CachePolicy(this, 'ObjectCachePolicy', {
      comment: 'Keyframe recording segments and inits: written once, never changed',
      minTtl: Duration.days(1),
      defaultTtl: Duration.days(365),
      maxTtl: Duration.days(365),
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });
  }

  /**
   * The task may put and delete recordings' objects, and nothing else in the bucket: no read, no list, no other
   * prefix, no multipart (the recorder's objects are single PUTs).
   */
  grantTaskWrites(role: IRole): void {
    const objects = this.bucket.arnForObjects(`${RECORDINGS_PREFIX}*`);
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [objects] }));
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${RECORDINGS_PREFIX}*]`,
      reason:
        'PutObject and DeleteObject under the recordings/ prefix of the recordings bucket only: object keys are <playbackId>/<recordingId>/<segment>, generated while streaming, so the key part of the ARN is a wildcard.',
    });
  }

  /**
   * Serves `/recordings/*` from the bucket on the distribution, ahead of its other behaviours (its `*.m3u8`
   * would otherwise send recording playlists to the origin function).
   */
  serveFrom(distribution: Distribution, opts: { responseHeadersPolicy?: IResponseHeadersPolicy } = {}): void {
    const origin = S3BucketOrigin.withOriginAccessControl(this.bucket, {
      originAccessControl: new S3OriginAccessControl(this, 'AccessControl', {
        description: 'Keyframe: CloudFront reads the recordings bucket',
      }),
    });
    const common: Omit<BehaviorOptions, 'origin' | 'cachePolicy'> = {
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachedMethods: CachedMethods.CACHE_GET_HEAD_OPTIONS,
      ...(opts.responseHeadersPolicy ? { responseHeadersPolicy: opts.responseHeadersPolicy } : {}),
    };
    distribution.addBehavior(RECORDING_PATH_PATTERNS.playlist, origin, { ...common, cachePolicy: this.playlistCachePolicy, compress: true });
    distribution.addBehavior(RECORDING_PATH_PATTERNS.objects, origin, { ...common, cachePolicy: this.objectCachePolicy, compress: false });
    // addBehavior appends, and CloudFront takes the first pattern that matches, so these two move to the front.
    // The list is the distribution's own (rendered lazily at synth; a plain array or, in current CDK, a box
    // around one). test/infra/recordings.test.ts checks the order; the clean fix is a Cdn prop for behaviours
    // that come first.
    const held = (distribution as unknown as { additionalBehaviors?: unknown }).additionalBehaviors;
    const behaviors = Array.isArray(held) ? held : (held as { getMutable?: () => unknown } | undefined)?.getMutable?.();
    if (!Array.isArray(behaviors)) throw new Error('Recordings.serveFrom: cannot order the distribution behaviours (CDK changed?)');
    behaviors.unshift(...behaviors.splice(-2, 2));
  }
}

import { type CfnElement, Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AllowedMethods,
  type BehaviorOptions,
  CacheCookieBehavior,
  CachedMethods,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  type FunctionAssociation,
  type IOrigin,
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

/**
 * The CloudFront path patterns of recordings, in the order they must come (CloudFront takes the first pattern
 * that matches): playlists and posters go to the origin function (a private recording's need a token, and the
 * origin checks the recording's item), everything else under the prefix (segments, inits) to the bucket.
 */
export const RECORDING_PATH_PATTERNS = {
  playlist: `/${RECORDINGS_PREFIX}*.m3u8`,
  poster: `/${RECORDINGS_PREFIX}*.jpg`,
  objects: `/${RECORDINGS_PREFIX}*`,
} as const;

/** What a leading behaviour needs of the distribution it goes on (the Cdn passes it). */
export interface RecordingBehaviorContext {
  /** The origin function's URL origin (OAC-signed). */
  readonly functionOrigin: IOrigin;
  readonly responseHeadersPolicy?: IResponseHeadersPolicy;
  /** The viewer-request function (the path rule at the edge) that every behaviour carries. */
  readonly functionAssociations?: FunctionAssociation[];
}

/** The largest poster max-age the edge honours (the recorder sets a day). */
export const RECORDING_ORIGIN_MAX_TTL = Duration.days(1);

/**
 * Recordings (docs/recording.md): a private bucket the ingest tasks write under `recordings/`; CloudFront reads
 * segments and inits from it through Origin Access Control (its own long cache policy), and sends playlists and
 * posters to the origin function (its own cache policy, keyed on the playback token), which reads them with
 * s3:GetObject under the prefix.
 */
export class Recordings extends Construct {
  readonly bucket: Bucket;
  /** Recordings' playlists and posters, through the origin: honour its max-age; the token is in the key. */
  readonly originCachePolicy: CachePolicy;
  /** Segments and inits, from the bucket: written once, never changed. */
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
        'Written only by the ingest task role (put/delete under recordings/) and read only by CloudFront (OAC) and the origin function (get under recordings/); reads show in the CloudFront and origin metrics and, when enabled, the CloudFront access logs, and a server access log bucket would cost per recording segment.',
    });

    this.originCachePolicy = new CachePolicy(this, 'OriginCachePolicy', {
      comment: 'Keyframe recording playlists and posters (origin): honour its max-age (1 s live, 60 s VOD, 1 day posters); token in the key',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(1),
      maxTtl: RECORDING_ORIGIN_MAX_TTL,
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      // Private recordings: a playlist or poster fetched with one viewer's token is never served without one.
      queryStringBehavior: CacheQueryStringBehavior.allowList('token'),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    this.objectCachePolicy = new CachePolicy(this, 'ObjectCachePolicy', {
      comment: 'Keyframe recording segments and inits (S3): written once, never changed',
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

  private objectsArn(): string {
    return this.bucket.arnForObjects(`${RECORDINGS_PREFIX}*`);
  }

  private acknowledgePrefix(role: IRole, reason: string): void {
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnElement);
    Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${RECORDINGS_PREFIX}*]`, reason });
  }

  /**
   * The task may put and delete recordings' objects, and nothing else in the bucket: no read, no list, no other
   * prefix, no multipart (the recorder's objects are single PUTs).
   */
  grantTaskWrites(role: IRole): void {
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject'], resources: [this.objectsArn()] }));
    this.acknowledgePrefix(
      role,
      'PutObject and DeleteObject under the recordings/ prefix of the recordings bucket only: object keys are <playbackId>/<recordingId>/<segment>, generated while streaming, so the key part of the ARN is a wildcard.',
    );
  }

  /**
   * The origin function may read recordings' objects (playlists and posters on a deployed stack), and nothing
   * else: no list (a missing key is then a 403 from S3, which the origin answers as a 404), no write.
   */
  grantOriginReads(role: IRole): void {
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: [this.objectsArn()] }));
    this.acknowledgePrefix(
      role,
      "GetObject under the recordings/ prefix of the recordings bucket only: the origin serves recordings' playlists and posters, whose keys are <playbackId>/<recordingId>/<file>, so the key part of the ARN is a wildcard.",
    );
  }

  /**
   * The distribution behaviours for recordings, in order (they must come before the distribution's own
   * `*.m3u8` and default behaviours: the Cdn puts them first). Playlists and posters to the origin function,
   * the rest to the bucket through OAC.
   */
  behaviors(ctx: RecordingBehaviorContext): Record<string, BehaviorOptions> {
    const bucketOrigin = S3BucketOrigin.withOriginAccessControl(this.bucket, {
      originAccessControl: new S3OriginAccessControl(this, 'AccessControl', {
        // Account-wide names: unique to this construct and suffixed with the region (as the Cdn's).
        originAccessControlName: `${Names.uniqueResourceName(this, { maxLength: 40 })}-recordings-${Stack.of(this).region}`,
        description: 'Keyframe: CloudFront reads the recordings bucket',
      }),
    });
    const common: Omit<BehaviorOptions, 'origin' | 'cachePolicy'> = {
      viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachedMethods: CachedMethods.CACHE_GET_HEAD_OPTIONS,
      ...(ctx.responseHeadersPolicy ? { responseHeadersPolicy: ctx.responseHeadersPolicy } : {}),
      ...(ctx.functionAssociations ? { functionAssociations: ctx.functionAssociations } : {}),
    };
    const viaOrigin: BehaviorOptions = { ...common, origin: ctx.functionOrigin, cachePolicy: this.originCachePolicy, compress: true };
    return {
      [RECORDING_PATH_PATTERNS.playlist]: viaOrigin,
      [RECORDING_PATH_PATTERNS.poster]: { ...viaOrigin, compress: false },
      [RECORDING_PATH_PATTERNS.objects]: { ...common, origin: bucketOrigin, cachePolicy: this.objectCachePolicy, compress: false },
    };
  }
}

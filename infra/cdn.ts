import { Duration, Names, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { CfnWebACL } from 'aws-cdk-lib/aws-wafv2';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import {
  AllowedMethods,
  type BehaviorOptions,
  CachedMethods,
  CacheCookieBehavior,
  CacheHeaderBehavior,
  CachePolicy,
  CacheQueryStringBehavior,
  Distribution,
  type ErrorResponse,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  type FunctionAssociation,
  FunctionUrlOriginAccessControl,
  HttpVersion,
  type IOrigin,
  type PriceClass,
  ResponseHeadersPolicy,
  S3OriginAccessControl,
  SecurityPolicyProtocol,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { FunctionUrlOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import type { IFunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { CACHE_THUMBNAIL } from '../core/hls/cache-control';
import { ORIGIN_QUERY_RULE, THUMBNAIL_FILE } from '../core/hls/paths';
import { playlistMaxTtlSeconds } from './config';
import { viewerRequestFunctionCode } from './edge/viewer-request';
import { PLAYER_PATH_PREFIX } from './player-site';

/** Segments: the origin sends `max-age=1209600, immutable`; the policy lets that through (14 days). */
export const SEGMENT_TTL = { min: Duration.seconds(0), default: Duration.days(1), max: Duration.days(14) };
/** Error responses are cached this long (no custom error pages). */
export const ERROR_CACHING_TTL = Duration.seconds(1);
export const CACHED_ERROR_STATUSES = [400, 403, 404, 500, 502, 503, 504] as const;
/**
 * The playlist cache key's query strings: the private-playback token and the LL-HLS blocking-reload parameters
 * (core/hls/paths.ts `ORIGIN_QUERY_RULE`), so viewers blocked on the same msn/part share one origin request.
 */
export const PLAYLIST_QUERY_STRINGS = ['token', ...Object.keys(ORIGIN_QUERY_RULE.blocking)];
/**
 * How long CloudFront waits for the origin's first byte, s. It covers the function's own 10 s timeout, so also
 * the longest LL-HLS blocking request (the task's hold, 3 s, plus the upstream timeout, 2 s).
 */
export const ORIGIN_READ_TIMEOUT_SECONDS = 15;
/** Live thumbnails: `/<playbackId>/thumbnail.jpg`, to the origin. */
export const THUMBNAIL_PATH_PATTERN = `/*/${THUMBNAIL_FILE}`;
/** The thumbnail's max-age at the origin (core/hls/cache-control.ts `CACHE_THUMBNAIL`), which the edge honours. */
export const THUMBNAIL_MAX_AGE_SECONDS = Number(/max-age=(\d+)/.exec(CACHE_THUMBNAIL)?.[1]);

/** What the Cdn hands a `leadingBehaviors` callback: the pieces of its own behaviours. */
export interface LeadingBehaviorContext {
  /** The origin function's URL, signed with OAC. */
  readonly functionOrigin: IOrigin;
  readonly responseHeadersPolicy: ResponseHeadersPolicy;
  /** The viewer-request function every behaviour carries. */
  readonly functionAssociations: FunctionAssociation[];
}

export interface CdnProps {
  /** The origin function's URL (AWS_IAM auth). */
  readonly functionUrl: IFunctionUrl;
  readonly segmentSeconds: number;
  readonly priceClass: 'PriceClass_100' | 'PriceClass_200' | 'PriceClass_All';
  /** @default - Origin Shield off */
  readonly originShieldRegion?: string;
  /** Custom domain and its us-east-1 certificate. @default - the cloudfront.net domain */
  readonly domainName?: string;
  readonly domainCertificateArn?: string;
  /** Standard access logs to a new S3 bucket, expired after this many days. @default - no access logs */
  readonly accessLogRetentionDays?: number;
  /** The player page's bucket, served under /watch/*. @default - no player behavior */
  readonly playerBucket?: IBucket;
  /**
   * A WAF rate-based rule: requests per client IP per 5 minutes before that IP is blocked. Creates a web ACL
   * with CLOUDFRONT scope, which CloudFormation creates only in us-east-1 (the stack refuses other regions).
   * @default - no web ACL
   */
  readonly wafRateLimit?: number;
  /** An existing web ACL (CLOUDFRONT scope, us-east-1) to attach instead. @default - none */
  readonly webAclArn?: string;
  /**
   * Behaviours that come before all of the Cdn's own (CloudFront takes the first pattern that matches), in the
   * order given: the recordings' (infra/recordings.ts `Recordings.behaviors`). @default - none
   */
  readonly leadingBehaviors?: (ctx: LeadingBehaviorContext) => Record<string, BehaviorOptions>;
}

/**
 * CloudFront in front of the origin function, through Origin Access Control (so only this distribution can
 * invoke the function URL). Segments (the default behavior) cache long and honour the origin's
 * `immutable` max-age, and so do LL-HLS parts (`*.m4s` too); `*.m3u8` playlists cache at most half a segment
 * (LL-HLS ones 1 s); errors cache for about 1 s. Cache keys carry no cookies or headers, and query strings only
 * on playlists (token, `_HLS_msn`, `_HLS_part`, `_HLS_skip`) and thumbnails (token): otherwise the path names the
 * object. Live thumbnails (`/<playbackId>/thumbnail.jpg`) have their own short policy. Leading behaviours (the
 * recordings') come first. CORS allows any origin (GET/HEAD/OPTIONS) so any web player can play.
 */
export class Cdn extends Construct {
  readonly distribution: Distribution;
  readonly segmentCachePolicy: CachePolicy;
  readonly playlistCachePolicy: CachePolicy;
  readonly thumbnailCachePolicy: CachePolicy;
  readonly corsPolicy: ResponseHeadersPolicy;
  readonly accessLogBucket?: Bucket;
  /** Viewer-request function on every behavior: the origin's path rule at the edge, and the player's routes. */
  readonly viewerRequestFunction: CloudFrontFunction;
  readonly webAcl?: CfnWebACL;

  constructor(scope: Construct, id: string, props: CdnProps) {
    super(scope, id);

    this.segmentCachePolicy = new CachePolicy(this, 'SegmentCachePolicy', {
      comment: 'Keyframe segments: immutable, honour the origin max-age (14 days)',
      minTtl: SEGMENT_TTL.min,
      defaultTtl: SEGMENT_TTL.default,
      maxTtl: SEGMENT_TTL.max,
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      queryStringBehavior: CacheQueryStringBehavior.none(),
      // MPEG-TS and fMP4 do not compress; no Accept-Encoding in the key.
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });

    const playlistMaxTtl = Duration.seconds(playlistMaxTtlSeconds({ segmentSeconds: props.segmentSeconds }));
    this.playlistCachePolicy = new CachePolicy(this, 'PlaylistCachePolicy', {
      comment: 'Keyframe playlists: at most half a segment, honour the origin max-age',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(1),
      maxTtl: playlistMaxTtl,
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      // Private channels: the playback token is part of the key, so a playlist fetched with one viewer's
      // token is never served to a request without one. LL-HLS: each blocking reload (`_HLS_msn`, `_HLS_part`,
      // `_HLS_skip`) is its own object, cached for the origin's max-age=1 and shared by its viewers.
      queryStringBehavior: CacheQueryStringBehavior.allowList(...PLAYLIST_QUERY_STRINGS),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });

    this.thumbnailCachePolicy = new CachePolicy(this, 'ThumbnailCachePolicy', {
      comment: `Keyframe live thumbnails: a few seconds (the origin sends ${CACHE_THUMBNAIL}); token in the key`,
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(THUMBNAIL_MAX_AGE_SECONDS),
      maxTtl: Duration.seconds(THUMBNAIL_MAX_AGE_SECONDS),
      cookieBehavior: CacheCookieBehavior.none(),
      headerBehavior: CacheHeaderBehavior.none(),
      // A private channel's thumbnail needs its token, as its playlists do: one viewer's picture is never another's.
      queryStringBehavior: CacheQueryStringBehavior.allowList('token'),
      // JPEG does not compress.
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });

    this.corsPolicy = new ResponseHeadersPolicy(this, 'CorsPolicy', {
      responseHeadersPolicyName: this.globalName('cors'),
      comment: 'Keyframe: CORS for web players on any origin',
      corsBehavior: {
        accessControlAllowOrigins: ['*'],
        accessControlAllowMethods: ['GET', 'HEAD', 'OPTIONS'],
        accessControlAllowHeaders: ['*'],
        accessControlExposeHeaders: ['*'],
        accessControlAllowCredentials: false,
        accessControlMaxAge: Duration.days(1),
        originOverride: true,
      },
    });

    const originAccessControl = new FunctionUrlOriginAccessControl(this, 'OriginAccessControl', {
      originAccessControlName: this.globalName('origin'),
      description: 'Keyframe: CloudFront signs origin requests (SigV4) for the AWS_IAM function URL',
    });
    const origin = FunctionUrlOrigin.withOriginAccessControl(props.functionUrl, {
      originAccessControl,
      originShieldEnabled: props.originShieldRegion !== undefined,
      originShieldRegion: props.originShieldRegion,
      // The function times out at 10 s; CloudFront waits a little longer before giving up.
      readTimeout: Duration.seconds(ORIGIN_READ_TIMEOUT_SECONDS),
    });

    const errorResponses: ErrorResponse[] = CACHED_ERROR_STATUSES.map((httpStatus) => ({
      httpStatus,
      ttl: ERROR_CACHING_TTL,
    }));

    if (props.accessLogRetentionDays !== undefined) {
      this.accessLogBucket = new Bucket(this, 'AccessLogBucket', {
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        encryption: BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        // CloudFront standard logging writes with ACLs.
        objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
        lifecycleRules: [{ expiration: Duration.days(props.accessLogRetentionDays) }],
        // Logs are records: kept after `cdk destroy` (docs/deploy.md says how to delete them).
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(this.accessLogBucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason: 'This bucket is the access-log destination; logging its own access would log the log writes.',
      });
    }

    this.viewerRequestFunction = new CloudFrontFunction(this, 'ViewerRequest', {
      comment: 'Keyframe: rejects paths the origin would refuse; player routes',
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(viewerRequestFunctionCode({ playerPrefix: props.playerBucket ? PLAYER_PATH_PREFIX : undefined })),
    });
    const functionAssociations: FunctionAssociation[] = [{ function: this.viewerRequestFunction, eventType: FunctionEventType.VIEWER_REQUEST }];

    if (props.wafRateLimit !== undefined) {
      this.webAcl = new CfnWebACL(this, 'WebAcl', {
        scope: 'CLOUDFRONT',
        defaultAction: { allow: {} },
        visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'KeyframeWebAcl', sampledRequestsEnabled: true },
        rules: [
          {
            name: 'RatePerIp',
            priority: 0,
            action: { block: {} },
            statement: { rateBasedStatement: { limit: props.wafRateLimit, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
            visibilityConfig: { cloudWatchMetricsEnabled: true, metricName: 'KeyframeRatePerIp', sampledRequestsEnabled: true },
          },
        ],
      });
    }
    const webAclId = this.webAcl?.attrArn ?? props.webAclArn;

    const leading = props.leadingBehaviors?.({ functionOrigin: origin, responseHeadersPolicy: this.corsPolicy, functionAssociations }) ?? {};
    const customDomain = props.domainName !== undefined && props.domainCertificateArn !== undefined;
    this.distribution = new Distribution(this, 'Distribution', {
      comment: 'Keyframe live HLS',
      defaultBehavior: {
        origin,
        viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachedMethods: CachedMethods.CACHE_GET_HEAD_OPTIONS,
        cachePolicy: this.segmentCachePolicy,
        responseHeadersPolicy: this.corsPolicy,
        compress: false,
        functionAssociations,
      },
      // In this order (CloudFront takes the first pattern that matches; object keys keep insertion order).
      additionalBehaviors: {
        ...leading,
        [THUMBNAIL_PATH_PATTERN]: {
          origin,
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachedMethods: CachedMethods.CACHE_GET_HEAD_OPTIONS,
          cachePolicy: this.thumbnailCachePolicy,
          responseHeadersPolicy: this.corsPolicy,
          compress: false,
          functionAssociations,
        },
        '*.m3u8': {
          origin,
          viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
          cachedMethods: CachedMethods.CACHE_GET_HEAD_OPTIONS,
          cachePolicy: this.playlistCachePolicy,
          responseHeadersPolicy: this.corsPolicy,
          compress: true,
          functionAssociations,
        },
        ...(props.playerBucket
          ? {
              [`/${PLAYER_PATH_PREFIX}/*`]: {
                origin: S3BucketOrigin.withOriginAccessControl(props.playerBucket, {
                  originAccessControl: new S3OriginAccessControl(this, 'PlayerAccessControl', {
                    originAccessControlName: this.globalName('player'),
                    description: 'Keyframe: CloudFront reads the player page bucket',
                  }),
                }),
                viewerProtocolPolicy: ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowedMethods: AllowedMethods.ALLOW_GET_HEAD,
                cachePolicy: CachePolicy.CACHING_OPTIMIZED,
                compress: true,
                functionAssociations,
              },
            }
          : {}),
      },
      errorResponses,
      ...(webAclId ? { webAclId } : {}),
      httpVersion: HttpVersion.HTTP2_AND_3,
      enableIpv6: true,
      // The config's values are CloudFront's own names, which are PriceClass's values.
      priceClass: props.priceClass as PriceClass,
      ...(customDomain
        ? {
            domainNames: [props.domainName as string],
            certificate: Certificate.fromCertificateArn(this, 'Certificate', props.domainCertificateArn as string),
            minimumProtocolVersion: SecurityPolicyProtocol.TLS_V1_2_2021,
          }
        : {}),
      ...(this.accessLogBucket ? { enableLogging: true, logBucket: this.accessLogBucket, logFilePrefix: 'cloudfront/' } : {}),
    });

    const suppressions = [
      {
        id: 'AwsSolutions-CFR1',
        reason: 'Public live streams for a worldwide audience; an operator who needs geo restrictions adds them to the distribution.',
      },
    ];
    if (!webAclId) {
      suppressions.push({
        id: 'AwsSolutions-CFR2',
        reason:
          'Read-only, cacheable GETs of public HLS objects with no forms or credentials; the viewer-request function rejects malformed paths at the edge, the origin validates every path, and CloudFront collapses requests. A WAF rate rule (a web ACL costs a monthly fee plus per request) is opt-in: keyframe:wafRateLimit or keyframe:webAclArn.',
      });
    }
    if (!this.accessLogBucket) {
      suppressions.push({
        id: 'AwsSolutions-CFR3',
        reason:
          'Access logs are opt-in (keyframe:cdnAccessLogs=true): live HLS makes about one request per viewer per segment, so logs grow with the audience. The origin emits request, status and latency metrics, and CloudFront its own metrics.',
      });
    }
    if (!customDomain) {
      suppressions.push({
        id: 'AwsSolutions-CFR4',
        reason:
          'With the default *.cloudfront.net certificate CloudFront fixes the viewer security policy and it cannot be raised; setting keyframe:domainName and keyframe:domainCertificateArn enforces TLSv1.2_2021.',
      });
    }
    Validations.of(this.distribution).acknowledge(...suppressions);
  }

  /**
   * A name for a CloudFront resource (names are account-wide, not regional): unique to this construct and
   * suffixed with the region, so the same stack can be deployed to two regions of one account.
   */
  private globalName(purpose: string): string {
    return `${Names.uniqueResourceName(this, { maxLength: 40 })}-${purpose}-${Stack.of(this).region}`;
  }

  get domainName(): string {
    return this.distribution.distributionDomainName;
  }
}

/**
 * The deployment's configuration: typed, read from CDK context (`cdk.json` "context" and `-c` flags),
 * validated once at synth. Every key is prefixed `keyframe:` so it cannot collide with CDK's own context.
 *
 * Loading is defaults, then context, then validation. Each problem is reported as one line that names the
 * key, the bad value and the fix; all problems are reported together. Unknown `keyframe:` keys are errors
 * (a typo must not silently fall back to a default), and so is a known key given without its prefix.
 *
 * This module has no CDK imports: it is pure and tested on its own (test/infra/config.test.ts).
 */
import { CACHE_MULTIVARIANT, mediaPlaylistMaxAge } from '../core/hls/cache-control';
import { MAX_BUFFERED_BODY_BYTES, PLAYLIST_SIZE, SEGMENT_SECONDS } from '../core/limits';
import { LOAD_UNITS_PER_VCPU } from '../core/metrics';
import { arnRegion, COMMERCIAL_REGIONS, FUNCTION_URL_UNSUPPORTED_REGIONS, ORIGIN_SHIELD_REGIONS } from './regions';

export const CONTEXT_PREFIX = 'keyframe:';

/**
 * The largest segment to plan for: the origin's body limit (core/limits.ts, ≈ 4.49 MB), rounded down to
 * 100 kB as a margin for bitrate peaks above the configured maximum.
 */
export const ORIGIN_MAX_SEGMENT_BYTES = Math.floor(MAX_BUFFERED_BODY_BYTES / 100_000) * 100_000;
/** MPEG-TS packetization (188-byte packets, PES and PSI) on top of the publish bitrate: about 10%, as 11/10. */
export const TS_OVERHEAD_PERCENT = 110;
/** The Fargate maximum for `stopTimeout`; stopTimeout = drainSeconds + 10 must fit in it. */
export const FARGATE_MAX_STOP_TIMEOUT_SECONDS = 120;
export const STOP_TIMEOUT_HEADROOM_SECONDS = 10;

export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

/** Fargate task sizes: CPU units → allowed memory (MiB). */
export const FARGATE_SIZES: Readonly<Record<number, readonly number[]>> = {
  256: [512, 1024, 2048],
  512: range(1024, 4096, 1024),
  1024: range(2048, 8192, 1024),
  2048: range(4096, 16384, 1024),
  4096: range(8192, 30720, 1024),
  8192: range(16384, 61440, 4096),
  16384: range(32768, 122880, 8192),
};

/** Fargate CPU units in one vCPU. */
export const FARGATE_CPU_UNITS_PER_VCPU = 1024;
/**
 * With ladders on and no `targetLoadPerTask`, the scaling holds each task at this share of its CPU, counted in
 * load units (core/metrics.ts `LOAD_UNITS_PER_VCPU`): 60 units per vCPU, the planning share of docs/benchmarks.md.
 */
export const LADDER_TARGET_CPU_PERCENT = 60;
/**
 * With ladders on, the share of the task's CPU its transcoders may use (the ladder budget the task admits ladders
 * against); the rest is the passthrough side's: RTMP, the packager, the HLS server, Node itself.
 */
export const LADDER_CPU_BUDGET_PERCENT = 75;
/** The explicit load target's range, in load units; its upper end is also capped by the task's CPU (below). */
export const TARGET_LOAD_PER_TASK = { min: 1, max: 16 * LOAD_UNITS_PER_VCPU } as const;

export const PRICE_CLASSES = ['PriceClass_100', 'PriceClass_200', 'PriceClass_All'] as const;
/** `host`: the CPU of the machine that runs `cdk deploy`, so the image builds natively (no emulation). */
export const ARCHITECTURES = ['host', 'arm64', 'x86_64'] as const;
export type IngestArchitecture = Exclude<(typeof ARCHITECTURES)[number], 'host'>;
/** WAF rate-based rules: requests per IP per 5-minute window (the WAF limits). */
export const WAF_RATE_LIMIT = { min: 10, max: 2_000_000_000 } as const;
/** Reserved concurrency of the task-events function (0: none). Lambda keeps 100 of the account's quota unreserved. */
export const TASK_EVENTS_RESERVED_CONCURRENCY = { default: 5, max: 100 } as const;
export const REMOVAL_POLICIES = ['retain', 'destroy'] as const;
/** Recordings are kept this many days (a lifecycle expiry on the bucket's recordings/ prefix). */
export const RECORDING_RETENTION_DAYS = { min: 1, max: 3650 } as const;
/** Fargate ephemeral storage, GiB: 20 included; 21–200 configurable (and charged beyond 20). */
export const FARGATE_EPHEMERAL_STORAGE_GIB = { included: 20, min: 21, max: 200 } as const;
/** Ephemeral storage the task needs besides the recording spool: its image layers, logs and temporary files. */
export const EPHEMERAL_STORAGE_HEADROOM_GIB = 4;
export const RECORDING_SPOOL_GIB = { min: 1, max: FARGATE_EPHEMERAL_STORAGE_GIB.max - EPHEMERAL_STORAGE_HEADROOM_GIB } as const;

export interface KeyframeConfig {
  /** CloudFormation stack name. @default 'Keyframe' */
  readonly stackName: string;
  /** HLS target segment duration in seconds (KEYFRAME_SEGMENT_SECONDS). @default 1 */
  readonly segmentSeconds: number;
  /** Segments per media playlist (KEYFRAME_PLAYLIST_SIZE). @default 6 */
  readonly playlistSize: number;
  /**
   * The longest segment to plan for. Ingest copies the publisher's video (no transcode), so a segment is cut
   * only at a keyframe: its length is the publisher's keyframe interval when that exceeds segmentSeconds.
   * @default 4
   */
  readonly maxSegmentSeconds: number;
  /** The highest publish bitrate (video + audio) to plan for, in kbit/s. @default 8000 */
  readonly maxBitrateKbps: number;
  /** Fargate CPU units per ingest task. @default 1024 */
  readonly ingestCpu: number;
  /** Fargate memory per ingest task, MiB; must be a valid combination with ingestCpu. @default 2048 */
  readonly ingestMemoryMiB: number;
  /**
   * CPU architecture of the ingest task and its image: `arm64` (Graviton, about 20% cheaper), `x86_64`, or
   * `host`, the architecture of the machine running `cdk deploy`, which builds the image without emulation.
   * @default 'host'
   */
  readonly ingestArchitecture: (typeof ARCHITECTURES)[number];
  /** @default 1 */
  readonly minTasks: number;
  /** @default 4 */
  readonly maxTasks: number;
  /**
   * Live streams per ingest task that the service scales to hold (average over tasks), with ladders off: a
   * passthrough stream is one load unit, so this is the IngestLoad target (`scalingTargetLoad`). @default 20
   */
  readonly streamsPerTask: number;
  /**
   * Quality ladders (docs/deploy.md, "Quality ladders"): the ingest tasks get the ladder task size
   * (ladderTaskCpu / ladderTaskMemoryMiB) and a transcoding CPU budget. Off: the task size is ingestCpu /
   * ingestMemoryMiB and the budget is 0, so a ladder channel publishes passthrough only (with a warning).
   * @default false
   */
  readonly ladders: boolean;
  /** Fargate CPU units per ingest task when `ladders` is on; at least ingestCpu. @default 4096 */
  readonly ladderTaskCpu: number;
  /** Fargate memory per ingest task when `ladders` is on, MiB; a valid combination with ladderTaskCpu. @default 8192 */
  readonly ladderTaskMemoryMiB: number;
  /**
   * IngestLoad per task (load units, core/metrics.ts) that the service scales to hold, averaged over the tasks.
   * @default - streamsPerTask with ladders off; with ladders on, 60 % of the ladder task's CPU (60 units per vCPU)
   */
  readonly targetLoadPerTask?: number;
  /** Seconds a stopping task drains its publishes (KEYFRAME_DRAIN_SECONDS); ≤ 110. @default 110 */
  readonly drainSeconds: number;
  /** NAT gateways for the private subnets (1, or 2 for one per AZ). @default 1 */
  readonly natGateways: number;
  /** ACM certificate (in the stack's region) for RTMPS on TLS 443. Needs ingestDomainName. @default - no RTMPS listener */
  readonly rtmpsCertificateArn?: string;
  /** The host name rtmpsCertificateArn covers, pointed (CNAME) at the NLB: the RTMPS URL's host. */
  readonly ingestDomainName?: string;
  /** Two availability zones of the stack's region for the VPC. @default - the first two the region lists */
  readonly availabilityZones?: readonly string[];
  /**
   * Share of the origin's successful requests that get a log line; every 4xx, 5xx and warning is logged.
   * About 1.2 KB a line: at 1, about 45 MB of logs per stream-hour of viewing. @default 0.05
   */
  readonly originLogSampleRate: number;
  /** ECS Exec (`aws ecs execute-command`) into the ingest tasks. @default false */
  readonly ecsExec: boolean;
  /** Reserved concurrency of the task-events function, so an origin flood cannot starve it; 0 for none. @default 5 */
  readonly taskEventsReservedConcurrency: number;
  /** The account's Lambda concurrency quota in the stack's region; the concurrency alarms are shares of it. @default 1000 */
  readonly lambdaConcurrencyQuota: number;
  /** WAF rate-based rule on the distribution: requests per IP per 5 minutes. Needs us-east-1. @default - no WAF */
  readonly wafRateLimit?: number;
  /** An existing CLOUDFRONT-scope web ACL (us-east-1) to attach to the distribution. @default - none */
  readonly webAclArn?: string;
  /** Custom domain for CloudFront; needs domainCertificateArn. @default - the cloudfront.net domain */
  readonly domainName?: string;
  /** ACM certificate for domainName; must be in us-east-1 (CloudFront's region). */
  readonly domainCertificateArn?: string;
  /** Region of the Origin Shield cache. @default - Origin Shield off */
  readonly originShieldRegion?: string;
  /** @default 'PriceClass_100' */
  readonly priceClass: (typeof PRICE_CLASSES)[number];
  /** Retention of every log group. @default 30 */
  readonly logRetentionDays: (typeof LOG_RETENTION_DAYS)[number];
  /** What `cdk destroy` does with the routing table (stream keys live there). @default 'retain' */
  readonly tableRemovalPolicy: (typeof REMOVAL_POLICIES)[number];
  /** DynamoDB deletion protection on the table. @default false */
  readonly tableDeletionProtection: boolean;
  /** CloudFront standard access logs to an S3 bucket. @default false */
  readonly cdnAccessLogs: boolean;
  /** Email subscribed to the alarm topic. @default - no subscription */
  readonly alarmEmail?: string;
  /** Days a recording is kept in the recordings bucket (lifecycle expiry). @default 30 */
  readonly recordingRetentionDays: number;
  /**
   * The ingest task's recording upload spool, GiB (KEYFRAME_RECORDING_SPOOL_MIB): what the task holds while S3
   * is slow or down. The task's ephemeral storage is sized from it (`ingestEphemeralStorageGiB`). @default 8
   */
  readonly recordingSpoolGiB: number;
}

export const DEFAULT_CONFIG: KeyframeConfig = {
  stackName: 'Keyframe',
  segmentSeconds: SEGMENT_SECONDS.default,
  playlistSize: PLAYLIST_SIZE.default,
  maxSegmentSeconds: 4,
  maxBitrateKbps: 8000,
  ingestCpu: 1024,
  ingestMemoryMiB: 2048,
  ingestArchitecture: 'host',
  minTasks: 1,
  maxTasks: 4,
  streamsPerTask: 20,
  ladders: false,
  ladderTaskCpu: 4096,
  ladderTaskMemoryMiB: 8192,
  drainSeconds: 110,
  natGateways: 1,
  ecsExec: false,
  originLogSampleRate: 0.05,
  taskEventsReservedConcurrency: TASK_EVENTS_RESERVED_CONCURRENCY.default,
  lambdaConcurrencyQuota: 1000,
  priceClass: 'PriceClass_100',
  logRetentionDays: 30,
  tableRemovalPolicy: 'retain',
  tableDeletionProtection: false,
  cdnAccessLogs: false,
  recordingRetentionDays: 30,
  recordingSpoolGiB: 8,
};

export type ConfigKey = keyof KeyframeConfig;

export const CONFIG_KEYS: readonly ConfigKey[] = [
  'stackName',
  'segmentSeconds',
  'playlistSize',
  'maxSegmentSeconds',
  'maxBitrateKbps',
  'ingestCpu',
  'ingestMemoryMiB',
  'ingestArchitecture',
  'minTasks',
  'maxTasks',
  'streamsPerTask',
  'ladders',
  'ladderTaskCpu',
  'ladderTaskMemoryMiB',
  'targetLoadPerTask',
  'drainSeconds',
  'natGateways',
  'rtmpsCertificateArn',
  'ingestDomainName',
  'availabilityZones',
  'ecsExec',
  'originLogSampleRate',
  'taskEventsReservedConcurrency',
  'lambdaConcurrencyQuota',
  'wafRateLimit',
  'webAclArn',
  'domainName',
  'domainCertificateArn',
  'originShieldRegion',
  'priceClass',
  'logRetentionDays',
  'tableRemovalPolicy',
  'tableDeletionProtection',
  'cdnAccessLogs',
  'alarmEmail',
  'recordingRetentionDays',
  'recordingSpoolGiB',
];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly issues: readonly string[]) {
    super(issues.join('\n'));
  }
}

/** The context key for a config key, as the user types it. */
export function contextKey(key: ConfigKey): string {
  return `${CONTEXT_PREFIX}${key}`;
}

/** Largest segment, in bytes, for a bitrate and duration (MPEG-TS overhead included). */
export function largestSegmentBytes(maxBitrateKbps: number, maxSegmentSeconds: number): number {
  // kbit/s × s × 1000/8 bytes × 110/100, in integers (both inputs are integers).
  return Math.ceil((maxBitrateKbps * maxSegmentSeconds * 125 * TS_OVERHEAD_PERCENT) / 100);
}

/** The largest maxBitrateKbps × maxSegmentSeconds the origin can serve (32000 with the limits above). */
export const MAX_KBPS_SECONDS = Math.floor((ORIGIN_MAX_SEGMENT_BYTES * 100) / (125 * TS_OVERHEAD_PERCENT));

/** The multivariant playlist's max-age at the origin (core/hls/cache-control.ts `CACHE_MULTIVARIANT`), s. */
export const MULTIVARIANT_MAX_AGE_SECONDS = Number(/max-age=(\d+)/.exec(CACHE_MULTIVARIANT)?.[1]);

/**
 * The CloudFront max TTL of the playlist behaviour: the longest max-age the origin gives any live playlist, so
 * the edge honours each type's own. That is the media-playlist rule (half the segment duration, at least 1 s) or
 * the multivariant playlist's 2 s, whichever is longer. The edge never holds a playlist longer than the origin
 * says: a media playlist keeps its shorter max-age (LL-HLS ones 1 s), since the policy's minimum TTL is 0.
 */
export function playlistMaxTtlSeconds(config: Pick<KeyframeConfig, 'segmentSeconds'>): number {
  return Math.max(mediaPlaylistMaxAge(config.segmentSeconds), MULTIVARIANT_MAX_AGE_SECONDS);
}

/**
 * The ingest task's ephemeral storage, GiB: the recording spool plus headroom for the image and logs; undefined
 * when that fits in the 20 GiB Fargate includes (the task definition then leaves the size unset).
 */
export function ingestEphemeralStorageGiB(config: Pick<KeyframeConfig, 'recordingSpoolGiB'>): number | undefined {
  const needed = config.recordingSpoolGiB + EPHEMERAL_STORAGE_HEADROOM_GIB;
  return needed <= FARGATE_EPHEMERAL_STORAGE_GIB.included ? undefined : Math.max(FARGATE_EPHEMERAL_STORAGE_GIB.min, needed);
}

/** The spool cap the ingest task is given (KEYFRAME_RECORDING_SPOOL_MIB), MiB. */
export function recordingSpoolMiB(config: Pick<KeyframeConfig, 'recordingSpoolGiB'>): number {
  return config.recordingSpoolGiB * 1024;
}

/** The ingest task's Fargate size: the ladder size with ladders on, else ingestCpu / ingestMemoryMiB. */
export function ingestTaskSize(config: Pick<KeyframeConfig, 'ladders' | 'ingestCpu' | 'ingestMemoryMiB' | 'ladderTaskCpu' | 'ladderTaskMemoryMiB'>): {
  readonly cpu: number;
  readonly memoryMiB: number;
} {
  return config.ladders
    ? { cpu: config.ladderTaskCpu, memoryMiB: config.ladderTaskMemoryMiB }
    : { cpu: config.ingestCpu, memoryMiB: config.ingestMemoryMiB };
}

/** The task's CPU in load units (LOAD_UNITS_PER_VCPU per vCPU): 100 for 1 vCPU. */
export function taskLoadCapacity(cpu: number): number {
  return (cpu * LOAD_UNITS_PER_VCPU) / FARGATE_CPU_UNITS_PER_VCPU;
}

/**
 * The CPU, in vCPU, a task's transcoders may use: LADDER_CPU_BUDGET_PERCENT of the ladder task's vCPU (3 of 4), and
 * 0 with ladders off (a ladder channel then publishes passthrough, with a warning).
 */
export function ladderCpuBudgetVcpu(config: Pick<KeyframeConfig, 'ladders' | 'ladderTaskCpu'>): number {
  if (!config.ladders) return 0;
  return (config.ladderTaskCpu * LADDER_CPU_BUDGET_PERCENT) / (FARGATE_CPU_UNITS_PER_VCPU * 100);
}

/**
 * The IngestLoad target of the scaling policy, load units per task: targetLoadPerTask if set; else streamsPerTask
 * with ladders off (a passthrough stream is one unit, so the policy scales as the ActiveStreams one did), or
 * LADDER_TARGET_CPU_PERCENT of the ladder task's CPU with ladders on (240 units for 4 vCPU).
 */
export function scalingTargetLoad(config: Pick<KeyframeConfig, 'ladders' | 'streamsPerTask' | 'targetLoadPerTask' | 'ladderTaskCpu'>): number {
  if (config.targetLoadPerTask !== undefined) return config.targetLoadPerTask;
  if (!config.ladders) return config.streamsPerTask;
  return Math.floor((config.ladderTaskCpu * LOAD_UNITS_PER_VCPU * LADDER_TARGET_CPU_PERCENT) / (FARGATE_CPU_UNITS_PER_VCPU * 100));
}

/** The architecture the stack builds and runs: the configured one, or the host's for `host` (Node's `os.arch()`). */
export function resolveIngestArchitecture(configured: KeyframeConfig['ingestArchitecture'], hostArch: string): IngestArchitecture {
  if (configured !== 'host') return configured;
  return hostArch === 'arm64' ? 'arm64' : 'x86_64';
}

export interface LoadConfigOptions {
  /**
   * The region `cdk deploy` will deploy to, when the CLI knows it at synth (CDK_DEFAULT_REGION). Region rules are
   * then checked at synth; the template's rules check them again at deploy either way.
   */
  readonly deployRegion?: string;
}

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * Reads and validates the config from a CDK context record (`app.node.getAllContext()`).
 * Throws ConfigError with one line per problem.
 */
export function loadConfig(context: Readonly<Record<string, unknown>>, options: LoadConfigOptions = {}): KeyframeConfig {
  const issues: string[] = [];
  const given = new Map<ConfigKey, unknown>();
  const known = new Set<string>(CONFIG_KEYS);

  for (const [rawKey, value] of Object.entries(context)) {
    if (rawKey.startsWith(CONTEXT_PREFIX)) {
      const key = rawKey.slice(CONTEXT_PREFIX.length);
      if (!known.has(key)) {
        issues.push(`${rawKey}=${show(value)}: unknown config key. Fix: ${suggest(key)}`);
        continue;
      }
      if (value === undefined || value === null || value === '') continue;
      given.set(key as ConfigKey, value);
    } else if (known.has(rawKey)) {
      issues.push(
        `${rawKey}=${show(value)}: Keyframe config keys are prefixed. Fix: use ${CONTEXT_PREFIX}${rawKey} (e.g. -c ${CONTEXT_PREFIX}${rawKey}=...)`,
      );
    }
  }

  const r = new Reader(given, issues);
  const segmentSeconds = r.integer('segmentSeconds', SEGMENT_SECONDS.min, SEGMENT_SECONDS.max);
  const config: KeyframeConfig = {
    stackName: r.match(
      'stackName',
      /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
      'not a CloudFormation stack name',
      'start with a letter, then use letters, digits or hyphens (at most 128 characters)',
    ),
    segmentSeconds,
    playlistSize: r.integer('playlistSize', PLAYLIST_SIZE.min, PLAYLIST_SIZE.max),
    maxSegmentSeconds: r.integer('maxSegmentSeconds', 1, 30),
    maxBitrateKbps: r.integer('maxBitrateKbps', 100, 100_000),
    ingestCpu: r.oneOf('ingestCpu', Object.keys(FARGATE_SIZES).map(Number)),
    ingestMemoryMiB: r.integer('ingestMemoryMiB', 512, 122_880),
    ingestArchitecture: r.oneOf('ingestArchitecture', ARCHITECTURES),
    minTasks: r.integer('minTasks', 1, 100),
    maxTasks: r.integer('maxTasks', 1, 100),
    streamsPerTask: r.integer('streamsPerTask', 1, 500),
    ladders: r.boolean('ladders'),
    ladderTaskCpu: r.oneOf('ladderTaskCpu', Object.keys(FARGATE_SIZES).map(Number)),
    ladderTaskMemoryMiB: r.integer('ladderTaskMemoryMiB', 512, 122_880),
    targetLoadPerTask: r.optionalInteger(
      'targetLoadPerTask',
      TARGET_LOAD_PER_TASK.min,
      TARGET_LOAD_PER_TASK.max,
      `; load units per task (a passthrough stream is 1, a ladder its CPU at ${LOAD_UNITS_PER_VCPU} units per vCPU)`,
    ),
    drainSeconds: r.integer(
      'drainSeconds',
      0,
      FARGATE_MAX_STOP_TIMEOUT_SECONDS - STOP_TIMEOUT_HEADROOM_SECONDS,
      `; the task's stopTimeout is drainSeconds + ${STOP_TIMEOUT_HEADROOM_SECONDS} and Fargate allows at most ${FARGATE_MAX_STOP_TIMEOUT_SECONDS} s`,
    ),
    natGateways: r.integer('natGateways', 1, 2, '; the ingest tasks pull their image and reach AWS APIs through NAT, and 2 gives one per AZ'),
    rtmpsCertificateArn: r.optionalCertificateArn(
      'rtmpsCertificateArn',
      "set the ARN of an ACM certificate in the stack's region, like arn:aws:acm:eu-west-1:123456789012:certificate/<id>",
    ),
    ingestDomainName: r.optionalMatch(
      'ingestDomainName',
      DNS_NAME,
      'not a domain name',
      'set the lower-case host name your RTMPS certificate covers, such as ingest.example.com',
    ),
    availabilityZones: r.optionalList(
      'availabilityZones',
      /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/,
      2,
      "set two availability zones of the stack's region where Fargate runs, such as eu-west-1a,eu-west-1b",
    ),
    ecsExec: r.boolean('ecsExec'),
    originLogSampleRate: r.fraction('originLogSampleRate'),
    taskEventsReservedConcurrency: r.integer(
      'taskEventsReservedConcurrency',
      0,
      TASK_EVENTS_RESERVED_CONCURRENCY.max,
      '; 0 turns it off (an account whose Lambda concurrency quota is below 100 + this value cannot reserve any: npx keyframe doctor)',
    ),
    lambdaConcurrencyQuota: r.integer(
      'lambdaConcurrencyQuota',
      10,
      1_000_000,
      '; the "Concurrent executions" Lambda quota of the stack\'s region (npx keyframe doctor prints it)',
    ),
    wafRateLimit: r.optionalInteger('wafRateLimit', WAF_RATE_LIMIT.min, WAF_RATE_LIMIT.max, '; requests per client IP per 5 minutes'),
    webAclArn: r.optionalMatch(
      'webAclArn',
      /^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/[A-Za-z0-9_-]{1,128}\/[a-f0-9-]{36}$/,
      'not the ARN of a CLOUDFRONT-scope web ACL',
      'set the ARN of a web ACL created with scope CLOUDFRONT in us-east-1, like arn:aws:wafv2:us-east-1:123456789012:global/webacl/<name>/<id>',
    ),
    domainName: r.optionalMatch('domainName', DNS_NAME, 'not a domain name', 'set a lower-case DNS name such as live.example.com'),
    domainCertificateArn: r.optionalCertificateArn(
      'domainCertificateArn',
      'set the ARN of an ACM certificate in us-east-1 (CloudFront only uses certificates from us-east-1)',
    ),
    originShieldRegion: r.optionalOneOf(
      'originShieldRegion',
      ORIGIN_SHIELD_REGIONS,
      'not a region with an Origin Shield',
      "pick the one nearest the stack's region; or remove it to turn Origin Shield off",
    ),
    priceClass: r.oneOf('priceClass', PRICE_CLASSES),
    logRetentionDays: r.oneOf('logRetentionDays', LOG_RETENTION_DAYS),
    tableRemovalPolicy: r.oneOf('tableRemovalPolicy', REMOVAL_POLICIES),
    tableDeletionProtection: r.boolean('tableDeletionProtection'),
    cdnAccessLogs: r.boolean('cdnAccessLogs'),
    alarmEmail: r.optionalMatch(
      'alarmEmail',
      /^[^\s@]+@[^\s@]+\.[^\s@]+$/,
      'not an email address',
      'set an address such as ops@example.com, or remove it',
    ),
    recordingRetentionDays: r.integer(
      'recordingRetentionDays',
      RECORDING_RETENTION_DAYS.min,
      RECORDING_RETENTION_DAYS.max,
      '; recordings older than this are deleted from the bucket',
    ),
    recordingSpoolGiB: r.integer(
      'recordingSpoolGiB',
      RECORDING_SPOOL_GIB.min,
      RECORDING_SPOOL_GIB.max,
      `; the task's ephemeral storage is this + ${EPHEMERAL_STORAGE_HEADROOM_GIB} GiB, and Fargate allows at most ${FARGATE_EPHEMERAL_STORAGE_GIB.max}`,
    ),
  };

  // Cross-key rules, checked only when each key on its own was valid.
  const ok = (...keys: ConfigKey[]) => keys.every((k) => !r.failed.has(k));

  if (ok('ingestCpu', 'ingestMemoryMiB')) {
    const allowed = FARGATE_SIZES[config.ingestCpu];
    if (!allowed.includes(config.ingestMemoryMiB)) {
      issues.push(
        `${contextKey('ingestMemoryMiB')}=${config.ingestMemoryMiB}: not a Fargate size with ${contextKey('ingestCpu')}=${config.ingestCpu}. ` +
          `Fix: use ${describeList(allowed)}, or change ${contextKey('ingestCpu')}`,
      );
    }
  }
  if (ok('ladderTaskCpu', 'ladderTaskMemoryMiB')) {
    const allowed = FARGATE_SIZES[config.ladderTaskCpu];
    if (!allowed.includes(config.ladderTaskMemoryMiB)) {
      issues.push(
        `${contextKey('ladderTaskMemoryMiB')}=${config.ladderTaskMemoryMiB}: not a Fargate size with ${contextKey('ladderTaskCpu')}=${config.ladderTaskCpu}. ` +
          `Fix: use ${describeList(allowed)}, or change ${contextKey('ladderTaskCpu')} (Fargate sizes: ${describeFargateSizes()})`,
      );
    }
  }
  if (config.ladders && ok('ladderTaskCpu', 'ingestCpu') && config.ladderTaskCpu < config.ingestCpu) {
    issues.push(
      `${contextKey('ladderTaskCpu')}=${config.ladderTaskCpu}: below ${contextKey('ingestCpu')}=${config.ingestCpu}; a task that transcodes needs more CPU than one that only copies. ` +
        `Fix: set ${contextKey('ladderTaskCpu')} to at least ${config.ingestCpu}`,
    );
  }
  if (config.ladders && ok('ladderTaskMemoryMiB', 'ingestMemoryMiB') && config.ladderTaskMemoryMiB < config.ingestMemoryMiB) {
    issues.push(
      `${contextKey('ladderTaskMemoryMiB')}=${config.ladderTaskMemoryMiB}: below ${contextKey('ingestMemoryMiB')}=${config.ingestMemoryMiB}. ` +
        `Fix: set ${contextKey('ladderTaskMemoryMiB')} to at least ${config.ingestMemoryMiB}`,
    );
  }
  if (config.ladders && given.has('streamsPerTask') && !given.has('targetLoadPerTask') && ok('streamsPerTask')) {
    issues.push(
      `${contextKey('streamsPerTask')}=${config.streamsPerTask}: counts streams, but with ${contextKey('ladders')}=true the scaling counts load units (a ladder costs many). ` +
        `Fix: set ${contextKey('targetLoadPerTask')} instead (docs/deploy.md, "Quality ladders")`,
    );
  }
  if (given.has('streamsPerTask') && given.has('targetLoadPerTask') && ok('streamsPerTask', 'targetLoadPerTask')) {
    issues.push(
      `${contextKey('streamsPerTask')}=${config.streamsPerTask} with ${contextKey('targetLoadPerTask')}=${config.targetLoadPerTask}: two targets for one scaling policy. ` +
        `Fix: remove ${contextKey('streamsPerTask')} (a passthrough stream is one load unit)`,
    );
  }
  if (config.targetLoadPerTask !== undefined && ok('targetLoadPerTask', 'ladderTaskCpu', 'ingestCpu')) {
    const cpu = ingestTaskSize(config).cpu;
    const capacity = taskLoadCapacity(cpu);
    if (config.targetLoadPerTask > capacity) {
      const which = config.ladders ? 'ladderTaskCpu' : 'ingestCpu';
      issues.push(
        `${contextKey('targetLoadPerTask')}=${config.targetLoadPerTask}: above what a task of ${contextKey(which)}=${cpu} can hold (${capacity} load units, ${LOAD_UNITS_PER_VCPU} per vCPU); ` +
          `the load policy would never scale out. Fix: set at most ${capacity} (${scalingTargetLoad({ ...config, targetLoadPerTask: undefined })} plans at ${LADDER_TARGET_CPU_PERCENT} %), or raise ${contextKey(which)}`,
      );
    }
  }
  if (ok('minTasks', 'maxTasks') && config.maxTasks < config.minTasks) {
    issues.push(
      `${contextKey('maxTasks')}=${config.maxTasks}: below ${contextKey('minTasks')}=${config.minTasks}. Fix: set ${contextKey('maxTasks')} to at least ${config.minTasks}`,
    );
  }
  if (ok('segmentSeconds', 'maxSegmentSeconds') && config.maxSegmentSeconds < config.segmentSeconds) {
    issues.push(
      `${contextKey('maxSegmentSeconds')}=${config.maxSegmentSeconds}: below ${contextKey('segmentSeconds')}=${config.segmentSeconds}; no segment is shorter than the target. ` +
        `Fix: set ${contextKey('maxSegmentSeconds')} to at least ${config.segmentSeconds}`,
    );
  }
  if (ok('maxSegmentSeconds', 'maxBitrateKbps')) {
    const bytes = largestSegmentBytes(config.maxBitrateKbps, config.maxSegmentSeconds);
    if (bytes > ORIGIN_MAX_SEGMENT_BYTES) {
      issues.push(
        `${contextKey('maxBitrateKbps')}=${config.maxBitrateKbps} with ${contextKey('maxSegmentSeconds')}=${config.maxSegmentSeconds}: ` +
          `a segment could reach ${mb(bytes)} MB, above the ${mb(ORIGIN_MAX_SEGMENT_BYTES)} MB the origin can return ` +
          `(a buffered function-URL response is at most 6 MB, base64-encoded). ` +
          `Fix: lower ${contextKey('maxBitrateKbps')} or ${contextKey('maxSegmentSeconds')} so that maxBitrateKbps × maxSegmentSeconds ≤ ${MAX_KBPS_SECONDS}`,
      );
    }
  }
  if (ok('domainName', 'domainCertificateArn')) {
    if (config.domainName !== undefined && config.domainCertificateArn === undefined) {
      issues.push(
        `${contextKey('domainName')}=${show(config.domainName)}: needs a certificate. Fix: also set ${contextKey('domainCertificateArn')} to an ACM certificate in us-east-1 that covers ${config.domainName}`,
      );
    }
    if (config.domainCertificateArn !== undefined && config.domainName === undefined) {
      issues.push(
        `${contextKey('domainCertificateArn')}=${show(config.domainCertificateArn)}: set without a domain. Fix: also set ${contextKey('domainName')}, or remove ${contextKey('domainCertificateArn')}`,
      );
    }
    const region = config.domainCertificateArn?.split(':')[3];
    if (region !== undefined && region !== 'us-east-1') {
      issues.push(
        `${contextKey('domainCertificateArn')}=${show(config.domainCertificateArn)}: the certificate is in ${region}, but CloudFront only uses ACM certificates from us-east-1. ` +
          `Fix: request or import the certificate in us-east-1 and use its ARN`,
      );
    }
  }

  if (ok('rtmpsCertificateArn', 'ingestDomainName')) {
    if (config.rtmpsCertificateArn !== undefined && config.ingestDomainName === undefined) {
      issues.push(
        `${contextKey('rtmpsCertificateArn')}=${show(config.rtmpsCertificateArn)}: needs the host name it covers (the NLB's own name cannot match a certificate). ` +
          `Fix: also set ${contextKey('ingestDomainName')} (e.g. ingest.example.com) and point it (CNAME) at the NLB`,
      );
    }
    if (config.ingestDomainName !== undefined && config.rtmpsCertificateArn === undefined) {
      issues.push(
        `${contextKey('ingestDomainName')}=${show(config.ingestDomainName)}: set without a certificate; it names the RTMPS host. ` +
          `Fix: also set ${contextKey('rtmpsCertificateArn')} to an ACM certificate in the stack's region that covers it, or remove it`,
      );
    }
  }
  const rtmpsRegion = config.rtmpsCertificateArn === undefined ? undefined : arnRegion(config.rtmpsCertificateArn);
  if (rtmpsRegion !== undefined && options.deployRegion !== undefined && rtmpsRegion !== options.deployRegion) {
    issues.push(
      `${contextKey('rtmpsCertificateArn')}=${show(config.rtmpsCertificateArn)}: the certificate is in ${rtmpsRegion}, but this deploy goes to ${options.deployRegion}; ` +
        `the NLB only uses certificates from its own region. Fix: request or import the certificate in ${options.deployRegion}, or deploy to ${rtmpsRegion}`,
    );
  }
  if (config.availabilityZones !== undefined && !r.failed.has('availabilityZones')) {
    const regions = [...new Set(config.availabilityZones.map(zoneRegion))];
    const [a, b] = config.availabilityZones;
    if (a === b || regions.length !== 1) {
      issues.push(
        `${contextKey('availabilityZones')}=${show(config.availabilityZones.join(','))}: not two different zones of one region. ` +
          `Fix: name two zones of the stack's region, such as ${regions[0] ?? 'eu-west-1'}a,${regions[0] ?? 'eu-west-1'}b`,
      );
    } else if (options.deployRegion !== undefined && regions[0] !== options.deployRegion) {
      issues.push(
        `${contextKey('availabilityZones')}=${show(config.availabilityZones.join(','))}: zones of ${regions[0]}, but this deploy goes to ${options.deployRegion}. ` +
          `Fix: name two zones of ${options.deployRegion}`,
      );
    }
  }
  if (config.wafRateLimit !== undefined && config.webAclArn !== undefined) {
    issues.push(
      `${contextKey('wafRateLimit')}=${config.wafRateLimit} with ${contextKey('webAclArn')}: a distribution has one web ACL. Fix: remove one of them`,
    );
  }
  if (config.wafRateLimit !== undefined && options.deployRegion !== undefined && options.deployRegion !== 'us-east-1') {
    issues.push(
      `${contextKey('wafRateLimit')}=${config.wafRateLimit}: a CloudFront web ACL can only be created in us-east-1, and this deploy goes to ${options.deployRegion}. ` +
        `Fix: create a web ACL (scope CLOUDFRONT) in us-east-1 and set ${contextKey('webAclArn')} to its ARN instead (docs/deploy.md, "WAF")`,
    );
  }
  if (options.deployRegion !== undefined && (FUNCTION_URL_UNSUPPORTED_REGIONS as readonly string[]).includes(options.deployRegion)) {
    issues.push(
      `region ${options.deployRegion}: Keyframe's origin is a Lambda function URL behind CloudFront, and ${options.deployRegion} has no function URLs. ` +
        `Fix: deploy to another region (docs/deploy.md, "Regions")`,
    );
  } else if (options.deployRegion !== undefined && !(COMMERCIAL_REGIONS as readonly string[]).includes(options.deployRegion)) {
    issues.push(`region ${options.deployRegion}: not a commercial AWS region Keyframe has been checked against (docs/deploy.md, "Regions")`);
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** `eu-west-1a` → `eu-west-1`. */
function zoneRegion(zone: string): string {
  return zone.slice(0, -1);
}

class Reader {
  readonly failed = new Set<ConfigKey>();
  constructor(
    private readonly given: ReadonlyMap<ConfigKey, unknown>,
    private readonly issues: string[],
  ) {}

  private fail<T>(key: ConfigKey, value: unknown, problem: string, fix: string): T {
    this.failed.add(key);
    this.issues.push(`${contextKey(key)}=${show(value)}: ${problem}. Fix: ${fix}`);
    return DEFAULT_CONFIG[key] as T;
  }

  integer(key: ConfigKey, min: number, max: number, why = ''): number {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as number;
    const fix = `set an integer from ${min} to ${max} (default ${show(DEFAULT_CONFIG[key])})${why}`;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!Number.isInteger(n)) return this.fail(key, value, 'not an integer', fix);
    if (n < min || n > max) return this.fail(key, value, `out of range`, fix);
    return n;
  }

  optionalInteger(key: ConfigKey, min: number, max: number, why = ''): number | undefined {
    if (this.given.get(key) === undefined) return DEFAULT_CONFIG[key] as number | undefined;
    return this.integer(key, min, max, why);
  }

  optionalOneOf<T extends string>(key: ConfigKey, allowed: readonly T[], problem: string, fix: string): T | undefined {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as T | undefined;
    const found = allowed.find((a) => a === (typeof value === 'string' ? value.trim() : value));
    return found ?? this.fail(key, value, problem, `use ${describeList(allowed)}: ${fix}`);
  }

  /** A comma-separated string (or a JSON array from cdk.json) of exactly `count` distinct items matching `pattern`. */
  optionalList(key: ConfigKey, pattern: RegExp, count: number, fix: string): readonly string[] | undefined {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as readonly string[] | undefined;
    const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',').map((v) => v.trim()) : [];
    const ok = items.length === count && items.every((v) => typeof v === 'string' && pattern.test(v)) && new Set(items).size === count;
    return ok ? (items as string[]) : this.fail(key, value, `not a list of ${count} distinct values`, fix);
  }

  /** A number from 0 to 1. */
  fraction(key: ConfigKey): number {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as number;
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
    if (Number.isFinite(n) && n >= 0 && n <= 1) return n;
    return this.fail(key, value, 'not a number from 0 to 1', `set a share from 0 to 1, e.g. 0.05 (default ${show(DEFAULT_CONFIG[key])})`);
  }

  boolean(key: ConfigKey): boolean {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as boolean;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return this.fail(key, value, 'not a boolean', `set true or false (default ${show(DEFAULT_CONFIG[key])})`);
  }

  oneOf<T extends string | number>(key: ConfigKey, allowed: readonly T[]): T {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as T;
    const found = allowed.find((a) => a === value || String(a) === String(value).trim());
    if (found === undefined) {
      return this.fail(key, value, 'not an allowed value', `use ${describeList(allowed)} (default ${show(DEFAULT_CONFIG[key])})`);
    }
    return found;
  }

  match(key: ConfigKey, pattern: RegExp, problem: string, fix: string): string {
    return this.optionalMatch(key, pattern, problem, fix) ?? (DEFAULT_CONFIG[key] as string);
  }

  optionalMatch(key: ConfigKey, pattern: RegExp, problem: string, fix: string): string | undefined {
    const value = this.given.get(key);
    if (value === undefined) return DEFAULT_CONFIG[key] as string | undefined;
    if (typeof value !== 'string' || !pattern.test(value)) return this.fail(key, value, problem, fix);
    return value;
  }

  optionalCertificateArn(key: ConfigKey, fix: string): string | undefined {
    return this.optionalMatch(key, /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/, 'not an ACM certificate ARN', fix);
  }
}

function range(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
}

function describeList(values: readonly (string | number)[]): string {
  const step = Number(values[1]) - Number(values[0]);
  const arithmetic = values.every((v, i) => typeof v === 'number' && (i === 0 || v - Number(values[i - 1]) === step));
  if (values.length > 8 && arithmetic) return `${values[0]} to ${values[values.length - 1]} in steps of ${step}`;
  return `one of ${values.join(', ')}`;
}

/** `256 CPU: 512, 1024, 2048 MiB; 512 CPU: 1024 to 4096 in steps of 1024 MiB; …`, for errors. */
function describeFargateSizes(): string {
  return Object.entries(FARGATE_SIZES)
    .map(([cpu, memory]) => `${cpu} CPU: ${describeList(memory).replace(/^one of /, '')} MiB`)
    .join('; ');
}

function show(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

function mb(bytes: number): string {
  return (bytes / 1_000_000).toFixed(1);
}

function suggest(key: string): string {
  const lower = key.toLowerCase();
  const close = CONFIG_KEYS.filter((k) => distance(k.toLowerCase(), lower) <= 3);
  if (close.length > 0) return `did you mean ${close.map(contextKey).join(' or ')}?`;
  return `remove it; known keys are ${CONFIG_KEYS.map(contextKey).join(', ')}`;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length];
}

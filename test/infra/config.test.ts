import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_CONFIG,
  ingestEphemeralStorageGiB,
  ingestTaskSize,
  ladderCpuBudgetVcpu,
  largestSegmentBytes,
  loadConfig,
  MAX_KBPS_SECONDS,
  ORIGIN_MAX_SEGMENT_BYTES,
  playlistMaxTtlSeconds,
  recordingSpoolMiB,
  resolveIngestArchitecture,
  scalingTargetLoad,
  taskLoadCapacity,
} from '../../infra/config';
import { CACHE_LL_PLAYLIST, CACHE_MULTIVARIANT, playlistCacheControl } from '../../core/hls/cache-control';
import { loadUnitsOfVcpu } from '../../core/metrics';
import { FUNCTION_URL_UNSUPPORTED_REGIONS, ORIGIN_SHIELD_REGIONS, SUPPORTED_REGIONS } from '../../infra/regions';

const CERT_US_EAST_1 = 'arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const CERT_EU_WEST_1 = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

function issuesOf(context: Record<string, unknown>, deployRegion?: string): readonly string[] {
  try {
    loadConfig(context, { deployRegion });
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(context)} to be rejected`);
}

describe('loadConfig', () => {
  it('gives the documented defaults with no context at all', () => {
    expect(loadConfig({})).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toMatchObject({
      segmentSeconds: 1,
      playlistSize: 6,
      drainSeconds: 110,
      priceClass: 'PriceClass_100',
      tableRemovalPolicy: 'retain',
      natGateways: 1,
      maxBitrateKbps: 8000,
    });
    expect(DEFAULT_CONFIG.originShieldRegion).toBeUndefined();
  });

  it('ignores CDK context that is not its own (feature flags, CLI settings)', () => {
    expect(loadConfig({ '@aws-cdk/core:enableTelemetry': false, 'cli-telemetry': false, 'aws:cdk:bundling-stacks': ['*'] })).toEqual(DEFAULT_CONFIG);
  });

  it('reads -c strings and cdk.json values alike', () => {
    const fromFlags = loadConfig({
      'keyframe:segmentSeconds': '2',
      'keyframe:minTasks': '2',
      'keyframe:maxTasks': '5',
      'keyframe:cdnAccessLogs': 'true',
      'keyframe:logRetentionDays': '90',
      'keyframe:ingestCpu': '2048',
      'keyframe:ingestMemoryMiB': '4096',
    });
    const fromJson = loadConfig({
      'keyframe:segmentSeconds': 2,
      'keyframe:minTasks': 2,
      'keyframe:maxTasks': 5,
      'keyframe:cdnAccessLogs': true,
      'keyframe:logRetentionDays': 90,
      'keyframe:ingestCpu': 2048,
      'keyframe:ingestMemoryMiB': 4096,
    });
    expect(fromFlags).toEqual(fromJson);
    expect(fromFlags).toMatchObject({ segmentSeconds: 2, minTasks: 2, maxTasks: 5, cdnAccessLogs: true, logRetentionDays: 90 });
  });

  it('accepts a custom domain with a us-east-1 certificate, RTMPS and Origin Shield', () => {
    const config = loadConfig(
      {
        'keyframe:domainName': 'live.example.com',
        'keyframe:domainCertificateArn': CERT_US_EAST_1,
        'keyframe:rtmpsCertificateArn': CERT_EU_WEST_1,
        'keyframe:ingestDomainName': 'ingest.example.com',
        'keyframe:originShieldRegion': 'eu-west-1',
      },
      { deployRegion: 'eu-west-1' },
    );
    expect(config).toMatchObject({
      domainName: 'live.example.com',
      domainCertificateArn: CERT_US_EAST_1,
      rtmpsCertificateArn: CERT_EU_WEST_1,
      ingestDomainName: 'ingest.example.com',
      originShieldRegion: 'eu-west-1',
    });
  });

  it('treats an empty optional value as unset', () => {
    expect(loadConfig({ 'keyframe:originShieldRegion': '' }).originShieldRegion).toBeUndefined();
  });

  // Each bad input → its exact message: the key, the bad value, and the fix.
  const badInputs: Array<[string, Record<string, unknown>, string]> = [
    [
      'segment duration below the minimum',
      { 'keyframe:segmentSeconds': '0' },
      'keyframe:segmentSeconds="0": out of range. Fix: set an integer from 1 to 10 (default 1)',
    ],
    [
      'segment duration that is not a number',
      { 'keyframe:segmentSeconds': 'abc' },
      'keyframe:segmentSeconds="abc": not an integer. Fix: set an integer from 1 to 10 (default 1)',
    ],
    [
      'fractional segment duration',
      { 'keyframe:segmentSeconds': 1.5 },
      'keyframe:segmentSeconds=1.5: not an integer. Fix: set an integer from 1 to 10 (default 1)',
    ],
    [
      'playlist too short for a player to start',
      { 'keyframe:playlistSize': 2 },
      'keyframe:playlistSize=2: out of range. Fix: set an integer from 3 to 60 (default 6)',
    ],
    ['a typo in a key', { 'keyframe:segmentSecs': '2' }, 'keyframe:segmentSecs="2": unknown config key. Fix: did you mean keyframe:segmentSeconds?'],
    [
      'a known key without its prefix',
      { segmentSeconds: 2 },
      'segmentSeconds=2: Keyframe config keys are prefixed. Fix: use keyframe:segmentSeconds (e.g. -c keyframe:segmentSeconds=...)',
    ],
    [
      'an unknown key',
      { 'keyframe:colour': 'blue' },
      'keyframe:colour="blue": unknown config key. Fix: remove it; known keys are keyframe:stackName, keyframe:segmentSeconds, ' +
        'keyframe:playlistSize, keyframe:maxSegmentSeconds, keyframe:maxBitrateKbps, keyframe:ingestCpu, keyframe:ingestMemoryMiB, ' +
        'keyframe:ingestArchitecture, keyframe:minTasks, keyframe:maxTasks, keyframe:streamsPerTask, keyframe:ladders, keyframe:ladderTaskCpu, keyframe:ladderTaskMemoryMiB, keyframe:targetLoadPerTask, keyframe:drainSeconds, keyframe:natGateways, ' +
        'keyframe:rtmpsCertificateArn, keyframe:ingestDomainName, keyframe:availabilityZones, keyframe:ecsExec, ' +
        'keyframe:originLogSampleRate, keyframe:taskEventsReservedConcurrency, keyframe:lambdaConcurrencyQuota, keyframe:wafRateLimit, keyframe:webAclArn, ' +
        'keyframe:domainName, keyframe:domainCertificateArn, keyframe:originShieldRegion, ' +
        'keyframe:priceClass, keyframe:logRetentionDays, keyframe:tableRemovalPolicy, keyframe:tableDeletionProtection, ' +
        'keyframe:cdnAccessLogs, keyframe:alarmEmail, keyframe:recordingRetentionDays, keyframe:recordingSpoolGiB',
    ],
    [
      'a recording retention of zero days',
      { 'keyframe:recordingRetentionDays': 0 },
      'keyframe:recordingRetentionDays=0: out of range. Fix: set an integer from 1 to 3650 (default 30); recordings older than this are deleted from the bucket',
    ],
    [
      'a recording retention that is not a whole number of days',
      { 'keyframe:recordingRetentionDays': '7.5' },
      'keyframe:recordingRetentionDays="7.5": not an integer. Fix: set an integer from 1 to 3650 (default 30); recordings older than this are deleted from the bucket',
    ],
    [
      'a recording spool larger than Fargate storage',
      { 'keyframe:recordingSpoolGiB': 197 },
      "keyframe:recordingSpoolGiB=197: out of range. Fix: set an integer from 1 to 196 (default 8); the task's ephemeral storage is this + 4 GiB, and Fargate allows at most 200",
    ],
    [
      'a Fargate CPU size that does not exist',
      { 'keyframe:ingestCpu': 300 },
      'keyframe:ingestCpu=300: not an allowed value. Fix: use one of 256, 512, 1024, 2048, 4096, 8192, 16384 (default 1024)',
    ],
    [
      'memory that does not fit the default CPU',
      { 'keyframe:ingestMemoryMiB': 1024 },
      'keyframe:ingestMemoryMiB=1024: not a Fargate size with keyframe:ingestCpu=1024. Fix: use one of 2048, 3072, 4096, 5120, 6144, 7168, 8192, or change keyframe:ingestCpu',
    ],
    [
      'memory that does not fit a large CPU',
      { 'keyframe:ingestCpu': 4096, 'keyframe:ingestMemoryMiB': 4096 },
      'keyframe:ingestMemoryMiB=4096: not a Fargate size with keyframe:ingestCpu=4096. Fix: use 8192 to 30720 in steps of 1024, or change keyframe:ingestCpu',
    ],
    [
      'an unknown architecture',
      { 'keyframe:ingestArchitecture': 'arm' },
      'keyframe:ingestArchitecture="arm": not an allowed value. Fix: use one of host, arm64, x86_64 (default "host")',
    ],
    ['no ingest task at all', { 'keyframe:minTasks': 0 }, 'keyframe:minTasks=0: out of range. Fix: set an integer from 1 to 100 (default 1)'],
    [
      'maximum below minimum',
      { 'keyframe:minTasks': 3, 'keyframe:maxTasks': 2 },
      'keyframe:maxTasks=2: below keyframe:minTasks=3. Fix: set keyframe:maxTasks to at least 3',
    ],
    [
      'a drain longer than Fargate lets a task stop',
      { 'keyframe:drainSeconds': 111 },
      "keyframe:drainSeconds=111: out of range. Fix: set an integer from 0 to 110 (default 110); the task's stopTimeout is drainSeconds + 10 and Fargate allows at most 120 s",
    ],
    [
      'no NAT gateway',
      { 'keyframe:natGateways': 0 },
      'keyframe:natGateways=0: out of range. Fix: set an integer from 1 to 2 (default 1); the ingest tasks pull their image and reach AWS APIs through NAT, and 2 gives one per AZ',
    ],
    [
      'a bitrate whose segments exceed the buffered response',
      { 'keyframe:maxBitrateKbps': 10000 },
      'keyframe:maxBitrateKbps=10000 with keyframe:maxSegmentSeconds=4: a segment could reach 5.5 MB, above the 4.4 MB the origin can return ' +
        '(a buffered function-URL response is at most 6 MB, base64-encoded). ' +
        'Fix: lower keyframe:maxBitrateKbps or keyframe:maxSegmentSeconds so that maxBitrateKbps × maxSegmentSeconds ≤ 32000',
    ],
    [
      'a keyframe interval whose segments exceed the buffered response',
      { 'keyframe:maxSegmentSeconds': 8 },
      'keyframe:maxBitrateKbps=8000 with keyframe:maxSegmentSeconds=8: a segment could reach 8.8 MB, above the 4.4 MB the origin can return ' +
        '(a buffered function-URL response is at most 6 MB, base64-encoded). ' +
        'Fix: lower keyframe:maxBitrateKbps or keyframe:maxSegmentSeconds so that maxBitrateKbps × maxSegmentSeconds ≤ 32000',
    ],
    [
      'a longest segment shorter than the target',
      { 'keyframe:segmentSeconds': 4, 'keyframe:maxSegmentSeconds': 2 },
      'keyframe:maxSegmentSeconds=2: below keyframe:segmentSeconds=4; no segment is shorter than the target. Fix: set keyframe:maxSegmentSeconds to at least 4',
    ],
    [
      'a domain without a certificate',
      { 'keyframe:domainName': 'live.example.com' },
      'keyframe:domainName="live.example.com": needs a certificate. Fix: also set keyframe:domainCertificateArn to an ACM certificate in us-east-1 that covers live.example.com',
    ],
    [
      'a certificate without a domain',
      { 'keyframe:domainCertificateArn': CERT_US_EAST_1 },
      `keyframe:domainCertificateArn="${CERT_US_EAST_1}": set without a domain. Fix: also set keyframe:domainName, or remove keyframe:domainCertificateArn`,
    ],
    [
      'a CloudFront certificate outside us-east-1',
      { 'keyframe:domainName': 'live.example.com', 'keyframe:domainCertificateArn': CERT_EU_WEST_1 },
      `keyframe:domainCertificateArn="${CERT_EU_WEST_1}": the certificate is in eu-west-1, but CloudFront only uses ACM certificates from us-east-1. ` +
        'Fix: request or import the certificate in us-east-1 and use its ARN',
    ],
    [
      'a domain that is not a DNS name',
      { 'keyframe:domainName': 'https://live.example.com', 'keyframe:domainCertificateArn': CERT_US_EAST_1 },
      'keyframe:domainName="https://live.example.com": not a domain name. Fix: set a lower-case DNS name such as live.example.com',
    ],
    [
      'an RTMPS certificate that is not an ARN',
      { 'keyframe:rtmpsCertificateArn': 'my-cert' },
      'keyframe:rtmpsCertificateArn="my-cert": not an ACM certificate ARN. Fix: set the ARN of an ACM certificate in the stack\'s region, like arn:aws:acm:eu-west-1:123456789012:certificate/<id>',
    ],
    [
      'an Origin Shield region that is not a region',
      { 'keyframe:originShieldRegion': 'Europe' },
      `keyframe:originShieldRegion="Europe": not a region with an Origin Shield. Fix: use one of ${ORIGIN_SHIELD_REGIONS.join(', ')}: ` +
        "pick the one nearest the stack's region; or remove it to turn Origin Shield off",
    ],
    [
      'an Origin Shield region that has none',
      { 'keyframe:originShieldRegion': 'eu-west-3' },
      `keyframe:originShieldRegion="eu-west-3": not a region with an Origin Shield. Fix: use one of ${ORIGIN_SHIELD_REGIONS.join(', ')}: ` +
        "pick the one nearest the stack's region; or remove it to turn Origin Shield off",
    ],
    [
      'an RTMPS certificate without the host name it covers',
      { 'keyframe:rtmpsCertificateArn': CERT_EU_WEST_1 },
      `keyframe:rtmpsCertificateArn="${CERT_EU_WEST_1}": needs the host name it covers (the NLB's own name cannot match a certificate). ` +
        'Fix: also set keyframe:ingestDomainName (e.g. ingest.example.com) and point it (CNAME) at the NLB',
    ],
    [
      'an ingest domain without a certificate',
      { 'keyframe:ingestDomainName': 'ingest.example.com' },
      'keyframe:ingestDomainName="ingest.example.com": set without a certificate; it names the RTMPS host. ' +
        "Fix: also set keyframe:rtmpsCertificateArn to an ACM certificate in the stack's region that covers it, or remove it",
    ],
    [
      'availability zones that are not two zones',
      { 'keyframe:availabilityZones': 'eu-west-1a' },
      'keyframe:availabilityZones="eu-west-1a": not a list of 2 distinct values. ' +
        "Fix: set two availability zones of the stack's region where Fargate runs, such as eu-west-1a,eu-west-1b",
    ],
    [
      'availability zones of two regions',
      { 'keyframe:availabilityZones': ['eu-west-1a', 'eu-west-2b'] },
      'keyframe:availabilityZones="eu-west-1a,eu-west-2b": not two different zones of one region. Fix: name two zones of the stack\'s region, such as eu-west-1a,eu-west-1b',
    ],
    [
      'a WAF rate limit below what WAF allows',
      { 'keyframe:wafRateLimit': 5 },
      'keyframe:wafRateLimit=5: out of range. Fix: set an integer from 10 to 2000000000 (default undefined); requests per client IP per 5 minutes',
    ],
    [
      'a WAF rate limit and a web ACL together',
      {
        'keyframe:wafRateLimit': 2000,
        'keyframe:webAclArn': 'arn:aws:wafv2:us-east-1:123456789012:global/webacl/kf/11111111-2222-3333-4444-555555555555',
      },
      'keyframe:wafRateLimit=2000 with keyframe:webAclArn: a distribution has one web ACL. Fix: remove one of them',
    ],
    [
      'a regional web ACL',
      { 'keyframe:webAclArn': 'arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/kf/11111111-2222-3333-4444-555555555555' },
      'keyframe:webAclArn="arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/kf/11111111-2222-3333-4444-555555555555": not the ARN of a CLOUDFRONT-scope web ACL. ' +
        'Fix: set the ARN of a web ACL created with scope CLOUDFRONT in us-east-1, like arn:aws:wafv2:us-east-1:123456789012:global/webacl/<name>/<id>',
    ],
    [
      'more reserved concurrency than the check allows',
      { 'keyframe:taskEventsReservedConcurrency': 101 },
      'keyframe:taskEventsReservedConcurrency=101: out of range. Fix: set an integer from 0 to 100 (default 5); 0 turns it off ' +
        '(an account whose Lambda concurrency quota is below 100 + this value cannot reserve any: npx keyframe doctor)',
    ],
    [
      'an unknown price class',
      { 'keyframe:priceClass': 'PriceClass_300' },
      'keyframe:priceClass="PriceClass_300": not an allowed value. Fix: use one of PriceClass_100, PriceClass_200, PriceClass_All (default "PriceClass_100")',
    ],
    [
      'a retention CloudWatch does not offer',
      { 'keyframe:logRetentionDays': 10 },
      'keyframe:logRetentionDays=10: not an allowed value. Fix: use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (default 30)',
    ],
    [
      'a removal policy DynamoDB does not support',
      { 'keyframe:tableRemovalPolicy': 'snapshot' },
      'keyframe:tableRemovalPolicy="snapshot": not an allowed value. Fix: use one of retain, destroy (default "retain")',
    ],
    [
      'a boolean spelled another way',
      { 'keyframe:tableDeletionProtection': 'yes' },
      'keyframe:tableDeletionProtection="yes": not a boolean. Fix: set true or false (default false)',
    ],
    [
      'a stack name CloudFormation refuses',
      { 'keyframe:stackName': '1abc' },
      'keyframe:stackName="1abc": not a CloudFormation stack name. Fix: start with a letter, then use letters, digits or hyphens (at most 128 characters)',
    ],
    [
      'an alarm email that is not one',
      { 'keyframe:alarmEmail': 'ops' },
      'keyframe:alarmEmail="ops": not an email address. Fix: set an address such as ops@example.com, or remove it',
    ],
  ];

  it.each(badInputs)('rejects %s', (_name, context, message) => {
    expect(issuesOf(context)).toEqual([message]);
  });

  it('reports every problem at once, one line each', () => {
    const err = (() => {
      try {
        loadConfig({ 'keyframe:segmentSeconds': 0, 'keyframe:priceClass': 'cheap' });
      } catch (e) {
        return e as ConfigError;
      }
      throw new Error('expected a ConfigError');
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues).toHaveLength(2);
    expect(err.message).toBe(err.issues.join('\n'));
  });
});

describe('region rules at synth (when the CLI knows the deploy region)', () => {
  it('refuses an RTMPS certificate of another region', () => {
    expect(issuesOf({ 'keyframe:rtmpsCertificateArn': CERT_EU_WEST_1, 'keyframe:ingestDomainName': 'ingest.example.com' }, 'us-east-2')).toEqual([
      `keyframe:rtmpsCertificateArn="${CERT_EU_WEST_1}": the certificate is in eu-west-1, but this deploy goes to us-east-2; ` +
        'the NLB only uses certificates from its own region. Fix: request or import the certificate in us-east-2, or deploy to eu-west-1',
    ]);
  });

  it('refuses availability zones of another region', () => {
    expect(issuesOf({ 'keyframe:availabilityZones': 'eu-west-1a,eu-west-1b' }, 'us-east-1')).toEqual([
      'keyframe:availabilityZones="eu-west-1a,eu-west-1b": zones of eu-west-1, but this deploy goes to us-east-1. Fix: name two zones of us-east-1',
    ]);
    expect(loadConfig({ 'keyframe:availabilityZones': 'eu-west-1a,eu-west-1c' }, { deployRegion: 'eu-west-1' }).availabilityZones).toEqual([
      'eu-west-1a',
      'eu-west-1c',
    ]);
  });

  it('refuses a WAF web ACL outside us-east-1, and names the way out', () => {
    expect(issuesOf({ 'keyframe:wafRateLimit': 2000 }, 'eu-west-1')).toEqual([
      'keyframe:wafRateLimit=2000: a CloudFront web ACL can only be created in us-east-1, and this deploy goes to eu-west-1. ' +
        'Fix: create a web ACL (scope CLOUDFRONT) in us-east-1 and set keyframe:webAclArn to its ARN instead (docs/deploy.md, "WAF")',
    ]);
    expect(loadConfig({ 'keyframe:wafRateLimit': '2000' }, { deployRegion: 'us-east-1' }).wafRateLimit).toBe(2000);
  });

  it.each([...FUNCTION_URL_UNSUPPORTED_REGIONS])('refuses %s, which has no function URLs', (region) => {
    expect(issuesOf({}, region)).toEqual([
      `region ${region}: Keyframe's origin is a Lambda function URL behind CloudFront, and ${region} has no function URLs. ` +
        'Fix: deploy to another region (docs/deploy.md, "Regions")',
    ]);
  });

  it('accepts every other commercial region, and unknown deploy regions only with a warning line', () => {
    for (const region of SUPPORTED_REGIONS) expect(loadConfig({}, { deployRegion: region })).toEqual(DEFAULT_CONFIG);
    expect(issuesOf({}, 'xx-moon-1')).toEqual([
      'region xx-moon-1: not a commercial AWS region Keyframe has been checked against (docs/deploy.md, "Regions")',
    ]);
  });
});

describe('resolveIngestArchitecture', () => {
  it('builds for the host by default, and keeps an explicit choice', () => {
    expect(DEFAULT_CONFIG.ingestArchitecture).toBe('host');
    expect(resolveIngestArchitecture('host', 'arm64')).toBe('arm64');
    expect(resolveIngestArchitecture('host', 'x64')).toBe('x86_64');
    expect(resolveIngestArchitecture('arm64', 'x64')).toBe('arm64');
    expect(resolveIngestArchitecture('x86_64', 'arm64')).toBe('x86_64');
  });
});

describe('the segment size rule', () => {
  it('lets the defaults through, exactly at the limit', () => {
    expect(largestSegmentBytes(DEFAULT_CONFIG.maxBitrateKbps, DEFAULT_CONFIG.maxSegmentSeconds)).toBe(ORIGIN_MAX_SEGMENT_BYTES);
    expect(MAX_KBPS_SECONDS).toBe(32_000);
  });

  it('counts MPEG-TS overhead on top of the bitrate', () => {
    // 6000 kbit/s for 2 s is 1.5 MB of media; in MPEG-TS about 1.65 MB.
    expect(largestSegmentBytes(6000, 2)).toBe(1_650_000);
  });
});

describe('playlistMaxTtlSeconds', () => {
  it.each([
    [1, 2],
    [2, 2],
    [3, 2],
    [4, 2],
    [6, 3],
    [10, 5],
  ])('segmentSeconds %i → at most %i s', (segmentSeconds, ttl) => {
    expect(playlistMaxTtlSeconds({ segmentSeconds })).toBe(ttl);
  });

  it("never cuts a playlist type's own max-age short: multivariant 2 s, LL-HLS 1 s, media half a segment", () => {
    const maxAge = (cacheControl: string) => Number(/max-age=(\d+)/.exec(cacheControl)?.[1]);
    for (const segmentSeconds of [1, 2, 4, 6, 10]) {
      const ttl = playlistMaxTtlSeconds({ segmentSeconds });
      const media = `#EXTM3U\n#EXT-X-TARGETDURATION:${segmentSeconds}\n`;
      expect(ttl).toBeGreaterThanOrEqual(maxAge(CACHE_MULTIVARIANT));
      expect(ttl).toBeGreaterThanOrEqual(maxAge(CACHE_LL_PLAYLIST));
      expect(ttl).toBeGreaterThanOrEqual(maxAge(playlistCacheControl(media, segmentSeconds)));
      // And no longer than the longest of them.
      expect(ttl).toBe(Math.max(maxAge(CACHE_MULTIVARIANT), maxAge(playlistCacheControl(media, segmentSeconds))));
    }
  });
});

describe('quality ladders', () => {
  it('are off by default: the task keeps its passthrough size, no budget, the scaling target is streamsPerTask', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ ladders: false, ladderTaskCpu: 4096, ladderTaskMemoryMiB: 8192, targetLoadPerTask: undefined });
    expect(ingestTaskSize(config)).toEqual({ cpu: 1024, memoryMiB: 2048 });
    expect(ladderCpuBudgetVcpu(config)).toBe(0);
    expect(scalingTargetLoad(config)).toBe(20);
    // Ladder sizes set while ladders are off change nothing (they are still checked).
    const sized = loadConfig({ 'keyframe:ladderTaskCpu': '8192', 'keyframe:ladderTaskMemoryMiB': '16384' });
    expect(ingestTaskSize(sized)).toEqual({ cpu: 1024, memoryMiB: 2048 });
  });

  it('on: the ladder task size, three quarters of its vCPU as the budget, and 60 load units per vCPU as the target', () => {
    const config = loadConfig({ 'keyframe:ladders': 'true' });
    expect(ingestTaskSize(config)).toEqual({ cpu: 4096, memoryMiB: 8192 });
    expect(ladderCpuBudgetVcpu(config)).toBe(3);
    expect(scalingTargetLoad(config)).toBe(240);
    expect(taskLoadCapacity(4096)).toBe(400);
    const big = loadConfig({ 'keyframe:ladders': true, 'keyframe:ladderTaskCpu': 8192, 'keyframe:ladderTaskMemoryMiB': 16384 });
    expect(ingestTaskSize(big)).toEqual({ cpu: 8192, memoryMiB: 16384 });
    expect(ladderCpuBudgetVcpu(big)).toBe(6);
    expect(scalingTargetLoad(big)).toBe(480);
  });

  it('take an explicit load target, in load units, with ladders on or off', () => {
    expect(scalingTargetLoad(loadConfig({ 'keyframe:ladders': 'true', 'keyframe:targetLoadPerTask': '300' }))).toBe(300);
    expect(scalingTargetLoad(loadConfig({ 'keyframe:targetLoadPerTask': 40 }))).toBe(40);
  });

  it('count load in units of 0.01 vCPU, rounded up', () => {
    expect(loadUnitsOfVcpu(1.5)).toBe(150);
    expect(loadUnitsOfVcpu(0.07)).toBe(7);
    expect(loadUnitsOfVcpu(0.071)).toBe(8);
    expect(loadUnitsOfVcpu(0)).toBe(0);
    expect(loadUnitsOfVcpu(Number.NaN)).toBe(0);
  });

  const ALL_SIZES =
    '256 CPU: 512, 1024, 2048 MiB; 512 CPU: 1024, 2048, 3072, 4096 MiB; 1024 CPU: 2048, 3072, 4096, 5120, 6144, 7168, 8192 MiB; ' +
    '2048 CPU: 4096 to 16384 in steps of 1024 MiB; 4096 CPU: 8192 to 30720 in steps of 1024 MiB; ' +
    '8192 CPU: 16384 to 61440 in steps of 4096 MiB; 16384 CPU: 32768 to 122880 in steps of 8192 MiB';
  const bad: Array<[string, Record<string, unknown>, string]> = [
    ['ladders spelled another way', { 'keyframe:ladders': 'on' }, 'keyframe:ladders="on": not a boolean. Fix: set true or false (default false)'],
    [
      'a ladder CPU Fargate does not have',
      { 'keyframe:ladderTaskCpu': 3072 },
      'keyframe:ladderTaskCpu=3072: not an allowed value. Fix: use one of 256, 512, 1024, 2048, 4096, 8192, 16384 (default 4096)',
    ],
    [
      'ladder memory that does not fit the ladder CPU',
      { 'keyframe:ladders': true, 'keyframe:ladderTaskMemoryMiB': 4096 },
      'keyframe:ladderTaskMemoryMiB=4096: not a Fargate size with keyframe:ladderTaskCpu=4096. ' +
        `Fix: use 8192 to 30720 in steps of 1024, or change keyframe:ladderTaskCpu (Fargate sizes: ${ALL_SIZES})`,
    ],
    [
      'ladder memory off the 8 GiB steps of 8 vCPU',
      { 'keyframe:ladderTaskCpu': 16384, 'keyframe:ladderTaskMemoryMiB': 40000 },
      'keyframe:ladderTaskMemoryMiB=40000: not a Fargate size with keyframe:ladderTaskCpu=16384. ' +
        `Fix: use 32768 to 122880 in steps of 8192, or change keyframe:ladderTaskCpu (Fargate sizes: ${ALL_SIZES})`,
    ],
    [
      'a ladder task smaller than the passthrough task',
      { 'keyframe:ladders': true, 'keyframe:ingestCpu': 8192, 'keyframe:ingestMemoryMiB': 16384, 'keyframe:ladderTaskMemoryMiB': 16384 },
      'keyframe:ladderTaskCpu=4096: below keyframe:ingestCpu=8192; a task that transcodes needs more CPU than one that only copies. Fix: set keyframe:ladderTaskCpu to at least 8192',
    ],
    [
      'ladder memory below the passthrough memory',
      { 'keyframe:ladders': true, 'keyframe:ingestCpu': 2048, 'keyframe:ingestMemoryMiB': 12288 },
      'keyframe:ladderTaskMemoryMiB=8192: below keyframe:ingestMemoryMiB=12288. Fix: set keyframe:ladderTaskMemoryMiB to at least 12288',
    ],
    [
      'a stream count as the target of a load-counting policy',
      { 'keyframe:ladders': true, 'keyframe:streamsPerTask': 30 },
      'keyframe:streamsPerTask=30: counts streams, but with keyframe:ladders=true the scaling counts load units (a ladder costs many). ' +
        'Fix: set keyframe:targetLoadPerTask instead (docs/deploy.md, "Quality ladders")',
    ],
    [
      'two targets for one policy',
      { 'keyframe:streamsPerTask': 30, 'keyframe:targetLoadPerTask': 30 },
      'keyframe:streamsPerTask=30 with keyframe:targetLoadPerTask=30: two targets for one scaling policy. Fix: remove keyframe:streamsPerTask (a passthrough stream is one load unit)',
    ],
    [
      'a load target the ladder task cannot hold',
      { 'keyframe:ladders': true, 'keyframe:targetLoadPerTask': 500 },
      'keyframe:targetLoadPerTask=500: above what a task of keyframe:ladderTaskCpu=4096 can hold (400 load units, 100 per vCPU); ' +
        'the load policy would never scale out. Fix: set at most 400 (240 plans at 60 %), or raise keyframe:ladderTaskCpu',
    ],
    [
      'a load target the passthrough task cannot hold',
      { 'keyframe:targetLoadPerTask': 101 },
      'keyframe:targetLoadPerTask=101: above what a task of keyframe:ingestCpu=1024 can hold (100 load units, 100 per vCPU); ' +
        'the load policy would never scale out. Fix: set at most 100 (20 plans at 60 %), or raise keyframe:ingestCpu',
    ],
    [
      'a load target of zero',
      { 'keyframe:targetLoadPerTask': 0 },
      'keyframe:targetLoadPerTask=0: out of range. Fix: set an integer from 1 to 1600 (default undefined); load units per task (a passthrough stream is 1, a ladder its CPU at 100 units per vCPU)',
    ],
  ];
  it.each(bad)('rejects %s', (_name, context, message) => {
    expect(issuesOf(context)).toEqual([message]);
  });
});

describe('recording settings', () => {
  it('default to 30 days of retention and an 8 GiB spool that fits the included 20 GiB of task storage', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ recordingRetentionDays: 30, recordingSpoolGiB: 8 });
    expect(ingestEphemeralStorageGiB(config)).toBeUndefined();
    expect(recordingSpoolMiB(config)).toBe(8192);
  });

  it('read from context, flags as strings', () => {
    expect(loadConfig({ 'keyframe:recordingRetentionDays': '7', 'keyframe:recordingSpoolGiB': 50 })).toMatchObject({
      recordingRetentionDays: 7,
      recordingSpoolGiB: 50,
    });
  });

  it.each([
    [1, undefined],
    [16, undefined],
    [17, 21],
    [50, 54],
    [196, 200],
  ])('a %i GiB spool → ephemeral storage %s GiB (spool + 4 GiB headroom, at least 21 once set)', (spool, storage) => {
    expect(ingestEphemeralStorageGiB({ recordingSpoolGiB: spool })).toBe(storage);
    expect(recordingSpoolMiB({ recordingSpoolGiB: spool })).toBe(spool * 1024);
  });
});

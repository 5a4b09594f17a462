/**
 * Keyframe's monthly AWS cost, from list prices (us-east-1, on-demand, no free tier unless asked), for S
 * streams live H hours a month with V concurrent viewers in total. Pure arithmetic: test/bench/cost-model.test.ts
 * checks it; bench/cost-model.ts prints it.
 *
 * Traffic model:
 * - Viewers: each player fetches the media playlist once per target duration and every segment once, so
 *   2 requests per segment duration per viewer; egress = viewers × delivered bitrate.
 * - CloudFront → origin: a regional edge cache (REC) that has viewers of a stream asks the origin for the
 *   playlist at most once per playlist TTL and for each segment once (segments are immutable). A stream's
 *   viewers reach min(viewers of the stream, RECs) RECs. With Origin Shield, the RECs ask the shield and only
 *   the shield asks the origin: one playlist per TTL and one fetch per segment, per stream. Either way origin
 *   invocations grow with streams × caches, never with viewers (once every REC has a viewer).
 * - The origin Lambda: one invocation per origin request; GB-s = invocations × billed ms × memory. Route
 *   reads: at most one per second per warm instance per stream (the ~1 s route cache); warm instances from
 *   Little's law on the origin's request rate.
 * - Ingest: tasks = max(minimum, ceil(streams / streams per task)); the minimum runs all month, the rest
 *   while streams are live. Streams per task from the density benchmark's CPU per stream.
 * - NLB: hourly all month, NLCU-hours while live (processed bytes dominate: 1 NLCU = 1 GB/hour for TCP).
 * - DynamoDB: a heartbeat every 5 s per stream (an update of the route item, which is also in the GSI:
 *   2 WRU), route reads (eventually consistent GetItem: 0.5 RRU).
 * - NAT gateway: hourly all month, plus what goes through it (logs and metrics; DynamoDB and S3 use free
 *   gateway endpoints). Public IPv4 addresses: the NAT gateway's and one per NLB AZ.
 * - CloudWatch Logs: one origin log line, one EMF blob and Lambda's own START/END/REPORT lines per invocation.
 * - Inter-AZ: the origin fetches from a task in the other AZ half the time ($0.01/GB each way).
 */

export const GiB = 2 ** 30;
export const HOURS_PER_MONTH = 730;

/** A list price with where it comes from. */
export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
}

export const PRICES_AS_OF = '2026-11-20';

/**
 * us-east-1 list prices. Sources are the AWS pricing pages named; checked against the stored copies of those
 * pages and 2025–2026 third-party snapshots on PRICES_AS_OF (the pages could not be fetched live from the
 * benchmark machine). Re-check before relying on them.
 */
export const PRICES = {
  cloudfrontEgressTiers: {
    // Per GB, United States/Mexico/Canada and Europe/Israel (PriceClass_100), monthly volume tiers.
    tiers: [
      { upToGiB: 10 * 1024, usd: 0.085 },
      { upToGiB: 50 * 1024, usd: 0.08 },
      { upToGiB: 150 * 1024, usd: 0.06 },
      { upToGiB: 500 * 1024, usd: 0.04 },
      { upToGiB: 1024 * 1024, usd: 0.03 },
      { upToGiB: 5 * 1024 * 1024, usd: 0.025 },
      { upToGiB: Number.POSITIVE_INFINITY, usd: 0.02 },
    ],
    unit: 'GB of data transfer out to the internet, tiered by monthly volume',
    source: 'Amazon CloudFront pricing (aws.amazon.com/cloudfront/pricing), "Regional Data Transfer Out to Internet", United States/Europe',
  },
  cloudfrontHttpsRequests: {
    usd: 0.01 / 10_000,
    unit: 'HTTPS request',
    source: 'Amazon CloudFront pricing, "HTTPS requests", United States ($0.0100 per 10,000)',
  },
  originShieldRequests: {
    usd: 0.0075 / 10_000,
    unit: 'request to Origin Shield',
    source: 'Amazon CloudFront pricing, "Origin Shield request pricing", United States ($0.0075 per 10,000)',
  },
  lambdaRequests: { usd: 0.2 / 1_000_000, unit: 'invocation', source: 'AWS Lambda pricing (aws.amazon.com/lambda/pricing), requests ($0.20 per 1M)' },
  lambdaArmGbSecond: { usd: 0.0000133334, unit: 'GB-second, arm64 (first 7.5 billion GB-s a month)', source: 'AWS Lambda pricing, duration, Arm' },
  fargateArmVcpuHour: { usd: 0.03238, unit: 'vCPU-hour, Linux/ARM', source: 'AWS Fargate pricing (aws.amazon.com/fargate/pricing), Linux/ARM' },
  fargateArmGbHour: { usd: 0.00356, unit: 'GB-hour, Linux/ARM', source: 'AWS Fargate pricing, Linux/ARM' },
  nlbHour: {
    usd: 0.0225,
    unit: 'NLB-hour',
    source: 'Elastic Load Balancing pricing (aws.amazon.com/elasticloadbalancing/pricing), Network Load Balancer',
  },
  nlcuHour: {
    usd: 0.006,
    unit: 'NLCU-hour (TCP: 800 new flows/s, 100,000 active flows or 1 GB/hour processed)',
    source: 'Elastic Load Balancing pricing, Network Load Balancer',
  },
  dynamoWriteRequestUnit: {
    usd: 0.625 / 1_000_000,
    unit: 'write request unit (on-demand)',
    source: 'Amazon DynamoDB pricing for on-demand capacity (aws.amazon.com/dynamodb/pricing/on-demand), after the November 2024 reduction',
  },
  dynamoReadRequestUnit: { usd: 0.125 / 1_000_000, unit: 'read request unit (on-demand)', source: 'Amazon DynamoDB pricing for on-demand capacity' },
  natGatewayHour: { usd: 0.045, unit: 'NAT gateway-hour', source: 'Amazon VPC pricing (aws.amazon.com/vpc/pricing), NAT gateway' },
  natGatewayGb: { usd: 0.045, unit: 'GB processed by a NAT gateway', source: 'Amazon VPC pricing, NAT gateway' },
  publicIpv4Hour: { usd: 0.005, unit: 'public IPv4 address-hour', source: 'Amazon VPC pricing, "Public IPv4 address"' },
  cloudwatchLogsGb: {
    usd: 0.5,
    unit: 'GB of logs ingested (standard)',
    source: 'Amazon CloudWatch pricing (aws.amazon.com/cloudwatch/pricing), Logs, collect',
  },
  interAzGb: {
    usd: 0.01,
    unit: 'GB each way between AZs in a region',
    source: 'Amazon EC2 on-demand pricing, "Data Transfer within the same AWS Region"',
  },
} as const;

export interface CostAssumptions {
  /** Segment (and GOP) duration, s. Keyframe's default is 1. */
  readonly segmentSeconds: number;
  /** Playlist TTL at the CDN: max(1, floor(target duration / 2)). */
  readonly playlistTtlSeconds: number;
  /** What a viewer downloads, Mbit/s (video + audio + MPEG-TS overhead). */
  readonly deliveredMbps: number;
  /** What a publisher sends, Mbit/s (through the NLB). */
  readonly ingestMbps: number;
  /** Regional edge caches that can carry viewers of one stream (PriceClass_100: North America and Europe). */
  readonly regionalEdgeCaches: number;
  readonly lambdaMemoryMiB: number;
  /** Billed duration of an origin invocation, ms (1 ms granularity). */
  readonly playlistInvocationMs: number;
  readonly segmentInvocationMs: number;
  /** Peak-to-average factor for warm Lambda instances (Little's law gives the average). */
  readonly lambdaConcurrencyFactor: number;
  readonly heartbeatSeconds: number;
  /** WRU per heartbeat: the route item and its GSI copy. */
  readonly heartbeatWru: number;
  /** Ingest task size (infra defaults: 1 vCPU, 2 GiB, arm64). */
  readonly taskVcpu: number;
  readonly taskMemoryGiB: number;
  readonly minTasks: number;
  /** CPU % of one core per stream, from bench/ingest-density.ts. */
  readonly cpuPercentPerStream: number;
  /** Memory per stream, MiB (PSS), from bench/ingest-density.ts. */
  readonly memoryMiBPerStream: number;
  /** Fraction of a task's vCPU and memory to plan for (headroom for spikes and restarts). */
  readonly targetUtilization: number;
  readonly natGateways: number;
  /** NLB availability zones (one public IPv4 each). */
  readonly nlbZones: number;
  /** Bytes through the NAT gateway per task-hour (logs, metrics, ECS agent; images come via S3 endpoint). */
  readonly natBytesPerTaskHour: number;
  /** CloudWatch Logs bytes per origin invocation (request log line, EMF, Lambda START/END/REPORT). */
  readonly logBytesPerInvocation: number;
  /** Fraction of origin → task fetches that cross AZs. */
  readonly crossAzFraction: number;
  /** Subtract the always-free tiers (CloudFront 1 TB + 10M requests, Lambda 1M requests + 400,000 GB-s). */
  readonly freeTier: boolean;
}

export const DEFAULT_ASSUMPTIONS: CostAssumptions = {
  segmentSeconds: 1,
  playlistTtlSeconds: 1,
  deliveredMbps: 3.3,
  ingestMbps: 3.2,
  regionalEdgeCaches: 6,
  lambdaMemoryMiB: 512,
  // Local p50 through the function-URL adapter was 0.9 ms (playlist) and 2.6 ms (segment, cache off) on a full
  // core; a 512 MB function has ~0.29 vCPU and fetches over the VPC, so these are set well above.
  playlistInvocationMs: 5,
  segmentInvocationMs: 30,
  lambdaConcurrencyFactor: 2,
  heartbeatSeconds: 5,
  heartbeatWru: 2,
  taskVcpu: 1,
  taskMemoryGiB: 2,
  minTasks: 1,
  // bench/ingest-density.ts, 2026-11-20: Keyframe median over N = 8…96 on time (x86 EPYC; see docs/benchmarks.md).
  cpuPercentPerStream: 0.71,
  memoryMiBPerStream: 15.6,
  targetUtilization: 0.6,
  natGateways: 1,
  nlbZones: 2,
  natBytesPerTaskHour: 5 * 2 ** 20,
  logBytesPerInvocation: 1100,
  crossAzFraction: 0.5,
  freeTier: false,
};

export interface CostInput {
  readonly streams: number;
  /** Hours each stream is live per month (all streams live at the same time). */
  readonly hours: number;
  /** Concurrent viewers in total, spread evenly over the streams. */
  readonly viewers: number;
  readonly originShield: boolean;
}

export interface Usage {
  readonly egressGiB: number;
  readonly viewerRequests: number;
  /** RECs that carry a stream's viewers. */
  readonly recsPerStream: number;
  readonly originInvocations: number;
  readonly originShieldRequests: number;
  readonly lambdaGbSeconds: number;
  readonly warmInstances: number;
  readonly routeReads: number;
  readonly heartbeatWrites: number;
  readonly streamsPerTask: number;
  readonly tasksWhileLive: number;
  readonly taskHours: number;
  readonly nlcuHours: number;
  readonly natGiB: number;
  readonly logGiB: number;
  readonly originFetchGiB: number;
}

export interface CostLines {
  readonly cloudfrontEgress: number;
  readonly cloudfrontRequests: number;
  readonly originShield: number;
  readonly lambdaRequests: number;
  readonly lambdaDuration: number;
  readonly fargate: number;
  readonly nlb: number;
  readonly dynamodb: number;
  readonly natGateway: number;
  readonly publicIpv4: number;
  readonly cloudwatchLogs: number;
  readonly interAz: number;
}

export interface CostEstimate {
  readonly input: CostInput;
  readonly usage: Usage;
  readonly lines: CostLines;
  readonly total: number;
  /** Total / (viewers × hours); Infinity with no viewers. */
  readonly perViewerHour: number;
}

/** Cost of `gib` GiB at tiered per-GB prices (each tier's price applies to the GiB within it). */
export function tieredCost(gib: number, tiers: ReadonlyArray<{ upToGiB: number; usd: number }>): number {
  let cost = 0;
  let lower = 0;
  for (const t of tiers) {
    if (gib <= lower) break;
    cost += (Math.min(gib, t.upToGiB) - lower) * t.usd;
    lower = t.upToGiB;
  }
  return cost;
}

export function streamsPerTask(a: CostAssumptions): number {
  const byCpu = Math.floor((a.taskVcpu * 100 * a.targetUtilization) / a.cpuPercentPerStream);
  const byMemory = Math.floor((a.taskMemoryGiB * 1024 * a.targetUtilization) / a.memoryMiBPerStream);
  return Math.max(1, Math.min(byCpu, byMemory));
}

export function estimate(input: CostInput, a: CostAssumptions = DEFAULT_ASSUMPTIONS): CostEstimate {
  const { streams: S, hours: H, viewers: V } = input;
  const liveSeconds = H * 3600;
  const perStreamViewers = S > 0 ? V / S : 0;

  // Viewers ↔ CloudFront.
  const egressGiB = (V * a.deliveredMbps * 1e6 * liveSeconds) / 8 / GiB;
  const viewerRequests = V * (2 / a.segmentSeconds) * liveSeconds;

  // CloudFront ↔ origin: per stream, per cache that asks.
  const recsPerStream = perStreamViewers > 0 ? Math.min(a.regionalEdgeCaches, Math.ceil(perStreamViewers)) : 0;
  const askRatePerCache = 1 / a.playlistTtlSeconds + 1 / a.segmentSeconds; // requests/s one cache sends up
  const cachesAskingOrigin = input.originShield ? (recsPerStream > 0 ? 1 : 0) : recsPerStream;
  const originRatePerStream = cachesAskingOrigin * askRatePerCache;
  const originInvocations = S * originRatePerStream * liveSeconds;
  const originShieldRequests = input.originShield ? S * recsPerStream * askRatePerCache * liveSeconds : 0;
  const playlistShare = 1 / a.playlistTtlSeconds / askRatePerCache;
  const billedMs = playlistShare * Math.ceil(a.playlistInvocationMs) + (1 - playlistShare) * Math.ceil(a.segmentInvocationMs);
  const lambdaGbSeconds = originInvocations * (billedMs / 1000) * (a.lambdaMemoryMiB / 1024);
  const totalOriginRate = S * originRatePerStream;
  const warmInstances = totalOriginRate > 0 ? Math.max(1, Math.ceil(totalOriginRate * (billedMs / 1000) * a.lambdaConcurrencyFactor)) : 0;
  const routeReads = S * Math.min(originRatePerStream, warmInstances) * liveSeconds;
  // Bytes the origin fetches from the tasks: one copy of every segment per asking cache.
  const originFetchGiB = (S * cachesAskingOrigin * a.deliveredMbps * 1e6 * liveSeconds) / 8 / GiB;

  // Ingest.
  const perTask = streamsPerTask(a);
  const tasksWhileLive = S > 0 ? Math.max(a.minTasks, Math.ceil(S / perTask)) : a.minTasks;
  const taskHours = a.minTasks * HOURS_PER_MONTH + (tasksWhileLive - a.minTasks) * H;
  const heartbeatWrites = (S * liveSeconds) / a.heartbeatSeconds;
  const nlcuHours = ((S * a.ingestMbps * 1e6 * 3600) / 8 / 1e9) * H; // 1 NLCU = 1 GB processed per hour
  const natGiB = (taskHours * a.natBytesPerTaskHour) / GiB;
  const logGiB = (originInvocations * a.logBytesPerInvocation) / GiB;

  const free = a.freeTier;
  const cfGiB = free ? Math.max(0, egressGiB - 1024) : egressGiB;
  const cfReq = free ? Math.max(0, viewerRequests - 10_000_000) : viewerRequests;
  const lReq = free ? Math.max(0, originInvocations - 1_000_000) : originInvocations;
  const lGbs = free ? Math.max(0, lambdaGbSeconds - 400_000) : lambdaGbSeconds;
  const p = PRICES;
  const lines: CostLines = {
    cloudfrontEgress: tieredCost(cfGiB, p.cloudfrontEgressTiers.tiers),
    cloudfrontRequests: cfReq * p.cloudfrontHttpsRequests.usd,
    originShield: originShieldRequests * p.originShieldRequests.usd,
    lambdaRequests: lReq * p.lambdaRequests.usd,
    lambdaDuration: lGbs * p.lambdaArmGbSecond.usd,
    fargate: taskHours * (a.taskVcpu * p.fargateArmVcpuHour.usd + a.taskMemoryGiB * p.fargateArmGbHour.usd),
    nlb: HOURS_PER_MONTH * p.nlbHour.usd + nlcuHours * p.nlcuHour.usd,
    dynamodb: heartbeatWrites * a.heartbeatWru * p.dynamoWriteRequestUnit.usd + routeReads * 0.5 * p.dynamoReadRequestUnit.usd,
    natGateway: a.natGateways * HOURS_PER_MONTH * p.natGatewayHour.usd + natGiB * p.natGatewayGb.usd,
    publicIpv4: (a.natGateways + a.nlbZones) * HOURS_PER_MONTH * p.publicIpv4Hour.usd,
    cloudwatchLogs: logGiB * p.cloudwatchLogsGb.usd,
    interAz: originFetchGiB * a.crossAzFraction * 2 * p.interAzGb.usd,
  };
  const total = Object.values(lines).reduce((s, x) => s + x, 0);
  return {
    input,
    usage: {
      egressGiB,
      viewerRequests,
      recsPerStream,
      originInvocations,
      originShieldRequests,
      lambdaGbSeconds,
      warmInstances,
      routeReads,
      heartbeatWrites,
      streamsPerTask: perTask,
      tasksWhileLive,
      taskHours,
      nlcuHours,
      natGiB,
      logGiB,
      originFetchGiB,
    },
    lines,
    total,
    perViewerHour: V > 0 && H > 0 ? total / (V * H) : Number.POSITIVE_INFINITY,
  };
}

/**
 * Keyframe's monthly AWS cost, from list prices (us-east-1, on-demand, no free tier unless asked), for S
 * streams live H hours a month with V concurrent viewers in total. Pure arithmetic: test/bench/cost-model.test.ts
 * checks it; bench/cost-model.ts prints it.
 *
 * Traffic model:
 * - Viewers: each player fetches the media playlist once per target duration and every segment once, so
 *   2 requests per segment duration per viewer; egress = viewers × delivered bitrate, plus the playlists.
 * - LL-HLS (`lowLatency`): each player makes one blocking reload per part and fetches every part (no segments),
 *   2 requests per part duration. A regional cache asks the origin once per part for each (the blocking
 *   parameters are in the cache key, and CloudFront collapses concurrent misses): 2 origin invocations per part per
 *   asking cache, however many viewers. A blocking reload is billed for as long as the task holds it (about one
 *   part, measured by bench/ll-hls.ts); so is a part fetched as the preload hint (Safari) before it exists.
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
  /** Segment duration, s. Keyframe's default is 1. */
  readonly segmentSeconds: number;
  /** LL-HLS part duration, s (the ingest's KEYFRAME_PART_SECONDS, 0.334). */
  readonly partSeconds: number;
  /**
   * Billed ms of an LL-HLS blocking reload invocation: the task holds it until the part exists (bench/ll-hls.ts,
   * blocking reloads held through the origin), plus the invocation's own work.
   */
  readonly llReloadInvocationMs: number;
  /** Billed ms of a part fetch that is not held (the part exists: hls.js fetches parts once listed). */
  readonly llPartInvocationMs: number;
  /** Share of part invocations that are preload-hint fetches, held like a reload (Safari fetches the hint; hls.js does not). */
  readonly llPartHeldShare: number;
  /** Playlist bytes per reload as CloudFront sends them (gzipped), standard and LL (bench/ll-hls.ts). */
  readonly playlistGzipBytes: number;
  readonly llPlaylistGzipBytes: number;
  /** LL-HLS ingest CPU and memory per stream (bench/ingest-density.ts --ll-hls). */
  readonly llCpuPercentPerStream: number;
  readonly llMemoryMiBPerStream: number;
  /** Playlist TTL at the CDN: max(1, floor(target duration / 2)). */
  readonly playlistTtlSeconds: number;
  /** What a viewer downloads, Mbit/s (video + audio + container overhead), playlists apart. */
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
  /** CPU % of one core per stream (standard HLS), from bench/ingest-density.ts. */
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
  partSeconds: 0.334,
  // bench/ll-hls.ts, 2026-12-01: blocking reloads held ~320 ms p50 through the origin; + the invocation's own work.
  llReloadInvocationMs: 340,
  // A part is a third of a segment: the function-URL envelope (base64) is most of a segment invocation's time.
  llPartInvocationMs: 15,
  llPartHeldShare: 0.5,
  // bench/ll-hls.ts: the LL playlist (6-segment window, parts of 3 + the open one) ~370 B gzipped; standard ~210 B.
  playlistGzipBytes: 210,
  llPlaylistGzipBytes: 380,
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
  // bench/ingest-density.ts on the packager path, 2026-12-01 (docs/benchmarks.md, "Packager (issue 11)"; x86 Xeon):
  // standard HLS 0.495–0.515 % and 10.0–12.1 MiB PSS per stream at N = 16/64; LL-HLS 0.69–0.71 % and 18.6–20.4 MiB
  // (each part held beside its segment). The larger of each pair.
  cpuPercentPerStream: 0.52,
  memoryMiBPerStream: 12.1,
  llCpuPercentPerStream: 0.71,
  llMemoryMiBPerStream: 20.4,
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
  /** LL-HLS viewers (parts, blocking reloads). @default false */
  readonly lowLatency?: boolean;
}

export interface Usage {
  /** Media and playlists; of which playlists. */
  readonly egressGiB: number;
  readonly playlistEgressGiB: number;
  readonly viewerRequests: number;
  /** RECs that carry a stream's viewers. */
  readonly recsPerStream: number;
  readonly originInvocations: number;
  /** Per stream, per part (LL) or per segment (standard): flat in viewers once every cache that asks has one. */
  readonly originInvocationsPerMediaUnit: number;
  readonly originShieldRequests: number;
  /** Average concurrent origin invocations (Little's law): held blocking requests make it grow with the hold. */
  readonly lambdaConcurrency: number;
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

export function streamsPerTask(a: CostAssumptions, lowLatency = false): number {
  const byCpu = Math.floor((a.taskVcpu * 100 * a.targetUtilization) / (lowLatency ? a.llCpuPercentPerStream : a.cpuPercentPerStream));
  const byMemory = Math.floor((a.taskMemoryGiB * 1024 * a.targetUtilization) / (lowLatency ? a.llMemoryMiBPerStream : a.memoryMiBPerStream));
  return Math.max(1, Math.min(byCpu, byMemory));
}

/**
 * What one cache asks the origin per second for one stream, and what each ask is billed: standard HLS, a playlist
 * per TTL and each segment once; LL-HLS, per part one blocking reload (held) and the part (held when it is a
 * preload-hint fetch).
 */
function originAsks(a: CostAssumptions, lowLatency: boolean): { perSecond: number; billedMs: number; unitSeconds: number } {
  if (lowLatency) {
    const part = a.llPartHeldShare * Math.ceil(a.llReloadInvocationMs) + (1 - a.llPartHeldShare) * Math.ceil(a.llPartInvocationMs);
    return { perSecond: 2 / a.partSeconds, billedMs: (Math.ceil(a.llReloadInvocationMs) + part) / 2, unitSeconds: a.partSeconds };
  }
  const perSecond = 1 / a.playlistTtlSeconds + 1 / a.segmentSeconds;
  const playlistShare = 1 / a.playlistTtlSeconds / perSecond;
  const billedMs = playlistShare * Math.ceil(a.playlistInvocationMs) + (1 - playlistShare) * Math.ceil(a.segmentInvocationMs);
  return { perSecond, billedMs, unitSeconds: a.segmentSeconds };
}

export function estimate(input: CostInput, a: CostAssumptions = DEFAULT_ASSUMPTIONS): CostEstimate {
  const { streams: S, hours: H, viewers: V } = input;
  const ll = input.lowLatency === true;
  const liveSeconds = H * 3600;
  const perStreamViewers = S > 0 ? V / S : 0;

  // Viewers ↔ CloudFront: 2 requests per segment (standard) or per part (LL), the media, and a playlist per reload.
  const reloadSeconds = ll ? a.partSeconds : a.segmentSeconds;
  const playlistEgressGiB = (V * (ll ? a.llPlaylistGzipBytes : a.playlistGzipBytes) * (liveSeconds / reloadSeconds)) / GiB;
  const egressGiB = (V * a.deliveredMbps * 1e6 * liveSeconds) / 8 / GiB + playlistEgressGiB;
  const viewerRequests = V * (2 / reloadSeconds) * liveSeconds;

  // CloudFront ↔ origin: per stream, per cache that asks.
  const recsPerStream = perStreamViewers > 0 ? Math.min(a.regionalEdgeCaches, Math.ceil(perStreamViewers)) : 0;
  const asks = originAsks(a, ll); // requests/s one cache sends up, and their billed duration
  const billedMs = asks.billedMs;
  const cachesAskingOrigin = input.originShield ? (recsPerStream > 0 ? 1 : 0) : recsPerStream;
  const originRatePerStream = cachesAskingOrigin * asks.perSecond;
  const originInvocations = S * originRatePerStream * liveSeconds;
  const originShieldRequests = input.originShield ? S * recsPerStream * asks.perSecond * liveSeconds : 0;
  const lambdaGbSeconds = originInvocations * (billedMs / 1000) * (a.lambdaMemoryMiB / 1024);
  const totalOriginRate = S * originRatePerStream;
  const lambdaConcurrency = totalOriginRate * (billedMs / 1000);
  const warmInstances = totalOriginRate > 0 ? Math.max(1, Math.ceil(lambdaConcurrency * a.lambdaConcurrencyFactor)) : 0;
  const routeReads = S * Math.min(originRatePerStream, warmInstances) * liveSeconds;
  // Bytes the origin fetches from the tasks: one copy of every segment per asking cache.
  const originFetchGiB = (S * cachesAskingOrigin * a.deliveredMbps * 1e6 * liveSeconds) / 8 / GiB;

  // Ingest.
  const perTask = streamsPerTask(a, ll);
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
      playlistEgressGiB,
      viewerRequests,
      recsPerStream,
      originInvocations,
      originInvocationsPerMediaUnit: originRatePerStream * asks.unitSeconds,
      originShieldRequests,
      lambdaConcurrency,
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

/** The cost of one stream-hour with `viewers` viewers, fixed monthly costs apart. */
export interface StreamHourCost {
  readonly viewers: number;
  readonly lowLatency: boolean;
  readonly originShield: boolean;
  /** Each line per stream-hour (the ingest as the stream's share of a task-hour). */
  readonly lines: CostLines;
  readonly total: number;
  readonly perViewerHour: number;
  /** Origin invocations per stream-hour, and per part (LL) or segment (standard). */
  readonly originInvocations: number;
  readonly originInvocationsPerMediaUnit: number;
  readonly lambdaGbSeconds: number;
  readonly streamsPerTask: number;
}

/**
 * One stream live `hours` h a month with `viewers` viewers, per stream-hour: what `estimate` adds for it over the
 * same deployment with nothing live (the floor: NAT gateway, NLB and IPv4 hours, the minimum task), divided by its
 * hours; egress priced at the tiers of that one stream's monthly volume. The ingest is the stream's share of a
 * task-hour (1 / streams per task), as if tasks were full, not the minimum task the floor already pays for.
 */
export function perStreamHour(
  viewers: number,
  opts: { lowLatency: boolean; originShield: boolean; hours?: number },
  a: CostAssumptions = DEFAULT_ASSUMPTIONS,
): StreamHourCost {
  const hours = opts.hours ?? 120;
  const input = { streams: 1, viewers, originShield: opts.originShield, lowLatency: opts.lowLatency };
  const live = estimate({ ...input, hours }, a);
  const idle = estimate({ ...input, hours: 0, viewers: 0 }, a);
  const perTask = streamsPerTask(a, opts.lowLatency);
  const lines = Object.fromEntries(
    (Object.keys(live.lines) as Array<keyof CostLines>).map((k) => [
      k,
      k === 'fargate'
        ? (a.taskVcpu * PRICES.fargateArmVcpuHour.usd + a.taskMemoryGiB * PRICES.fargateArmGbHour.usd) / perTask
        : (live.lines[k] - idle.lines[k]) / hours,
    ]),
  ) as unknown as CostLines;
  const total = Object.values(lines).reduce((x, y) => x + y, 0);
  return {
    viewers,
    lowLatency: opts.lowLatency,
    originShield: opts.originShield,
    lines,
    total,
    perViewerHour: viewers > 0 ? total / viewers : Number.POSITIVE_INFINITY,
    originInvocations: live.usage.originInvocations / hours,
    originInvocationsPerMediaUnit: live.usage.originInvocationsPerMediaUnit,
    lambdaGbSeconds: live.usage.lambdaGbSeconds / hours,
    streamsPerTask: perTask,
  };
}

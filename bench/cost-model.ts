/**
 * Monthly AWS cost of a Keyframe deployment (us-east-1 list prices, see bench/lib/cost.ts for each price,
 * its source page and date, and the traffic model) for S streams live H hours a month with V concurrent
 * viewers, with Origin Shield off and on.
 *
 *   npx tsx bench/cost-model.ts [--hours 120] [--sizes 1x10,10x1000,...] [--cpu-per-stream 2.5] [--mem-per-stream 20]
 *                               [--density density.json] [--segment-seconds 1] [--free-tier] [--smoke] [--json out.json]
 *
 * `--density` takes the JSON written by `bench/ingest-density.ts --json` and uses its Keyframe CPU and memory
 * per stream (median over N ≥ 8 on time) for streams per task.
 */
import { readFileSync } from 'node:fs';
import { finish, machineInfo, parseArgs, runBench, table } from './lib/cli';
import { DEFAULT_ASSUMPTIONS, estimate, PRICES, PRICES_AS_OF, streamsPerTask, type CostAssumptions, type CostEstimate } from './lib/cost';
import { median, round } from './lib/stats';

const args = parseArgs();
const hours = args.number('hours', 120);
const sizes = args
  .string('sizes', args.smoke ? '1x10,100x100000' : '1x10,1x100,10x1000,10x10000,100x10000,100x100000')
  .split(',')
  .map((s) => {
    const [streams, viewers] = s.split('x').map(Number);
    if (!(streams > 0) || !(viewers >= 0)) throw new Error(`--sizes: expected <streams>x<viewers>, got ${s}`);
    return { streams, viewers };
  });

let fromDensity = '';
let cpu = args.number('cpu-per-stream', DEFAULT_ASSUMPTIONS.cpuPercentPerStream);
let mem = args.number('mem-per-stream', DEFAULT_ASSUMPTIONS.memoryMiBPerStream);
const densityFile = args.string('density', '');
if (densityFile) {
  const d = JSON.parse(readFileSync(densityFile, 'utf8')) as {
    results: { phases: Array<{ server: string; n: number; cpuPctPerStream: number; pssPerStreamMiB: number; segments: { late: boolean } }> };
  };
  const kf = d.results.phases.filter((p) => p.server === 'keyframe' && !p.segments.late && p.n >= 8);
  if (kf.length) {
    cpu = round(median(kf.map((p) => p.cpuPctPerStream)), 2);
    mem = round(median(kf.map((p) => p.pssPerStreamMiB)), 1);
    fromDensity = ` (from ${densityFile}: Keyframe median over N ≥ 8)`;
  }
}
const assumptions: CostAssumptions = {
  ...DEFAULT_ASSUMPTIONS,
  segmentSeconds: args.number('segment-seconds', DEFAULT_ASSUMPTIONS.segmentSeconds),
  playlistTtlSeconds: Math.max(1, Math.floor(args.number('segment-seconds', DEFAULT_ASSUMPTIONS.segmentSeconds) / 2)),
  cpuPercentPerStream: cpu,
  memoryMiBPerStream: mem,
  freeTier: args.flag('free-tier'),
};

const usd = (x: number) => (x >= 100 ? `$${Math.round(x).toLocaleString('en-US')}` : `$${x.toFixed(2)}`);
const big = (x: number) =>
  x >= 1e9 ? `${round(x / 1e9, 2)} B` : x >= 1e6 ? `${round(x / 1e6, 2)} M` : x >= 1e3 ? `${round(x / 1e3, 1)} k` : `${round(x, 1)}`;

await runBench({ deadlineMs: 30_000, cleanups: [] }, async () => {
  const machine = machineInfo();
  const estimates: CostEstimate[] = [];
  for (const s of sizes)
    for (const shield of [false, true])
      estimates.push(estimate({ streams: s.streams, viewers: s.viewers, hours, originShield: shield }, assumptions));
  const rows = estimates.map((e) => {
    const l = e.lines;
    return [
      e.input.streams,
      e.input.viewers.toLocaleString('en-US'),
      e.input.originShield ? 'on' : 'off',
      usd(l.cloudfrontEgress),
      usd(l.cloudfrontRequests),
      usd(l.originShield),
      usd(l.lambdaRequests + l.lambdaDuration),
      usd(l.fargate),
      usd(l.nlb),
      usd(l.dynamodb),
      usd(l.natGateway),
      usd(l.publicIpv4 + l.cloudwatchLogs + l.interAz),
      `**${usd(e.total)}**`,
      e.perViewerHour === Number.POSITIVE_INFINITY ? '—' : `$${e.perViewerHour.toFixed(4)}`,
      big(e.usage.originInvocations),
      e.usage.tasksWhileLive,
    ];
  });
  // Origin invocations against viewers, one stream count: flat once every regional cache has a viewer.
  const sweepS = 10;
  const sweep = [10, 60, 100, 1000, 10_000, 100_000].map((v) => ({
    viewers: v,
    off: estimate({ streams: sweepS, viewers: v, hours, originShield: false }, assumptions).usage.originInvocations,
    on: estimate({ streams: sweepS, viewers: v, hours, originShield: true }, assumptions).usage.originInvocations,
  }));
  const a = assumptions;
  const report = [
    `Monthly cost, us-east-1 list prices as of ${PRICES_AS_OF}, streams live ${hours} h/month (all at once), viewers spread evenly, ${a.freeTier ? 'free tier subtracted' : 'no free tier'}.`,
    '',
    table(
      [
        'streams',
        'viewers',
        'Origin Shield',
        'CloudFront egress',
        'CloudFront requests',
        'Origin Shield requests',
        'Lambda (requests + GB-s)',
        'Fargate',
        'NLB',
        'DynamoDB',
        'NAT gateway',
        'IPv4 + logs + inter-AZ',
        'total / month',
        'per viewer-hour',
        'origin invocations',
        'ingest tasks',
      ],
      rows,
    ),
    '',
    `Origin invocations per month for ${sweepS} streams as viewers grow (Origin Shield off → on): ` +
      sweep.map((s) => `${s.viewers.toLocaleString('en-US')} viewers: ${big(s.off)} → ${big(s.on)}`).join('; ') +
      `. They stop growing once each stream's viewers reach all ${a.regionalEdgeCaches} regional edge caches (off) or at the first viewer (on).`,
    '',
    'Assumptions:',
    '',
    `- ${a.segmentSeconds} s segments, playlist TTL ${a.playlistTtlSeconds} s; players fetch the playlist once per segment and every segment once (2 requests per ${a.segmentSeconds} s per viewer).`,
    `- Delivered ${a.deliveredMbps} Mbit/s per viewer (3 Mbps video + audio + MPEG-TS overhead); ingest ${a.ingestMbps} Mbit/s per stream through the NLB.`,
    `- ${a.regionalEdgeCaches} regional edge caches can carry a stream's viewers (PriceClass_100); a stream reaches min(its viewers, ${a.regionalEdgeCaches}).`,
    `- Origin Lambda arm64 ${a.lambdaMemoryMiB} MB (infra/origin.ts), billed ${a.playlistInvocationMs} ms per playlist and ${a.segmentInvocationMs} ms per segment invocation; warm instances = Little's law × ${a.lambdaConcurrencyFactor}; route reads ≤ 1/s per warm instance per stream (0.5 RRU).`,
    `- Ingest task ${a.taskVcpu} vCPU / ${a.taskMemoryGiB} GiB arm64, min ${a.minTasks} all month; ${a.cpuPercentPerStream} % of a core and ${a.memoryMiBPerStream} MiB per stream${fromDensity}, planned at ${a.targetUtilization * 100} % → ${streamsPerTask(a)} streams per task (measured on x86 here; Graviton differs).`,
    `- DynamoDB on-demand: heartbeat every ${a.heartbeatSeconds} s per stream at ${a.heartbeatWru} WRU (route item + GSI).`,
    `- ${a.natGateways} NAT gateway and ${a.nlbZones} NLB zones (public IPv4 each); ${round(a.natBytesPerTaskHour / 2 ** 20, 1)} MiB per task-hour through NAT; ${a.logBytesPerInvocation} B of CloudWatch Logs per origin invocation; ${a.crossAzFraction * 100} % of origin fetches cross AZs.`,
    '',
    'Prices:',
    '',
    table(
      ['item', 'price (USD)', 'unit', 'source'],
      Object.entries(PRICES).map(([k, v]) => [k, 'tiers' in v ? v.tiers.map((t) => `${t.usd}`).join(' / ') : String(v.usd), v.unit, v.source]),
    ),
  ].join('\n');
  finish(
    args,
    'cost-model',
    machine,
    { hours, assumptions, pricesAsOf: PRICES_AS_OF, estimates, originInvocationsVsViewers: { streams: sweepS, sweep } },
    report,
  );
});

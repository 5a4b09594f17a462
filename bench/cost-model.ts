/**
 * Monthly AWS cost of a Keyframe deployment (us-east-1 list prices, see bench/lib/cost.ts for each price,
 * its source page and date, and the traffic model) for S streams live H hours a month with V concurrent
 * viewers, with Origin Shield off and on.
 *
 * Then LL-HLS beside standard HLS per stream-hour, for 10 to 100,000 viewers of one stream (`perStreamHour`):
 * blocking reloads are billed Lambda time, and origin invocations per part stay flat in viewers.
 *
 *   npx tsx bench/cost-model.ts [--hours 120] [--sizes 1x10,10x1000,...] [--cpu-per-stream 2.5] [--mem-per-stream 20]
 *                               [--ll-cpu-per-stream 0.71] [--ll-mem-per-stream 20.4] [--ll-hls] [--viewers 10,100,...]
 *                               [--density density.json] [--segment-seconds 1] [--free-tier] [--smoke] [--json out.json]
 *
 * `--ll-hls` makes the monthly table LL-HLS too.
 *
 * `--density` takes the JSON written by `bench/ingest-density.ts --json` and uses its Keyframe CPU and memory
 * per stream (median over N ≥ 8 on time) for streams per task.
 */
import { readFileSync } from 'node:fs';
import { finish, machineInfo, parseArgs, runBench, table } from './lib/cli';
import {
  DEFAULT_ASSUMPTIONS,
  estimate,
  PRICES,
  PRICES_AS_OF,
  perStreamHour,
  streamsPerTask,
  type CostAssumptions,
  type CostEstimate,
  type StreamHourCost,
} from './lib/cost';
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
  llCpuPercentPerStream: args.number('ll-cpu-per-stream', DEFAULT_ASSUMPTIONS.llCpuPercentPerStream),
  llMemoryMiBPerStream: args.number('ll-mem-per-stream', DEFAULT_ASSUMPTIONS.llMemoryMiBPerStream),
  freeTier: args.flag('free-tier'),
};

const lowLatency = args.flag('ll-hls');
const hourViewers = args.list('viewers', [10, 100, 1000, 10_000, 100_000]);
const usd4 = (x: number) => (x >= 100 ? `$${Math.round(x).toLocaleString('en-US')}` : x >= 1 ? `$${x.toFixed(2)}` : `$${x.toFixed(4)}`);
const usd = (x: number) => (x >= 100 ? `$${Math.round(x).toLocaleString('en-US')}` : `$${x.toFixed(2)}`);
const big = (x: number) =>
  x >= 1e9 ? `${round(x / 1e9, 2)} B` : x >= 1e6 ? `${round(x / 1e6, 2)} M` : x >= 1e3 ? `${round(x / 1e3, 1)} k` : `${round(x, 1)}`;

await runBench({ deadlineMs: 30_000, cleanups: [] }, async () => {
  const machine = machineInfo();
  const estimates: CostEstimate[] = [];
  for (const s of sizes)
    for (const shield of [false, true])
      estimates.push(estimate({ streams: s.streams, viewers: s.viewers, hours, originShield: shield, lowLatency }, assumptions));
  // LL-HLS beside standard HLS, per stream-hour, one stream, viewers from 10 up.
  const perHour: StreamHourCost[] = [];
  for (const v of hourViewers)
    for (const ll of [false, true])
      for (const shield of [false, true]) perHour.push(perStreamHour(v, { lowLatency: ll, originShield: shield, hours }, assumptions));
  const hourRow = (c: StreamHourCost) => {
    const l = c.lines;
    const std = perHour.find((x) => x.viewers === c.viewers && !x.lowLatency && x.originShield === c.originShield)!;
    return [
      c.viewers.toLocaleString('en-US'),
      c.lowLatency ? 'LL-HLS' : 'standard',
      usd4(l.cloudfrontEgress),
      usd4(l.cloudfrontRequests),
      usd4(l.originShield),
      usd4(l.lambdaRequests + l.lambdaDuration),
      usd4(l.fargate),
      usd4(l.nlb + l.dynamodb + l.natGateway + l.publicIpv4 + l.cloudwatchLogs + l.interAz),
      `**${usd4(c.total)}**`,
      `$${c.perViewerHour.toFixed(5)}`,
      c.lowLatency ? `${round(c.total / std.total, 3)}×` : '1×',
      round(c.originInvocationsPerMediaUnit, 2),
      big(c.originInvocations),
    ];
  };
  const hourHead = [
    'viewers',
    'delivery',
    'CloudFront egress',
    'CloudFront requests',
    'Origin Shield requests',
    'Lambda (requests + GB-s)',
    'ingest (share of a task)',
    'NLB, DynamoDB, logs, inter-AZ',
    'total per stream-hour',
    'per viewer-hour',
    'LL / standard',
    'origin invocations per part (LL) / segment',
    'origin invocations per stream-hour',
  ];
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
    off: estimate({ streams: sweepS, viewers: v, hours, originShield: false, lowLatency }, assumptions).usage.originInvocations,
    on: estimate({ streams: sweepS, viewers: v, hours, originShield: true, lowLatency }, assumptions).usage.originInvocations,
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
    `Per stream-hour, LL-HLS beside standard HLS: one stream live ${hours} h a month, fixed monthly costs apart (the floor: NAT gateway, NLB and IPv4 hours, the minimum task), egress at the tiers of that stream's monthly volume, the ingest as the stream's share of a task (${streamsPerTask(a)} standard, ${streamsPerTask(a, true)} LL-HLS streams per task). Origin Shield off:`,
    '',
    table(hourHead, perHour.filter((c) => !c.originShield).map(hourRow)),
    '',
    'Origin Shield on:',
    '',
    table(hourHead, perHour.filter((c) => c.originShield).map(hourRow)),
    '',
    `Held blocking requests keep Lambda instances busy: average concurrent origin invocations for 100 streams (Little's law; the account's default concurrency quota is 1,000): ` +
      [false, true]
        .map((ll) =>
          [false, true]
            .map((sh) => {
              const e = estimate({ streams: 100, viewers: 10_000, hours, originShield: sh, lowLatency: ll }, assumptions);
              return `${ll ? 'LL-HLS' : 'standard'}, Origin Shield ${sh ? 'on' : 'off'}: ${round(e.usage.lambdaConcurrency, 1)}`;
            })
            .join('; '),
        )
        .join('; ') +
      '.',
    '',
    `Origin invocations per month for ${sweepS} streams as viewers grow (Origin Shield off → on): ` +
      sweep.map((s) => `${s.viewers.toLocaleString('en-US')} viewers: ${big(s.off)} → ${big(s.on)}`).join('; ') +
      `. They stop growing once each stream's viewers reach all ${a.regionalEdgeCaches} regional edge caches (off) or at the first viewer (on).`,
    '',
    'Assumptions:',
    '',
    `- ${lowLatency ? 'Monthly table: LL-HLS. ' : 'Monthly table: standard HLS. '}${a.segmentSeconds} s segments, playlist TTL ${a.playlistTtlSeconds} s; players fetch the playlist once per segment and every segment once (2 requests per ${a.segmentSeconds} s per viewer); playlists ${a.playlistGzipBytes} B gzipped.`,
    `- LL-HLS: ${a.partSeconds} s parts; players make a blocking reload per part and fetch every part (2 requests per ${a.partSeconds} s per viewer), playlists ${a.llPlaylistGzipBytes} B gzipped; a cache asks the origin once per part for each (2 invocations per part per asking cache); a blocking reload is billed ${a.llReloadInvocationMs} ms (held until the part exists), a part ${a.llPartInvocationMs} ms, or as a reload for the ${a.llPartHeldShare * 100} % fetched as the preload hint (Safari).`,
    `- Delivered ${a.deliveredMbps} Mbit/s per viewer (3 Mbps video + audio + container overhead; playlists apart); ingest ${a.ingestMbps} Mbit/s per stream through the NLB.`,
    `- ${a.regionalEdgeCaches} regional edge caches can carry a stream's viewers (PriceClass_100); a stream reaches min(its viewers, ${a.regionalEdgeCaches}).`,
    `- Origin Lambda arm64 ${a.lambdaMemoryMiB} MB (infra/origin.ts), billed ${a.playlistInvocationMs} ms per playlist and ${a.segmentInvocationMs} ms per segment invocation; warm instances = Little's law × ${a.lambdaConcurrencyFactor}; route reads ≤ 1/s per warm instance per stream (0.5 RRU).`,
    `- Ingest task ${a.taskVcpu} vCPU / ${a.taskMemoryGiB} GiB arm64, min ${a.minTasks} all month; ${a.cpuPercentPerStream} % of a core and ${a.memoryMiBPerStream} MiB per stream${fromDensity} (LL-HLS ${a.llCpuPercentPerStream} % and ${a.llMemoryMiBPerStream} MiB), planned at ${a.targetUtilization * 100} % → ${streamsPerTask(a)} streams per task (LL-HLS ${streamsPerTask(a, true)}; measured on x86 here; Graviton differs).`,
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
    {
      hours,
      lowLatency,
      assumptions,
      pricesAsOf: PRICES_AS_OF,
      estimates,
      perStreamHour: perHour,
      originInvocationsVsViewers: { streams: sweepS, sweep },
    },
    report,
  );
});

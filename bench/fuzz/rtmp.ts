/**
 * RTMP fuzzing against a real ingest process while a real ffmpeg publisher streams (see rtmp-harness.ts).
 *
 *   npx tsx bench/fuzz/rtmp.ts [--cases 10000] [--seed 1] [--concurrency 24] [--json out.json]
 *
 * Prints a table per category and the checks; exits 1 if any check failed. `npm test` runs a quick
 * version (test/security/rtmp-fuzz.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, runRtmpFuzz } from './rtmp-harness';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
process.env.KEYFRAME_LOG_LEVEL ??= 'SILENT';
// The origin's EMF metrics would print a line per request; the harness reads task logs, not metrics.
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

function int(name: string, raw: string, min: number, max: number): number {
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got ${raw}`);
  return v;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '10000' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '24' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('Usage: npx tsx bench/fuzz/rtmp.ts [--cases 10000] [--seed 1] [--concurrency 24] [--json out.json]');
    return;
  }
  const cases = int('cases', values.cases, 1, 10_000_000);
  const report = await runRtmpFuzz({
    cases,
    seed: int('seed', values.seed, 0, 2 ** 32 - 1),
    concurrency: int('concurrency', values.concurrency, 1, 200),
    onProgress: (done, total) => {
      if (done % 1000 === 0 || done === total) process.stderr.write(`  ${done}/${total} cases\n`);
    },
  });
  console.log(formatReport(report));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  process.exitCode = report.findings.length === 0 ? 0 : 1;
}

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(2);
});

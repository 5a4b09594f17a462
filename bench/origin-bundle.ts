/**
 * The origin function itself: its bundle after esbuild and the cold init of the handler module.
 *
 * Builds functions/origin/handler.ts twice:
 *   cdk       the settings infra/node-function.ts gives NodejsFunction: ESM, platform node, target node24
 *             (the NODEJS_24_X runtime), mainFields module,main, the `require` banner, everything bundled
 *             (externalModules []), not minified, no source map;
 *   minified  the same, minified, target node22 (the settings the issue asks to report).
 * Sizes: raw, gzip -9 (close to what a Lambda zip stores), and the largest inputs by bytes (esbuild metafile).
 *
 * Cold init: a fresh `node` process imports the bundle (performance.now() around the `import()`), then makes
 * the first call of the handler with a refused path (no network), interleaved between the two bundles,
 * median of --runs (default 10). Node here may be older than the Lambda runtime's (noted in the output).
 *
 *   npx tsx bench/origin-bundle.ts [--runs 10] [--smoke] [--json out.json]
 */
import './lib/quiet';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';
import { finish, machineInfo, parseArgs, progress, runBench, table } from './lib/cli';
import { median, round } from './lib/stats';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const REQUIRE_BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

interface Variant {
  readonly name: string;
  readonly target: string;
  readonly minify: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'cdk', target: 'node24', minify: false },
  { name: 'minified', target: 'node22', minify: true },
];

interface BundleResult {
  readonly variant: string;
  readonly settings: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly topInputs: Array<{ input: string; bytes: number }>;
  readonly initMs: number[];
  readonly firstCallMs: number[];
  readonly processMs: number[];
  readonly initMedianMs: number;
  readonly firstCallMedianMs: number;
  readonly processMedianMs: number;
}

function byPackage(meta: Metafile, output: string): Array<{ input: string; bytes: number }> {
  const sums = new Map<string, number>();
  for (const [input, info] of Object.entries(meta.outputs[output].inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const key = m ? m[1] : input.startsWith('functions/') ? 'functions/ (Keyframe)' : input;
    sums.set(key, (sums.get(key) ?? 0) + info.bytesInOutput);
  }
  return [...sums.entries()].map(([input, bytes]) => ({ input, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function coldStart(bundle: string, probe: string): Promise<{ initMs: number; firstCallMs: number; processMs: number }> {
  return new Promise((resolve, reject) => {
    const spawned = performance.now();
    const p = spawn(process.execPath, [probe, bundle], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        KEYFRAME_TABLE: 'keyframe-bench',
        KEYFRAME_LOG_LEVEL: 'INFO',
        AWS_REGION: 'us-east-1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.once('exit', (code) => {
      const processMs = performance.now() - spawned;
      const line = out.split('\n').find((l) => l.startsWith('{"bench"'));
      if (code !== 0 || !line) return reject(new Error(`cold start failed (${code}): ${err.slice(-2000)}`));
      const r = JSON.parse(line) as { initMs: number; firstCallMs: number };
      resolve({ initMs: r.initMs, firstCallMs: r.firstCallMs, processMs });
    });
  });
}

const args = parseArgs();
const runs = Math.max(1, args.number('runs', args.smoke ? 3 : 10));
const machine = machineInfo();
const root = join(tmpdir(), `keyframe-bench-bundle-${process.pid}`);
const cleanups: Array<() => unknown> = [() => rmSync(root, { recursive: true, force: true })];

await runBench({ deadlineMs: args.smoke ? 60_000 : 10 * 60_000, cleanups }, async () => {
  mkdirSync(root, { recursive: true });
  // The probe: import the bundle, then one call with a path the origin refuses (400, no network).
  const probe = join(root, 'probe.mjs');
  writeFileSync(
    probe,
    `const t0 = performance.now();
const mod = await import(process.argv[2]);
const t1 = performance.now();
const event = { version: '2.0', rawPath: '/not-a-playback-id', rawQueryString: '', headers: {}, requestContext: { http: { method: 'GET', path: '/not-a-playback-id' }, requestId: 'bench' }, isBase64Encoded: false };
const res = await mod.handler(event);
const t2 = performance.now();
if (res.statusCode !== 400) throw new Error('expected 400, got ' + res.statusCode);
process.stdout.write(JSON.stringify({ bench: 'cold', initMs: t1 - t0, firstCallMs: t2 - t1 }) + '\\n');
`,
  );
  const built: Array<{ v: Variant; file: string; meta: Metafile }> = [];
  for (const v of VARIANTS) {
    const outfile = join(root, v.name, 'index.mjs');
    const r = await build({
      entryPoints: [join(REPO, 'functions/origin/handler.ts')],
      absWorkingDir: REPO,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: v.target,
      mainFields: ['module', 'main'],
      banner: { js: REQUIRE_BANNER },
      external: [],
      minify: v.minify,
      sourcemap: false,
      metafile: true,
      outfile,
      logLevel: 'error',
    });
    built.push({ v, file: outfile, meta: r.metafile });
  }
  const samples = new Map<string, Array<{ initMs: number; firstCallMs: number; processMs: number }>>(VARIANTS.map((v) => [v.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const b of i % 2 ? [...built].reverse() : built) samples.get(b.v.name)!.push(await coldStart(b.file, probe));
  }
  const results: BundleResult[] = built.map(({ v, file, meta }) => {
    const bytes = statSync(file).size;
    const s = samples.get(v.name)!;
    const outKey = Object.keys(meta.outputs).find((k) => k.endsWith('index.mjs'))!;
    return {
      variant: v.name,
      settings: `esm, platform node, target ${v.target}, ${v.minify ? 'minified' : 'not minified'}, bundled SDK`,
      bytes,
      gzipBytes: gzipSync(readFileSync(file), { level: 9 }).length,
      topInputs: byPackage(meta, outKey).slice(0, 8),
      initMs: s.map((x) => round(x.initMs, 1)),
      firstCallMs: s.map((x) => round(x.firstCallMs, 2)),
      processMs: s.map((x) => round(x.processMs, 1)),
      initMedianMs: round(median(s.map((x) => x.initMs)), 1),
      firstCallMedianMs: round(median(s.map((x) => x.firstCallMs)), 2),
      processMedianMs: round(median(s.map((x) => x.processMs)), 1),
    };
  });
  progress(results.map((r) => `${r.variant}: ${r.bytes} B, init ${r.initMedianMs} ms`).join('; '));
  const kib = (b: number) => `${round(b / 1024, 1)} KiB`;
  const [cdk, min] = results;
  const report = [
    table(
      ['bundle', 'settings', 'size', 'gzip -9', 'cold init (import), median', 'first call (400), median', 'whole process, median'],
      results.map((r) => [
        r.variant,
        r.settings,
        `**${kib(r.bytes)}**`,
        kib(r.gzipBytes),
        `**${r.initMedianMs} ms**`,
        `${r.firstCallMedianMs} ms`,
        `${r.processMedianMs} ms`,
      ]),
    ),
    '',
    `Median of ${runs} fresh node processes each (${process.version}; Lambda runs nodejs24.x), interleaved. Minified / CDK: size ${round(min.bytes / cdk.bytes, 2)}×, init ${round(min.initMedianMs / cdk.initMedianMs, 2)}×.`,
    '',
    'Largest inputs of the CDK bundle (bytes in the output):',
    '',
    table(
      ['package', 'bytes'],
      cdk.topInputs.map((t) => [t.input, t.bytes]),
    ),
  ].join('\n');
  finish(args, 'origin-bundle', machine, { results }, report);
});

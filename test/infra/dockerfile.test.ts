import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INGEST_IMAGE_ASSET_OPTIONS, INGEST_PORTS } from '../../infra/ingest-service';
import { PATHS, REPO_ROOT } from '../../infra/paths';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Index of the stage (FROM) it belongs to. */
  readonly stage: number;
}

/** Dockerfile instructions, continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  let stage = -1;
  return logical.map((l) => {
    const [keyword, ...rest] = l.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') stage += 1;
    return { keyword: keyword.toUpperCase(), args: rest.join(' '), stage };
  });
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, PATHS.ingestDockerfile), 'utf8'));
const stages = dockerfile.filter((i) => i.keyword === 'FROM');
const finalStage = stages.length - 1;
const inFinal = (keyword: string) => dockerfile.filter((i) => i.stage === finalStage && i.keyword === keyword);
const esbuildRun = dockerfile.find((i) => i.keyword === 'RUN' && /\besbuild\b/.test(i.args));
const entrypoint = inFinal('ENTRYPOINT').at(-1);

describe('ingest/Dockerfile', () => {
  it('builds in one Node 22 stage and runs in another', () => {
    expect(stages).toHaveLength(2);
    expect(stages[0].args).toMatch(/(^|\s)node:22-bookworm-slim AS build$/);
    expect(stages[1].args).toBe('node:22-bookworm-slim');
    expect(dockerfile.some((i) => i.stage === 0 && i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))).toBe(true);
  });

  it('has an exec-form entrypoint that runs the bundle', () => {
    expect(entrypoint).toBeDefined();
    const argv = JSON.parse(entrypoint?.args ?? '') as unknown;
    expect(argv).toEqual(['node', 'dist/ingest/main.mjs']);
    expect(inFinal('CMD')).toEqual([]);
  });

  it('runs as a non-root user', () => {
    const user = inFinal('USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it('installs ffmpeg in the runtime image, without recommended extras', () => {
    const installs = inFinal('RUN').filter((i) => /apt-get install/.test(i.args));
    expect(installs.some((i) => /apt-get install -y --no-install-recommends ffmpeg\b/.test(i.args))).toBe(true);
  });

  it('exposes RTMP, HLS and health', () => {
    expect(inFinal('EXPOSE').flatMap((i) => i.args.split(/\s+/).map(Number))).toEqual([INGEST_PORTS.rtmp, INGEST_PORTS.hls, INGEST_PORTS.health]);
  });

  it('bundles ingest/main.ts with esbuild to the file the entrypoint runs, and copies it into the runtime image', () => {
    expect(esbuildRun?.args).toContain('ingest/main.ts');
    expect(esbuildRun?.args).toMatch(/--bundle --platform=node --target=node22 --format=esm/);
    expect(esbuildRun?.args).toContain('--outfile=dist/ingest/main.mjs');
    expect(inFinal('COPY').some((i) => /--from=build \S*dist\/ingest\/main\.mjs dist\/ingest\/main\.mjs/.test(i.args))).toBe(true);
  });
});

describe('the build context (staged the way cdk deploy stages it)', () => {
  let outdir: string;
  let context: string;

  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), 'keyframe-image-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'ImageOnly');
    Validations.of(stack).acknowledge({ id: 'CloudFormation-Validate::F0001', reason: 'A stack that only stages the image asset.' });
    const asset = new DockerImageAsset(stack, 'Image', {
      directory: REPO_ROOT,
      ...INGEST_IMAGE_ASSET_OPTIONS,
      exclude: [...INGEST_IMAGE_ASSET_OPTIONS.exclude],
    });
    app.synth();
    context = join(outdir, `asset.${asset.assetHash}`);
  });

  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  it('holds what the build reads and nothing heavy', () => {
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'ingest/main.ts', 'ingest/Dockerfile', 'core/table.ts']) {
      expect(existsSync(join(context, needed)), needed).toBe(true);
    }
    for (const unwanted of ['node_modules', 'cdk.out', '.git', 'test', 'infra', 'docs', 'cdk.json']) {
      expect(existsSync(join(context, unwanted)), unwanted).toBe(false);
    }
  });

  it('has every path the Dockerfile copies from the context', () => {
    const sources = dockerfile.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) expect(existsSync(join(context, source)), source).toBe(true);
  });

  it("bundles: the Dockerfile's own esbuild command succeeds in the staged context", () => {
    expect(esbuildRun).toBeDefined();
    // Stands in for the image's `npm ci`: the repository's installed packages.
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(context, 'node_modules'), 'dir');
    const run = spawnSync('sh', ['-c', esbuildRun?.args ?? 'false'], { cwd: context, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);

    const bundle = join(context, 'dist/ingest/main.mjs');
    expect(statSync(bundle).size).toBeGreaterThan(0);
    execFileSync(process.execPath, ['--check', bundle]);
    // Self-contained: the only imports left are Node built-ins.
    const text = readFileSync(bundle, 'utf8');
    const imported = [...text.matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => m[1]);
    const builtins = new Set(builtinModules);
    expect(imported.filter((spec) => !spec.startsWith('node:') && !builtins.has(spec))).toEqual([]);
  });
});

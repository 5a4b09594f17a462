import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { STYLES, streamsPage, watchPage } from './pages';

/**
 * Bundles the player with esbuild: hls.js comes from node_modules into the project's own bundle (never a
 * CDN). `buildPlayerAssets()` builds in memory (the local stack does this on its first page request);
 * `npx tsx player/build.ts` writes player/dist for the CDK stack, which uploads it under `/watch/`.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
export const PLAYER_DIST = join(HERE, 'dist');

export interface PlayerAssets {
  /**
   * `player.js` (the watch page) and `streams.js` (the list page), minified IIFEs; `hls.worker.js`, hls.js's
   * own transmuxer worker, copied from the same hls.js package (the page sets hls.js `workerPath` to it).
   */
  readonly scripts: Readonly<Record<PlayerScript, string>>;
  readonly css: string;
}

export type PlayerScript = 'player.js' | 'streams.js' | 'hls.worker.js';
export const WORKER_PATH = '/watch/hls.worker.js';

export async function buildPlayerAssets(opts: { minify?: boolean } = {}): Promise<PlayerAssets> {
  const result = await build({
    entryPoints: { player: join(HERE, 'src/watch.ts'), streams: join(HERE, 'src/streams.ts') },
    bundle: true,
    write: false,
    outdir: '/out',
    format: 'iife',
    platform: 'browser',
    // What hls.js's own ESM build is written in; the browsers hls.js supports run it.
    target: 'es2020',
    minify: opts.minify ?? true,
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const out: Record<string, string> = {};
  for (const f of result.outputFiles) out[f.path.split('/').pop() as string] = f.text;
  if (!out['player.js'] || !out['streams.js']) throw new Error(`player build produced ${Object.keys(out).join(', ')}`);
  const worker = await readFile(createRequire(import.meta.url).resolve('hls.js/dist/hls.worker.js'), 'utf8');
  return { scripts: { 'player.js': out['player.js'], 'streams.js': out['streams.js'], 'hls.worker.js': worker }, css: STYLES };
}

/** The static site for S3 (uploaded under `/watch/`): the watch page is `index.html?v=<playbackId>`. */
export async function writePlayerDist(dir = PLAYER_DIST): Promise<string[]> {
  const assets = await buildPlayerAssets();
  const files: Record<string, string> = {
    'index.html': watchPage({ streamsHref: '/watch/streams.html' }),
    'streams.html': streamsPage({ playerLink: '/watch/index.html?v={id}', api: '/api/streams' }),
    'player.js': assets.scripts['player.js'],
    'streams.js': assets.scripts['streams.js'],
    'hls.worker.js': assets.scripts['hls.worker.js'],
    'player.css': assets.css,
  };
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return Object.keys(files);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writePlayerDist()
    .then((names) => console.log(`player: wrote ${names.join(', ')} to ${PLAYER_DIST}`))
    .catch((err: Error) => {
      console.error(`player build failed: ${err.message}`);
      process.exit(1);
    });
}

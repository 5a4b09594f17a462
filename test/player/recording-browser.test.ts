import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedChannel } from '../../core/channels';
import { playbackKey, signPlaybackToken, tokenExpiry } from '../../core/playback-token';
import type { FunctionUrlHandler } from '../../local/function-url';
import { createPlayerRoutes } from '../../local/player-routes';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { artifactPath, launchBrowser, type Page, type TestBrowser } from '../support/browser';
import { type Publisher, startPublisher } from '../support/media';
import { waitFor } from '../support/wait';

/**
 * Recording in the player (issue 15), in Debian's Chromium against the whole local stack: recorded channels,
 * real ffmpeg publishers, the recorder writing to the local S3-compatible server, and the origin's
 * `/api/streams` listing recordings. A replay plays to its end; a live recorded session is rewound to its start
 * and played, then "Go live" returns to the edge; the stream list shows thumbnails and recent recordings.
 *
 * The origin answers every recording, poster and thumbnail request (from s3rver and the ingest task); this
 * file's route in front of it only logs them, to check the URLs the pages use (stable, with the token).
 */

let stack: LocalStack;
let browser: TestBrowser;
let publisher: Publisher | undefined;
let dvr: CreatedChannel;
let replay: CreatedChannel;
let replayId: string;
/** The rewind test's page, left on the live channel for the end-of-broadcast test. */
let dvrPage: Page | undefined;
const pageErrors: string[] = [];
/** The thumbnail, recording and poster requests that reached the stack, path and query as the page sent them. */
const requests: string[] = [];
const LOGGED = /^\/(?:recordings\/[A-Za-z0-9]{12}\/[a-z0-9]{16}\/[^/]+|[A-Za-z0-9]{12}\/thumbnail\.jpg)$/;

/** The player's routes, with a log of the recording and thumbnail requests (which the origin answers). */
function routes(deps: Parameters<typeof createPlayerRoutes>[0]): FunctionUrlHandler {
  const player = createPlayerRoutes(deps);
  return (event, context, callback) => {
    if (LOGGED.test(event.rawPath)) requests.push(`${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`);
    return player(event, context, callback);
  };
}

interface View {
  mode?: string;
  state?: string;
  badge?: string;
  seekable?: string;
  bar: { kind: string; max: number; value: number } | null;
  currentTime: number;
  ended: boolean;
  latency: number | null;
  latencyText?: string;
  poster?: string;
  goLiveHidden?: boolean;
  recordingSrc?: string;
  stats?: unknown;
  recordingStats?: unknown;
}

// A string, so the bundler's helpers (tsx) never leak into the browser.
const VIEW = `(() => {
  const v = document.getElementById('video');
  const root = document.getElementById('player');
  const p = window.keyframePlayer;
  return {
    mode: root?.dataset.mode,
    state: root?.dataset.state,
    badge: document.getElementById('state')?.textContent,
    seekable: root?.dataset.seekable,
    bar: p ? p.bar() : null,
    currentTime: v ? v.currentTime : 0,
    ended: v ? v.ended : false,
    latency: p ? p.latency() : null,
    latencyText: document.getElementById('latency')?.textContent,
    poster: v ? v.poster : undefined,
    goLiveHidden: document.getElementById('go-live')?.hidden,
    recordingSrc: p ? p.recordingSrc : undefined,
    stats: p ? p.stats() : undefined,
    recordingStats: p ? p.recordingStats() : undefined,
  };
})()`;
const view = (p: Page) => p.evaluate(VIEW) as Promise<View>;

/** Waits in the page (re-checked every 100 ms), failing after `timeoutMs` with what the page showed. */
async function waitInPage<A extends string | number | undefined>(
  p: Page,
  what: string,
  predicate: (arg: A) => unknown,
  arg: A,
  timeoutMs: number,
): Promise<View> {
  try {
    await p.waitForFunction(predicate as (arg: unknown) => unknown, arg as unknown, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${reason}); page: ${JSON.stringify(await view(p).catch(() => undefined))}`);
  }
  return view(p);
}

// Predicates: one expression each (no helpers from the test transpiler in the page).
const isModeState = (ms: string) => `${document.getElementById('player')?.dataset.mode}/${document.getElementById('player')?.dataset.state}` === ms;
const barAtLeast = (s: number) => ((b) => !!b && b.kind === 'session' && b.max >= s)(window.keyframePlayer?.bar());
const timeAbove = (t: number) => (document.getElementById('video') as HTMLVideoElement).currentTime > t;
const listHas = (selector: string) => !!document.querySelector(selector);
const thumbShown = (n: number) =>
  ((t) => !!t && t.length > 0 && t.every((x) => x.shown && x.fetches >= n))(
    (window as unknown as { keyframeList?: { thumbnails(): Array<{ fetches: number; shown: boolean }> } }).keyframeList?.thumbnails(),
  );

/** The list body as the origin gives it (through this file's route, as the page reads it). */
async function listing(): Promise<{
  streams: Array<{ playbackId: string; thumbnailUrl?: string; recording?: { id: string; playbackUrl: string } }>;
  recordings: Array<{ id: string; playbackId: string; state: string; durationSeconds: number; posterUrl?: string }>;
}> {
  const res = await fetch(`${stack.httpUrl}/api/streams`);
  return (await res.json()) as Awaited<ReturnType<typeof listing>>;
}

beforeAll(async () => {
  const [s, b] = await Promise.allSettled([
    startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      httpRoutes: routes,
      taskEnv: { KEYFRAME_END_LINGER_SECONDS: '1.5', KEYFRAME_RECONNECT_GRACE_SECONDS: '1' },
    }),
    launchBrowser(),
  ]);
  if (s.status === 'fulfilled') stack = s.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (b.status === 'rejected') throw b.reason;
  if (s.status === 'rejected') throw s.reason;
  dvr = await stack.createChannel('rewind-test', { record: true });
  replay = await stack.createChannel('replay-test', { record: true });
}, 60_000);

afterAll(async () => {
  await dvrPage?.close();
  await publisher?.stop();
  await browser?.close();
  await stack?.stop();
});

describe('recordings in the player (Chromium)', () => {
  it('a replay plays to its end, with its poster and "Replay"', async () => {
    const p = startPublisher({ url: replay.publishUrl, seconds: 8, gopSeconds: 1 });
    const exit = await p.exited;
    expect(exit.code, exit.stderr).toBe(0);
    const ready = await waitFor(
      'the recording ready in /api/streams',
      async () => (await listing()).recordings.find((r) => r.playbackId === replay.playbackId && r.state === 'ready'),
      { timeoutMs: 15_000, everyMs: 250 },
    );
    replayId = ready.id;
    expect(ready.durationSeconds).toBeGreaterThan(6);

    const page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      await page.goto(`${stack.httpUrl}/watch/${replay.playbackId}?recording=${replayId}`);
      const playing = await waitInPage(page, 'the replay playing', isModeState, 'replay/playing', 15_000);
      expect(playing.badge).toBe('Replay');
      expect(playing.poster).toBe(`${stack.httpUrl}/recordings/${replay.playbackId}/${replayId}/poster.jpg`);
      expect(playing.goLiveHidden).toBe(true);
      expect(playing.bar?.kind).toBe('media');
      expect(playing.bar?.max).toBeCloseTo(ready.durationSeconds, 0);
      const ended = await waitInPage(page, 'the replay to play to its end', isModeState, 'replay/ended', ready.durationSeconds * 1000 + 20_000);
      expect(ended.ended).toBe(true);
      expect(ended.currentTime).toBeGreaterThan(ready.durationSeconds - 1.5);
      expect((ended.recordingStats as { ended: boolean }).ended).toBe(true);
      await page.screenshot({ path: await artifactPath('player-replay.png') });
      // The browser's own HLS (the Safari path) plays the same replay.
      await page.goto(`${stack.httpUrl}/watch/${replay.playbackId}?recording=${replayId}&engine=native`);
      const native = await waitInPage(page, 'the native replay playing', isModeState, 'replay/playing', 15_000);
      expect(page.url()).toContain('engine=native');
      await waitInPage(page, 'native replay playback to advance', timeAbove, native.currentTime + 1, 10_000);
    } finally {
      await page.close();
    }
  }, 60_000);

  it('rewind: seeks back to the start of the live recorded session and plays it; "Go live" returns to the edge', async () => {
    publisher = startPublisher({ url: dvr.publishUrl, seconds: 120, gopSeconds: 1 });
    const page = await browser.newPage();
    dvrPage = page;
    page.on('pageerror', (err) => pageErrors.push(err.message));
    {
      await page.goto(dvr.playerUrl!);
      const live = await waitInPage(page, 'live', isModeState, 'live/live', 20_000);
      expect((live.stats as { tuning?: string }).tuning).toBe('ll-hls');
      // The session is recorded: the bar spans it, once it is long enough to rewind meaningfully.
      const recorded = await waitInPage(page, 'a rewind bar over 12 s of session', barAtLeast, 12, 30_000);
      expect(recorded.seekable).toBe('true');
      expect(recorded.recordingSrc).toMatch(new RegExp(`/recordings/${dvr.playbackId}/[a-z0-9]{16}/index\\.m3u8$`));
      expect(recorded.latency).toBeLessThan(5);

      // Drag the bar to its start.
      await page.locator('#seek').fill('0');
      const rewound = await waitInPage(page, 'the recording playing from the start', isModeState, 'rewind/playing', 20_000);
      expect(rewound.badge).toBe('Rewind');
      expect(rewound.goLiveHidden).toBe(false);
      // At the session's start (a few seconds of start-up at most), so well behind live.
      expect(rewound.bar!.value).toBeLessThan(4);
      expect(rewound.latency).toBeGreaterThan(recorded.bar!.max - 4);
      await waitInPage(page, 'rewound playback to advance 2 s', timeAbove, rewound.currentTime + 2, 10_000);
      const behind = await view(page);
      expect(behind.mode).toBe('rewind');
      expect(behind.latencyText).toMatch(/^\d+\.\d s behind live$/);
      expect(behind.latency).toBeGreaterThan(8);
      await page.screenshot({ path: await artifactPath('player-rewind.png') });

      await page.locator('#go-live').click();
      const back = await waitInPage(page, 'live again', isModeState, 'live/live', 20_000);
      expect((back.stats as { tuning?: string }).tuning).toBe('ll-hls');
      const near = await waitFor(
        'the latency readout back near live',
        async () => {
          const v = await view(page);
          return v.latency !== null && v.latency < 4 && /^\d+\.\d s behind live$/.test(v.latencyText ?? '') ? v : undefined;
        },
        { timeoutMs: 15_000, everyMs: 250 },
      );
      expect(near.bar?.kind).toBe('session');
      expect(near.bar!.max - near.bar!.value).toBeLessThan(5);
    }
  }, 90_000);

  it('stream list: live thumbnails (re-fetched at one stable URL) and recent recordings linking to their replay', async () => {
    const body = await listing();
    const stream = body.streams.find((s) => s.playbackId === dvr.playbackId);
    expect(stream?.thumbnailUrl).toBe(`/${dvr.playbackId}/thumbnail.jpg`);
    expect(stream?.recording?.playbackUrl).toMatch(/^\/recordings\//);
    const list = await browser.newPage();
    list.on('pageerror', (err) => pageErrors.push(err.message));
    // Thumbnails every second here (10 s by default), so the test sees several rounds.
    await list.addInitScript('window.KEYFRAME_PLAYER_CONFIG = { thumbnailRefreshMs: 1000, listRefreshMs: 1000 };');
    try {
      const before = requests.length;
      await list.goto(`${stack.httpUrl}/`);
      await waitInPage(list, 'the live channel', listHas, `a[data-playback-id="${dvr.playbackId}"]`, 10_000);
      await waitInPage(list, 'thumbnails shown and re-fetched', thumbShown, 3, 20_000);
      const thumb = list.locator('#streams li img.thumb').first();
      expect(await thumb.getAttribute('data-src')).toBe(`${stack.httpUrl}/${dvr.playbackId}/thumbnail.jpg`);
      expect(await thumb.evaluate((img: HTMLImageElement) => img.src.startsWith('data:image/jpeg') && img.naturalWidth > 0)).toBe(true);
      // One URL, no cache-buster: what CloudFront caches.
      const asked = new Set(requests.slice(before).filter((r) => r.endsWith('/thumbnail.jpg') || r.includes('/thumbnail.jpg?')));
      expect([...asked]).toEqual([`/${dvr.playbackId}/thumbnail.jpg`]);

      const item = `#recordings li[data-recording-id="${replayId}"]`;
      await waitInPage(list, 'the replay under recent recordings', listHas, item, 10_000);
      expect(await list.locator('#recent').isVisible()).toBe(true);
      expect(await list.locator(`${item} .duration`).textContent()).toMatch(/^0:0[6-9]$/);
      expect(await list.locator(`${item} .poster img`).getAttribute('src')).toBe(
        `${stack.httpUrl}/recordings/${replay.playbackId}/${replayId}/poster.jpg`,
      );
      // The live session's own recording is listed too, as recording now.
      await waitInPage(list, "the live session's recording", listHas, `#recordings li[data-state="recording"]`, 10_000);
      await list.screenshot({ path: await artifactPath('player-list-recordings.png') });
      const link = list.locator(`${item} a`);
      expect(await link.getAttribute('href')).toBe(`/watch/${replay.playbackId}?recording=${replayId}`);
      await link.click();
      await list.waitForURL(`${stack.httpUrl}/watch/${replay.playbackId}?recording=${replayId}`, { timeout: 5000 });
      await waitInPage(list, 'the replay playing', isModeState, 'replay/playing', 15_000);
    } finally {
      await list.close();
      await publisher?.stop();
      publisher = undefined;
    }
  }, 60_000);

  it("after the end: the live page says ended and offers the recorded broadcast's replay", async () => {
    // The list test stopped the publisher; the rewind test's page is still on the live channel.
    const page = dvrPage!;
    const ended = await waitInPage(page, 'the live page ended', isModeState, 'live/ended', 20_000);
    expect(ended.seekable).toBe('false');
    await page.locator('#replay').click();
    const playing = await waitInPage(page, 'the replay of the broadcast playing', isModeState, 'replay/playing', 15_000);
    expect(playing.badge).toBe('Replay');
    expect(playing.bar?.kind).toBe('media');
    expect(playing.goLiveHidden).toBe(true);
    await page.close();
    dvrPage = undefined;
  }, 40_000);

  it("private channel: the replay plays with the page's token on its playlist and poster, and not without", async () => {
    const priv = await stack.createChannel('private-rec', { private: true, record: true });
    const p = startPublisher({ url: priv.publishUrl, seconds: 5, gopSeconds: 1 });
    const exit = await p.exited;
    expect(exit.code, exit.stderr).toBe(0);
    // Private channels are never listed: the recording is read from the table, as `recordings list` does.
    const rec = await waitFor(
      'the private recording ready',
      async () => (await stack.store.listRecordingsOfChannel(priv.playbackId)).find((r) => r.state === 'ready'),
      { timeoutMs: 15_000, everyMs: 250 },
    );
    const token = signPlaybackToken(playbackKey(stack.playbackSecret), priv.playbackId, tokenExpiry(600));
    const page = await browser.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    try {
      const at = `${stack.httpUrl}/watch/index.html?recording=${priv.playbackId}/${rec.id}`;
      await page.goto(at);
      const refused = await waitInPage(page, 'the replay refused without a token', isModeState, 'replay/error', 15_000);
      expect((refused.recordingStats as { lastStatus?: number }).lastStatus).toBeGreaterThanOrEqual(400);
      const before = requests.length;
      await page.goto(`${at}&token=${token}`);
      const playing = await waitInPage(page, 'the private replay playing', isModeState, 'replay/playing', 15_000);
      expect(playing.poster).toBe(`${stack.httpUrl}/recordings/${priv.playbackId}/${rec.id}/poster.jpg?token=${token}`);
      const asked = requests.slice(before);
      expect(asked).toContain(`/recordings/${priv.playbackId}/${rec.id}/index.m3u8?token=${token}`);
      expect(asked).toContain(`/recordings/${priv.playbackId}/${rec.id}/poster.jpg?token=${token}`);
      // Segments need no token.
      expect(asked.some((r) => /\.m4s$/.test(r))).toBe(true);
    } finally {
      await page.close();
    }
    expect(pageErrors).toEqual([]);
  }, 60_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedChannel } from '../../core/channels';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createPlayerRoutes } from '../../local/player-routes';
import { artifactPath, launchBrowser, type Page, type TestBrowser } from '../support/browser';
import { startPublisher, type Publisher } from '../support/media';

/**
 * The player in a real browser: Debian's Chromium (headless) against the whole local stack, with a real
 * ffmpeg publisher. One stack, one browser and one page for the file; the tests run in order and follow
 * one viewer: there before the stream, watching it, seeing it end, and watching the next one.
 */

let stack: LocalStack;
let browser: TestBrowser;
let channel: CreatedChannel;
let page: Page;
let publisher: Publisher | undefined;
const pageErrors: string[] = [];

interface View {
  domState?: string;
  state?: string;
  message?: string;
  currentTime: number;
  latency: number | null;
  latencyText?: string;
  stats?: unknown;
}

// A string, so the bundler's helpers (tsx) never leak into the browser.
const VIEW = `(() => {
  const v = document.getElementById('video');
  const p = window.keyframePlayer;
  return {
    domState: document.getElementById('player')?.dataset.state,
    state: p?.state,
    message: document.getElementById('message')?.textContent,
    currentTime: v ? v.currentTime : 0,
    latency: p ? p.latency() : null,
    latencyText: document.getElementById('latency')?.textContent,
    stats: p ? p.stats() : undefined,
  };
})()`;
const view = (p: Page = page) => p.evaluate(VIEW) as Promise<View>;

declare global {
  interface Window {
    /** `video.currentTime` at every `timeupdate` since the playback test began (RECORD_TIMES). */
    __kfSamples?: number[];
  }
}

/**
 * Waits until `predicate(arg)` holds in the page, then returns the page's view. Fails after `timeoutMs` with
 * what the page showed. No fixed sleeps: the page itself re-checks every 100 ms. The predicate is a function,
 * not a string: the page's CSP forbids the eval a string predicate needs. Keep predicates to one expression
 * (no inner named functions), so the test transpiler adds no helpers the page lacks.
 */
async function waitInPage<A extends string | number | undefined>(
  p: Page,
  what: string,
  predicate: (arg: A) => unknown,
  arg: A,
  timeoutMs: number,
): Promise<View> {
  try {
    // Primitives reach the page as they are (playwright's Unboxed<A> is A for them).
    await p.waitForFunction(predicate as (arg: unknown) => unknown, arg as unknown, { timeout: timeoutMs, polling: 100 });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${reason}); page: ${JSON.stringify(await view(p).catch(() => undefined))}`);
  }
  return view(p);
}

const isDomState = (state: string) => document.getElementById('player')?.dataset.state === state;
const isState = (state: string) => document.getElementById('player')?.dataset.state === state && window.keyframePlayer?.state === state;
const hasPolled = () => (window.keyframePlayer?.stats().probes ?? 0) >= 1;
const advancedBy = (seconds: number) => ((s) => !!s && s[s.length - 1] - s[0] >= seconds)(window.__kfSamples);
const timeAbove = (t: number) => (document.getElementById('video') as HTMLVideoElement).currentTime > t;

function waitForState(state: string, timeoutMs: number): Promise<View> {
  return waitInPage(page, `state ${state}`, isState, state, timeoutMs);
}

/** Records `video.currentTime` at every `timeupdate` from now on, in the page (`window.__kfSamples`). */
const RECORD_TIMES = `(() => {
  const v = document.getElementById('video');
  const samples = [v.currentTime];
  window.__kfSamples = samples;
  v.addEventListener('timeupdate', () => samples.push(v.currentTime));
})()`;

beforeAll(async () => {
  // Both at once; whichever fails, the other is still kept for afterAll to close. A missing Chromium fails
  // the file with launchBrowser's message.
  const [s, b] = await Promise.allSettled([
    startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      httpRoutes: createPlayerRoutes,
      taskEnv: { KEYFRAME_END_LINGER_SECONDS: '1.5', KEYFRAME_RECONNECT_GRACE_SECONDS: '1' },
    }),
    launchBrowser(),
  ]);
  if (s.status === 'fulfilled') stack = s.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (b.status === 'rejected') throw b.reason;
  if (s.status === 'rejected') throw s.reason;
  channel = await stack.createChannel('browser-test');
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
});

afterAll(async () => {
  await publisher?.stop();
  await browser?.close();
  await stack?.stop();
});

describe('the player page in Chromium', () => {
  it('late start: shows offline before the stream exists, then starts playing by itself', async () => {
    expect(channel.playerUrl).toBe(`${stack.httpUrl}/watch/${channel.playbackId}`);
    await page.goto(channel.playerUrl!);
    // The page has had an answer from the origin (its first playlist poll), and shows what it concluded.
    const before = await waitInPage(page, 'the first playlist poll', hasPolled, undefined, 10_000);
    expect((before.stats as { lastProbe?: string }).lastProbe).toBe('offline');
    expect(before.domState).toBe('offline');
    expect(before.message).toMatch(/offline/i);

    const publishedAt = Date.now();
    publisher = startPublisher({ url: channel.publishUrl, seconds: 120, gopSeconds: 1 });
    const live = await waitForState('live', 12_000);
    const startedIn = Date.now() - publishedAt;
    // The player waits for three 1 s segments before it starts (initialLiveManifestSize), then starts at once.
    expect(startedIn).toBeLessThan(8000);
    expect((live.stats as { engine: string }).engine).toBe('hls.js');
  }, 30_000);

  it('playback: video.currentTime advances for 10 s, with a latency readout; screenshot saved', async () => {
    await page.evaluate(RECORD_TIMES);
    await waitInPage(page, 'playback to advance 10 s', advancedBy, 10, 16_000);
    const samples = (await page.evaluate('window.__kfSamples')) as number[];
    expect(samples.length).toBeGreaterThan(2);
    for (let i = 1; i < samples.length; i++) expect(samples[i]).toBeGreaterThanOrEqual(samples[i - 1]);
    const now = await view();
    expect(now.domState).toBe('live');
    expect(now.latency).toBeGreaterThan(0);
    expect(now.latency).toBeLessThan(10);
    expect(now.latencyText).toMatch(/^\d+\.\d s behind live$/);
    await page.screenshot({ path: await artifactPath('player-playback.png') });
  }, 30_000);

  it('LL-HLS: hls.js plays in low-latency mode for 10 s with no stall, on parts, synced at the part hold-back', async () => {
    const LL = `(() => {
      const h = window.keyframePlayer.player.hls;
      const d = h && h.latestLevelDetails;
      return h && d ? { lowLatencyMode: h.lowLatencyMode, targetLatency: h.targetLatency, partTarget: d.partTarget,
        canBlockReload: d.canBlockReload, parts: d.partList ? d.partList.length : 0 } : null;
    })()`;
    const before = await view();
    expect((before.stats as { tuning?: string }).tuning).toBe('ll-hls');
    const stallsBefore = (before.stats as { stalls: number }).stalls;
    const ll = (await page.evaluate(LL)) as {
      lowLatencyMode: boolean;
      targetLatency: number;
      partTarget: number;
      canBlockReload: boolean;
      parts: number;
    };
    expect(ll).toMatchObject({ lowLatencyMode: true, canBlockReload: true, partTarget: 0.334 });
    expect(ll.parts).toBeGreaterThan(0);
    // The part hold-back (3 × 0.334 s), raised by hls.js only after a stall.
    expect(ll.targetLatency).toBeCloseTo(1.002, 2);
    await page.evaluate(RECORD_TIMES);
    await waitInPage(page, 'LL playback to advance 10 s', advancedBy, 10, 16_000);
    const after = await view();
    expect(after.domState).toBe('live');
    expect((after.stats as { stalls: number }).stalls).toBe(stallsBefore);
    expect(after.latency).toBeGreaterThan(0);
    expect(after.latencyText).toMatch(/^\d+\.\d s behind live$/);
  }, 30_000);

  it('stream list: / shows the live channel and links to its player', async () => {
    const list = await browser.newPage();
    try {
      await list.goto(`${stack.httpUrl}/`);
      const link = list.locator(`a[data-playback-id="${channel.playbackId}"]`);
      await link.waitFor({ timeout: 10_000 });
      expect(await link.textContent()).toBe('browser-test');
      expect(await link.getAttribute('href')).toBe(`/watch/${channel.playbackId}`);
      await link.click();
      await list.waitForURL(`${stack.httpUrl}/watch/${channel.playbackId}`, { timeout: 5000 });
      expect(await list.locator('#player').count()).toBe(1);
    } finally {
      await list.close();
    }
  }, 20_000);

  it('ended: says so when the publisher stops, then plays the next publish without a reload', async () => {
    await publisher!.stop();
    publisher = undefined;
    const ended = await waitForState('ended', 15_000);
    expect(ended.message).toMatch(/ended/i);
    // Back to waiting: the ended page polls, and a new publish plays with no reload.
    const navigations: string[] = [];
    page.on('framenavigated', (f) => navigations.push(f.url()));
    publisher = startPublisher({ url: channel.publishUrl, seconds: 60, gopSeconds: 1 });
    await waitForState('live', 15_000);
    const t0 = (await view()).currentTime;
    await waitInPage(page, 'playback to advance', timeAbove, t0 + 1, 8000);
    expect(navigations).toEqual([]);
    await publisher.stop();
    publisher = undefined;
    expect(pageErrors).toEqual([]);
  }, 40_000);

  it('native HLS engine (the Safari path, forced with ?engine=native): plays, then ends', async () => {
    const other = await stack.createChannel('native-engine');
    const native = await browser.newPage();
    try {
      await native.goto(`${other.playerUrl}?engine=native`);
      const nativeView = () => native.evaluate(VIEW) as Promise<View>;
      expect((await nativeView()).domState).toBe('offline');
      publisher = startPublisher({ url: other.publishUrl, seconds: 9, gopSeconds: 1 });
      const live = await waitInPage(native, 'native live', isDomState, 'live', 15_000);
      expect((live.stats as { engine: string }).engine).toBe('native');
      await waitInPage(native, 'native playback to advance', timeAbove, live.currentTime + 2, 6000);
      await waitInPage(native, 'native ended', isDomState, 'ended', 15_000);
    } finally {
      await publisher?.stop();
      publisher = undefined;
      await native.close();
    }
  }, 40_000);
});

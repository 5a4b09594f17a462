import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedChannel } from '../../cli/keys';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { createPlayerRoutes } from '../../local/player-routes';
import { artifactPath, launchBrowser, type Page, type TestBrowser } from '../support/browser';
import { startPublisher, waitFor, type Publisher } from '../support/media';

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

async function waitForState(state: string, timeoutMs: number): Promise<View> {
  try {
    return await waitFor(`state ${state}`, async () => {
      const v = await view();
      return v.domState === state && v.state === state ? v : undefined;
    }, timeoutMs, 200);
  } catch (err) {
    throw new Error(`${(err as Error).message}; page: ${JSON.stringify(await view())}`);
  }
}

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
    await new Promise((r) => setTimeout(r, 1500));
    const before = await view();
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
    const first = await view();
    const samples: number[] = [first.currentTime];
    const started = Date.now();
    while (samples[samples.length - 1] - first.currentTime < 10) {
      if (Date.now() - started > 16_000) throw new Error(`playback advanced only ${samples[samples.length - 1] - first.currentTime} s in 16 s: ${JSON.stringify(await view())}`);
      await new Promise((r) => setTimeout(r, 500));
      samples.push((await view()).currentTime);
    }
    for (let i = 1; i < samples.length; i++) expect(samples[i]).toBeGreaterThanOrEqual(samples[i - 1]);
    const now = await view();
    expect(now.domState).toBe('live');
    expect(now.latency).toBeGreaterThan(0);
    expect(now.latency).toBeLessThan(10);
    expect(now.latencyText).toMatch(/^\d+\.\d s behind live$/);
    await page.screenshot({ path: await artifactPath('player-playback.png') });
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
    await waitFor('playback to advance', async () => ((await view()).currentTime - t0 > 1 ? true : undefined), 8000, 200);
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
      const live = await waitFor('native live', async () => ((await nativeView()).domState === 'live' ? nativeView() : undefined), 15_000, 200);
      expect((live.stats as { engine: string }).engine).toBe('native');
      await waitFor('native playback to advance', async () => ((await nativeView()).currentTime - live.currentTime > 2 ? true : undefined), 6000, 200);
      await waitFor('native ended', async () => ((await nativeView()).domState === 'ended' ? true : undefined), 15_000, 200);
    } finally {
      await publisher?.stop();
      publisher = undefined;
      await native.close();
    }
  }, 40_000);
});

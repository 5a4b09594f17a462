import type { CDPSession } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedChannel } from '../../core/channels';
import { createPlayerRoutes } from '../../local/player-routes';
import { type LocalStack, startLocalStack } from '../../local/stack';
import { artifactPath, launchBrowser, type Page, type TestBrowser } from '../support/browser';
import { type LadderView, RECORD_PROGRESS, waitLadderView } from '../support/ladder-fixture';
import { ffmpegChildren, kill } from '../support/ladder';
import { type Publisher, startPublisher } from '../support/media';
import { waitFor } from '../support/wait';

/**
 * Qualities on the real ladder (issue 14), in Debian's Chromium against the whole local stack: a ladder channel
 * (`ladder: '240p,160p'`), a real ffmpeg publisher at 480x270, the ingest's transcoder and packager (LL-HLS
 * renditions), the origin's multivariant playlist. hls.js starts on the source; throttled through the DevTools
 * protocol below the source's BANDWIDTH it ends on a rung with no stall of 1 s or more, and climbs back to the
 * source when the throttle lifts. Small pictures keep the transcoder cheap on two cores.
 */

let stack: LocalStack;
let browser: TestBrowser;
let channel: CreatedChannel;
let publisher: Publisher | undefined;
let page: Page;
let cdp: CDPSession;
const pageErrors: string[] = [];

const SOURCE = '270p (source)';
const STALL_MS = 1000;
/** `timeupdate` fires about every 250 ms: a gap between picture-moving ones can exceed a stall by that much. */
const GAP_MS = STALL_MS + 300;

/** The stalls since `since` (epoch ms), with the one in progress. */
function stallsSince(v: LadderView, since: number): number[] {
  return [...v.stalls.recent.filter((s) => s.at >= since).map((s) => s.ms), v.stalls.ongoingMs ?? 0];
}

function expectNoLongStall(v: LadderView, since: number, what: string): void {
  const detail = `${what}: ${JSON.stringify({ stalls: v.stalls, maxGapMs: v.maxGapMs })}`;
  expect(Math.max(...stallsSince(v, since)), detail).toBeLessThan(STALL_MS);
  expect(v.maxGapMs, detail).toBeLessThan(GAP_MS);
}

const playing = (v: LadderView) => v.quality?.playing;

let throttled = false;
async function unthrottle(): Promise<void> {
  throttled = false;
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
}

beforeAll(async () => {
  const [s, b] = await Promise.allSettled([
    startLocalStack({
      rtmpPort: 0,
      httpPort: 0,
      httpRoutes: createPlayerRoutes,
      taskEnv: { KEYFRAME_END_LINGER_SECONDS: '1', KEYFRAME_THUMBNAIL_SECONDS: '0' },
    }),
    launchBrowser(),
  ]);
  if (s.status === 'fulfilled') stack = s.value;
  if (b.status === 'fulfilled') browser = b.value;
  if (b.status === 'rejected') throw b.reason;
  if (s.status === 'rejected') throw s.reason;
  channel = await stack.createChannel('ladder-player', { ladder: '240p,160p' });
  page = await browser.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
}, 90_000);

afterAll(async () => {
  await publisher?.stop();
  await browser?.close();
  await stack?.stop();
});

describe('qualities on a ladder channel of the local stack (Chromium)', () => {
  it('offers Auto, the source and each rung, starts on the source, and switches down under a throttle and back up after it', async () => {
    publisher = startPublisher({ url: channel.publishUrl, seconds: 150, gopSeconds: 1, size: '480x270', videoBitrate: '1500k' });
    // The multivariant playlist once it lists the source and both rungs, with their measured bitrates.
    const variants = await waitFor(
      'the multivariant playlist with both rungs',
      async () => {
        const res = await fetch(`${stack.httpUrl}/${channel.playbackId}/index.m3u8`, { cache: 'no-store' });
        const body = res.status === 200 ? await res.text() : '';
        const v = [...body.matchAll(/#EXT-X-STREAM-INF:[^\n]*?BANDWIDTH=(\d+)[^\n]*\n(\S+)/g)].map((m) => ({ bandwidth: Number(m[1]), uri: m[2] }));
        return v.length === 3 ? v : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(variants.map((v) => v.uri)).toEqual(['source.m3u8', '240p.m3u8', '160p.m3u8']);

    await page.goto(channel.playerUrl!);
    await page.evaluate(RECORD_PROGRESS);
    const live = await waitLadderView(
      page,
      'live with three qualities, the source playing',
      (v) => v.state === 'live' && (v.quality?.levels.length ?? 0) === 3 && !!playing(v),
      30_000,
    );
    expect((await page.evaluate('window.keyframePlayer.stats().tuning')) as string).toBe('ll-hls');
    expect(live.quality!.levels.map((l) => l.label)).toEqual([SOURCE, '240p', '160p']);
    expect(live.options.slice(1)).toEqual([SOURCE, '240p', '160p']);
    // It started high: hls.js's first fragment was the source's. (On a loaded machine hls.js may still drop from
    // it at once, if that first load could not arrive in time; it climbs back, as below.)
    expect(live.quality!.firstLoad).toBe(SOURCE);
    const settled = await waitLadderView(
      page,
      'the source playing for 4 s',
      (v) => playing(v) === SOURCE && v.currentTime > live.currentTime + 4 && v.readout === `Auto · ${SOURCE}`,
      40_000,
    );
    expect(settled.options[0]).toBe('Auto (270p)');
    expect(settled.quality!.resolution).toEqual({ width: 480, height: 270 });
    await page.screenshot({ path: await artifactPath('player-ladder.png') });

    // The BANDWIDTHs hls.js has (the ingest measures them over its window), highest first.
    const [top, second] = settled.quality!.levels.map((l) => l.bitrate);
    expect(top).toBeGreaterThan(second * 1.5);
    const throttle = Math.round(Math.sqrt(top * second));
    await page.evaluate('window.__kfProgress.reset()');
    const throttledAt = Date.now();
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: 20,
      downloadThroughput: Math.round(throttle / 8),
      uploadThroughput: Math.round(throttle / 8),
    });
    // Whatever happens below, the next test runs unthrottled.
    throttled = true;
    const down = await waitLadderView(page, 'a rung playing under the throttle', (v) => !!playing(v) && playing(v) !== SOURCE, 30_000);
    const downIn = Date.now() - throttledAt;
    const held = await waitLadderView(
      page,
      '8 s of playback on the rungs',
      (v) => v.currentTime > down.currentTime + 8 || playing(v) === SOURCE,
      30_000,
    );
    expect(playing(held)).not.toBe(SOURCE);
    expect(held.state).toBe('live');
    expectNoLongStall(held, throttledAt, 'throttled');

    const liftedAt = Date.now();
    await unthrottle();
    const up = await waitLadderView(page, 'the source again once the throttle lifted', (v) => playing(v) === SOURCE, 60_000);
    const upIn = Date.now() - liftedAt;
    expectNoLongStall(up, throttledAt, 'after the throttle lifted');
    const latency = (await page.evaluate('window.keyframePlayer.latency()')) as number | null;
    console.log(
      `ladder (stack) switching: BANDWIDTH ${settled.quality!.levels.map((l) => `${l.label} ${l.bitrate}`).join(', ')}; ` +
        `down to ${playing(down)} in ${downIn} ms at ${(throttle / 1e6).toFixed(2)} Mbit/s; ` +
        `back to the source in ${upIn} ms; stalls since the throttle ${JSON.stringify(up.stalls.recent.filter((s) => s.at >= throttledAt))}; ` +
        `longest progress gap ${Math.round(up.maxGapMs)} ms; switches ${up.quality!.switches}; estimate resets ${up.quality!.estimateResets ?? 0}; latency ${latency?.toFixed(2)} s`,
    );
  }, 150_000);

  it('a pinned rung plays without ABR; Auto returns to the source', async () => {
    if (throttled) await unthrottle();
    await page.evaluate('window.__kfProgress.reset()');
    const since = Date.now();
    await page.selectOption('#quality', '160p');
    const pinned = await waitLadderView(
      page,
      '160p pinned and playing',
      (v) => playing(v) === '160p' && v.quality?.auto === false && v.readout === '160p',
      15_000,
    );
    const still = await waitLadderView(page, '5 s more on the pin', (v) => v.currentTime > pinned.currentTime + 5 || playing(v) !== '160p', 20_000);
    expect(playing(still)).toBe('160p');
    expect(still.quality!.resolution?.height).toBe(160);
    expectNoLongStall(still, since, 'pinning 160p');
    await page.selectOption('#quality', 'auto');
    const auto = await waitLadderView(
      page,
      'Auto back on the source',
      (v) => v.quality?.auto === true && playing(v) === SOURCE && v.readout === `Auto · ${SOURCE}`,
      60_000,
    );
    expectNoLongStall(auto, since, 'back to Auto');
    expect(pageErrors).toEqual([]);
  }, 90_000);

  it('the transcoder killed while pinned to a rung: playback goes on (on the source), and the pin is back with the rungs', async () => {
    await page.selectOption('#quality', '160p');
    await waitLadderView(page, '160p pinned', (v) => playing(v) === '160p' && v.quality?.auto === false, 15_000);
    const task = stack.fleet.serving()[0];
    const [transcoder] = await waitFor('the ladder ffmpeg', async () => {
      const pids = await ffmpegChildren(task.pid!);
      return pids.length === 1 ? pids : undefined;
    });
    await page.evaluate('window.__kfProgress.reset()');
    const since = Date.now();
    kill(transcoder);
    // The rungs leave (their playlists answer 404): the page plays the source, the only variant left.
    const alone = await waitLadderView(page, 'the source alone, playing', (v) => v.state === 'live' && playing(v) === SOURCE, 30_000);
    const aloneIn = Date.now() - since;
    // The supervisor restarts the transcoder and the rungs come back: the page offers them again, and the pin
    // (kept by label) plays 160p again.
    const back = await waitLadderView(
      page,
      'the rungs back, 160p pinned again',
      (v) => (v.quality?.levels.length ?? 0) === 3 && playing(v) === '160p' && v.quality?.auto === false,
      60_000,
    );
    const backIn = Date.now() - since;
    const history = (await page.evaluate('window.keyframePlayer.stats().history.map((h) => h.state)')) as string[];
    const stalls = back.stalls.recent.filter((x) => x.at >= since).map((x) => x.ms);
    console.log(
      `ladder (stack) transcoder killed: source alone after ${aloneIn} ms (levels ${alone.quality!.levels.length}), ` +
        `rungs and pin back after ${backIn} ms (reattached ${back.quality!.reattached ?? 0}, repinned ${back.quality!.repinned ?? 0}, dropped ${JSON.stringify(back.quality!.dropped ?? [])}); ` +
        `stalls ${JSON.stringify(stalls)}; longest progress gap ${Math.round(back.maxGapMs)} ms; states ${history.join(' → ')}`,
    );
    expect(history).not.toContain('ended');
    expect(back.state).toBe('live');
    // The source never stopped: whatever the player did to leave the dead rung, the picture came back quickly.
    expect(Math.max(0, ...stalls)).toBeLessThan(3000);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});

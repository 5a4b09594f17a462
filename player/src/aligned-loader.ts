import { FetchLoader, type HlsConfig, type LoaderCallbacks, type LoaderConfiguration, type LoaderContext } from 'hls.js';
import { playlistTiming, type PlaylistTiming } from './playlist';

/**
 * A live playlist loader that reloads when the next segment is due, not on a fixed beat.
 *
 * hls.js reloads a live media playlist once per target duration, timed from its own previous request.
 * With 1 s segments that beat never drifts against the segment clock, so whatever phase a session starts
 * in, it keeps: a viewer whose reloads land just before each new segment sees every segment up to a whole
 * segment late, and sits that much further behind live for the whole session (measured at 1 s segments:
 * 2.55 s glass-to-glass p50 on the fixed beat against 1.90 s with this loader; docs/benchmarks.md).
 *
 * This loader learns when segments appear: each playlist's newest segment ends at a program-date-time,
 * and it is first seen some time later; the smallest such lag over recent segments is the stream's listing
 * lag (it absorbs encoder, ingest and clock offsets alike, so wall-clock skew does not matter). A reload
 * asked for before the next segment is due waits for it, then polls lightly (a few small GETs) until the
 * segment is listed, and only then loads the playlist for hls.js. Cost: about three playlist requests per
 * segment instead of one. Playlists without PROGRAM-DATE-TIME, and the first loads, pass straight through.
 */

const EARLY_MS = 80;
const POLL_MS = 100;
const LAG_WINDOW = 8;

export interface AlignedLoaderStats {
  /** The learned listing lag: ms after a segment's PDT end that it is listed (negative if PDT runs late). */
  lagMs?: number;
  /** Reloads held until the next segment was due. */
  waits: number;
  /** Light playlist GETs made while waiting for a due segment. */
  polls: number;
}

export function createAlignedPlaylistLoader(stats: AlignedLoaderStats = { waits: 0, polls: 0 }): HlsConfig['pLoader'] {
  const streams = new Map<string, { last?: PlaylistTiming; lags: number[] }>();
  const stream = (url: string) => {
    let s = streams.get(url);
    if (!s) streams.set(url, (s = { lags: [] }));
    return s;
  };

  /**
   * Records one playlist response; returns whether it lists a segment newer than the last one seen. `precise`:
   * the previous look, one poll interval ago, did not have it, so it appeared just now: a lag sample.
   */
  const observe = (url: string, text: string, seenAt: number, precise: boolean): boolean => {
    const t = playlistTiming(text);
    if (!t) return true;
    const s = stream(url);
    // A new publish session (the sequence went back) is learnt again.
    if (s.last && t.lastSn < s.last.lastSn) s.lags.length = 0;
    const advanced = !s.last || t.lastSn !== s.last.lastSn || t.ended;
    if (precise && s.last && t.lastSn === s.last.lastSn + 1 && t.lastEndMs !== undefined) {
      s.lags.push(seenAt - t.lastEndMs);
      if (s.lags.length > LAG_WINDOW) s.lags.shift();
      stats.lagMs = Math.min(...s.lags);
    }
    s.last = t;
    return advanced;
  };

  class AlignedPlaylistLoader extends FetchLoader {
    private cancelled = false;
    private timer: ReturnType<typeof setTimeout> | undefined;

    override load(context: LoaderContext, config: LoaderConfiguration, callbacks: LoaderCallbacks<LoaderContext>): void {
      const url = context.url;
      const wrapped: LoaderCallbacks<LoaderContext> = {
        ...callbacks,
        onSuccess: (response, loadStats, ctx, details) => {
          if (typeof response.data === 'string') observe(url, response.data, Date.now(), false);
          callbacks.onSuccess(response, loadStats, ctx, details);
        },
      };
      const go = () => {
        if (!this.cancelled) super.load(context, config, wrapped);
      };
      const s = streams.get(url);
      const last = s?.last;
      // First load of this playlist, an ended one, or no program-date-time: nothing to align to.
      if (!s || !last || last.ended || last.lastEndMs === undefined) {
        go();
        return;
      }
      const maxPolls = Math.ceil((1.5 * last.targetMs) / POLL_MS) + 1;
      if (s.lags.length === 0) {
        // Not learnt yet: poll until a segment appears while we watch (not one that appeared before we
        // looked), which gives a precise lag sample, and load then.
        stats.waits++;
        void this.align(url, 0, maxPolls, true).then(go, go);
        return;
      }
      // The next segment not yet seen: listed already (a late reload: load at once), or due soon (wait).
      const due = last.lastEndMs + last.nextDurationMs + Math.min(...s.lags) - EARLY_MS;
      const wait = due - Date.now();
      if (wait <= 0) {
        go();
        return;
      }
      if (wait > 1.5 * last.targetMs) {
        // Implausibly far: the clock or the stream jumped. Learn again.
        s.lags.length = 0;
        go();
        return;
      }
      stats.waits++;
      void this.align(url, wait, maxPolls, false).then(go, go);
    }

    private sleep(ms: number): Promise<void> {
      return new Promise((resolve) => {
        this.timer = setTimeout(resolve, ms);
      });
    }

    /**
     * Waits until the next segment is due, then polls (lightly, bounded) until it is listed. `learning`:
     * the first new segment seen may have appeared long before; keep polling for the one after it.
     */
    private async align(url: string, waitMs: number, maxPolls: number, learning: boolean): Promise<void> {
      if (waitMs > 0) await this.sleep(waitMs);
      let sawOld = false;
      for (let i = 0; i < maxPolls && !this.cancelled; i++) {
        stats.polls++;
        let text: string | undefined;
        try {
          const res = await fetch(url, { cache: 'no-store', credentials: 'omit' });
          text = res.ok ? await res.text() : undefined;
        } catch {
          text = undefined;
        }
        // Errors and anything unexpected: hls.js's own request will see it and deal with it.
        if (text === undefined || this.cancelled) return;
        const advanced = observe(url, text, Date.now(), sawOld);
        if (advanced && (!learning || sawOld)) return;
        sawOld = true;
        await this.sleep(POLL_MS);
      }
    }

    override abort(): void {
      this.cancelled = true;
      clearTimeout(this.timer);
      super.abort();
    }

    override destroy(): void {
      this.cancelled = true;
      clearTimeout(this.timer);
      super.destroy();
    }
  }
  return AlignedPlaylistLoader as unknown as HlsConfig['pLoader'];
}

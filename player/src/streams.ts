import type { PageConfig } from './page-config';
import { listView, type LiveCard, type RecordingCard, THUMBNAIL_REFRESH_MS } from './streams-view';
import { replayTemplate } from './urls';

/**
 * The stream list page: live channels from `GET /api/streams` with their current thumbnail, and the recent
 * recordings with their posters, refreshed every few seconds. The list itself is streams-view.ts (pure).
 *
 * A live thumbnail keeps one stable URL (CloudFront caches it briefly): the page re-fetches that same URL every
 * THUMBNAIL_REFRESH_MS with the browser's normal caching, so its short max-age decides when a new picture comes,
 * and shows what it got as a `data:` URL (an `<img>` given the same URL again would not look again).
 */

const REFRESH_MS = 5000;

function main(): void {
  const list = document.getElementById('streams') as HTMLUListElement;
  const status = document.getElementById('status') as HTMLElement;
  const recent = document.getElementById('recent') as HTMLElement;
  const recordingsList = document.getElementById('recordings') as HTMLUListElement;
  const cfg: PageConfig = window.KEYFRAME_PLAYER_CONFIG ?? {};
  // `/watch/{id}` on the local stack; `index.html?v={id}` beside the page on CloudFront.
  const playerLink = document.body.dataset.playerLink ?? '/watch/{id}';
  const replayLink = document.body.dataset.replayLink ?? replayTemplate(playerLink);
  const api = document.body.dataset.api ?? '/api/streams';
  const base = (cfg.playbackBaseUrl ?? location.origin).replace(/\/$/, '');
  const thumbEveryMs = cfg.thumbnailRefreshMs ?? THUMBNAIL_REFRESH_MS;
  const listEveryMs = cfg.listRefreshMs ?? REFRESH_MS;

  /** The newest picture of each thumbnail URL, as a data: URL, and when it was fetched. */
  const thumbs = new Map<string, { data?: string; at: number; fetches: number; pending?: boolean }>();
  let current: LiveCard[] = [];
  let shownRecordings = '';

  const readAsDataUrl = (blob: Blob) =>
    new Promise<string>((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });

  const showThumb = (url: string) => {
    const data = thumbs.get(url)?.data;
    if (!data) return;
    list.querySelectorAll<HTMLImageElement>('img.thumb').forEach((img) => {
      if (img.dataset.src === url && img.src !== data) img.src = data;
    });
  };

  const fetchThumb = async (url: string) => {
    const entry = thumbs.get(url) ?? { at: 0, fetches: 0 };
    thumbs.set(url, entry);
    if (entry.pending) return;
    entry.pending = true;
    entry.at = Date.now();
    try {
      // The default cache mode: a fresh copy comes from the browser's cache, a stale one from CloudFront.
      const res = await fetch(url, { credentials: 'omit' });
      entry.fetches++;
      if (res.ok && (res.headers.get('content-type') ?? '').startsWith('image/')) {
        entry.data = await readAsDataUrl(await res.blob());
        showThumb(url);
      }
    } catch {
      // A missing picture is decoration; the next round tries again.
    } finally {
      entry.pending = false;
    }
  };

  const refreshThumbs = () => {
    const now = Date.now();
    const wanted = new Set(current.map((c) => c.thumbnail).filter((u): u is string => !!u));
    for (const url of thumbs.keys()) if (!wanted.has(url)) thumbs.delete(url);
    for (const url of wanted) {
      const t = thumbs.get(url);
      if (!t || now - t.at >= thumbEveryMs) void fetchThumb(url);
    }
  };

  const liveItem = (s: LiveCard) => {
    const li = document.createElement('li');
    if (s.thumbnail) {
      const img = document.createElement('img');
      img.className = 'thumb';
      img.alt = '';
      img.dataset.src = s.thumbnail;
      const data = thumbs.get(s.thumbnail)?.data;
      if (data) img.src = data;
      li.append(img);
    }
    const a = document.createElement('a');
    a.href = s.href;
    a.textContent = s.name;
    a.dataset.playbackId = s.playbackId;
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = s.meta;
    li.append(a, meta);
    if (s.recorded) {
      const rewind = document.createElement('span');
      rewind.className = 'rewind';
      rewind.textContent = 'recorded · rewind';
      li.append(rewind);
    }
    return li;
  };

  const recordingItem = (r: RecordingCard) => {
    const li = document.createElement('li');
    li.dataset.recordingId = r.id;
    li.dataset.state = r.state;
    const a = document.createElement('a');
    a.href = r.href;
    a.dataset.recordingId = r.id;
    const poster = document.createElement('span');
    poster.className = 'poster';
    if (r.poster) {
      const img = document.createElement('img');
      img.alt = '';
      img.loading = 'lazy';
      img.src = r.poster;
      poster.append(img);
    }
    const duration = document.createElement('span');
    duration.className = 'duration';
    duration.textContent = r.duration;
    poster.append(duration);
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = r.title;
    a.append(poster, name);
    const meta = document.createElement('span');
    meta.className = 'meta';
    meta.textContent = r.meta;
    li.append(a, meta);
    return li;
  };

  const render = (body: unknown) => {
    const view = listView(body, { playerLink, replayLink, base }, Date.now());
    current = view.live;
    list.replaceChildren(...view.live.map(liveItem));
    list.dataset.count = String(view.live.length);
    status.textContent = view.live.length ? '' : 'No one is live right now. This list refreshes by itself.';
    // Rebuilt only when something changed (a poster is not reloaded each round).
    const key = JSON.stringify(view.recordings);
    if (key !== shownRecordings) {
      shownRecordings = key;
      recordingsList.replaceChildren(...view.recordings.map(recordingItem));
    }
    recordingsList.dataset.count = String(view.recordings.length);
    recent.hidden = view.recordings.length === 0;
    refreshThumbs();
  };

  const refresh = async () => {
    try {
      const res = await fetch(api, { credentials: 'omit' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      render(await res.json());
      document.body.dataset.loaded = 'true';
    } catch {
      status.textContent = 'Could not load the stream list; retrying…';
    }
    setTimeout(refresh, listEveryMs);
  };
  void refresh();
  setInterval(refreshThumbs, Math.max(250, Math.min(thumbEveryMs, 1000)));

  /** For tests and the curious: how often each thumbnail URL was fetched. */
  (window as Window & { keyframeList?: unknown }).keyframeList = {
    thumbnails: () => [...thumbs].map(([url, t]) => ({ url, fetches: t.fetches, shown: !!t.data })),
  };
}

main();

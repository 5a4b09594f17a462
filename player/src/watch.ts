import { createPlayer, type PlayerState } from './player';
import { playbackIdFromLocation, type WatchPageApi } from './page-config';

/** The `/watch/<playbackId>` page: the player, its state, and the latency readout. */

const PLAYBACK_TOKEN = /^[0-9]{1,12}\.[A-Za-z0-9_-]{43}$/;

const LABELS: Record<PlayerState, string> = {
  offline: 'Offline',
  starting: 'Starting…',
  live: 'Live',
  ended: 'Ended',
};
const MESSAGES: Record<PlayerState, string> = {
  offline: 'This stream is offline. It will start here by itself when the streamer goes live.',
  starting: 'Starting the stream…',
  live: '',
  ended: 'The stream has ended. It will start again here by itself if the streamer comes back.',
};

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

function main(): void {
  const root = $('player');
  const video = $('video') as HTMLVideoElement;
  const badge = $('state');
  const message = $('message');
  const latencyEl = $('latency');
  const goLive = $('go-live') as HTMLButtonElement;
  const unmute = $('unmute') as HTMLButtonElement;
  const title = $('title');

  const cfg = window.KEYFRAME_PLAYER_CONFIG ?? {};
  const playbackId = playbackIdFromLocation(location);
  if (!playbackId) {
    root.dataset.state = 'offline';
    badge.textContent = 'Not found';
    message.textContent = 'This is not a player address: expected /watch/<playback ID>.';
    return;
  }
  const base = (cfg.playbackBaseUrl ?? location.origin).replace(/\/$/, '');
  const query = new URLSearchParams(location.search);
  // A private channel's page is opened with its signed playback token; only playlists need it.
  const token = query.get('token');
  const src = `${base}/${playbackId}/index.m3u8${token && PLAYBACK_TOKEN.test(token) ? `?token=${token}` : ''}`;
  const engineParam = query.get('engine');
  const engine = engineParam === 'native' || engineParam === 'hls.js' ? engineParam : cfg.engine;

  let named = false;
  const showName = async () => {
    if (named) return;
    named = true;
    try {
      const res = await fetch(new URL('/api/streams', `${base}/`), { credentials: 'omit' });
      if (!res.ok) return;
      const body = (await res.json()) as { streams?: Array<{ playbackId: string; name: string }> };
      const name = body.streams?.find((s) => s.playbackId === playbackId)?.name;
      if (name) {
        title.textContent = name;
        document.title = `${name} · Keyframe`;
      }
    } catch {
      // The name is decoration; the stream plays without it.
    }
  };

  const render = (state: PlayerState) => {
    root.dataset.state = state;
    badge.textContent = LABELS[state];
    message.textContent = MESSAGES[state];
    message.hidden = state === 'live';
    if (state !== 'live') {
      latencyEl.textContent = '';
      goLive.hidden = true;
    } else {
      void showName();
    }
  };

  const player = createPlayer({
    video,
    src,
    engine,
    // hls.js's transmuxer worker, served beside this page (the ESM build has no inline worker).
    hlsConfig: { workerPath: '/watch/hls.worker.js', ...cfg.hlsConfig },
    pdtOffsetSeconds: cfg.pdtOffsetSeconds,
    pollMs: cfg.pollMs,
    onStateChange: render,
    onAutoplayMuted: () => {
      unmute.hidden = false;
    },
  });
  root.dataset.engine = player.engine;
  if (player.engine === 'none') {
    message.textContent = 'This browser cannot play HLS.';
  }
  render(player.state);

  unmute.addEventListener('click', () => {
    video.muted = false;
    unmute.hidden = true;
  });
  goLive.addEventListener('click', () => player.goLive());

  setInterval(() => {
    if (player.state !== 'live') return;
    const seconds = player.latency();
    latencyEl.textContent = seconds === null ? '' : `${seconds.toFixed(1)} s behind live`;
    const edge = player.edgeLatency();
    const target = player.hls?.targetLatency ?? null;
    goLive.hidden = !(edge !== null && target !== null && edge > target + 3);
  }, 250);

  const api: WatchPageApi = {
    playbackId,
    src,
    get state() {
      return player.state;
    },
    latency: () => player.latency(),
    pdtLatency: () => player.pdtLatency(),
    edgeLatency: () => player.edgeLatency(),
    stats: () => player.stats(),
    player,
  };
  window.keyframePlayer = api;
}

main();

import { playbackIdFromLocation, type PageState, type WatchPageApi } from './page-config';
import { createPlayer, type KeyframePlayer, type PlayerStats, pickEngine, type PlayerState } from './player';
import { autoOptionText, type QualityChoice, qualityReadout } from './qualities';
import type { RecordingPlayerState } from './recording-player';
import { formatClock } from './timeline';
import { createTimeshift } from './timeshift';
import { DEFAULT_PDT_OFFSET_SECONDS } from './tuning';
import {
  livePlaylistUrl,
  recordingFromPlaybackUrl,
  recordingFromSearch,
  recordingPlaylistUrl,
  recordingPosterUrl,
  resolveUrl,
  thumbnailUrl,
  tokenFromSearch,
  withToken,
} from './urls';

/**
 * The player page: `/watch/<playbackId>` (live, with rewind when the session is recorded), or a recording,
 * `?recording=<playbackId>/<recordingId>` (or `?recording=<recordingId>` beside the playback ID): its replay, or
 * the rewind of a session still live. Its state, the seek bar, the latency readout and "Go live".
 */

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
/** A recording's player state, as `#player[data-state]`. */
const RECORDING_STATES: Record<RecordingPlayerState, PageState> = {
  starting: 'starting',
  playing: 'playing',
  ended: 'ended',
  error: 'error',
};
const RECORDING_MESSAGES: Record<RecordingPlayerState, string> = {
  starting: 'Loading…',
  playing: '',
  ended: 'End of the replay.',
  error: 'This recording cannot be played right now.',
};
/** While live and the session's recording is not known: look again this often, this many times per session. */
const RECORDING_LOOKUP_MS = 5000;
const RECORDING_LOOKUPS = 3;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

interface Listing {
  streams?: Array<{ playbackId?: string; name?: string; recording?: { id?: string; playbackUrl?: string } }>;
  recordings?: Array<{ id?: string; playbackId?: string; channel?: string }>;
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
  const seekRow = $('seek-row');
  const seekBar = $('seek') as HTMLInputElement;
  const seekTime = $('seek-time');
  const replayButton = $('replay') as HTMLButtonElement;
  const qualityPicker = $('quality-picker');
  const qualitySelect = $('quality') as HTMLSelectElement;
  const qualityNow = $('quality-now');

  const cfg = window.KEYFRAME_PLAYER_CONFIG ?? {};
  const fromLocation = playbackIdFromLocation(location);
  const recordingRef = recordingFromSearch(location.search, fromLocation);
  const playbackId = fromLocation ?? recordingRef?.playbackId;
  if (!playbackId) {
    root.dataset.state = 'offline';
    badge.textContent = 'Not found';
    message.textContent = 'This is not a player address: expected /watch/<playback ID>, or ?recording=<playback ID>/<recording ID>.';
    return;
  }
  const base = (cfg.playbackBaseUrl ?? location.origin).replace(/\/$/, '');
  const query = new URLSearchParams(location.search);
  // A private channel's page is opened with its signed playback token: playlists, posters and thumbnails need it.
  const token = tokenFromSearch(location.search);
  const src = livePlaylistUrl(base, playbackId, token);
  const engineParam = query.get('engine');
  const engine = engineParam === 'native' || engineParam === 'hls.js' ? engineParam : cfg.engine;
  const kind = pickEngine(video, engine);
  const pdtOffsetSeconds = cfg.pdtOffsetSeconds ?? DEFAULT_PDT_OFFSET_SECONDS;
  /** The viewer's quality (`?quality=480p` to start pinned): every live player of this page gets it. */
  let qualityChoice: QualityChoice = query.get('quality') || 'auto';

  const readListing = async (): Promise<Listing | undefined> => {
    try {
      const res = await fetch(new URL('/api/streams', `${base}/`), { credentials: 'omit' });
      return res.ok ? ((await res.json()) as Listing) : undefined;
    } catch {
      return undefined;
    }
  };
  const setName = (name: string | undefined) => {
    if (!name || title.textContent === name) return;
    title.textContent = name;
    document.title = `${name} · Keyframe`;
  };

  let lookup: ReturnType<typeof setTimeout> | undefined;
  let lookups = 0;
  let looking = false;
  /** Live: the name, and whether the session is recorded (its recording playlist, for rewind). */
  const learnLiveSession = async () => {
    if (looking) return;
    looking = true;
    clearTimeout(lookup);
    const body = await readListing();
    looking = false;
    const stream = body?.streams?.find((s) => s.playbackId === playbackId);
    setName(stream?.name);
    const url = resolveUrl(stream?.recording?.playbackUrl, base);
    const ref = recordingFromPlaybackUrl(url);
    if (url && ref && ref.playbackId === playbackId) timeshift.setLiveRecording(withToken(url, token));
    else if (timeshift.mode === 'live' && timeshift.live?.state === 'live' && !timeshift.liveRecordingSrc && lookups++ < RECORDING_LOOKUPS) {
      // The route carries its recording from the start of the publish; a listing a few seconds stale may not.
      lookup = setTimeout(() => void learnLiveSession(), RECORDING_LOOKUP_MS);
    }
  };

  let liveSession: string | undefined;
  /** The live player now, or the latest one (its stats stay readable after rewinding). */
  let lastLive: KeyframePlayer | null = null;
  const onLiveState = (state: PlayerState) => {
    if (state === 'live') {
      // A new publish is a new recording: look again.
      const session = timeshift.live?.stats().session;
      if (session !== liveSession || !timeshift.liveRecordingSrc) {
        if (session !== liveSession && liveSession !== undefined) timeshift.setLiveRecording(undefined);
        if (session !== liveSession) lookups = 0;
        liveSession = session;
        void learnLiveSession();
      }
    }
    render();
  };

  const timeshift = createTimeshift({
    video,
    engine: kind === 'none' ? 'hls.js' : kind,
    startLive: () =>
      (lastLive = createPlayer({
        video,
        src,
        engine,
        // hls.js's transmuxer worker, served beside this page (the ESM build has no inline worker).
        hlsConfig: { workerPath: '/watch/hls.worker.js', ...cfg.hlsConfig },
        pdtOffsetSeconds,
        pollMs: cfg.pollMs,
        quality: qualityChoice,
        onStateChange: onLiveState,
        onAutoplayMuted: () => {
          unmute.hidden = false;
        },
      })),
    recordingHlsConfig: { workerPath: '/watch/hls.worker.js', ...cfg.recordingHlsConfig },
    pdtOffsetSeconds,
    onChange: () => render(),
    onAutoplayMuted: () => {
      unmute.hidden = false;
    },
  });

  const pageState = (): PageState => {
    if (timeshift.mode === 'live') return timeshift.live?.state ?? 'offline';
    return RECORDING_STATES[timeshift.recordingState ?? 'starting'];
  };

  let dragging = false;
  const render = () => {
    const mode = timeshift.mode;
    const state = pageState();
    root.dataset.mode = mode;
    root.dataset.state = state;
    if (mode === 'live') {
      const s = state as PlayerState;
      badge.textContent = LABELS[s];
      message.textContent = MESSAGES[s];
      message.hidden = s === 'live';
      if (s !== 'live') {
        latencyEl.textContent = '';
        goLive.hidden = true;
      }
      // The broadcast that just ended was recorded: its replay is one click away.
      replayButton.hidden = !(s === 'ended' && timeshift.liveRecordingSrc);
    } else {
      const r = timeshift.recordingState ?? 'starting';
      badge.textContent = mode === 'replay' ? 'Replay' : 'Rewind';
      const refused = r === 'error' && [401, 403].includes(timeshift.recording?.stats().lastStatus ?? 0);
      message.textContent = refused ? 'This recording needs a valid playback link (the channel is private).' : RECORDING_MESSAGES[r];
      message.hidden = r === 'playing';
      goLive.hidden = mode !== 'rewind';
      replayButton.hidden = true;
      if (mode === 'replay') latencyEl.textContent = '';
    }
    renderBar();
    renderQuality();
  };

  /** The labels the selector lists now (rebuilt only when they change). */
  let optionsKey = '';
  /**
   * The quality selector (hls.js over a ladder channel: Auto plus each variant) and the readout of what plays
   * (`Auto · 720p`; with the native engine the decoded height alone, Safari choosing).
   */
  const renderQuality = () => {
    const live = timeshift.mode === 'live' ? timeshift.live : null;
    const q = live?.state === 'live' ? live.quality() : null;
    const offered = q && q.levels.length > 1 ? q.levels : [];
    qualityPicker.hidden = offered.length === 0;
    const key = offered.map((l) => l.label).join('|');
    if (key !== optionsKey) {
      optionsKey = key;
      qualitySelect.replaceChildren(new Option('Auto', 'auto'), ...offered.map((l) => new Option(l.label, l.label)));
    }
    if (q && offered.length > 0) {
      qualitySelect.options[0].text = autoOptionText(q);
      const value = !q.auto && offered.some((l) => l.label === q.choice) ? q.choice : 'auto';
      if (qualitySelect.value !== value && document.activeElement !== qualitySelect) qualitySelect.value = value;
    }
    const readout = q ? qualityReadout(q) : '';
    qualityNow.textContent = readout;
    qualityNow.hidden = readout === '';
    root.dataset.quality = q?.playing ?? '';
    root.dataset.qualityAuto = String(q?.auto ?? true);
  };

  const renderBar = () => {
    const bar = timeshift.bar();
    seekRow.hidden = bar === null;
    root.dataset.seekable = String(bar !== null);
    if (!bar || dragging) return;
    seekBar.max = bar.max.toFixed(1);
    seekBar.value = bar.value.toFixed(1);
    seekTime.textContent = `${formatClock(bar.value)} / ${formatClock(bar.max)}`;
  };

  root.dataset.engine = kind;
  if (kind === 'none') {
    message.textContent = 'This browser cannot play HLS.';
  }

  unmute.addEventListener('click', () => {
    video.muted = false;
    unmute.hidden = true;
  });
  goLive.addEventListener('click', () => timeshift.goLive());
  replayButton.addEventListener('click', () => {
    const rec = timeshift.liveRecordingSrc;
    if (rec) timeshift.playRecording(rec);
  });
  qualitySelect.addEventListener('change', () => {
    qualityChoice = qualitySelect.value || 'auto';
    timeshift.live?.setQuality(qualityChoice);
    renderQuality();
  });
  seekBar.addEventListener('input', () => {
    dragging = true;
    const max = Number(seekBar.max);
    seekTime.textContent = `${formatClock(Number(seekBar.value))} / ${formatClock(max)}`;
  });
  seekBar.addEventListener('change', () => {
    dragging = false;
    void timeshift.seek(Number(seekBar.value));
  });

  setInterval(() => {
    const mode = timeshift.mode;
    if (mode === 'live') {
      const player = timeshift.live;
      if (player?.state === 'live') {
        const seconds = player.latency();
        latencyEl.textContent = seconds === null ? '' : `${seconds.toFixed(1)} s behind live`;
        const edge = player.edgeLatency();
        const target = player.hls?.targetLatency ?? null;
        goLive.hidden = !(edge !== null && target !== null && edge > target + 3);
      }
    } else if (mode === 'rewind') {
      const seconds = timeshift.behindLive();
      latencyEl.textContent = seconds === null ? '' : `${seconds.toFixed(1)} s behind live`;
    }
    renderBar();
    renderQuality();
  }, 250);

  if (recordingRef) {
    // A recording: its poster until the first frame, and its channel's name.
    video.poster = recordingPosterUrl(base, recordingRef, token);
    const recordingSrc = recordingPlaylistUrl(base, recordingRef, token);
    // Going live from this recording's rewind: the live session's recording is this one.
    timeshift.setLiveRecording(recordingSrc);
    timeshift.playRecording(recordingSrc);
    void readListing().then((body) => {
      const rec = body?.recordings?.find((r) => r.id === recordingRef.recordingId);
      setName(rec?.channel ?? body?.streams?.find((s) => s.playbackId === playbackId)?.name);
    });
  } else {
    // The live thumbnail until the first frame (a stable URL with a short cache; absent on older origins).
    video.poster = thumbnailUrl(base, playbackId, token);
    timeshift.startLive();
  }
  render();

  const api: WatchPageApi = {
    playbackId,
    src,
    get mode() {
      return timeshift.mode;
    },
    get state() {
      return pageState();
    },
    get recordingSrc() {
      return timeshift.recording?.src ?? timeshift.liveRecordingSrc;
    },
    latency: () => timeshift.behindLive(),
    pdtLatency: () => timeshift.live?.pdtLatency() ?? null,
    edgeLatency: () => timeshift.live?.edgeLatency() ?? null,
    // A replay page never starts a live player: its counters are all zero (the fields a live player would add
    // stay absent, but for the quality and stall ones the type asks for).
    stats: () =>
      lastLive?.stats() ??
      ({
        state: 'offline',
        engine: kind,
        errors: 0,
        fatalErrors: 0,
        mediaRecoveries: 0,
        restarts: 0,
        stalls: 0,
        probes: 0,
        history: [],
        quality: { levels: [], current: -1, auto: qualityChoice === 'auto', choice: qualityChoice, switches: 0, switchLog: [] },
        playbackStalls: { count: 0, totalMs: 0, longestMs: 0, recent: [] },
      } satisfies PlayerStats),
    quality: () => (timeshift.mode === 'live' ? (timeshift.live?.quality() ?? null) : null),
    setQuality: (choice) => {
      qualityChoice = choice;
      timeshift.live?.setQuality(choice);
      renderQuality();
    },
    recordingStats: () => timeshift.recording?.stats() ?? null,
    bar: () => timeshift.bar(),
    seek: (value) => timeshift.seek(value),
    goLive: () => timeshift.goLive(),
    get player() {
      return timeshift.live;
    },
  };
  window.keyframePlayer = api;
}

main();

/**
 * The two HTML pages, as templates: the local routes and the static build (player/dist, uploaded under
 * `/watch/` behind CloudFront) fill them differently. Assets are always under `/watch/`, the one path
 * prefix the player owns on the distribution and on the local stack.
 */

import { replayTemplate } from './src/urls';

export const ASSET_PREFIX = '/watch/';

const escapeAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

export function watchPage(opts: { streamsHref: string }): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keyframe player</title>
<link rel="stylesheet" href="${ASSET_PREFIX}player.css">
</head>
<body>
<header><a class="brand" href="${escapeAttr(opts.streamsHref)}">Keyframe</a><h1 id="title"></h1></header>
<main id="player" data-state="offline">
  <div class="stage">
    <video id="video" playsinline autoplay controls></video>
    <p id="message" class="message"></p>
  </div>
  <div id="seek-row" class="seek" hidden>
    <input id="seek" type="range" min="0" max="0" step="0.1" value="0" aria-label="Seek">
    <span id="seek-time" class="time"></span>
  </div>
  <div class="bar">
    <span id="state" class="badge">Offline</span>
    <span id="latency" class="latency" title="Seconds between capture and what you see, from the stream's program date-time (corrected)"></span>
    <button id="go-live" type="button" hidden>Go live</button>
    <button id="replay" type="button" hidden>Watch the replay</button>
    <button id="unmute" type="button" hidden>Unmute</button>
    <span class="spacer"></span>
    <span id="quality-now" class="quality-now" title="The quality playing now" hidden></span>
    <label id="quality-picker" class="quality" hidden>Quality <select id="quality" aria-label="Quality"></select></label>
  </div>
</main>
<script src="${ASSET_PREFIX}player.js"></script>
</body>
</html>
`;
}

/**
 * `playerLink`: a live channel's player, `{id}` the playback ID. `replayLink`: a recording's, `{recording}` its
 * id; by default the player link with `recording={recording}` added (watch.ts reads either form).
 */
export function streamsPage(opts: { playerLink: string; api: string; replayLink?: string }): string {
  const replayLink = opts.replayLink ?? replayTemplate(opts.playerLink);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Live now · Keyframe</title>
<link rel="stylesheet" href="${ASSET_PREFIX}player.css">
</head>
<body data-player-link="${escapeAttr(opts.playerLink)}" data-replay-link="${escapeAttr(replayLink)}" data-api="${escapeAttr(opts.api)}">
<header><span class="brand">Keyframe</span><h1>Live now</h1></header>
<main class="list">
  <ul id="streams" data-count="0"></ul>
  <p id="status" class="message">Loading…</p>
  <section id="recent" hidden>
    <h2>Recent recordings</h2>
    <ul id="recordings" class="recordings" data-count="0"></ul>
  </section>
</main>
<script src="${ASSET_PREFIX}streams.js"></script>
</body>
</html>
`;
}

export const STYLES = `:root { color-scheme: dark; --bg: #0e0f12; --fg: #e8e8ea; --dim: #9a9ca3; --live: #e5484d; --accent: #6e9fff; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: baseline; gap: 1rem; padding: .75rem 1rem; border-bottom: 1px solid #22242a; }
header h1 { margin: 0; font-size: 1rem; font-weight: 600; }
.brand { color: var(--fg); font-weight: 700; text-decoration: none; letter-spacing: .02em; }
main { max-width: 1100px; margin: 0 auto; padding: 1rem; }
.stage { position: relative; background: #000; aspect-ratio: 16 / 9; }
.stage video { width: 100%; height: 100%; display: block; background: #000; }
.message { color: var(--dim); }
.stage .message { position: absolute; inset: auto 0 40%; margin: 0; padding: 0 2rem; text-align: center; color: var(--fg); pointer-events: none; }
.stage .message[hidden] { display: none; }
.bar { display: flex; align-items: center; gap: .75rem; padding: .6rem 0; }
.badge { font-size: .75rem; font-weight: 700; text-transform: uppercase; letter-spacing: .06em; padding: .15rem .5rem; border-radius: 3px; background: #2a2d35; color: var(--dim); }
[data-state="live"] .badge { background: var(--live); color: #fff; }
[data-state="starting"] .badge { background: #3a3f4b; color: var(--fg); }
.latency { color: var(--dim); font-variant-numeric: tabular-nums; }
button { font: inherit; color: var(--fg); background: #2a2d35; border: 1px solid #3a3f4b; border-radius: 4px; padding: .25rem .75rem; cursor: pointer; }
button:hover { border-color: var(--accent); }
.list ul { list-style: none; padding: 0; margin: 0; }
.list li { display: flex; align-items: baseline; gap: 1rem; padding: .75rem 0; border-bottom: 1px solid #22242a; }
.list li a { color: var(--accent); font-weight: 600; text-decoration: none; }
.list li a::before { content: ""; display: inline-block; width: .55rem; height: .55rem; margin-right: .5rem; border-radius: 50%; background: var(--live); }
.list .meta { color: var(--dim); font-size: .9rem; }
.list li:has(.thumb) { align-items: center; }
.list .thumb { width: 160px; aspect-ratio: 16 / 9; object-fit: cover; background: #000; border-radius: 3px; align-self: center; }
.list .thumb:not([src]) { visibility: hidden; }
.list li .rewind { color: var(--dim); font-size: .8rem; }
.list h2 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
.list section[hidden] { display: none; }
.recordings li { align-items: center; }
.recordings li a::before { display: none; }
.recordings li a { display: flex; align-items: center; gap: 1rem; }
.recordings .poster { position: relative; width: 160px; aspect-ratio: 16 / 9; background: #000; border-radius: 3px; overflow: hidden; flex: none; }
.recordings .poster img { width: 100%; height: 100%; object-fit: cover; display: block; }
.recordings .duration { position: absolute; right: .3rem; bottom: .3rem; padding: 0 .3rem; border-radius: 2px; background: rgba(0,0,0,.75); color: #fff; font-size: .75rem; font-variant-numeric: tabular-nums; }
.seek { display: flex; align-items: center; gap: .75rem; padding: .4rem 0 0; }
.seek[hidden] { display: none; }
.seek input { flex: 1; accent-color: var(--live); }
.seek .time { color: var(--dim); font-variant-numeric: tabular-nums; min-width: 7.5rem; text-align: right; }
.bar .spacer { flex: 1; }
.quality-now { color: var(--dim); font-size: .9rem; font-variant-numeric: tabular-nums; }
.quality-now[hidden], .quality[hidden] { display: none; }
.quality { color: var(--dim); font-size: .9rem; }
.quality select { font: inherit; color: var(--fg); background: #2a2d35; border: 1px solid #3a3f4b; border-radius: 4px; padding: .2rem .4rem; margin-left: .35rem; }
[data-mode="replay"] .badge, [data-mode="rewind"] .badge { background: #3a3f4b; color: var(--fg); }
`;

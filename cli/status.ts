/**
 * `keyframe status [<name|playbackId>] [--json]`: each channel, whether it is live, on which task, and the
 * stream's health as its task's packager measures it (written to the route with every heartbeat, so it works
 * the same locally and against a deployed stack). For operators and streamers; the public `/api/streams` shows
 * none of it.
 */
import { THUMBNAIL_FILE } from '../core/hls/paths';
import { isRouteLive, type Channel, type Route, type StreamHealthReport } from '../core/model';
import type { ChannelStore, RouteStore } from '../core/store';
import { UsageError } from '../core/channels';

export interface ChannelStatus {
  readonly name: string;
  readonly playbackId: string;
  readonly state: 'live' | 'offline' | 'revoked';
  readonly private: boolean;
  /** Recording on (from the next publish, if changed while live). */
  readonly record: boolean;
  /** The channel's quality ladder rungs (empty: passthrough only); what a live publish got is in its health. */
  readonly ladder: readonly string[];
  /** While live. */
  readonly since?: string;
  readonly task?: string;
  readonly mediaSequence?: number;
  readonly lastHeartbeat?: string;
  readonly health?: StreamHealthReport;
  /** While live: the stream's current JPEG (`<playbackBase>/<playbackId>/thumbnail.jpg`; a private channel's needs a token). */
  readonly thumbnailUrl?: string;
  /** While live and recorded: the recording this publish writes to. */
  readonly recordingId?: string;
}

export async function channelStatus(
  store: Pick<ChannelStore, 'listChannels'> & Pick<RouteStore, 'listRoutes'>,
  nameOrPlaybackId?: string,
  now: number = Date.now(),
  playbackBaseUrl?: string,
): Promise<ChannelStatus[]> {
  const [channels, routes] = await Promise.all([store.listChannels(), store.listRoutes()]);
  const picked = nameOrPlaybackId === undefined ? channels : channels.filter((c) => c.name === nameOrPlaybackId || c.playbackId === nameOrPlaybackId);
  if (nameOrPlaybackId !== undefined && picked.length === 0) {
    throw new UsageError(`no channel named or with playback ID ${JSON.stringify(nameOrPlaybackId)}; see keyframe keys list`);
  }
  const live = new Map<string, Route>();
  for (const r of routes) if (isRouteLive(r, now)) live.set(r.playbackId, r);
  // A revoked name can be reused: show the active channel of a name first.
  const ordered = [...picked].sort((a, b) => a.name.localeCompare(b.name) || (a.state === 'active' ? -1 : 1));
  return ordered.map((c) => statusOf(c, c.state === 'active' ? live.get(c.playbackId) : undefined, playbackBaseUrl));
}

function statusOf(c: Channel, route: Route | undefined, playbackBaseUrl: string | undefined): ChannelStatus {
  const base = { name: c.name, playbackId: c.playbackId, private: c.private === true, record: c.record === true, ladder: c.ladder ?? [] };
  if (c.state === 'revoked') return { ...base, state: 'revoked' };
  if (!route) return { ...base, state: 'offline' };
  return {
    ...base,
    state: 'live',
    since: new Date(route.startedAt).toISOString(),
    task: route.taskArn.split('/').pop() ?? route.taskArn,
    mediaSequence: route.mediaSequence,
    lastHeartbeat: new Date(route.heartbeatAt).toISOString(),
    ...(route.health ? { health: route.health } : {}),
    ...(playbackBaseUrl ? { thumbnailUrl: `${playbackBaseUrl.replace(/\/+$/, '')}/${c.playbackId}/${THUMBNAIL_FILE}` } : {}),
    ...(route.recordingId ? { recordingId: route.recordingId } : {}),
  };
}

/** The text form: one block per channel, warnings last and marked. */
export function formatStatus(statuses: readonly ChannelStatus[], where: string, now: number = Date.now()): string {
  if (statuses.length === 0) return `No channels on ${where} yet. Create one: keyframe keys create <name>\n`;
  const lines: string[] = [];
  for (const s of statuses) {
    const label = s.state === 'live' ? 'LIVE' : s.state === 'offline' ? 'offline' : 'revoked';
    lines.push(
      `${s.name} (${s.playbackId})  ${label}${s.private ? '  private' : ''}${s.record ? '  recorded' : ''}${s.ladder.length ? `  ladder ${s.ladder.join(',')}` : ''}`,
    );
    if (s.state !== 'live') continue;
    const age = s.since ? Math.max(0, Math.round((now - Date.parse(s.since)) / 1000)) : 0;
    lines.push(`  since        ${s.since} (${duration(age)}), task ${s.task}, segment ${s.mediaSequence}`);
    if (s.recordingId) lines.push(`  recording    ${s.recordingId} (see: keyframe recordings list ${s.name})`);
    else if (s.record) lines.push('  recording    on from the next publish');
    if (s.thumbnailUrl) lines.push(`  thumbnail    ${s.thumbnailUrl}`);
    const h = s.health;
    if (!h) {
      lines.push('  health       not reported yet (the task reports with each heartbeat)');
      continue;
    }
    if (h.video) {
      const v = h.video;
      const parts = [`${v.codec} ${v.width}x${v.height}`];
      if (v.frameRate !== undefined) parts.push(`${v.frameRate} fps`);
      if (v.bitrateBps !== undefined) parts.push(kbps(v.bitrateBps));
      if (v.keyframeIntervalSeconds !== undefined) parts.push(`keyframe every ${v.keyframeIntervalSeconds} s`);
      lines.push(`  video        ${parts.join(', ')}`);
    } else {
      lines.push('  video        none');
    }
    if (h.audio) {
      const a = h.audio;
      lines.push(`  audio        ${a.codec} ${a.sampleRate} Hz, ${a.channels} ch${a.bitrateBps !== undefined ? `, ${kbps(a.bitrateBps)}` : ''}`);
    } else {
      lines.push('  audio        none');
    }
    if (h.jitterMs !== undefined) lines.push(`  jitter       ${h.jitterMs} ms`);
    if (h.ladder)
      lines.push(`  ladder       ${h.ladder.state}${h.ladder.rungs.length ? `: source + ${h.ladder.rungs.join(', ')}` : ': source only'}`);
    for (const w of h.warnings) lines.push(`  ! ${w.message}`);
  }
  return `${lines.join('\n')}\n`;
}

function kbps(bps: number): string {
  return `${Math.round(bps / 1000)} kbit/s`;
}

function duration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

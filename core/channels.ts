import { ChannelExistsError } from './errors';
import { parseLadder } from './ladder';
import { hashStreamKey, newPlaybackId, newStreamKey, validateChannelName, type Channel } from './model';
import { DEFAULT_TOKEN_TTL_SECONDS, signPlaybackToken, tokenExpiry } from './playback-token';
import type { ChannelStore } from './store';

/** Where a channel is published to and watched from, for what the CLI prints. */
export interface StackUrls {
  /** `rtmp://host:1935/live`: what goes in OBS's "Server" field. */
  readonly rtmpUrl: string;
  /** Base of playback URLs, e.g. `http://127.0.0.1:8080` or `https://dxxxx.cloudfront.net`. */
  readonly playbackBaseUrl: string;
  /** Base of player page URLs, when the stack has a player. */
  readonly playerBaseUrl?: string;
}

export interface CreatedChannel {
  readonly name: string;
  readonly playbackId: string;
  /** Shown once. Only its hash is stored. */
  readonly streamKey: string;
  readonly rtmpUrl: string;
  readonly publishUrl: string;
  readonly playbackUrl: string;
  readonly playerUrl?: string;
  /** Playlists need a token: mint playback URLs with `keyframe playback-url <name>`. */
  readonly private: boolean;
  /** Each publish is recorded (docs/recording.md). */
  readonly record: boolean;
  /** Quality ladder rungs (docs/ladder.md); empty: passthrough only. */
  readonly ladder: readonly string[];
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function playbackUrl(urls: StackUrls, playbackId: string): string {
  return `${urls.playbackBaseUrl.replace(/\/$/, '')}/${playbackId}/index.m3u8`;
}

export function playerUrl(urls: StackUrls, playbackId: string): string | undefined {
  return urls.playerBaseUrl ? `${urls.playerBaseUrl.replace(/\/$/, '')}/watch/${playbackId}` : undefined;
}

export async function createKey(
  store: ChannelStore,
  urls: StackUrls,
  name: string,
  opts: { private?: boolean; record?: boolean; ladder?: string | true | readonly string[] } = {},
): Promise<CreatedChannel> {
  const invalid = validateChannelName(name);
  if (invalid) throw new UsageError(invalid);
  const ladder = ladderOption(opts.ladder);
  const streamKey = newStreamKey();
  const playbackId = newPlaybackId();
  try {
    await store.createChannel({
      name,
      keyHash: hashStreamKey(streamKey),
      playbackId,
      ...(opts.private ? { private: true } : {}),
      ...(opts.record ? { record: true } : {}),
      ...(ladder.length > 0 ? { ladder } : {}),
    });
  } catch (err) {
    if (err instanceof ChannelExistsError) {
      throw new UsageError(`${err.message}; pick another name, or revoke it first with: keyframe keys revoke ${name}`);
    }
    throw err;
  }
  const rtmpUrl = urls.rtmpUrl.replace(/\/$/, '');
  const player = playerUrl(urls, playbackId);
  return {
    name,
    playbackId,
    streamKey,
    rtmpUrl,
    publishUrl: `${rtmpUrl}/${streamKey}`,
    playbackUrl: playbackUrl(urls, playbackId),
    ...(player ? { playerUrl: player } : {}),
    private: opts.private === true,
    record: opts.record === true,
    ladder,
  };
}

/** `--ladder` as the CLI or a caller gives it: the flag alone (default rungs), a list, or rung names. */
function ladderOption(spec: string | true | readonly string[] | undefined): string[] {
  if (spec === undefined) return [];
  try {
    return parseLadder(typeof spec === 'string' || spec === true ? spec : spec.join(','));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export interface ListedChannel {
  readonly name: string;
  readonly playbackId: string;
  readonly state: Channel['state'];
  readonly createdAt: string;
  readonly playbackUrl: string;
  readonly private: boolean;
  readonly record: boolean;
  readonly ladder: readonly string[];
}

/** Every channel, without key hashes: the listing is safe to paste anywhere. */
export async function listKeys(store: ChannelStore, urls: StackUrls): Promise<ListedChannel[]> {
  const channels = await store.listChannels();
  return channels
    .map((c) => ({
      name: c.name,
      playbackId: c.playbackId,
      state: c.state,
      createdAt: c.createdAt,
      playbackUrl: playbackUrl(urls, c.playbackId),
      private: c.private === true,
      record: c.record === true,
      ladder: c.ladder ?? [],
    }))
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export async function revokeKey(store: ChannelStore, nameOrPlaybackId: string): Promise<{ name: string; playbackId: string }> {
  const revoked = await store.revokeChannel(nameOrPlaybackId);
  if (!revoked) throw new UsageError(`no active channel named or with playback ID ${JSON.stringify(nameOrPlaybackId)}; see: keyframe keys list`);
  return { name: revoked.name, playbackId: revoked.playbackId };
}

/** Changes an active channel's options; they take effect from its next publish. */
export async function updateKey(
  store: ChannelStore,
  nameOrPlaybackId: string,
  options: { record?: boolean; ladder?: string | true | readonly string[] | false },
): Promise<{ name: string; playbackId: string; record: boolean; private: boolean; ladder: readonly string[] }> {
  if (options.record === undefined && options.ladder === undefined)
    throw new UsageError('keys update needs an option to change: --record, --no-record, --ladder [rungs] or --no-ladder');
  const ladder = options.ladder === undefined ? undefined : options.ladder === false ? null : ladderOption(options.ladder);
  const updated = await store.updateChannel(nameOrPlaybackId, {
    ...(options.record !== undefined ? { record: options.record } : {}),
    ...(ladder !== undefined ? { ladder } : {}),
  });
  if (!updated) throw new UsageError(`no active channel named or with playback ID ${JSON.stringify(nameOrPlaybackId)}; see: keyframe keys list`);
  return {
    name: updated.name,
    playbackId: updated.playbackId,
    record: updated.record === true,
    private: updated.private === true,
    ladder: updated.ladder ?? [],
  };
}

export interface MintedPlaybackUrl {
  readonly name: string;
  readonly playbackId: string;
  readonly private: boolean;
  /** With `?token=` for a private channel; the plain playback URL for a public one. */
  readonly playbackUrl: string;
  /** When the token expires (ISO 8601); absent for a public channel. */
  readonly expiresAt?: string;
}

/**
 * A playback URL for an active channel, by name or playback ID. For a private channel it carries a token
 * signed with `key` (the playback secret), valid `ttlSeconds` rounded up to the minute; a public channel
 * needs none and gets its plain URL.
 */
export async function mintPlaybackUrl(
  store: ChannelStore,
  urls: StackUrls,
  key: () => Promise<Buffer>,
  nameOrPlaybackId: string,
  ttlSeconds: number = DEFAULT_TOKEN_TTL_SECONDS,
  nowMs: number = Date.now(),
): Promise<MintedPlaybackUrl> {
  const channel = (await store.listChannels()).find(
    (c) => c.state === 'active' && (c.name === nameOrPlaybackId || c.playbackId === nameOrPlaybackId),
  );
  if (!channel) throw new UsageError(`no active channel named or with playback ID ${JSON.stringify(nameOrPlaybackId)}; see: keyframe keys list`);
  const plain = playbackUrl(urls, channel.playbackId);
  if (!channel.private) return { name: channel.name, playbackId: channel.playbackId, private: false, playbackUrl: plain };
  let exp: number;
  try {
    exp = tokenExpiry(ttlSeconds, nowMs);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const token = signPlaybackToken(await key(), channel.playbackId, exp);
  return {
    name: channel.name,
    playbackId: channel.playbackId,
    private: true,
    playbackUrl: `${plain}?token=${token}`,
    expiresAt: new Date(exp * 1000).toISOString(),
  };
}

/**
 * `keyframe recordings list [<name|playbackId>] [--json]` and `keyframe recordings delete <id>`: the recordings
 * in the routing table (written by the ingest's recorder, docs/recording.md), with their playback URLs; delete
 * removes the objects under the recording's prefix in the bucket, then the item.
 */
import { DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { UsageError } from '../core/channels';
import { type Recording, RECORDING_ID_PATTERN, RECORDING_PLAYLIST, type RecordingGap, recordingPrefix, type RecordingState } from '../core/model';
import type { CliSettings } from '../core/settings/cli';
import type { ChannelStore, RecordingStore } from '../core/store';

/** One recording as the CLI shows it. */
export interface RecordingView {
  readonly id: string;
  readonly channel: string;
  readonly playbackId: string;
  readonly state: RecordingState;
  readonly startedAt: string;
  readonly endedAt?: string;
  readonly durationSeconds: number;
  readonly segmentCount: number;
  readonly gaps: readonly RecordingGap[];
  /** `<playbackBase>/recordings/<playbackId>/<recordingId>/index.m3u8`. */
  readonly playbackUrl: string;
  readonly private: boolean;
}

/** The bucket the recordings' objects are in, for `delete`. */
export interface RecordingBucket {
  readonly client: S3Client;
  readonly bucket: string;
}

/** A recording's playlist URL under the playback base (CloudFront in AWS, the local origin locally). */
export function recordingPlaybackUrl(playbackBaseUrl: string, r: Pick<Recording, 'playbackId' | 'id'>): string {
  return `${playbackBaseUrl.replace(/\/+$/, '')}/${recordingPrefix(r.playbackId, r.id)}${RECORDING_PLAYLIST}`;
}

/** Every recording, or one channel's (by name or playback ID), newest first. */
export async function listRecordings(
  store: Pick<ChannelStore, 'listChannels'> & Pick<RecordingStore, 'listRecordingsOfChannel'>,
  playbackBaseUrl: string,
  nameOrPlaybackId?: string,
): Promise<RecordingView[]> {
  const channels = await store.listChannels();
  const picked = nameOrPlaybackId === undefined ? channels : channels.filter((c) => c.name === nameOrPlaybackId || c.playbackId === nameOrPlaybackId);
  if (nameOrPlaybackId !== undefined && picked.length === 0) {
    throw new UsageError(`no channel named or with playback ID ${JSON.stringify(nameOrPlaybackId)}; see keyframe keys list`);
  }
  // A revoked name can be reused: each playback ID once.
  const byId = new Map(picked.map((c) => [c.playbackId, c]));
  const lists = await Promise.all([...byId.keys()].map((id) => store.listRecordingsOfChannel(id)));
  return lists
    .flat()
    .sort((a, b) => b.startedAt - a.startedAt)
    .map((r) => ({
      id: r.id,
      channel: r.channelName,
      playbackId: r.playbackId,
      state: r.state,
      startedAt: new Date(r.startedAt).toISOString(),
      ...(r.endedAt !== undefined ? { endedAt: new Date(r.endedAt).toISOString() } : {}),
      durationSeconds: r.durationSeconds,
      segmentCount: r.segmentCount,
      gaps: r.gaps,
      playbackUrl: recordingPlaybackUrl(playbackBaseUrl, r),
      private: byId.get(r.playbackId)?.private === true,
    }));
}

/** Deletes a recording's objects, then its item. Returns the recording and how many objects went. */
export async function deleteRecording(
  store: Pick<RecordingStore, 'getRecording' | 'deleteRecording'>,
  bucket: RecordingBucket,
  id: string,
): Promise<{ recording: Recording; objectsDeleted: number }> {
  if (!RECORDING_ID_PATTERN.test(id))
    throw new UsageError(`${JSON.stringify(id)} is not a recording id (16 lowercase letters and digits); see keyframe recordings list`);
  const recording = await store.getRecording(id);
  if (!recording) throw new UsageError(`no recording ${id}; see keyframe recordings list`);
  if (recording.state === 'recording') {
    throw new UsageError(`recording ${id} is still being recorded (channel "${recording.channelName}" is live); delete it once it has ended`);
  }
  const objectsDeleted = await deleteObjectsUnder(bucket.client, bucket.bucket, recordingPrefix(recording.playbackId, recording.id));
  await store.deleteRecording(id);
  return { recording, objectsDeleted };
}

/** The text form of `recordings list`. */
export function formatRecordings(views: readonly RecordingView[], where: string): string {
  if (views.length === 0) return `No recordings on ${where}. Turn recording on for a channel, publish, and they appear here.\n`;
  const lines: string[] = [];
  for (const v of views) {
    const gaps = v.gaps.length > 0 ? `, ${v.gaps.length} gap${v.gaps.length > 1 ? 's' : ''}` : '';
    lines.push(`${v.id}  ${v.channel} (${v.playbackId})  ${v.state}${v.private ? '  private' : ''}`);
    // While recording, the entry is refreshed every 30 segments (and at the end): "so far" says it is not the total.
    const soFar = v.state === 'recording' ? ' so far' : '';
    lines.push(
      `  ${v.startedAt} → ${v.endedAt ?? 'now'}  ${clock(v.durationSeconds)}${soFar}, ${v.segmentCount} segment${v.segmentCount === 1 ? '' : 's'}${gaps}`,
    );
    for (const g of v.gaps)
      lines.push(`  ! missing ${g.seconds} s from ${new Date(g.startedAt).toISOString()} (segments ${g.fromMsn}-${g.toMsn}, ${g.reason})`);
    lines.push(`  ${v.playbackUrl}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Deletes every object under `prefix`; returns how many. */
async function deleteObjectsUnder(client: S3Client, bucket: string, prefix: string): Promise<number> {
  let deleted = 0;
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) {
      if (!o.Key) continue;
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key }));
      deleted++;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return deleted;
}

function clock(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (x: number) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** `keyframe recordings <list|delete> …`, for cli/main.ts. */
export async function runRecordings(
  input: {
    command: string | undefined;
    arg: string | undefined;
    extra: readonly string[];
    json: boolean;
    target: { store: Pick<ChannelStore, 'listChannels'> & RecordingStore; urls: { playbackBaseUrl: string }; where: string };
    settings: Pick<CliSettings, 'recordingBucket' | 's3Endpoint' | 'region'>;
    region?: string;
  },
  out: (s: string) => void,
): Promise<number> {
  const { command, arg, extra, target } = input;
  const print = (text: string, json: unknown) => out(input.json ? `${JSON.stringify(json, null, 2)}\n` : text);
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (command === 'list') {
    const views = await listRecordings(target.store, target.urls.playbackBaseUrl, arg);
    print(formatRecordings(views, target.where), views);
    return 0;
  }
  if (command === 'delete') {
    if (!arg) throw new UsageError('recordings delete needs a recording id; see keyframe recordings list');
    const bucket = input.settings.recordingBucket;
    if (!bucket)
      throw new UsageError('recordings delete needs the recordings bucket: set KEYFRAME_RECORDING_BUCKET (and KEYFRAME_S3_ENDPOINT locally)');
    const client = recordingsS3Client(input.settings.s3Endpoint, input.region ?? input.settings.region);
    try {
      const { recording, objectsDeleted } = await deleteRecording(target.store, { client, bucket }, arg);
      print(`Deleted recording ${recording.id} of "${recording.channelName}" (${objectsDeleted} objects).\n`, { deleted: recording, objectsDeleted });
    } finally {
      client.destroy();
    }
    return 0;
  }
  throw new UsageError(`unknown command "recordings ${command ?? ''}": use recordings list [<name|playbackId>] or recordings delete <id>`);
}

/** An S3 client: path-style with the local server's credentials for a local endpoint, the default chain in AWS. */
export function recordingsS3Client(endpoint: string | undefined, region: string | undefined): S3Client {
  const local = endpoint !== undefined;
  return new S3Client({
    region: region ?? (local ? 'us-east-1' : undefined),
    endpoint,
    forcePathStyle: local,
    credentials: local ? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

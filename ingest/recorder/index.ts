/**
 * Recording: the packager's own CMAF objects, copied to S3 as they are finished, with a playlist that is an
 * `EVENT` playlist while live (live rewind) and `VOD` after (replay). Details and reasons in docs/recording.md.
 *
 * ## Wiring (one `RecordingService` per task, one `Recorder` per publish of a recorded channel)
 * ```ts
 * const recordings = createRecordingServiceFromSettings(settings, { store, log });   // undefined: no bucket set
 * // publish accepted, channel has recording on:
 * const rec = recordings?.start({ playbackId: channel.playbackId, channelName: channel.name });
 * // in the Packager's callbacks, after the live store has the object (the recorder never blocks or throws):
 * onInit: (init) => { live.put(init); rec?.onInit(init.name, init.bytes); },
 * onSegment: (s) => { live.put(s); rec?.onSegment(fromPackagerSegment(s)); },
 * // publish ended (unpublish, disconnect, kick, refusal), after packager.end() flushed its last segment:
 * rec?.end();
 * // task drain, after the stream manager has ended its publishes, before exit (ends any still on):
 * await recordings?.drain({ timeoutMs: remainingDrainMs });
 * ```
 * A publish of the same channel within `reconnectWindowSeconds` of the last one's end continues its recording
 * (a discontinuity, a new EXT-X-MAP); a takeover publish (the old one not ended yet) does too, and the old
 * handle goes inert.
 */
import type { IngestSettings } from '../../core/settings/ingest';
import type { RecordingStore } from '../../core/store';
import { createRecordingS3Client, s3RecordingObjects } from './objects';
import { type RecorderLog, type RecorderEvent, RecordingService } from './recorder';

export {
  createRecordingS3Client,
  RECORDING_PLAYLIST,
  RECORDING_POSTER,
  type RecordingObjects,
  recordingPrefix,
  RECORDINGS_PREFIX,
  s3RecordingObjects,
  type S3ClientOptions,
} from './objects';
export { type RecordedSegment, renderRecordingPlaylist } from './playlist';
export {
  fromPackagerSegment,
  type Recorder,
  type RecorderEvent,
  type RecorderLog,
  type RecorderSegmentInput,
  RecordingService,
  type RecordingServiceOptions,
} from './recorder';
export { Spool } from './spool';

/** The task's RecordingService from its settings, or undefined when no recording bucket is configured. */
export function createRecordingServiceFromSettings(
  settings: Pick<
    IngestSettings,
    'recordingBucket' | 's3Endpoint' | 'region' | 'recordingSpoolDir' | 'recordingSpoolMiB' | 'recordingReconnectWindowSeconds' | 'segmentSeconds'
  >,
  deps: { store?: RecordingStore; log?: RecorderLog; onEvent?: (event: RecorderEvent) => void } = {},
): RecordingService | undefined {
  if (!settings.recordingBucket) return undefined;
  const client = createRecordingS3Client({ endpoint: settings.s3Endpoint, region: settings.region });
  return new RecordingService({
    objects: s3RecordingObjects(client, settings.recordingBucket),
    store: deps.store,
    spoolDir: settings.recordingSpoolDir,
    spoolMaxBytes: settings.recordingSpoolMiB * 1024 * 1024,
    reconnectWindowSeconds: settings.recordingReconnectWindowSeconds,
    targetDurationSeconds: Math.ceil(settings.segmentSeconds),
    log: deps.log,
    onEvent: deps.onEvent,
  });
}

/**
 * Thumbnails: each live stream's current JPEG, made by decoding one keyframe per interval with one short ffmpeg
 * (never a second full decode of the stream). Details and reasons in docs/recording.md, "Thumbnails".
 *
 * ## Wiring (one `ThumbnailPool` per task, one `Thumbnailer` per publish)
 * ```ts
 * const pool = new ThumbnailPool({ ffmpegPath: settings.ffmpegPath, maxConcurrent: settings.thumbnailConcurrency });
 * // publish accepted:
 * const thumbs = new Thumbnailer({
 *   intervalSeconds: settings.thumbnailSeconds,                // 0: no thumbnails, no ffmpeg
 *   maxWidth: settings.thumbnailWidth,
 *   pool,
 *   onThumbnail: (t) => live.putThumbnail(t.jpeg),             // the stable URL; a recording's poster likewise
 *   log: streamLog,                                            // failures: once per stream per cause, at warn
 * });
 * // per RTMP audio/video/data message, beside packager.push (cheap, never throws):
 * thumbs.push(message.type, message.timestamp, message.payload);
 * thumbs.latest();                                             // the newest Thumbnail, or undefined
 * // publish ended:
 * thumbs.close();                                              // kills its decode if one is running
 * // task exit:
 * await pool.close();
 * ```
 *
 * ## Rules
 * - **When.** The first AVC keyframe after a sequence header makes a thumbnail at once; after that, the first
 *   keyframe at least `intervalSeconds` of media time (RTMP timestamps, 32-bit wrap handled) after the last one
 *   sent to decode. A backward step of more than 1 s (timestamps restarted) makes one due at once. A keyframe
 *   between GOP boundaries never waits: the thumbnail is the next keyframe's picture.
 * - **What.** That one access unit, with the sequence header's SPS and PPS in front, as Annex B on ffmpeg's
 *   stdin; one JPEG on its stdout, scaled to at most `maxWidth` (aspect kept, never up, even sizes).
 * - **How many.** One decode per stream at a time; `maxConcurrent` per task; a stream's decode still waiting
 *   when its next one is due is replaced by the newer one (in the same place in line); one that waited two
 *   intervals (at least 10 s) is dropped. Each decode is killed at `timeoutMs`.
 * - **Failures** (bytes ffmpeg cannot decode, ffmpeg missing, a timeout) are logged once per stream per cause and
 *   tried again at the next interval. Video that is not AVC, and audio-only streams: no thumbnails, no log.
 * - **Memory.** A stream holds its latest SPS/PPS and its latest JPEG; a waiting decode holds its access unit.
 */
export { accessUnitAnnexB, jpegSize, parameterSetsAnnexB, thumbnailSize } from './avc';
export {
  type DecodeFailure,
  type DecodeOutcome,
  type DecodeRequest,
  decodeArgs,
  type DropReason,
  JPEG_QUALITY,
  MAX_JPEG_BYTES,
  ThumbnailPool,
  type ThumbnailPoolOptions,
  type ThumbnailPoolStats,
} from './pool';
export { type Thumbnail, type ThumbnailFailure, Thumbnailer, type ThumbnailerOptions, type ThumbnailLog } from './thumbnailer';

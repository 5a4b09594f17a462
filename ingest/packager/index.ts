/**
 * Keyframe's packager: RTMP/FLV media messages in, CMAF (fragmented MP4) HLS objects out. Pure and
 * storage-agnostic: node builtins only, no I/O, no timers; the caller owns sockets, files and retention.
 *
 * ## Wiring (one `Packager` per accepted publish)
 * ```ts
 * const numbering = timeBasedSequence(Date.now());            // msn/dseq bases that never go back
 * const p = new Packager({
 *   session, ...numbering,                                      // session: [a-z0-9]{10}
 *   continuation: channelHadEarlierSession,                     // tag the first segment EXT-X-DISCONTINUITY
 *   onInit: (init) => store(init.name, init.bytes),             // `<session>_init.mp4` (session may be derived)
 *   onFragment: (f) => store(f.name, f.bytes),                  // each moof+mdat as it is cut: LL-HLS part `<session>_<msn>.<i>.m4s`
 *   onSegment: (s) => store(s.name, s.chunks),                  // `<session>_<msn>.m4s` = concat(s.chunks)
 *   onPlaylist: (text) => store('index.m3u8', text),           // rendered from state after each segment and at end
 *   onWarning: (w) => log.warn(w.code, w.message),
 * });
 * // per RTMP audio/video/data message (type 8/9/18, raw 32-bit timestamp, FLV tag body):
 * const err = p.push(message.type, message.timestamp, message.payload);
 * if (err) session.reject(err.rtmpDescription);               // typed refusal; push() never throws
 * // on unpublish/disconnect:
 * p.end();                                                     // flushes, closes the last segment, #EXT-X-ENDLIST
 * p.health();                                                  // codecs, resolution, bitrates, keyframe interval, warnings
 * ```
 *
 * ## Rules (details and reasons in docs/packager.md)
 * - **Track set.** Decided when both sequence headers (AVC, AAC) have arrived; or when `onMetaData` announced
 *   only one track and its header arrived; or after `trackWaitMs` (1 s) of media with only one. A header for a
 *   track that was not in the init, or a changed header, later gives a new init and a discontinuity.
 * - **Timeline.** RTMP timestamps are unwrapped (32-bit wrap) and mapped onto the wall clock: the first frame
 *   is at the anchor (`anchorMs`, default `now()` at the first audio/video push), so `tfdt`/timescale is epoch
 *   time and `EXT-X-PROGRAM-DATE-TIME` is the segment's first decode time. A step of more than
 *   `jumpThresholdMs` (or any backward step of a track) closes the segment, starts a discontinuity and rebases
 *   so that decode times keep growing and stay at or after the wall clock.
 * - **Cuts.** Fragments are cut on the video DTS timeline (audio when there is no video) and never exceed
 *   `fragmentSeconds` (unless one frame interval does); audio up to the same time joins the fragment (waiting at
 *   most `maxInterleaveMs` for it). Segments are whole fragments on a `segmentSeconds` grid (at most one frame
 *   over), so GOPs that are multiples of it give keyframe-aligned segments. Segments may start without a
 *   keyframe; `independent` says whether they do. No object exceeds `maxObjectBytes`.
 * - **Samples.** Duration = next DTS − DTS; the last sample before a flush takes the previous duration (AAC:
 *   1024). AAC DTS are sample-counted (snapped to the previous + 1024 when within half a frame). Composition
 *   offsets go in `trun` (version 1 when one is negative); no edit list: PTS = DTS + offset as in FLV.
 * - **LL-HLS.** With `lowLatency`, fragments are listed as parts (PART-TARGET = `fragmentSeconds`) and the
 *   playlist is rendered after each one (docs/ll-hls.md).
 * - **Names.** `<session>_init.mp4`, `<session>_<msn>.m4s`, parts `<session>_<msn>.<i>.m4s`; after a mid-stream init change the session id is
 *   `derivedSessionId(session, generation)`.
 * - **Refusals.** HEVC, AV1, VP9, legacy codecs and non-AAC audio return `PackagerError('unsupported-codec')`
 *   whose `rtmpDescription` names the codec and the OBS setting. Malformed input returns `malformed`.
 */
export { type BlockingVerdict, type LivePosition, partVerdict, playlistVerdict } from './blocking.js';
export { type AacConfig, type AvcConfig, type AvcSpsInfo, parseAacConfig, parseAvcConfig, parseAvcSps } from './codecs.js';
export { PackagerError, type PackagerErrorCode } from './errors.js';
export { BoxWriter, type FragmentRun, type InitTrack, writeFragment, writeInit } from './mp4.js';
export {
  type FragmentOutput,
  type InitOutput,
  MessageType,
  Packager,
  type PackagerOptions,
  type PackagerOutputs,
  type PackagerWarning,
  type SegmentOutput,
  type StreamHealth,
} from './packager.js';
export {
  type LowLatencyState,
  type MediaPlaylistState,
  type OpenPlaylistSegment,
  type PartInfo,
  partUri,
  PLAYLIST_VERSION,
  type PlaylistSegment,
  renderMediaPlaylist,
} from './playlist.js';
export {
  DEFAULT_SEQUENCE_QUANTUM_MS,
  derivedSessionId,
  maxOpenableSequence,
  SESSION_ID_PATTERN,
  type SequenceNumbering,
  timeBasedSequence,
} from './sequence.js';
export { type FlvTag, FlvTagReader } from './tag-reader.js';

import { join } from 'node:path';

export interface HlsArgsInput {
  /** Directory of this publish session; the playlist and segments go here. */
  readonly dir: string;
  readonly session: string;
  readonly segmentSeconds: number;
  readonly playlistSize: number;
  /** Media sequence number of the first segment (continues a previous session's numbering). */
  readonly startNumber: number;
  /** Mark the first segment as a discontinuity (the timeline of a previous session breaks here). */
  readonly discontinuity: boolean;
}

/**
 * The ffmpeg argv that turns FLV on stdin into HLS on disk, passthrough (`-c copy`). Pure, so it is tested
 * as data. `omit_endlist`: the ingest itself appends `#EXT-X-ENDLIST` when the stream really ends, so a
 * publisher that drops and reconnects does not end the stream for viewers.
 */
export function buildHlsArgs(input: HlsArgsInput): string[] {
  const flags = ['independent_segments', 'program_date_time', 'omit_endlist', 'temp_file', 'delete_segments'];
  if (input.discontinuity) flags.push('discont_start');
  return [
    '-hide_banner',
    '-loglevel',
    'warning',
    '-nostats',
    // Start fast: FLV carries its codec configuration in the first tags, so a long probe only adds delay.
    // (Not `-fflags nobuffer`: it drops the packets read while probing, i.e. the start of the stream.)
    // A shorter probe also keeps PROGRAM-DATE-TIME close to the media (it lags by the probe time).
    '-probesize',
    '65536',
    '-analyzeduration',
    '100000',
    '-f',
    'flv',
    '-i',
    'pipe:0',
    '-map',
    '0',
    '-c',
    'copy',
    '-f',
    'hls',
    '-hls_time',
    String(input.segmentSeconds),
    '-hls_list_size',
    String(input.playlistSize),
    '-hls_delete_threshold',
    '2',
    '-hls_flags',
    flags.join('+'),
    '-hls_segment_type',
    'mpegts',
    '-start_number',
    String(input.startNumber),
    '-hls_segment_filename',
    join(input.dir, `${input.session}_%d.ts`),
    join(input.dir, 'index.m3u8'),
  ];
}

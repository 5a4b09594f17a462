/** Reads packager output back with an independent parser (mp4box.js). */
import { createFile, MP4BoxBuffer, type Movie, type Sample } from 'mp4box';

export interface ParsedMp4 {
  readonly info: Movie;
  /** Samples per track id, in decode order (dts/cts/duration in the track timescale). */
  readonly samples: Map<number, Sample[]>;
  /** Per moof: sequence number and, per track, tfdt. */
  readonly moofs: { seq: number; tfdt: Map<number, number> }[];
}

export function parseMp4(bytes: Buffer): ParsedMp4 {
  const file = createFile();
  let info: Movie | undefined;
  const samples = new Map<number, Sample[]>();
  let error: unknown;
  file.onError = (_module: string, message: string) => {
    error = new Error(message);
  };
  file.onReady = (movie: Movie) => {
    info = movie;
  };
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  const buf = MP4BoxBuffer.fromArrayBuffer(ab, 0);
  file.appendBuffer(buf, true);
  if (error) throw error;
  if (!info) throw new Error('mp4box did not find a movie');
  for (const t of info.tracks)
    samples.set(
      t.id,
      file.getTrackSamplesInfo(t.id).map((s) => ({ ...s, data: undefined })),
    );
  const moofs = (file.moofs ?? []).map((m) => {
    const tfdt = new Map<number, number>();
    for (const traf of m.trafs) tfdt.set(traf.tfhd!.track_id, Number(traf.tfdt!.baseMediaDecodeTime));
    return { seq: m.mfhd!.sequence_number, tfdt };
  });
  return { info, samples, moofs };
}

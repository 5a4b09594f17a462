import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A stand-in for the ingest's ffmpeg (KEYFRAME_FFMPEG_PATH) that rewrites a few input flags of the argv
 * built by `ingest/ffmpeg-args.ts`, then execs the real ffmpeg (same PID). It lets a benchmark compare
 * ffmpeg flag variants side by side in one run without editing the ingest. It also notes when each ffmpeg
 * was started (bash's $EPOCHREALTIME, the wall clock).
 *
 * The variant is read at every start from `variant.sh` beside the script, so one running ingest can be
 * switched between variants from run to run.
 */

export interface FfmpegVariant {
  readonly name: string;
  /** Replaces the value of `-probesize` (input option). */
  readonly probesize?: string;
  /** Replaces the value of `-analyzeduration`. */
  readonly analyzeduration?: string;
  /** Extra input options, placed just before `-i`. */
  readonly extraInput?: readonly string[];
}

/** One line ffmpeg printed at level info, with the wall-clock time it was read. */
export interface FfmpegInfoLine {
  readonly at: number;
  readonly pid: number;
  readonly line: string;
}

export const AS_IS: FfmpegVariant = { name: 'as-is' };

export interface FfmpegWrapper {
  /** Path to give as KEYFRAME_FFMPEG_PATH. */
  readonly path: string;
  /** Selects the variant for the next ffmpeg starts; `timing` also logs ffmpeg's info lines (see infoLines). */
  use(variant: FfmpegVariant, opts?: { timing?: boolean }): void;
  /** ffmpeg starts on the media path (ms since epoch) with their PIDs, oldest first; thumbnail decodes are not among them. */
  spawns(): Array<{ at: number; pid: number }>;
  /** The ingest's thumbnail decodes (ingest/thumbnails: one short ffmpeg per stream every KEYFRAME_THUMBNAIL_SECONDS), apart. */
  thumbnailSpawns(): Array<{ at: number; pid: number }>;
  /**
   * With `timing` on (see `use`), the info-level lines ffmpeg printed (e.g. `Input #0, flv, from 'pipe:0':`,
   * printed once probing is over), timestamped; the ingest still sees only the warning-level lines.
   */
  infoLines(): FfmpegInfoLine[];
  describe(variant: FfmpegVariant): string;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function createFfmpegWrapper(dir: string, realFfmpeg = 'ffmpeg'): FfmpegWrapper {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'ffmpeg-wrapper.sh');
  const variantFile = join(dir, 'variant.sh');
  const spawnLog = join(dir, 'spawns.log');
  const infoLog = join(dir, 'info.log');
  writeFileSync(
    path,
    [
      '#!/usr/bin/env bash',
      '# Written by bench/lib/ffmpeg-wrapper.ts: rewrites input flags, then execs ffmpeg.',
      // The thumbnail decoder (ingest/thumbnails, `-f image2pipe`) is told apart from ffmpeg on the media path.
      `KIND=media; [[ " $* " == *" image2pipe "* ]] && KIND=thumbnail`,
      `printf '%s %s %s\\n' "$EPOCHREALTIME" "$$" "$KIND" >> ${shellQuote(spawnLog)}`,
      'SET_PROBESIZE=""; SET_ANALYZEDURATION=""; EXTRA_INPUT=(); TIMING=""',
      `[ -f ${shellQuote(variantFile)} ] && source ${shellQuote(variantFile)}`,
      'out=()',
      'while [ $# -gt 0 ]; do',
      '  case "$1" in',
      '    -loglevel) if [ -n "$TIMING" ]; then out+=(-loglevel level+info); else out+=(-loglevel "$2"); fi; shift 2;;',
      '    -probesize) out+=(-probesize "${SET_PROBESIZE:-$2}"); shift 2;;',
      '    -analyzeduration) out+=(-analyzeduration "${SET_ANALYZEDURATION:-$2}"); shift 2;;',
      '    -i) out+=("${EXTRA_INPUT[@]}" -i "$2"); shift 2;;',
      '    *) out+=("$1"); shift;;',
      '  esac',
      'done',
      'if [ -n "$TIMING" ]; then',
      '  me=$$',
      `  exec ${shellQuote(realFfmpeg)} "\${out[@]}" 2> >(while IFS= read -r line; do`,
      '    if [[ $line == *"[info] "* ]]; then',
      `      printf '%s %s %s\\n' "$EPOCHREALTIME" "$me" "\${line/\\[info\\] /}" >> ${shellQuote(infoLog)}`,
      '    else',
      '      line=${line/\\[warning\\] /}; line=${line/\\[error\\] /}; line=${line/\\[fatal\\] /}',
      `      printf '%s\\n' "$line" >&2`,
      '    fi',
      '  done)',
      'fi',
      `exec ${shellQuote(realFfmpeg)} "\${out[@]}"`,
      '',
    ].join('\n'),
  );
  chmodSync(path, 0o755);
  const readSpawns = () => {
    if (!existsSync(spawnLog)) return [];
    return readFileSync(spawnLog, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [t, pid, kind] = l.split(' ');
        return { at: Number(t) * 1000, pid: Number(pid), kind: kind ?? 'media' };
      });
  };
  const describe = (v: FfmpegVariant) => {
    const parts: string[] = [];
    if (v.probesize !== undefined) parts.push(`-probesize ${v.probesize}`);
    if (v.analyzeduration !== undefined) parts.push(`-analyzeduration ${v.analyzeduration}`);
    if (v.extraInput?.length) parts.push(v.extraInput.join(' '));
    return parts.length ? parts.join(' ') : '(argv as built by ingest/ffmpeg-args.ts)';
  };
  return {
    path,
    use(v, opts: { timing?: boolean } = {}) {
      writeFileSync(
        variantFile,
        [
          `TIMING=${opts.timing ? '1' : "''"}`,
          `SET_PROBESIZE=${shellQuote(v.probesize ?? '')}`,
          `SET_ANALYZEDURATION=${shellQuote(v.analyzeduration ?? '')}`,
          `EXTRA_INPUT=(${(v.extraInput ?? []).map(shellQuote).join(' ')})`,
          '',
        ].join('\n'),
      );
    },
    spawns() {
      return readSpawns().filter((x) => x.kind !== 'thumbnail');
    },
    thumbnailSpawns() {
      return readSpawns().filter((x) => x.kind === 'thumbnail');
    },
    infoLines() {
      if (!existsSync(infoLog)) return [];
      return readFileSync(infoLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const a = l.indexOf(' ');
          const b = l.indexOf(' ', a + 1);
          return { at: Number(l.slice(0, a)) * 1000, pid: Number(l.slice(a + 1, b)), line: l.slice(b + 1) };
        });
    },
    describe,
  };
}

/**
 * LL-HLS blocking requests as pure decisions (the caller owns the waiting): is what a `_HLS_msn`/`_HLS_part`
 * playlist reload or a preload-hint part request asks for there yet, worth waiting for, or too far ahead?
 */

/** How far a live stream has got. */
export interface LivePosition {
  /** Newest complete segment's media sequence number (before any: the first msn − 1). */
  readonly lastMsn: number;
  /** Newest part written: its segment's msn and its index there; undefined before the first. */
  readonly partMsn?: number;
  readonly partIndex?: number;
  /** Nothing more will be written (ended or superseded): answer at once. */
  readonly ended: boolean;
}

export type BlockingVerdict = 'ready' | 'wait' | 'too-far';

/**
 * A playlist reload for `msn` (and part `part` of it): ready once the playlist holds segment `msn` (complete), or
 * with a part, that part or any later one. More than two segments past the newest complete one is too far (the
 * LL-HLS spec's 400).
 */
export function playlistVerdict(pos: LivePosition, msn: number, part?: number): BlockingVerdict {
  if (msn > pos.lastMsn + 2) return 'too-far';
  if (pos.ended) return 'ready';
  if (part === undefined) return pos.lastMsn >= msn ? 'ready' : 'wait';
  if (pos.partMsn === undefined) return 'wait';
  return pos.partMsn > msn || (pos.partMsn === msn && pos.partIndex! >= part) ? 'ready' : 'wait';
}

/**
 * A part that is not in the store: worth waiting for when it is the next one or close (a preload hint names the
 * next part; a player may ask one segment ahead), else too far (a 404 at once).
 */
export function partVerdict(pos: LivePosition, msn: number, index: number): BlockingVerdict {
  if (pos.ended) return 'too-far';
  const current = pos.partMsn ?? pos.lastMsn;
  if (msn <= current && pos.partMsn !== undefined && (msn < pos.partMsn || index <= pos.partIndex!)) return 'too-far'; // written and gone
  if (msn > current + 1 || index > 3 * 10) return 'too-far';
  return 'wait';
}

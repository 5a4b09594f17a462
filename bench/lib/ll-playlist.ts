/**
 * LL-HLS media playlists as the benchmarks read them: the parts listed (EXT-X-PART) with the segment they belong
 * to, the preload hint, the server control, and what a delta update (`_HLS_skip=YES`, EXT-X-SKIP) would make of
 * the same playlist. No heavy imports: the viewer processes (bench/lib/viewers.ts) use it too.
 */

/** A part as listed: its segment's media sequence number, its index in that segment, URI, duration (s). */
export interface ListedPart {
  readonly msn: number;
  readonly index: number;
  readonly uri: string;
  readonly duration: number;
  readonly independent: boolean;
}

/** A complete segment as listed. */
export interface ListedSegment {
  readonly msn: number;
  readonly uri: string;
  /** EXTINF, s. */
  readonly duration: number;
  /** EXT-X-PROGRAM-DATE-TIME, epoch ms. */
  readonly pdt?: number;
}

export interface LowLatencyPlaylist {
  readonly mediaSequence: number;
  readonly targetDuration: number;
  /** PART-TARGET, s; undefined for a playlist without parts. */
  readonly partTarget?: number;
  readonly canBlockReload: boolean;
  /** CAN-SKIP-UNTIL, s, when the server offers delta updates. */
  readonly canSkipUntil?: number;
  /** EXT-X-SKIP:SKIPPED-SEGMENTS, when this is a delta update. */
  readonly skippedSegments?: number;
  readonly segments: ListedSegment[];
  /** Every part listed, oldest first; parts after the last segment belong to the open one (its msn is last + 1). */
  readonly parts: ListedPart[];
  /** PDT of each segment listed (complete or open), by msn. */
  readonly pdtByMsn: ReadonlyMap<number, number>;
  readonly map?: string;
  readonly preloadHint?: { readonly uri: string; readonly msn: number; readonly index: number };
  readonly ended: boolean;
}

/** `<session>_<msn>.<index>.m4s` → msn and index (undefined for anything else). */
export function partName(uri: string): { msn: number; index: number } | undefined {
  const m = /_(\d+)\.(\d+)\.m4s$/.exec(uri);
  return m ? { msn: Number(m[1]), index: Number(m[2]) } : undefined;
}

const attr = (line: string, name: string): string | undefined =>
  new RegExp(`(?:^|[:,])${name}=("[^"]*"|[^,]*)`).exec(line)?.[1]?.replace(/^"|"$/g, '');

export function parseLowLatencyPlaylist(text: string): LowLatencyPlaylist {
  let mediaSequence = 0;
  let targetDuration = 0;
  let partTarget: number | undefined;
  let canBlockReload = false;
  let canSkipUntil: number | undefined;
  let skippedSegments: number | undefined;
  let map: string | undefined;
  let preloadHint: LowLatencyPlaylist['preloadHint'];
  let ended = false;
  const segments: ListedSegment[] = [];
  const parts: ListedPart[] = [];
  const pdtByMsn = new Map<number, number>();
  let msn: number | undefined;
  let duration = 0;
  let pdt: number | undefined;
  let index = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) mediaSequence = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-TARGETDURATION:')) targetDuration = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-PART-INF:')) partTarget = Number(attr(line, 'PART-TARGET'));
    else if (line.startsWith('#EXT-X-SERVER-CONTROL:')) {
      canBlockReload = attr(line, 'CAN-BLOCK-RELOAD') === 'YES';
      const skip = attr(line, 'CAN-SKIP-UNTIL');
      canSkipUntil = skip !== undefined ? Number(skip) : undefined;
    } else if (line.startsWith('#EXT-X-SKIP:')) skippedSegments = Number(attr(line, 'SKIPPED-SEGMENTS'));
    else if (line.startsWith('#EXT-X-MAP:')) map = attr(line, 'URI');
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = Date.parse(line.slice(25));
    else if (line.startsWith('#EXT-X-PRELOAD-HINT:')) {
      const uri = attr(line, 'URI') ?? '';
      const n = partName(uri);
      if (n) preloadHint = { uri, ...n };
    } else if (line.startsWith('#EXT-X-PART:')) {
      const uri = attr(line, 'URI') ?? '';
      const n = partName(uri);
      parts.push({
        msn: n?.msn ?? -1,
        index: n?.index ?? index,
        uri,
        duration: Number(attr(line, 'DURATION')),
        independent: attr(line, 'INDEPENDENT') === 'YES',
      });
      index++;
      if (n && pdt !== undefined) pdtByMsn.set(n.msn, pdt);
    } else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      msn = msn === undefined ? mediaSequence + (skippedSegments ?? 0) : msn + 1;
      segments.push({ msn, uri: line, duration, ...(pdt !== undefined ? { pdt } : {}) });
      if (pdt !== undefined) pdtByMsn.set(msn, pdt);
      pdt = pdt !== undefined ? pdt + duration * 1000 : undefined;
      duration = 0;
      index = 0;
    }
  }
  return {
    mediaSequence,
    targetDuration,
    partTarget,
    canBlockReload,
    canSkipUntil,
    skippedSegments,
    segments,
    parts,
    pdtByMsn,
    map,
    preloadHint,
    ended,
  };
}

/** A blocking playlist reload for part `index` of segment `msn` (and `_HLS_skip`, if asked). */
export function blockingUrl(playlistUrl: string, msn: number, index: number, skip?: 'YES' | 'v2'): string {
  const u = new URL(playlistUrl);
  u.search = `_HLS_msn=${msn}&_HLS_part=${index}${skip ? `&_HLS_skip=${skip}` : ''}`;
  return u.toString();
}

const SEGMENT_TAGS = ['#EXT-X-DISCONTINUITY', '#EXT-X-MAP:', '#EXT-X-PROGRAM-DATE-TIME:', '#EXT-X-PART:', '#EXTINF:'];

/**
 * The delta update a server offering `CAN-SKIP-UNTIL=canSkipUntil` would send for this full playlist
 * (draft-pantos-hls-rfc8216bis §6.2.5.1, §4.4.5.2): every complete segment that ends at least `canSkipUntil`
 * seconds before the end of the playlist, with its tags, is replaced by one EXT-X-SKIP; segments that list parts
 * are kept. Version 9 (EXT-X-SKIP needs it) and the attribute on EXT-X-SERVER-CONTROL. The EXT-X-MAP in force
 * is kept in front of the first segment left. Returns the text and how many segments it skipped.
 */
export function deltaUpdate(full: string, canSkipUntil: number): { text: string; skipped: number } {
  const lines = full.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);
  const firstSegmentLine = lines.findIndex((l) => SEGMENT_TAGS.some((t) => l.startsWith(t)) || (l !== '' && !l.startsWith('#')));
  const header = (firstSegmentLine === -1 ? lines : lines.slice(0, firstSegmentLine)).map((l) =>
    l.startsWith('#EXT-X-VERSION:')
      ? '#EXT-X-VERSION:9'
      : l.startsWith('#EXT-X-SERVER-CONTROL:')
        ? `${l},CAN-SKIP-UNTIL=${Number(canSkipUntil.toFixed(3))}`
        : l,
  );
  if (firstSegmentLine === -1) return { text: `${header.join('\n')}\n`, skipped: 0 };
  // Blocks: each complete segment's tags and URI; the rest (open segment's parts, hint, ENDLIST) is the tail.
  const blocks: Array<{ lines: string[]; duration: number; parts: boolean; map?: string }> = [];
  let cur: string[] = [];
  for (const l of lines.slice(firstSegmentLine)) {
    cur.push(l);
    if (l !== '' && !l.startsWith('#')) {
      const inf = cur.find((x) => x.startsWith('#EXTINF:'));
      const map = cur.find((x) => x.startsWith('#EXT-X-MAP:'));
      blocks.push({ lines: cur, duration: inf ? Number.parseFloat(inf.slice(8)) : 0, parts: cur.some((x) => x.startsWith('#EXT-X-PART:')), map });
      cur = [];
    }
  }
  const tail = cur;
  const openSeconds = tail.filter((x) => x.startsWith('#EXT-X-PART:')).reduce((s, x) => s + Number(attr(x, 'DURATION') ?? 0), 0);
  const total = blocks.reduce((s, b) => s + b.duration, 0) + openSeconds;
  let end = 0;
  let skipped = 0;
  let mapInForce: string | undefined;
  for (const b of blocks) {
    end += b.duration;
    if (b.parts || total - end < canSkipUntil) break;
    skipped++;
    mapInForce = b.map ?? mapInForce;
  }
  const kept = blocks.slice(skipped);
  const body: string[] = [];
  if (skipped > 0) body.push(`#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`);
  if (skipped > 0 && mapInForce && kept[0] && !kept[0].map) body.push(mapInForce);
  for (const b of kept) body.push(...b.lines);
  body.push(...tail);
  return { text: `${[...header, ...body].join('\n')}\n`, skipped };
}

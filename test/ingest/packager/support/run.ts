/** Drives a Packager over messages with an injected clock and collects what it emits. */
import {
  type FragmentOutput,
  type InitOutput,
  Packager,
  type PackagerError,
  type PackagerOptions,
  type PackagerWarning,
  type SegmentOutput,
} from '../../../../ingest/packager/index.js';

export const T0 = 1_750_000_000_000;

export interface Collected {
  readonly packager: Packager;
  readonly inits: InitOutput[];
  readonly fragments: FragmentOutput[];
  readonly segments: SegmentOutput[];
  readonly playlists: string[];
  readonly warnings: PackagerWarning[];
  readonly errors: PackagerError[];
  clock: { now: number };
  /** Init + all segments in order, with each new init before the segments that use it. */
  file(): Buffer;
}

export function collect(options: Partial<PackagerOptions> = {}): Collected {
  const clock = { now: T0 };
  const c: Omit<Collected, 'packager' | 'file'> = { inits: [], fragments: [], segments: [], playlists: [], warnings: [], errors: [], clock };
  const order: Buffer[] = [];
  const packager = new Packager({
    session: 'testsessn1',
    mediaSequenceBase: 100,
    discontinuitySequenceBase: 7,
    now: () => clock.now,
    ...options,
    onInit: (i) => {
      c.inits.push(i);
      order.push(i.bytes);
    },
    onFragment: (f) => c.fragments.push(f),
    onSegment: (s) => {
      c.segments.push(s);
      order.push(...s.chunks);
    },
    onPlaylist: (t) => c.playlists.push(t),
    onWarning: (w) => c.warnings.push(w),
  });
  return { ...c, packager, file: () => Buffer.concat(order) };
}

/** Pushes messages with the clock at `T0 + mediaMs + jitter(i)` (real time), then ends. */
export function runFeed(
  c: Collected,
  messages: readonly { type: number; timestamp: number; payload: Buffer; mediaMs?: number }[],
  opts: { jitter?: (i: number) => number; end?: boolean } = {},
): void {
  messages.forEach((m, i) => {
    const at = T0 + (m.mediaMs ?? m.timestamp) + (opts.jitter?.(i) ?? 0);
    c.clock.now = Math.max(c.clock.now, at);
    const err = c.packager.push(m.type, m.timestamp, m.payload);
    if (err) c.errors.push(err);
  });
  if (opts.end !== false) {
    c.clock.now += 50;
    const err = c.packager.end();
    if (err) c.errors.push(err);
  }
}

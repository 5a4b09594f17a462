/**
 * Numbers that never go back: media and discontinuity sequence bases derived from the wall clock, and derived
 * session ids for a mid-stream init change.
 *
 * ## The rule
 * `q` is the quantum (default 10 ms). A session that starts at wall time `tS` gets
 * `mediaSequenceBase = discontinuitySequenceBase = floor(tS / q)`. The packager (given `sequenceQuantumMs`)
 * opens a segment with media sequence number `m` only at a wall time `t` with `m < floor(t / q)`; when that
 * does not hold yet it keeps the media queued (never numbers ahead of the clock). The discontinuity number
 * `d` of a segment is `discontinuitySequenceBase` + 1 for the session start + 1 per later `EXT-X-DISCONTINUITY`.
 *
 * ## Proof that a later session starts above everything an earlier one produced
 * Let session A (on any task) open its last segment at `tL`, and session B start at `tB ≥ tL` (B starts after A
 * could last emit: A's task is dead or A has ended, and clocks agree; with clock skew ε it needs `tB ≥ tL + ε`).
 * - Media sequence: every msn of A satisfies `m < floor(t/q) ≤ floor(tL/q) ≤ floor(tB/q) = baseB`, so B's
 *   first msn (`baseB`) is above all of A's.
 * - Discontinuity sequence: A's `n` segments have msns `baseA … baseA+n−1`; its largest `d` is at most
 *   `baseA + 1 + (n − 1) = (baseA + n − 1) + 1 ≤ mLast + 1 ≤ floor(tL/q) ≤ baseB`, and B's first segment has
 *   `d = baseB + 1`. So B's discontinuity numbers are above all of A's too.
 * This does not depend on segment durations: jumps, config changes, short segments or a burst of media faster
 * than real time cannot outrun the clock, because the packager waits instead. At q = 10 ms a stream would need to
 * open more than 100 segments per second to be held back (1 s segments at 100× real time). Epoch ms / 10 is
 * about 1.8e11 (12 digits), inside the origin's 15-digit segment-number rule and far below 2^53.
 */

/** Default quantum of `timeBasedSequence`, in ms. */
export const DEFAULT_SEQUENCE_QUANTUM_MS = 10;

/** The numbering a session starts with. Pass all three to `PackagerOptions`. */
export interface SequenceNumbering {
  readonly mediaSequenceBase: number;
  readonly discontinuitySequenceBase: number;
  /** The quantum the bases were derived with; the packager enforces `msn < floor(now / quantumMs)`. */
  readonly sequenceQuantumMs: number;
}

/** Media and discontinuity sequence bases for a session starting at `nowMs` (epoch ms). */
export function timeBasedSequence(nowMs: number, quantumMs: number = DEFAULT_SEQUENCE_QUANTUM_MS): SequenceNumbering {
  if (!(quantumMs >= 1) || !Number.isFinite(nowMs) || nowMs < 0) {
    throw new RangeError(`timeBasedSequence: nowMs ${nowMs} must be a non-negative epoch time, quantumMs ${quantumMs} ≥ 1`);
  }
  const base = Math.floor(nowMs / quantumMs);
  return { mediaSequenceBase: base, discontinuitySequenceBase: base, sequenceQuantumMs: quantumMs };
}

/** Largest media sequence number the packager may open at `nowMs` under `quantumMs`. */
export function maxOpenableSequence(nowMs: number, quantumMs: number): number {
  return Math.floor(nowMs / quantumMs) - 1;
}

/** The path rule for session ids. */
export const SESSION_ID_PATTERN = /^[a-z0-9]{10}$/;

/**
 * Session id for the `generation`-th init segment of a session (0 is the session itself). A mid-stream change of
 * codec configuration needs a new init segment, and the path rules allow only `<session>_init.mp4`, so the new
 * init and the segments that use it get a derived session id: deterministic (the caller can recompute it),
 * `[a-z0-9]{10}`, and different from the parent (FNV-1a over `session:generation`, base 36).
 */
export function derivedSessionId(session: string, generation: number): string {
  if (generation === 0) return session;
  const input = `${session}:${generation}`;
  let out = '';
  for (let round = 0; out.length < 10; round++) {
    let h = 0x811c9dc5 ^ round;
    for (let i = 0; i < input.length; i++) h = Math.imul(h ^ input.charCodeAt(i), 0x01000193) >>> 0;
    out += h.toString(36).padStart(7, '0').slice(-5);
  }
  const id = out.slice(0, 10);
  return id === session ? derivedSessionId(session, generation + 1_000_000) : id;
}

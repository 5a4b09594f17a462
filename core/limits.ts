/**
 * The limits every part agrees on, each defined once: infra validates its config against them, the services'
 * settings schemas use them as ranges, and the origin and the local function-URL adapter enforce them.
 */

/**
 * Target segment duration, whole seconds (CloudFront's playlist TTL is half of it, in whole seconds; sub-second
 * latency comes from LL-HLS parts, not from shorter segments).
 */
export const SEGMENT_SECONDS = { min: 1, max: 10, default: 1, integer: true } as const;

/** Segments per live media playlist. */
export const PLAYLIST_SIZE = { min: 3, max: 60, default: 6, integer: true } as const;

/** A buffered Lambda function URL response (or request) payload, bytes: the service's documented 6 MB. */
export const FUNCTION_URL_MAX_PAYLOAD_BYTES = 6_000_000;

/** What the response envelope and headers may take of that payload. */
const ENVELOPE_RESERVE_BYTES = 16 * 1024;

/**
 * The largest raw body the origin can return: binary bodies are base64 (4 bytes per 3) inside the payload,
 * (6,000,000 − 16 KiB) / 4 × 3 ≈ 4.49 MB.
 */
export const MAX_BUFFERED_BODY_BYTES = Math.floor((FUNCTION_URL_MAX_PAYLOAD_BYTES - ENVELOPE_RESERVE_BYTES) / 4) * 3;

/**
 * How long the task holds an LL-HLS blocking request (and the origin waits for one, on top of its upstream
 * timeout): three target durations, at most 6 s so that 2 s upstream + 6 s fits the origin Lambda's 10 s
 * timeout and CloudFront's 15 s origin read timeout. Both the ingest and the origin derive it from the one
 * segment duration they are given, so they always agree.
 */
export function blockingHoldMs(segmentSeconds: number): number {
  return Math.min(3000 * Math.ceil(segmentSeconds), 6000);
}

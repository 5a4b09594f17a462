import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derivedSessionId, maxOpenableSequence, SESSION_ID_PATTERN, timeBasedSequence } from '../../../ingest/packager/index.js';
import { collect, T0 } from './support/run.js';
import { feed } from './support/synth.js';

const media = feed({ seconds: 4, video: { fps: 30, gopFrames: 60, bitrate: 300_000 }, audio: { sampleRate: 48000, bitrate: 32_000 } });

describe('timeBasedSequence', () => {
  it('derives both bases from the clock', () => {
    expect(timeBasedSequence(1_750_000_000_123)).toEqual({
      mediaSequenceBase: 175_000_000_012,
      discontinuitySequenceBase: 175_000_000_012,
      sequenceQuantumMs: 10,
    });
    expect(String(timeBasedSequence(Date.now()).mediaSequenceBase)).toMatch(/^\d{12}$/);
    expect(() => timeBasedSequence(-1)).toThrow(RangeError);
  });

  it('property: a session started after another one numbers above every msn and discontinuity it produced', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        // Per-message clock steps: bursts (0 ms), real time, stalls; media can run ahead of the clock.
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 200, max: 3000 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: media.length - 1 }), { maxLength: 3 }),
        fc.integer({ min: 0, max: 5000 }),
        (startOffset, steps, jumpsAt, gap) => {
          const tA = T0 + startOffset;
          const a = collect({ ...timeBasedSequence(tA) });
          a.clock.now = tA;
          const opened: { msn: number; now: number }[] = [];
          const jumps = new Set(jumpsAt);
          media.forEach((m, i) => {
            a.clock.now += steps[i % steps.length];
            const ts = jumps.has(i) ? (m.timestamp + 100_000) >>> 0 : m.timestamp;
            a.packager.push(m.type, ts, m.payload);
            for (const f of a.fragments.splice(0)) if (f.index === 0) opened.push({ msn: f.msn, now: a.clock.now });
          });
          a.packager.end();
          for (const f of a.fragments) if (f.index === 0) opened.push({ msn: f.msn, now: a.clock.now });
          // The packager never opened a segment ahead of the clock.
          for (const o of opened) expect(o.msn).toBeLessThanOrEqual(maxOpenableSequence(o.now, 10));
          const tB = a.clock.now + gap;
          const b = timeBasedSequence(tB);
          const maxMsn = Math.max(-1, ...a.segments.map((s) => s.msn));
          const maxDisc = Math.max(-1, ...a.segments.map((s) => s.discontinuitySequence));
          expect(b.mediaSequenceBase).toBeGreaterThan(maxMsn);
          // B's first segment has discontinuity number base + 1.
          expect(b.discontinuitySequenceBase + 1).toBeGreaterThan(maxDisc);
        },
      ),
      { numRuns: 40, seed: 99 },
    );
  });

  it('holds media back while the clock has not advanced, then releases it', () => {
    const c = collect({ ...timeBasedSequence(T0) });
    for (const m of media.slice(0, 100)) c.packager.push(m.type, m.timestamp, m.payload);
    expect(c.fragments).toHaveLength(0);
    c.clock.now = T0 + 10_000;
    for (const m of media.slice(100)) c.packager.push(m.type, m.timestamp, m.payload);
    c.packager.end();
    expect(c.segments.map((s) => s.msn)).toEqual([0, 1, 2, 3].map((i) => timeBasedSequence(T0).mediaSequenceBase + i));
  });

  it('refuses media that outruns the clock past the object budget', () => {
    const c = collect({ ...timeBasedSequence(T0), maxObjectBytes: 60_000 });
    const errors = feed({ seconds: 4 }).map((m) => c.packager.push(m.type, m.timestamp, m.payload));
    expect(errors.find((e) => e)?.code).toBe('faster-than-realtime');
  });
});

describe('derivedSessionId', () => {
  it('is deterministic, matches the path rule and differs per generation', () => {
    const ids = new Set<string>();
    for (let g = 1; g < 200; g++) {
      const id = derivedSessionId('abcdefghij', g);
      expect(id).toMatch(SESSION_ID_PATTERN);
      expect(derivedSessionId('abcdefghij', g)).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(199);
    expect(ids.has('abcdefghij')).toBe(false);
    expect(derivedSessionId('abcdefghij', 0)).toBe('abcdefghij');
  });
});

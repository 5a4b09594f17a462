import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PackagerError, timeBasedSequence } from '../../../ingest/packager/index.js';
import { parseMp4 } from './support/mp4.js';
import { collect, T0 } from './support/run.js';
import { feed } from './support/synth.js';

const base = feed({ seconds: 1.5, video: { fps: 30, gopFrames: 15, bitrate: 400_000, bframes: 2 }, audio: { sampleRate: 44100, bitrate: 32_000 } });

const mutation = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat(), len: fc.nat({ max: 40 }) }),
  fc.record({ op: fc.constant('garbage' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), pos: fc.nat({ max: 64 }), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('timestamp' as const),
    at: fc.nat(),
    ts: fc.oneof(fc.nat(), fc.constant(0xffffffff), fc.integer({ min: -5000, max: 5000 })),
  }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), type: fc.constantFrom(8, 9, 18, 20), bytes: fc.uint8Array({ maxLength: 48 }) }),
  fc.record({ op: fc.constant('drop' as const), at: fc.nat() }),
);

type Msg = { type: number; timestamp: number; payload: Buffer };

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(messages: readonly Msg[], ops: readonly Mutation[]): Msg[] {
  const out = messages.map((m) => ({ ...m }));
  for (const m of ops) {
    const i = m.at % Math.max(1, out.length);
    const t = out[i];
    if (!t) continue;
    if (m.op === 'truncate') t.payload = t.payload.subarray(0, Math.min(t.payload.length, m.len));
    else if (m.op === 'garbage') t.payload = Buffer.concat([t.payload.subarray(0, 2), Buffer.from(m.bytes)]);
    else if (m.op === 'flip') {
      t.payload = Buffer.from(t.payload);
      if (t.payload.length) t.payload[m.pos % t.payload.length] = m.value;
    } else if (m.op === 'timestamp') t.timestamp = m.ts < 0 ? (t.timestamp + m.ts) >>> 0 : m.ts >>> 0;
    else if (m.op === 'insert') out.splice(i, 0, { type: m.type, timestamp: t.timestamp, payload: Buffer.from(m.bytes) });
    else if (m.op === 'drop') out.splice(i, 1);
  }
  return out;
}

describe('fuzz: push() under hostile input', () => {
  it('never throws, returns only PackagerError, and every emitted sample has a sane duration', () => {
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 12 }), fc.boolean(), fc.array(fc.nat({ max: 80 }), { minLength: 1 }), (ops, q, steps) => {
        const c = collect(q ? { ...timeBasedSequence(T0), sequenceQuantumMs: 10 } : {});
        const messages = mutate(base, ops);
        messages.forEach((m, i) => {
          c.clock.now += steps[i % steps.length];
          let result: unknown;
          expect(() => {
            result = c.packager.push(m.type, m.timestamp, m.payload);
          }).not.toThrow();
          if (result !== undefined) expect(result).toBeInstanceOf(PackagerError);
        });
        expect(() => c.packager.end()).not.toThrow();
        for (const init of c.inits) {
          const segments = c.segments.filter((s) => s.initUri === init.name);
          if (segments.length === 0) continue;
          const mp4 = parseMp4(Buffer.concat([init.bytes, ...segments.flatMap((s) => s.chunks)]));
          for (const t of mp4.info.tracks) {
            for (const s of mp4.samples.get(t.id)!) {
              expect(s.duration).toBeGreaterThan(0);
              expect(s.duration).toBeLessThanOrEqual(2.5 * t.timescale);
            }
          }
          for (const s of segments) expect(s.duration).toBeGreaterThan(0);
        }
      }),
      { numRuns: 150, seed: 20_240_611 },
    );
  });

  it('survives random bytes as any message type', () => {
    const message = fc.record({ type: fc.constantFrom(8, 9, 18), ts: fc.nat(), bytes: fc.uint8Array({ maxLength: 80 }) });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 60 }), (msgs) => {
        const c = collect();
        for (const m of msgs) {
          const r = c.packager.push(m.type, m.ts, Buffer.from(m.bytes));
          if (r !== undefined) expect(r).toBeInstanceOf(PackagerError);
        }
        expect(() => c.packager.end()).not.toThrow();
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});

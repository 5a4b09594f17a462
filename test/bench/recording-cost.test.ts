import { describe, expect, it } from 'vitest';
import {
  DAYS_PER_MONTH,
  DEFAULT_RECORDING_ASSUMPTIONS as A,
  GB,
  RECORDING_PRICES,
  bytesPerStreamHour,
  recordingCostPerStreamHour,
  requestsPerStreamHour,
} from '../../bench/lib/recording-cost';

describe('recording cost per stream-hour', () => {
  it('counts one segment PUT and one playlist PUT per 1 s segment, the init, the poster and the final playlist', () => {
    const r = requestsPerStreamHour(A);
    expect(r.segments).toBe(3600);
    expect(r.segmentPuts).toBe(3600);
    expect(r.playlistPuts).toBe(3601);
    expect(r.initPuts).toBe(1);
    expect(r.posterPuts).toBe(1);
    expect(r.puts).toBe(7203);
  });

  it('writes the recording item after the first segment, every 30 after it and at the end: 121 writes, 242 WRU', () => {
    const r = requestsPerStreamHour(A);
    expect(r.metadataWrites).toBe(121);
    expect(r.wru).toBe(242);
    // 2 s segments: half the segments, half the PUTs, about half the item writes.
    const two = requestsPerStreamHour({ ...A, segmentSeconds: 2 });
    expect(two.segmentPuts).toBe(1800);
    expect(two.metadataWrites).toBe(1 + 59 + 1);
  });

  it('batched playlists (uploads catching up) cut the playlist PUTs, not the segment PUTs', () => {
    const r = requestsPerStreamHour({ ...A, playlistPutsPerSegment: 0.25 });
    expect(r.segmentPuts).toBe(3600);
    expect(r.playlistPuts).toBe(901);
  });

  it('a reconnect adds an init, a final playlist, a final write and a reopen write', () => {
    const one = requestsPerStreamHour(A);
    const two = requestsPerStreamHour({ ...A, publishesPerHour: 2 });
    expect(two.puts - one.puts).toBe(2);
    expect(two.metadataWrites - one.metadataWrites).toBe(2);
  });

  it('stores bitrate/8 × 3600 × overhead bytes: 1.35 GB at 3 Mbit/s with no overhead, twice that at 6', () => {
    const none = { ...A, containerOverhead: 1 };
    expect(bytesPerStreamHour(3e6, none)).toBe(1.35e9);
    expect(bytesPerStreamHour(6e6, none)).toBe(2.7e9);
    expect(bytesPerStreamHour(3e6, { ...A, containerOverhead: 1.1 })).toBeCloseTo(1.485e9, 0);
  });

  it('prices PUTs at $0.005 per 1,000 and storage at $0.023 per GB-month over 30 days', () => {
    const c = recordingCostPerStreamHour(3e6, { ...A, containerOverhead: 1 });
    expect(c.usd.puts).toBeCloseTo(7203 * 0.000005, 12);
    expect(c.gbMonths).toBeCloseTo(1.35 * (30 / DAYS_PER_MONTH), 12);
    expect(c.usd.storage).toBeCloseTo(1.35 * (30 / 30.4375) * 0.023, 12);
    expect(c.usd.dynamo).toBeCloseTo(242 * 0.625e-6, 12);
    expect(c.usd.recording).toBeCloseTo(c.usd.puts + c.usd.storage + c.usd.dynamo, 12);
    // No replay by default.
    expect(c.usd.replayGets).toBe(0);
    expect(c.usd.replayEgress).toBe(0);
    expect(c.usd.total).toBe(c.usd.recording);
    // Longer retention costs storage in proportion, nothing else.
    const c60 = recordingCostPerStreamHour(3e6, { ...A, containerOverhead: 1, retentionDays: 60 });
    expect(c60.usd.storage).toBeCloseTo(2 * c.usd.storage, 12);
    expect(c60.usd.puts).toBe(c.usd.puts);
  });

  it('replay: one GET per segment and playlist at the miss ratio, egress of the stored bytes per viewer-hour', () => {
    const c = recordingCostPerStreamHour(6e6, { ...A, containerOverhead: 1, replayViewerHoursPerStreamHour: 10, replayCacheMissRatio: 0.1 });
    expect(c.usd.replayGets).toBeCloseTo(10 * 3601 * 0.1 * RECORDING_PRICES.s3Get.usd, 12);
    expect(c.usd.replayEgress).toBeCloseTo(10 * (2.7e9 / GB) * 0.085, 12);
    expect(c.usd.total).toBeCloseTo(c.usd.recording + c.usd.replayGets + c.usd.replayEgress, 12);
  });

  it('refuses a zero segment duration', () => {
    expect(() => requestsPerStreamHour({ ...A, segmentSeconds: 0 })).toThrow();
  });
});

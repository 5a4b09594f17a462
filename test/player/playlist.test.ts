import { describe, expect, it } from 'vitest';
import { decodeBits, drawCode, encodeBits, readCode, CODE_HEIGHT } from '../../bench/latency/clock-code';
import { playbackIdFromLocation } from '../../player/src/page-config';
import { backoffMs, classifyPlaylist, percentile, playlistSession, playlistTiming } from '../../player/src/playlist';
import { LIVE_SYNC_MARGIN_SECONDS, liveSyncConfig } from '../../player/src/tuning';

const LIVE = [
  '#EXTM3U',
  '#EXT-X-VERSION:3',
  '#EXT-X-TARGETDURATION:1',
  '#EXT-X-MEDIA-SEQUENCE:40',
  '#EXT-X-INDEPENDENT-SEGMENTS',
  '#EXTINF:1.000000,',
  '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:00.000+0000',
  'k3j9x0a1b2_40.ts',
  '#EXTINF:1.000000,',
  '#EXT-X-PROGRAM-DATE-TIME:2030-01-01T12:00:01.000+0000',
  'k3j9x0a1b2_41.ts',
  '#EXTINF:0.500000,',
  'k3j9x0a1b2_42.ts',
  '',
].join('\n');

describe('playlist probe', () => {
  it('classifies what the origin answers', () => {
    expect(classifyPlaylist(404, '')).toEqual({ kind: 'offline' });
    expect(classifyPlaylist(400, '')).toEqual({ kind: 'offline' });
    expect(classifyPlaylist(503, '')).toEqual({ kind: 'error', status: 503 });
    expect(classifyPlaylist(200, 'not a playlist')).toEqual({ kind: 'error', status: 200 });
    expect(classifyPlaylist(200, LIVE)).toEqual({ kind: 'live', session: 'k3j9x0a1b2', targetSeconds: 1 });
    expect(classifyPlaylist(200, `${LIVE}#EXT-X-ENDLIST\n`)).toEqual({ kind: 'ended', session: 'k3j9x0a1b2' });
    expect(classifyPlaylist(200, '#EXTM3U\n#EXT-X-TARGETDURATION:1\n')).toEqual({ kind: 'offline' });
    expect(classifyPlaylist(200, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p.m3u8\n')).toEqual({ kind: 'live' });
    expect(playlistSession('#EXTM3U\nabc.ts\n')).toBeUndefined();
  });

  it('says when a live playlist has LL-HLS parts (what the tuning is chosen by)', () => {
    const ll = LIVE.replace('#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-PART-INF:PART-TARGET=0.334\n#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES');
    expect(classifyPlaylist(200, ll)).toEqual({ kind: 'live', session: 'k3j9x0a1b2', targetSeconds: 1, partTargetSeconds: 0.334 });
    expect(classifyPlaylist(200, LIVE)).not.toHaveProperty('partTargetSeconds');
    const zero = LIVE.replace('#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-PART-INF:PART-TARGET=0');
    expect(classifyPlaylist(200, zero)).not.toHaveProperty('partTargetSeconds');
  });

  it('times the newest segment on the program-date-time clock', () => {
    expect(playlistTiming(LIVE)).toEqual({
      lastSn: 42,
      lastEndMs: Date.parse('2030-01-01T12:00:02.500Z'),
      nextDurationMs: 500,
      targetMs: 1000,
      ended: false,
    });
    expect(playlistTiming(LIVE.replace(/#EXT-X-PROGRAM-DATE-TIME:.*\n/g, ''))?.lastEndMs).toBeUndefined();
    expect(playlistTiming(`${LIVE}#EXT-X-ENDLIST\n`)?.ended).toBe(true);
    expect(playlistTiming('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n720p.m3u8\n')).toBeUndefined();
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(0, { random: () => 0.5 })).toBe(1000);
    expect(backoffMs(2, { random: () => 0.5 })).toBe(4000);
    expect(backoffMs(10, { random: () => 0.5 })).toBe(8000);
    expect(backoffMs(0, { random: () => 0 })).toBe(800);
    expect(backoffMs(0, { random: () => 1 })).toBe(1200);
  });

  it('percentile (nearest rank)', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3], 0)).toBe(1);
  });

  it('reads the playback ID from either page address', () => {
    expect(playbackIdFromLocation({ pathname: '/watch/AbCdEf123456', search: '' })).toBe('AbCdEf123456');
    expect(playbackIdFromLocation({ pathname: '/watch/index.html', search: '?v=AbCdEf123456' })).toBe('AbCdEf123456');
    expect(playbackIdFromLocation({ pathname: '/watch/short', search: '' })).toBeUndefined();
    expect(playbackIdFromLocation({ pathname: '/watch/index.html', search: '?v=../../etc' })).toBeUndefined();
  });
});

describe('hls.js sync distance', () => {
  it('is one target duration plus the margin, in seconds, unless the caller chose one', () => {
    expect(liveSyncConfig(1)).toEqual({
      liveSyncDurationCount: undefined,
      liveMaxLatencyDurationCount: undefined,
      liveSyncDuration: 1 + LIVE_SYNC_MARGIN_SECONDS,
      liveMaxLatencyDuration: 5 + LIVE_SYNC_MARGIN_SECONDS,
    });
    expect(liveSyncConfig(2).liveSyncDuration).toBe(2 + LIVE_SYNC_MARGIN_SECONDS);
    expect(liveSyncConfig(undefined)).toEqual({});
    expect(liveSyncConfig(1, { liveSyncDurationCount: 3 })).toEqual({});
  });
});

describe('burned-in clock (bench/latency)', () => {
  it('encodes and reads back a capture time; a damaged code is rejected', () => {
    const ms = Date.parse('2030-01-01T12:00:00.123Z');
    expect(decodeBits(encodeBits(ms))).toBe(ms);
    const width = 640;
    const gray = new Uint8Array(width * CODE_HEIGHT).fill(96);
    drawCode(gray, width, ms);
    const rgba = new Uint8Array(gray.length * 4);
    for (const [i, v] of gray.entries()) rgba.fill(v, i * 4, i * 4 + 4);
    expect(readCode(rgba, width)).toBe(ms);
    const bits = encodeBits(ms);
    bits[47] ^= 1;
    expect(decodeBits(bits)).toBeUndefined();
  });
});

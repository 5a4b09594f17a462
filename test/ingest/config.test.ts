import { describe, expect, it } from 'vitest';
import { loadIngestConfig } from '../../ingest/config';

describe('loadIngestConfig', () => {
  it('has sane defaults', () => {
    expect(loadIngestConfig({ KEYFRAME_TABLE: 't' })).toMatchObject({
      rtmpPort: 1935,
      hlsPort: 8080,
      healthPort: 8081,
      segmentSeconds: 1,
      playlistSize: 6,
      ffmpegPath: 'ffmpeg',
      routeTtlSeconds: 15,
      drainSeconds: 110,
    });
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{}, 'KEYFRAME_TABLE is not set; set it to a non-empty string'],
    [{ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: 'two' }, 'KEYFRAME_SEGMENT_SECONDS="two" is not an integer'], // whole seconds everywhere (core/limits.ts)
    [{ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '30' }, 'KEYFRAME_SEGMENT_SECONDS=30 is above the maximum 10'],
    [{ KEYFRAME_TABLE: 't', KEYFRAME_RTMP_PORT: '1935.5' }, 'KEYFRAME_RTMP_PORT="1935.5" is not an integer'],
    [{ KEYFRAME_TABLE: 't', KEYFRAME_PLAYLIST_SIZE: '1' }, 'KEYFRAME_PLAYLIST_SIZE=1 is below the minimum 3'],
    [{ KEYFRAME_TABLE: 't', KEYFRAME_HEALTH_PORT: '8080' }, 'KEYFRAME_HEALTH_PORT=8080 equals KEYFRAME_HLS_PORT'],
  ];
  for (const [env, message] of bad) {
    it(`rejects ${JSON.stringify(env)}`, () => {
      expect(() => loadIngestConfig(env)).toThrowError(message);
    });
  }
});

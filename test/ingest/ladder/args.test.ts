/** The ladder's ffmpeg command as data (the benchmark runs exactly this). */
import { describe, expect, it } from 'vitest';
import { rungsBelow } from '../../../core/ladder';
import { keyframeExpression, ladderFfmpegArgs, ladderFilterGraph, ladderOutputs, rungThreads } from '../../../ingest/ladder/index.js';

const outputs = ladderOutputs(rungsBelow(['720p', '480p', '360p'], 1080), { width: 1920, height: 1080 });

describe('ladderFfmpegArgs', () => {
  it('decodes once, splits, scales and encodes each rung to its own pipe with exact timestamps', () => {
    const args = ladderFfmpegArgs({ outputs, segmentSeconds: 1 });
    const s = args.join(' ');
    expect(s).toMatch(/^-hide_banner -nostdin -nostats -loglevel error -threads 1 .* -f flv -i pipe:0 -copyts -filter_complex /);
    expect(ladderFilterGraph(outputs)).toBe(
      '[0:v:0]split=3[s0][s1][s2];[s0]scale=w=1280:h=720:flags=bicubic,format=yuv420p[v0];' +
        '[s1]scale=w=854:h=480:flags=bicubic,format=yuv420p[v1];[s2]scale=w=640:h=360:flags=bicubic,format=yuv420p[v2]',
    );
    expect(args.filter((a) => a.startsWith('pipe:'))).toEqual(['pipe:0', 'pipe:3', 'pipe:4', 'pipe:5']);
    expect(args.filter((a) => a === 'libx264')).toHaveLength(3);
    expect(s).toContain(
      '-map [v0] -map 0:a:0? -c:a copy -c:v libx264 -preset veryfast -tune zerolatency -profile:v high -b:v 3000k -maxrate 3000k -bufsize 3000k -bf 0 -g 600 -sc_threshold 0 -forced-idr 1',
    );
    expect(s).toContain(
      '-threads 2 -enc_time_base:v 1:1000 -fps_mode passthrough -muxdelay 0 -flush_packets 1 -flvflags no_duration_filesize -f flv pipe:3',
    );
    expect(s).toContain('-b:v 800k -maxrate 800k -bufsize 800k');
    expect(ladderFfmpegArgs({ outputs: outputs.slice(2), segmentSeconds: 1, audio: 'none', preset: 'ultrafast' }).join(' ')).not.toContain('0:a');
    expect(ladderFilterGraph(outputs.slice(2))).toBe('[0:v:0]scale=w=640:h=360:flags=bicubic,format=yuv420p[v0]');
  });

  it('forces keyframes on the segment grid from the given offset, restarting at jumps', () => {
    expect(keyframeExpression(1)).toBe(
      'expr:if(eq(n,0),st(0,0)+st(3,1),if(gt(t-ld(1),2)+lt(t,ld(1)-0.1),st(0,t)+st(3,1),' +
        'st(3,gt(floor((t-ld(0)+0.002)/1),floor((ld(1)-ld(0)+0.002)/1)))));st(1,t);ld(3)',
    );
    expect(keyframeExpression(2, -1.502, 3)).toContain('st(0,-1.502)');
    expect(keyframeExpression(2, -1.502, 3)).toContain('gt(t-ld(1),3)');
    expect(ladderFfmpegArgs({ outputs, segmentSeconds: 2, gridOffsetSeconds: 0.25 }).join(' ')).toContain('st(0,0.25)');
  });

  it('refuses an empty ladder and odd sizes; threads by rung height', () => {
    expect(() => ladderFfmpegArgs({ outputs: [], segmentSeconds: 1 })).toThrow('a ladder needs at least one rung');
    expect(() => ladderFfmpegArgs({ outputs: [{ name: 'x', width: 641, height: 360, videoKbps: 800 }], segmentSeconds: 1 })).toThrow('must be even');
    expect([1080, 720, 480, 360, 160].map(rungThreads)).toEqual([3, 2, 1, 1, 1]);
  });
});

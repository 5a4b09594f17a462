import { describe, expect, it } from 'vitest';
import { buildHlsArgs } from '../../ingest/ffmpeg-args';

const base = { dir: '/hls/AbCdEfGhIjKl/k3j9x0a1b2', session: 'k3j9x0a1b2', segmentSeconds: 1, playlistSize: 6, startNumber: 0, discontinuity: false };
const valueAfter = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('buildHlsArgs', () => {
  it('reads FLV from stdin and copies it into HLS with session-prefixed segments', () => {
    const args = buildHlsArgs(base);
    expect(valueAfter(args, '-f')).toBe('flv');
    expect(valueAfter(args, '-i')).toBe('pipe:0');
    expect(valueAfter(args, '-c')).toBe('copy');
    expect(valueAfter(args, '-hls_time')).toBe('1');
    expect(valueAfter(args, '-hls_list_size')).toBe('6');
    expect(valueAfter(args, '-start_number')).toBe('0');
    expect(valueAfter(args, '-hls_segment_filename')).toBe('/hls/AbCdEfGhIjKl/k3j9x0a1b2/k3j9x0a1b2_%d.ts');
    expect(args.at(-1)).toBe('/hls/AbCdEfGhIjKl/k3j9x0a1b2/index.m3u8');
  });

  it('leaves the end-of-list marker to the ingest and emits program-date-time', () => {
    const flags = valueAfter(buildHlsArgs(base), '-hls_flags').split('+');
    expect(flags).toContain('omit_endlist');
    expect(flags).toContain('program_date_time');
    expect(flags).toContain('temp_file');
    expect(flags).not.toContain('discont_start');
  });

  it('never drops the packets read while probing (-fflags nobuffer lost the first GOP)', () => {
    expect(buildHlsArgs(base).join(' ')).not.toContain('nobuffer');
  });

  it('continues a previous session: start number and a discontinuity', () => {
    const args = buildHlsArgs({ ...base, startNumber: 42, discontinuity: true, segmentSeconds: 2, playlistSize: 10 });
    expect(valueAfter(args, '-start_number')).toBe('42');
    expect(valueAfter(args, '-hls_flags').split('+')).toContain('discont_start');
    expect(valueAfter(args, '-hls_time')).toBe('2');
    expect(valueAfter(args, '-hls_list_size')).toBe('10');
  });
});

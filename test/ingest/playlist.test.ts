import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { endPlaylist, parsePlaylist } from '../../ingest/playlist';

const LIVE = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:2.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-20T22:54:01.984+0000
k3j9x0a1b2_40.ts
#EXTINF:2.000000,
k3j9x0a1b2_41.ts
#EXTINF:1.500000,
k3j9x0a1b2_42.ts
`;

describe('playlist', () => {
  it('parses the sequence of the newest segment', () => {
    expect(parsePlaylist(LIVE)).toEqual({ mediaSequence: 40, segments: 3, targetDuration: 2, ended: false, lastSequence: 42 });
    expect(parsePlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:1\n').lastSequence).toBeUndefined();
  });

  it('appends the end-of-list marker once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kf-pl-'));
    const path = join(dir, 'index.m3u8');
    await writeFile(path, LIVE);
    expect(await endPlaylist(path)).toBe(true);
    expect(await endPlaylist(path)).toBe(true);
    const text = await readFile(path, 'utf8');
    expect(text.match(/#EXT-X-ENDLIST/g)).toHaveLength(1);
    expect(parsePlaylist(text)).toMatchObject({ ended: true, lastSequence: 42 });
    expect(await endPlaylist(join(dir, 'missing.m3u8'))).toBe(false);
  });
});

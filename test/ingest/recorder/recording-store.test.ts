/** Recording items in the routing table (core/dynamo-store.ts), on dynalite. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRecordingId, RECORDING_ID_PATTERN, type Recording } from '../../../core/model';
import { startTestTable, type TestTable } from '../../support/dynamo';

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(() => table?.close());

function recording(over: Partial<Recording> & { startedAt: number }): Recording {
  return {
    id: newRecordingId(over.startedAt),
    playbackId: 'PlaybackAAAA',
    channelName: 'alpha',
    state: 'recording',
    durationSeconds: 0,
    segmentCount: 0,
    gaps: [],
    updatedAt: over.startedAt,
    ...over,
  };
}

describe('recording store', () => {
  it('round-trips every field, gaps included, and replaces on put', async () => {
    const r = recording({ startedAt: 1_750_000_000_000 });
    expect(r.id).toMatch(RECORDING_ID_PATTERN);
    await table.store.putRecording(r);
    expect(await table.store.getRecording(r.id)).toEqual(r);
    const gap = { session: 'sessiona01', fromMsn: 3, toMsn: 7, startedAt: 1_750_000_003_000, seconds: 5, reason: 'spool-full' as const };
    const done: Recording = { ...r, state: 'incomplete', endedAt: 1_750_000_060_000, durationSeconds: 55.5, segmentCount: 55, gaps: [gap] };
    await table.store.putRecording(done);
    expect(await table.store.getRecording(r.id)).toEqual(done);
  });

  it("lists a channel's recordings newest first, only that channel's, and deletes one", async () => {
    const base = 1_760_000_000_000;
    const rs = [0, 3, 1].map((m) => recording({ playbackId: 'PlaybackBBBB', startedAt: base + m * 60_000 }));
    const other = recording({ playbackId: 'PlaybackCCCC', startedAt: base });
    for (const r of [...rs, other]) await table.store.putRecording(r);
    const listed = await table.store.listRecordingsOfChannel('PlaybackBBBB');
    expect(listed.map((r) => r.startedAt)).toEqual([base + 180_000, base + 60_000, base]);
    expect(await table.store.deleteRecording(rs[1].id)).toEqual(rs[1]);
    expect(await table.store.deleteRecording(rs[1].id)).toBeUndefined();
    expect((await table.store.listRecordingsOfChannel('PlaybackBBBB')).map((r) => r.id)).not.toContain(rs[1].id);
    expect(await table.store.listRecordingsOfChannel('PlaybackCCCC')).toEqual([other]);
  });

  it('recording ids sort by start time', () => {
    const ids = [1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000].map((t) => newRecordingId(t));
    expect([...ids].sort()).toEqual(ids);
  });
});

import { describe, expect, it } from 'vitest';
import { chooseEngine, type EngineKind, type EngineSupport, type EngineWanted } from '../../player/src/engines/engine';
import { LIVE_SYNC_MARGIN_SECONDS, LOW_LATENCY_HLS_CONFIG, liveSyncConfig, selectTuning } from '../../player/src/tuning';

describe('engine choice', () => {
  const MSE: EngineSupport = { mse: true, nativeHls: false };
  const BOTH: EngineSupport = { mse: true, nativeHls: true };
  const NATIVE: EngineSupport = { mse: false, nativeHls: true };
  const NEITHER: EngineSupport = { mse: false, nativeHls: false };
  const rows: Array<[EngineSupport, EngineWanted, EngineKind]> = [
    [MSE, 'auto', 'hls.js'],
    [BOTH, 'auto', 'hls.js'],
    [NATIVE, 'auto', 'native'],
    [NEITHER, 'auto', 'none'],
    [BOTH, 'native', 'native'],
    [MSE, 'native', 'none'],
    [BOTH, 'hls.js', 'hls.js'],
    [NATIVE, 'hls.js', 'none'],
  ];
  it.each(rows)('%o asking for %s: %s', (support, wanted, expected) => {
    expect(chooseEngine(support, wanted)).toBe(expected);
  });
  it('defaults to auto', () => expect(chooseEngine(NATIVE)).toBe('native'));
});

describe('tuning selection', () => {
  it('a standard playlist gets the low-latency config with a sync distance of its own target duration', () => {
    const t = selectTuning({ targetSeconds: 2 });
    expect(t.name).toBe('standard');
    expect(t.config).toEqual({ ...LOW_LATENCY_HLS_CONFIG, ...liveSyncConfig(2) });
    expect(t.config.liveSyncDuration).toBe(2 + LIVE_SYNC_MARGIN_SECONDS);
    expect(t.config.initialLiveManifestSize).toBe(3);
  });

  it('keeps the counts form when the target is unknown or the page set sync options itself', () => {
    expect(selectTuning({}).config).toEqual(LOW_LATENCY_HLS_CONFIG);
    expect(selectTuning({ targetSeconds: 1 }, { liveSyncDurationCount: 4 }).config.liveSyncDuration).toBeUndefined();
    expect(selectTuning({ targetSeconds: 1 }, {}, 0.5).config.liveSyncDuration).toBe(1.5);
  });

  it('playlists with parts get hls.js low-latency mode, synced at the part hold-back, without the aligned loader', () => {
    const t = selectTuning({ targetSeconds: 1, partTargetSeconds: 0.334 });
    expect(t.name).toBe('ll-hls');
    expect(t.alignReloads).toBe(false);
    expect(t.config.lowLatencyMode).toBe(true);
    // PART-HOLD-BACK as the packager writes it: 3 part targets.
    expect(t.config.liveSyncDuration).toBe(1.002);
    expect(t.config.liveMaxLatencyDuration).toBe(5);
    expect(t.config.liveSyncDurationCount).toBeUndefined();
    expect(t.config.initialLiveManifestSize).toBe(1);
    expect(selectTuning({ targetSeconds: 1, partTargetSeconds: 0.25 }).config.liveSyncDuration).toBe(0.75);
    // The page's own sync options win (hls.js refuses a mix of the two forms).
    expect(selectTuning({ targetSeconds: 1, partTargetSeconds: 0.334 }, { liveSyncDurationCount: 4 }).config.liveSyncDuration).toBeUndefined();
    // Without parts: the standard tuning, aligned reloads on.
    expect(selectTuning({ targetSeconds: 1 })).toMatchObject({ name: 'standard', alignReloads: true });
  });
});

import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ingestSettings } from '../../core/settings/ingest';
import { localSettings } from '../../core/settings/local';
import { originSettings } from '../../core/settings/origin';
import { ConfigError, defineSettings, number, text } from '../../core/settings/schema';
import { taskEventsSettings } from '../../core/settings/task-events';

describe('settings schemas', () => {
  it('round-trips: what a writer writes, the reader reads back', () => {
    const written = ingestSettings.toEnv({ tableName: 't', segmentSeconds: 2, maxConnectionsPerIp: Infinity, drainSeconds: 5, logLevel: 'WARN' });
    expect(written).toEqual({
      KEYFRAME_TABLE: 't',
      KEYFRAME_SEGMENT_SECONDS: '2',
      KEYFRAME_RTMP_MAX_CONNECTIONS_PER_IP: 'Infinity',
      KEYFRAME_DRAIN_SECONDS: '5',
      KEYFRAME_LOG_LEVEL: 'WARN',
    });
    const read = ingestSettings.load(written);
    expect(read).toMatchObject({ tableName: 't', segmentSeconds: 2, maxConnectionsPerIp: Infinity, drainSeconds: 5, logLevel: 'WARN' });
    // Derived defaults follow the values they derive from.
    expect(read.endLingerSeconds).toBe(6);
    expect(read.authMaxFailures).toBe(0);
  });

  it('names the variable, the value and the expectation in every error', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /^KEYFRAME_TABLE is not set; set it to a non-empty string$/],
      [{ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '0' }, /^KEYFRAME_SEGMENT_SECONDS=0 is below the minimum 1$/],
      [{ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '11' }, /^KEYFRAME_SEGMENT_SECONDS=11 is above the maximum 10$/],
      [{ KEYFRAME_TABLE: 't', KEYFRAME_PLAYLIST_SIZE: '6.5' }, /^KEYFRAME_PLAYLIST_SIZE="6.5" is not an integer$/],
      [{ KEYFRAME_TABLE: 't', KEYFRAME_LOG_LEVEL: 'LOUD' }, /^KEYFRAME_LOG_LEVEL="LOUD" is not one of DEBUG, INFO, WARN, ERROR, SILENT$/],
    ];
    for (const [env, message] of cases) {
      expect(() => ingestSettings.load(env)).toThrow(ConfigError);
      expect(() => ingestSettings.load(env)).toThrow(message);
    }
  });

  it('defines each shared limit once: the same segment range for every service', () => {
    const ranges = [ingestSettings, originSettings, localSettings].map((s) => {
      const spec = s.settings.segmentSeconds;
      return [() => s.load({ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '10' }).segmentSeconds, spec.env];
    });
    for (const [load, env] of ranges) {
      expect(env).toBe('KEYFRAME_SEGMENT_SECONDS');
      expect((load as () => number)()).toBe(10);
    }
    for (const s of [ingestSettings, originSettings, localSettings]) {
      expect(() => s.load({ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '11' })).toThrow(/above the maximum 10/);
      expect(() => s.load({ KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: '1.5' })).toThrow(/is not an integer/);
    }
  });

  it('refuses a schema that declares a variable twice', () => {
    expect(() => defineSettings('x', { a: text('A'), b: number('A', { min: 0, max: 1 }) })).toThrow(/A is declared twice/);
  });

  it('the origin reads no playlist size and the task-events function no segment size (written nowhere, read nowhere)', () => {
    expect(originSettings.variables).not.toContain('KEYFRAME_PLAYLIST_SIZE');
    expect(taskEventsSettings.variables).not.toContain('KEYFRAME_SEGMENT_SECONDS');
  });
});

describe('process.env', () => {
  it('is read only by the settings schemas (core/settings/) in production code', () => {
    const files = execFileSync(
      'git',
      ['ls-files', '--cached', '--others', '--exclude-standard', 'core', 'functions', 'ingest', 'infra', 'cli', 'local', 'player'],
      {
        encoding: 'utf8',
      },
    )
      .split('\n')
      .filter((f) => f.endsWith('.ts') && !f.startsWith('core/settings/'));
    expect(files.length).toBeGreaterThan(50);
    const offenders: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue; // listed but deleted in the working tree
      }
      text.split('\n').forEach((line, i) => {
        const code = line.replace(/\/\/.*$/, '').replace(/^\s*\*.*$/, '');
        // A quoted 'process.env.X' is text (esbuild's define), not a read.
        if (/(?<!['"])\bprocess\.env\b/.test(code)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});

describe('LL-HLS hold', () => {
  it('the ingest and the origin derive the same blocking hold from the one segment duration', () => {
    for (const seg of [1, 2, 4, 10]) {
      const env = { KEYFRAME_TABLE: 't', KEYFRAME_SEGMENT_SECONDS: String(seg) };
      expect(ingestSettings.load(env).blockingHoldMs).toBe(originSettings.load(env).blockingHoldMs);
      // 2 s upstream + the hold fits the origin function's 10 s timeout.
      expect(originSettings.load(env).upstreamTimeoutMs + originSettings.load(env).blockingHoldMs).toBeLessThan(10_000);
    }
  });
});

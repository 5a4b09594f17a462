import { LadderTranscoder } from './ladder/index.js';
import type { LadderHandle, LadderStarter, LadderStartInput } from './renditions';

/**
 * The task's ladder starter: turns a ladder channel's publish into a running transcoder (ingest/ladder) for
 * ingest/renditions.ts. Its `load()` is what the ladders cost, for the scaling metric.
 */
export interface LadderStarterOptions {
  readonly ffmpegPath: string;
  readonly preset?: string;
  readonly log?: { info(m: string, e?: Record<string, unknown>): void; warn(m: string, e?: Record<string, unknown>): void };
}

export function createLadderStarter(opts: LadderStarterOptions): LadderStarter & { load(): number } {
  let running = 0;
  return {
    load: () => running,
    start(input: LadderStartInput): LadderHandle {
      let closed = false;
      const transcoder = new LadderTranscoder({
        outputs: input.rungs.map((r) => ({ name: r.name, width: r.width, height: r.height, videoKbps: r.videoKbps })),
        segmentSeconds: input.segmentSeconds,
        gridOriginMs: input.gridOriginTimestampMs,
        ffmpegPath: opts.ffmpegPath,
        ...(opts.preset ? { preset: opts.preset } : {}),
        onMessage: input.onMessage,
        onFlowing: () => input.onState('up'),
        onFault: (fault, detail) => opts.log?.warn('ladder fault', { fault, ...detail }),
        onExit: (exit) => {
          running--;
          if (!closed) input.onState('failed', exit.spawnError ?? `ffmpeg exited ${exit.code ?? exit.signal}`);
        },
      });
      running++;
      input.onState('starting');
      return {
        push: (type, timestamp, payload) => transcoder.push(type, timestamp, payload),
        close: () => {
          closed = true;
          transcoder.end();
        },
      };
    },
  };
}

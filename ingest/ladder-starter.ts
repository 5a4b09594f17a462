import { LadderCapacity, LadderSupervisor } from './ladder/index.js';
import type { LadderHandle, LadderStarter, LadderStartInput } from './renditions';

/**
 * The task's ladder starter: admits a ladder channel's publish against the task's CPU (`LadderCapacity`), then
 * runs its transcoder under a `LadderSupervisor` (restarts within bounds) for ingest/renditions.ts. `load()` is
 * what the admitted ladders cost in load units, for the scaling metric.
 */
export interface LadderStarterOptions {
  readonly ffmpegPath: string;
  readonly preset?: string;
  readonly cpuBudget?: number;
  readonly passthroughCores?: number;
  readonly coresPerMpixel?: number;
  readonly maxRestarts?: number;
  readonly restartWindowSeconds?: number;
  readonly lagLimitMs?: number;
  readonly log?: { info(m: string, e?: Record<string, unknown>): void; warn(m: string, e?: Record<string, unknown>): void };
}

export function createLadderStarter(opts: LadderStarterOptions): LadderStarter & { load(): number; stop(): void } {
  const capacity = new LadderCapacity({
    ...(opts.cpuBudget !== undefined ? { budgetCores: opts.cpuBudget } : {}),
    ...(opts.passthroughCores !== undefined ? { passthroughCores: opts.passthroughCores } : {}),
    ...(opts.coresPerMpixel !== undefined ? { coresPerMpixel: opts.coresPerMpixel } : {}),
  });
  return {
    load: () => capacity.load().units,
    stop: () => capacity.stop(),
    start(input: LadderStartInput): LadderHandle | { refused: string } {
      const admission = capacity.admit(input.rungs, input.source);
      if ('refused' in admission) {
        opts.log?.warn('ladder refused: not enough CPU on this task', { reason: admission.refused, costCores: admission.costCores });
        return { refused: admission.refused };
      }
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        capacity.release(admission.ticket);
      };
      const supervisor = new LadderSupervisor({
        outputs: input.rungs.map((r) => ({ name: r.name, width: r.width, height: r.height, videoKbps: r.videoKbps })),
        segmentSeconds: input.segmentSeconds,
        gridOriginMs: input.gridOriginTimestampMs,
        ffmpegPath: opts.ffmpegPath,
        ...(opts.preset ? { preset: opts.preset } : {}),
        ...(opts.maxRestarts !== undefined ? { maxRestarts: opts.maxRestarts } : {}),
        ...(opts.restartWindowSeconds !== undefined ? { restartWindowMs: opts.restartWindowSeconds * 1000 } : {}),
        ...(opts.lagLimitMs !== undefined ? { lagLimitMs: opts.lagLimitMs } : {}),
        onMessage: input.onMessage,
        onState: (event) => {
          if (event.state === 'failed') release();
          if (event.state === 'down' || event.state === 'failed')
            opts.log?.warn(`ladder ${event.state}`, { reason: event.reason, restarts: event.restarts });
          input.onState(event.state, event.reason);
        },
      });
      return {
        push: (type, timestamp, payload) => supervisor.push(type, timestamp, payload),
        close: () => {
          release();
          supervisor.close();
        },
      };
    },
  };
}

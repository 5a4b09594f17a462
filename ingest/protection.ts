import type { Logger } from '../core/logger';

/**
 * ECS task scale-in protection: a task with live publishers must not be picked by a scale-in, or it would cut
 * those streams. The decision is pure; the adapter talks to the ECS agent's task protection endpoint.
 */
export interface ProtectionState {
  /** Whether protection is on, as last confirmed by the agent. */
  readonly enabled: boolean;
  /** When the current protection expires (epoch ms); ECS drops it by itself then. */
  readonly expiresAt: number;
}

export type ProtectionAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'protect'; readonly expiresInMinutes: number }
  | { readonly kind: 'unprotect' };

export interface ProtectionPolicy {
  /** How long each protection lasts; renewed while streams are live. */
  readonly expiresInMinutes: number;
  /** Renew when less than this is left. */
  readonly renewBeforeMinutes: number;
  /** Keep protection this long after the last stream ends, so a quick reconnect lands on a protected task. */
  readonly idleGraceMs: number;
}

export const DEFAULT_PROTECTION_POLICY: ProtectionPolicy = { expiresInMinutes: 60, renewBeforeMinutes: 15, idleGraceMs: 30_000 };

export function decideProtection(input: {
  readonly activeStreams: number;
  readonly state: ProtectionState;
  readonly now: number;
  /** When the task last had a live stream (epoch ms), or undefined if never. */
  readonly lastActiveAt?: number;
  readonly draining: boolean;
  readonly policy?: ProtectionPolicy;
}): ProtectionAction {
  const p = input.policy ?? DEFAULT_PROTECTION_POLICY;
  const live = input.activeStreams > 0 && !input.draining;
  const protectedNow = input.state.enabled && input.state.expiresAt > input.now;
  if (live) {
    if (!protectedNow || input.state.expiresAt - input.now < p.renewBeforeMinutes * 60_000) {
      return { kind: 'protect', expiresInMinutes: p.expiresInMinutes };
    }
    return { kind: 'none' };
  }
  if (!protectedNow) return { kind: 'none' };
  // Draining: protection would only delay a stop that ECS has already decided.
  if (input.draining) return { kind: 'unprotect' };
  const idleFor = input.lastActiveAt === undefined ? Infinity : input.now - input.lastActiveAt;
  return idleFor >= p.idleGraceMs ? { kind: 'unprotect' } : { kind: 'none' };
}

export interface ProtectionClient {
  set(enabled: boolean, expiresInMinutes?: number): Promise<void>;
}

/** The ECS agent endpoint (`$ECS_AGENT_URI/task-protection/v1/state`); needs `ecs:UpdateTaskProtection` on the task role. */
export function ecsAgentProtectionClient(agentUri: string, fetchImpl: typeof fetch = fetch): ProtectionClient {
  return {
    async set(enabled, expiresInMinutes) {
      const res = await fetchImpl(`${agentUri}/task-protection/v1/state`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(enabled ? { ProtectionEnabled: true, ExpiresInMinutes: expiresInMinutes } : { ProtectionEnabled: false }),
        signal: AbortSignal.timeout(5000),
      });
      const body = await res.text();
      if (!res.ok || /"failure"/i.test(body)) throw new Error(`task protection update failed: HTTP ${res.status} ${body.slice(0, 300)}`);
    },
  };
}

/** Applies decisions on a timer and on each change in the number of live streams. */
export class ScaleInProtector {
  private state: ProtectionState = { enabled: false, expiresAt: 0 };
  private lastActiveAt?: number;
  private busy = false;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: ProtectionClient,
    private readonly view: () => { activeStreams: number; draining: boolean },
    private readonly opts: { logger?: Logger; policy?: ProtectionPolicy; now?: () => number } = {},
  ) {}

  get current(): ProtectionState {
    return this.state;
  }

  start(everyMs = 15_000): void {
    this.timer = setInterval(() => void this.evaluate(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async evaluate(): Promise<ProtectionAction> {
    const now = (this.opts.now ?? Date.now)();
    const { activeStreams, draining } = this.view();
    if (activeStreams > 0) this.lastActiveAt = now;
    const action = decideProtection({ activeStreams, draining, state: this.state, now, lastActiveAt: this.lastActiveAt, policy: this.opts.policy });
    if (action.kind === 'none' || this.busy) return action;
    this.busy = true;
    try {
      if (action.kind === 'protect') {
        await this.client.set(true, action.expiresInMinutes);
        this.state = { enabled: true, expiresAt: now + action.expiresInMinutes * 60_000 };
      } else {
        await this.client.set(false);
        this.state = { enabled: false, expiresAt: 0 };
      }
      this.opts.logger?.info('scale-in protection updated', { enabled: this.state.enabled, activeStreams });
    } catch (err) {
      this.opts.logger?.warn('scale-in protection update failed; will retry', { error: (err as Error).message });
    } finally {
      this.busy = false;
    }
    return action;
  }
}

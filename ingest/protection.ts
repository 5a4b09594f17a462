import type { Logger } from '../core/logger';

/**
 * ECS task scale-in protection: a task with live publishers must not be picked by a scale-in, or it would cut
 * those streams. The decision is pure; the adapter talks to the ECS agent's task protection endpoint.
 *
 * Protection also blocks deployments, so a task that a newer deployment replaces ("superseded", told by
 * ingest/deployment.ts or by the agent's `DEPLOYMENT_BLOCKED`) lets go of it and drains (docs/deploy.md).
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
  | { readonly kind: 'unprotect' }
  /** A newer deployment replaces this task: start the drain, and release protection (always: it is idempotent). */
  | { readonly kind: 'supersede' };

export interface ProtectionPolicy {
  /** How long each protection lasts; renewed while streams are live. */
  readonly expiresInMinutes: number;
  /** Renew when less than this is left. */
  readonly renewBeforeMinutes: number;
  /** Keep protection this long after the last stream ends, so a quick reconnect lands on a protected task. */
  readonly idleGraceMs: number;
}

export const DEFAULT_PROTECTION_POLICY: ProtectionPolicy = { expiresInMinutes: 60, renewBeforeMinutes: 15, idleGraceMs: 30_000 };

/** What to do about protection now. Pure: the state, the streams and the deployment's word in, one action out. */
export function decideProtection(input: {
  readonly activeStreams: number;
  readonly state: ProtectionState;
  readonly now: number;
  /** When the task last had a live stream (epoch ms), or undefined if never. */
  readonly lastActiveAt?: number;
  readonly draining: boolean;
  /** A newer deployment replaces this task (or ECS refused protection with `DEPLOYMENT_BLOCKED`). */
  readonly superseded?: boolean;
  readonly policy?: ProtectionPolicy;
}): ProtectionAction {
  const p = input.policy ?? DEFAULT_PROTECTION_POLICY;
  const protectedNow = input.state.enabled && input.state.expiresAt > input.now;
  // Superseded: protection would block the deployment that replaces this task. Drain once; after that, only
  // make sure protection is off.
  if (input.superseded && !input.draining) return { kind: 'supersede' };
  const live = input.activeStreams > 0 && !input.draining && !input.superseded;
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

/** What the agent answered, when it did not do what was asked. */
export type ProtectionRefusal =
  /** `{"failure":{"Arn","Reason","Detail"}}`: ECS refused, for `reason` (`DEPLOYMENT_BLOCKED`, `TASK_NOT_VALID`, ...). */
  | { readonly kind: 'failure'; readonly reason: string; readonly detail?: string; readonly arn?: string }
  /** `{"error":{"Arn","Code","Message"}}`: the call to ECS failed (`AccessDeniedException`, `ThrottlingException`, ...). */
  | { readonly kind: 'error'; readonly code: string; readonly message?: string; readonly arn?: string }
  /** Any other answer that is not a success: an HTTP error, or a body that is neither. */
  | { readonly kind: 'http'; readonly status: number; readonly body: string };

/** The agent's refusal of a protection update, typed (see `parseProtectionAnswer`). */
export class TaskProtectionError extends Error {
  override readonly name = 'TaskProtectionError';

  constructor(readonly refusal: ProtectionRefusal) {
    super(`task protection update failed: ${describeRefusal(refusal)}`);
  }

  /**
   * ECS will not protect this task because a deployment needs it gone (the desired count is below the number of
   * protected tasks): this task is being replaced, and retrying would only fail again.
   */
  get deploymentBlocked(): boolean {
    const r = this.refusal;
    return (r.kind === 'failure' && r.reason === 'DEPLOYMENT_BLOCKED') || (r.kind === 'error' && r.code === 'DEPLOYMENT_BLOCKED');
  }
}

function describeRefusal(r: ProtectionRefusal): string {
  if (r.kind === 'failure') return `failure ${r.reason}${r.detail ? ` (${r.detail})` : ''}`;
  if (r.kind === 'error') return `error ${r.code}${r.message ? `: ${r.message}` : ''}`;
  return `HTTP ${r.status} ${r.body.slice(0, 300)}`;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Reads the agent's answer to `PUT task-protection/v1/state`: undefined when it was applied, else the typed refusal.
 * The agent answers `{"protection":{...}}` on success, `{"failure":{...}}` when ECS refused and `{"error":{...}}`
 * when the call to ECS failed (the ECS developer guide, "Task scale-in protection endpoint"), whatever the status.
 */
export function parseProtectionAnswer(status: number, body: string): TaskProtectionError | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const answer = (json && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const part = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined);
  const failure = part(answer.failure);
  if (failure) {
    return new TaskProtectionError({
      kind: 'failure',
      reason: text(failure.Reason) ?? 'UNKNOWN',
      detail: text(failure.Detail),
      arn: text(failure.Arn),
    });
  }
  const error = part(answer.error);
  if (error)
    return new TaskProtectionError({ kind: 'error', code: text(error.Code) ?? 'UNKNOWN', message: text(error.Message), arn: text(error.Arn) });
  if (status < 200 || status > 299) return new TaskProtectionError({ kind: 'http', status, body });
  return undefined;
}

export interface ProtectionClient {
  /** Sets protection; rejects with a `TaskProtectionError` when the agent refuses. */
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
      const refused = parseProtectionAnswer(res.status, await res.text());
      if (refused) throw refused;
    },
  };
}

export interface ScaleInProtectorOptions {
  readonly logger?: Logger;
  readonly policy?: ProtectionPolicy;
  readonly now?: () => number;
  /**
   * Called once, when the task is superseded (`supersede()`, or the agent's `DEPLOYMENT_BLOCKED`): start the drain.
   * Called before protection is released, so the view reads `draining` from then on.
   */
  readonly onSuperseded?: (reason: string) => void;
}

/**
 * Applies decisions on a timer, on each change in the number of live streams, and when the task is superseded.
 * Decisions are applied one at a time, in order, so none is lost while an agent call is in flight.
 */
export class ScaleInProtector {
  private state: ProtectionState = { enabled: false, expiresAt: 0 };
  private lastActiveAt?: number;
  private supersededBy?: string;
  private drainStarted = false;
  private queue: Promise<unknown> = Promise.resolve();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly client: ProtectionClient,
    private readonly view: () => { activeStreams: number; draining: boolean },
    private readonly opts: ScaleInProtectorOptions = {},
  ) {}

  get current(): ProtectionState {
    return this.state;
  }

  /** Why this task is superseded, once it is. */
  get superseded(): string | undefined {
    return this.supersededBy;
  }

  start(everyMs = 15_000): void {
    this.timer = setInterval(() => void this.evaluate(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A newer deployment replaces this task: drain, and release protection. */
  supersede(reason: string): Promise<ProtectionAction> {
    this.supersededBy ??= reason;
    return this.evaluate();
  }

  /** Decides and applies, after any decision still being applied. */
  evaluate(): Promise<ProtectionAction> {
    const next = this.queue.then(() => this.apply());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async apply(): Promise<ProtectionAction> {
    const now = (this.opts.now ?? Date.now)();
    const { activeStreams, draining } = this.view();
    if (activeStreams > 0) this.lastActiveAt = now;
    const action = decideProtection({
      activeStreams,
      draining: draining || this.drainStarted,
      superseded: this.supersededBy !== undefined,
      state: this.state,
      now,
      lastActiveAt: this.lastActiveAt,
      policy: this.opts.policy,
    });
    if (action.kind === 'none') return action;
    if (action.kind === 'supersede') {
      this.drainStarted = true;
      this.opts.logger?.info('superseded by a newer deployment: releasing scale-in protection and draining', {
        reason: this.supersededBy,
        activeStreams,
      });
      this.opts.onSuperseded?.(this.supersededBy as string);
    }
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
      if (err instanceof TaskProtectionError && err.deploymentBlocked && this.supersededBy === undefined) {
        // Not retried: ECS wants this task gone for a deployment. Drain as a superseded task does.
        this.opts.logger?.warn('ECS refused scale-in protection (DEPLOYMENT_BLOCKED): this task is being replaced', {
          error: err.message,
        });
        this.supersededBy = 'DEPLOYMENT_BLOCKED';
        return this.apply();
      }
      this.opts.logger?.warn('scale-in protection update failed; will retry', { error: (err as Error).message });
    }
    return action;
  }
}

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decideProtection,
  ecsAgentProtectionClient,
  parseProtectionAnswer,
  ScaleInProtector,
  TaskProtectionError,
  type ProtectionClient,
  type ProtectionState,
} from '../../ingest/protection';

const OFF: ProtectionState = { enabled: false, expiresAt: 0 };
const now = 1_000_000_000;

describe('decideProtection', () => {
  const cases: Array<[string, Parameters<typeof decideProtection>[0], ReturnType<typeof decideProtection>['kind']]> = [
    ['idle and unprotected: nothing', { activeStreams: 0, state: OFF, now, draining: false }, 'none'],
    ['a live stream protects', { activeStreams: 1, state: OFF, now, draining: false }, 'protect'],
    [
      'already protected for long: nothing',
      { activeStreams: 3, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: false },
      'none',
    ],
    [
      'protection about to expire: renew',
      { activeStreams: 3, state: { enabled: true, expiresAt: now + 5 * 60_000 }, now, draining: false },
      'protect',
    ],
    [
      'idle just now: keep for a reconnect',
      { activeStreams: 0, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, lastActiveAt: now - 5_000, draining: false },
      'none',
    ],
    [
      'idle for long: unprotect',
      { activeStreams: 0, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, lastActiveAt: now - 60_000, draining: false },
      'unprotect',
    ],
    ['draining: never protect', { activeStreams: 2, state: OFF, now, draining: true }, 'none'],
    [
      'draining while protected: unprotect',
      { activeStreams: 2, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: true },
      'unprotect',
    ],
    [
      'superseded while live and protected: drain and release',
      { activeStreams: 2, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: false, superseded: true },
      'supersede',
    ],
    ['superseded while idle: drain and release', { activeStreams: 0, state: OFF, now, draining: false, superseded: true }, 'supersede'],
    [
      'superseded and draining, still protected: unprotect',
      { activeStreams: 2, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: true, superseded: true },
      'unprotect',
    ],
    ['superseded and draining, unprotected: never protect again', { activeStreams: 2, state: OFF, now, draining: true, superseded: true }, 'none'],
  ];
  for (const [name, input, kind] of cases) {
    it(name, () => expect(decideProtection(input).kind).toBe(kind));
  }
});

describe('ScaleInProtector against an HTTP stand-in for the ECS agent endpoint', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('protects while streams are live and releases when idle', async () => {
    const bodies: unknown[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        expect(req.method).toBe('PUT');
        expect(req.url).toBe('/v1/agent/task-protection/v1/state');
        bodies.push(JSON.parse(body));
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ protection: { ProtectionEnabled: true } }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => server.close();
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/agent`;
    let clock = now;
    let active = 1;
    const p = new ScaleInProtector(ecsAgentProtectionClient(uri), () => ({ activeStreams: active, draining: false }), {
      now: () => clock,
      policy: { expiresInMinutes: 60, renewBeforeMinutes: 15, idleGraceMs: 30_000 },
    });
    expect((await p.evaluate()).kind).toBe('protect');
    expect(p.current.enabled).toBe(true);
    expect((await p.evaluate()).kind).toBe('none');
    active = 0;
    clock += 10_000;
    expect((await p.evaluate()).kind).toBe('none');
    clock += 31_000;
    expect((await p.evaluate()).kind).toBe('unprotect');
    expect(bodies).toEqual([{ ProtectionEnabled: true, ExpiresInMinutes: 60 }, { ProtectionEnabled: false }]);
  });

  it('keeps its state when the agent refuses, and retries next time', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ failure: { Reason: 'AccessDeniedException' } }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => server.close();
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const p = new ScaleInProtector(ecsAgentProtectionClient(uri), () => ({ activeStreams: 1, draining: false }));
    expect((await p.evaluate()).kind).toBe('protect');
    expect(p.current.enabled).toBe(false);
    expect((await p.evaluate()).kind).toBe('protect');
  });
});

describe('parseProtectionAnswer', () => {
  it('reads success, failures, errors and HTTP errors into one typed refusal', () => {
    expect(parseProtectionAnswer(200, JSON.stringify({ protection: { ProtectionEnabled: true, TaskArn: 'arn:t' } }))).toBeUndefined();
    const blocked = parseProtectionAnswer(200, JSON.stringify({ failure: { Arn: 'arn:t', Detail: null, Reason: 'DEPLOYMENT_BLOCKED' } }));
    expect(blocked).toBeInstanceOf(TaskProtectionError);
    expect(blocked?.refusal).toEqual({ kind: 'failure', reason: 'DEPLOYMENT_BLOCKED', detail: undefined, arn: 'arn:t' });
    expect(blocked?.deploymentBlocked).toBe(true);
    const invalid = parseProtectionAnswer(200, JSON.stringify({ failure: { Arn: 'arn:t', Reason: 'TASK_NOT_VALID' } }));
    expect(invalid?.refusal).toMatchObject({ kind: 'failure', reason: 'TASK_NOT_VALID' });
    expect(invalid?.deploymentBlocked).toBe(false);
    const denied = parseProtectionAnswer(
      400,
      JSON.stringify({
        requestID: 'r',
        error: { Arn: 'arn:t', Code: 'AccessDeniedException', Message: 'not authorized to perform: ecs:UpdateTaskProtection' },
      }),
    );
    expect(denied?.refusal).toEqual({
      kind: 'error',
      code: 'AccessDeniedException',
      message: 'not authorized to perform: ecs:UpdateTaskProtection',
      arn: 'arn:t',
    });
    expect(denied?.message).toBe('task protection update failed: error AccessDeniedException: not authorized to perform: ecs:UpdateTaskProtection');
    expect(denied?.deploymentBlocked).toBe(false);
    expect(parseProtectionAnswer(503, 'agent unavailable')?.refusal).toEqual({ kind: 'http', status: 503, body: 'agent unavailable' });
  });
});

/** A protection client that records each call and answers what the test says (or holds the answer until released). */
function scriptedClient(answer: (enabled: boolean, call: number) => Promise<void> | void): ProtectionClient & { calls: boolean[] } {
  const calls: boolean[] = [];
  return {
    calls,
    async set(enabled) {
      calls.push(enabled);
      await answer(enabled, calls.length);
    },
  };
}

describe('ScaleInProtector when superseded', () => {
  it('supersede(): starts the drain once, releases protection, and never protects again', async () => {
    let draining = false;
    const drains: string[] = [];
    const client = scriptedClient(() => undefined);
    const p = new ScaleInProtector(client, () => ({ activeStreams: 2, draining }), {
      now: () => now,
      onSuperseded: (reason) => {
        drains.push(reason);
        draining = true;
      },
    });
    expect((await p.evaluate()).kind).toBe('protect');
    expect((await p.supersede('deployment ecs-svc/1 replaced by ecs-svc/2')).kind).toBe('supersede');
    expect(drains).toEqual(['deployment ecs-svc/1 replaced by ecs-svc/2']);
    expect(p.current.enabled).toBe(false);
    expect((await p.supersede('again')).kind).toBe('none');
    expect((await p.evaluate()).kind).toBe('none');
    expect(drains).toHaveLength(1);
    expect(client.calls).toEqual([true, false]);
    expect(p.superseded).toBe('deployment ecs-svc/1 replaced by ecs-svc/2');
  });

  it('applies a supersede that arrives while a renewal is in flight, after it', async () => {
    let release!: () => void;
    let inFlight!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const renewing = new Promise<void>((r) => (inFlight = r));
    const client = scriptedClient((_enabled, call) => {
      if (call !== 1) return undefined;
      inFlight();
      return held;
    });
    let draining = false;
    const p = new ScaleInProtector(client, () => ({ activeStreams: 1, draining }), { now: () => now, onSuperseded: () => (draining = true) });
    const renewal = p.evaluate();
    await renewing;
    const superseded = p.supersede('newer deployment');
    release();
    expect((await renewal).kind).toBe('protect');
    expect((await superseded).kind).toBe('supersede');
    expect(client.calls).toEqual([true, false]);
    expect(p.current.enabled).toBe(false);
  });

  it('retries an unprotect that failed while draining', async () => {
    const client = scriptedClient((enabled, call) => {
      if (!enabled && call === 2) throw new TaskProtectionError({ kind: 'error', code: 'ThrottlingException', message: 'Rate exceeded' });
    });
    let draining = false;
    const p = new ScaleInProtector(client, () => ({ activeStreams: 1, draining }), { now: () => now, onSuperseded: () => (draining = true) });
    await p.evaluate();
    expect((await p.supersede('newer deployment')).kind).toBe('supersede');
    expect(p.current.enabled).toBe(true);
    expect((await p.evaluate()).kind).toBe('unprotect');
    expect(p.current.enabled).toBe(false);
    expect(client.calls).toEqual([true, false, false]);
  });
});

describe('ScaleInProtector and DEPLOYMENT_BLOCKED from the ECS agent', () => {
  let close: (() => void) | undefined;
  afterEach(() => close?.());

  it('treats a refused renewal as superseded: drains once and releases, instead of retrying every 15 s', async () => {
    const bodies: Array<{ ProtectionEnabled: boolean }> = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const asked = JSON.parse(body) as { ProtectionEnabled: boolean };
        bodies.push(asked);
        res.writeHead(200, { 'content-type': 'application/json' });
        // The first protection is granted; the renewal is refused: the desired count fell below the protected tasks.
        const answer =
          asked.ProtectionEnabled && bodies.length > 1
            ? { failure: { Arn: 'arn:aws:ecs:us-east-1:1:task/c/t1', Detail: null, Reason: 'DEPLOYMENT_BLOCKED' } }
            : { protection: { ProtectionEnabled: asked.ProtectionEnabled, TaskArn: 'arn:aws:ecs:us-east-1:1:task/c/t1' } };
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    close = () => server.close();
    const uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let clock = now;
    let draining = false;
    const drains: string[] = [];
    const p = new ScaleInProtector(ecsAgentProtectionClient(uri), () => ({ activeStreams: 1, draining }), {
      now: () => clock,
      onSuperseded: (reason) => {
        drains.push(reason);
        draining = true;
      },
    });
    expect((await p.evaluate()).kind).toBe('protect');
    clock += 50 * 60_000; // 10 minutes left: time to renew
    expect((await p.evaluate()).kind).toBe('supersede');
    expect(drains).toEqual(['DEPLOYMENT_BLOCKED']);
    expect(p.superseded).toBe('DEPLOYMENT_BLOCKED');
    expect(p.current.enabled).toBe(false);
    clock += 15_000;
    expect((await p.evaluate()).kind).toBe('none');
    expect(bodies).toEqual([
      { ProtectionEnabled: true, ExpiresInMinutes: 60 },
      { ProtectionEnabled: true, ExpiresInMinutes: 60 },
      { ProtectionEnabled: false },
    ]);
  });
});

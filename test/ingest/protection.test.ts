import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { decideProtection, ecsAgentProtectionClient, ScaleInProtector, type ProtectionState } from '../../ingest/protection';

const OFF: ProtectionState = { enabled: false, expiresAt: 0 };
const now = 1_000_000_000;

describe('decideProtection', () => {
  const cases: Array<[string, Parameters<typeof decideProtection>[0], ReturnType<typeof decideProtection>['kind']]> = [
    ['idle and unprotected: nothing', { activeStreams: 0, state: OFF, now, draining: false }, 'none'],
    ['a live stream protects', { activeStreams: 1, state: OFF, now, draining: false }, 'protect'],
    ['already protected for long: nothing', { activeStreams: 3, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: false }, 'none'],
    ['protection about to expire: renew', { activeStreams: 3, state: { enabled: true, expiresAt: now + 5 * 60_000 }, now, draining: false }, 'protect'],
    ['idle just now: keep for a reconnect', { activeStreams: 0, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, lastActiveAt: now - 5_000, draining: false }, 'none'],
    ['idle for long: unprotect', { activeStreams: 0, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, lastActiveAt: now - 60_000, draining: false }, 'unprotect'],
    ['draining: never protect', { activeStreams: 2, state: OFF, now, draining: true }, 'none'],
    ['draining while protected: unprotect', { activeStreams: 2, state: { enabled: true, expiresAt: now + 50 * 60_000 }, now, draining: true }, 'unprotect'],
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

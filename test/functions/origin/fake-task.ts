import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Route } from '../../../core/model';
import type { OriginLogger } from '../../../functions/origin/origin';

/**
 * A tiny stand-in for an ingest task's HLS server on 127.0.0.1:0. It serves whatever `files` holds (by
 * path), counts requests per path, and has a few special behaviors keyed by path: `hang` never answers,
 * `status` answers a fixed status, `chunked` streams its body without a Content-Length. `hold()` parks every
 * answer until the test releases it, so concurrent requests overlap for sure, with no delay to guess.
 */
export interface FakeTask {
  readonly port: number;
  readonly files: Map<string, Buffer | string>;
  readonly hang: Set<string>;
  readonly status: Map<string, number>;
  readonly chunked: Set<string>;
  /** Holds every answer from now until the returned release is called. */
  hold(): () => void;
  readonly requests: Map<string, number>;
  count(path: string): number;
  close(): Promise<void>;
}

export async function startFakeTask(): Promise<FakeTask> {
  const files = new Map<string, Buffer | string>();
  const hang = new Set<string>();
  const status = new Map<string, number>();
  const chunked = new Set<string>();
  const requests = new Map<string, number>();
  let held: Array<() => void> | undefined;

  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (hang.has(path)) return; // never answer
    const answer = () => {
      const forced = status.get(path);
      if (forced !== undefined) {
        res.writeHead(forced, { 'content-type': 'text/plain' }).end('upstream says no');
        return;
      }
      const body = files.get(path);
      if (body === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      if (chunked.has(path)) {
        res.writeHead(200); // no content-length: chunked
        for (let i = 0; i < buf.length; i += 16 * 1024) res.write(buf.subarray(i, i + 16 * 1024));
        res.end();
        return;
      }
      res.writeHead(200, { 'content-length': String(buf.length) }).end(buf);
    };
    if (held) held.push(answer);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    files,
    hang,
    status,
    chunked,
    requests,
    count: (path: string) => requests.get(path) ?? 0,
    hold() {
      const parked: Array<() => void> = (held ??= []);
      return () => {
        if (held === parked) held = undefined;
        for (const answer of parked.splice(0)) answer();
      };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port that was just free and is now closed: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function makeRoute(playbackId: string, port: number, over: Partial<Route> = {}): Route {
  return {
    playbackId,
    taskArn: 'arn:aws:ecs:eu-west-1:123456789012:task/keyframe/0123456789abcdef',
    host: '127.0.0.1',
    port,
    session: 'k3j9x0a1b2',
    startedAt: Date.now() - 60_000,
    heartbeatAt: Date.now(),
    expiresAt: Date.now() + 15_000,
    mediaSequence: 0,
    discontinuitySequence: 0,
    ...over,
  };
}

/** In-memory `getRoute` that counts calls and answers on a later turn of the event loop (so look-ups overlap). */
export function fakeRoutes() {
  const routes = new Map<string, Route>();
  const calls: string[] = [];
  let failing = false;
  return {
    routes,
    calls,
    fail(on: boolean) {
      failing = on;
    },
    async getRoute(playbackId: string): Promise<Route | undefined> {
      calls.push(playbackId);
      await new Promise((r) => setImmediate(r));
      if (failing) throw new Error('connect ECONNREFUSED 10.0.0.9:8000');
      return routes.get(playbackId);
    },
  };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

export function memoryLogger(): OriginLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message, attributes) => lines.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => lines.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => lines.push({ level: 'error', message, attributes }),
  };
}

/**
 * The RTMP listener: accepts TCP connections under a total and a per-source-IP cap, runs one `RtmpSession`
 * per connection, and keeps the counts the ingest task reports (connections, publishing sessions).
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { errorText, logTo } from './log.js';
import { resolveRtmpOptions, type ResolvedRtmpOptions, type RtmpServerOptions } from './options.js';
import { normalizeIp, RtmpSession } from './session.js';
import type { SessionEndReason } from './types.js';

/** The server's events: `session` for every accepted connection, before any of its bytes is read. */
export interface RtmpServerEvents {
  session: [RtmpSession];
}

export class RtmpServer extends EventEmitter<RtmpServerEvents> {
  readonly #options: ResolvedRtmpOptions;
  readonly #server: Server;
  readonly #sessions = new Set<RtmpSession>();
  readonly #perIp = new Map<string, number>();
  #publishing = 0;
  #refused = 0;
  #closing = false;
  #emptyWaiters: (() => void)[] = [];

  constructor(options: RtmpServerOptions) {
    super();
    this.#options = resolveRtmpOptions(options);
    this.#server = createServer({ noDelay: true }, (socket) => this.#onConnection(socket));
    // Accept-time errors (EMFILE and the like) must not crash the process.
    this.#server.on('error', (err) => logTo(this.#options.logger, 'error', 'rtmp listener error', { error: err.message }));
  }

  /** Start listening. Resolves with the bound address (`port: 0` picks a free port). */
  listen(port: number, host = '0.0.0.0'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#server.once('error', onError);
      this.#server.listen(port, host, () => {
        this.#server.off('error', onError);
        const address = this.#server.address() as AddressInfo;
        logTo(this.#options.logger, 'info', 'rtmp listening', { address: address.address, port: address.port });
        resolve(address);
      });
    });
  }

  /** The bound address, while listening. */
  address(): AddressInfo | undefined {
    const a = this.#server.address();
    return a && typeof a === 'object' ? a : undefined;
  }

  /** Open connections (any state). */
  get connectionCount(): number {
    return this.#sessions.size;
  }

  /** Sessions whose publish was accepted and has not ended. */
  get publishingCount(): number {
    return this.#publishing;
  }

  /** Connections closed at accept time by a cap or because the server is closing, since start. */
  get refusedConnectionCount(): number {
    return this.#refused;
  }

  /** Whether new connections are being accepted. */
  get listening(): boolean {
    return this.#server.listening;
  }

  /** A snapshot of the open sessions. */
  sessions(): RtmpSession[] {
    return [...this.#sessions];
  }

  /** Stop accepting connections; open sessions continue (the first step of a drain). */
  stopListening(): void {
    if (this.#server.listening) this.#server.close();
  }

  /**
   * Stop listening and end every session with `reason` (default `server-close`). Resolves once every socket
   * has closed. Safe to call more than once.
   */
  close(reason: SessionEndReason = 'server-close'): Promise<void> {
    this.#closing = true;
    this.stopListening();
    for (const session of [...this.#sessions]) session.close(reason);
    if (this.#sessions.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#emptyWaiters.push(resolve));
  }

  #onConnection(socket: Socket): void {
    // Before anything else: an 'error' without a listener would throw.
    socket.on('error', () => {});
    try {
      const ip = normalizeIp(socket.remoteAddress);
      const fromIp = ip === undefined ? 0 : (this.#perIp.get(ip) ?? 0);
      const o = this.#options;
      if (ip === undefined || this.#closing || this.#sessions.size >= o.maxConnections || fromIp >= o.maxConnectionsPerIp) {
        this.#refused++;
        logTo(o.logger, 'debug', 'rtmp connection refused', {
          remote: ip,
          reason: this.#closing ? 'closing' : ip === undefined ? 'no address' : this.#sessions.size >= o.maxConnections ? 'total cap' : 'per-ip cap',
        });
        socket.destroy();
        return;
      }
      this.#perIp.set(ip, fromIp + 1);
      const session = new RtmpSession(socket, o);
      session.on('publish-started', () => this.#publishing++);
      session.on('publish-ended', () => this.#publishing--);
      session.on('closed', () => this.#forget(session));
      this.#sessions.add(session);
      try {
        this.emit('session', session);
      } catch (err) {
        logTo(o.logger, 'error', 'rtmp session listener failed', { error: errorText(err) });
      }
    } catch (err) {
      logTo(this.#options.logger, 'error', 'rtmp accept failed', { error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    }
  }

  #forget(session: RtmpSession): void {
    if (!this.#sessions.delete(session)) return;
    const ip = session.remoteAddress;
    const n = (this.#perIp.get(ip) ?? 1) - 1;
    if (n <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, n);
    if (this.#sessions.size === 0) {
      const waiters = this.#emptyWaiters;
      this.#emptyWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/** Create an RTMP publish server; call `listen()` to start it. */
export function createRtmpServer(options: RtmpServerOptions): RtmpServer {
  return new RtmpServer(options);
}

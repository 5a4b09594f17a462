import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface Backend {
  readonly id: string;
  readonly host: string;
  readonly port: number;
}

/**
 * A round-robin TCP balancer: the local stand-in for the NLB on 1935. It asks for the current healthy
 * backends at each connection, so dead or draining tasks stop getting publishes at once.
 */
export async function startTcpBalancer(opts: {
  port: number;
  host?: string;
  backends: () => readonly Backend[];
  onConnect?: (backend: Backend | undefined) => void;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    const pool = opts.backends();
    const backend = pool.length ? pool[next++ % pool.length] : undefined;
    opts.onConnect?.(backend);
    if (!backend) return client.destroy();
    // No Nagle delay on either leg (it added ~90 ms to first playable); the NLB does not buffer either.
    client.setNoDelay(true);
    const upstream = connect({ port: backend.port, host: backend.host, noDelay: true });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    client.pipe(upstream).pipe(client);
    const teardown = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', teardown);
    upstream.on('error', teardown);
    client.on('close', () => upstream.end());
    upstream.on('close', () => client.end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

import http from 'node:http';

/**
 * The fetch from the origin to an ingest task's HLS server: plain HTTP inside the VPC over a keep-alive
 * agent, one deadline for the whole exchange (connect, headers and body), and a cap on the body size so a
 * response that cannot fit a buffered function-URL response is refused instead of crashing the invocation.
 */

export interface UpstreamRequest {
  readonly host: string;
  readonly port: number;
  /** Path on the task, e.g. `/AbCdEfGhIjKl/index.m3u8`. */
  readonly path: string;
  readonly timeoutMs: number;
  /** Largest body accepted; a larger one fails with UpstreamError kind `too-large`. */
  readonly maxBytes: number;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

export type FetchUpstream = (req: UpstreamRequest) => Promise<UpstreamResponse>;

export type UpstreamFailureKind = 'refused' | 'reset' | 'unreachable' | 'timeout' | 'too-large' | 'failed';

/** A failed exchange with a task. `cause` holds the socket error, if any. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'UpstreamError';
  }
}

export interface HttpUpstream {
  readonly fetch: FetchUpstream;
  /** Destroys the agent's idle sockets. */
  close(): void;
}

function classify(err: NodeJS.ErrnoException): UpstreamFailureKind {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unreachable';
    default:
      return 'failed';
  }
}

export function createHttpUpstream(opts: { agent?: http.Agent } = {}): HttpUpstream {
  const agent = opts.agent ?? new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 64, maxFreeSockets: 16 });

  function once(req: UpstreamRequest, deadline: number): Promise<UpstreamResponse & { reused: boolean }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let reused = false;
      const fail = (err: UpstreamError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        (err as UpstreamError & { reused?: boolean }).reused = reused;
        reject(err);
        request.destroy();
      };
      const remaining = Math.max(1, deadline - Date.now());
      const timer = setTimeout(() => fail(new UpstreamError('timeout', `no complete response within ${req.timeoutMs} ms`)), remaining);
      const request = http.request({ host: req.host, port: req.port, path: req.path, method: 'GET', agent, headers: { accept: '*/*' } }, (res) => {
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > req.maxBytes) {
          fail(new UpstreamError('too-large', `upstream body of ${declared} bytes exceeds ${req.maxBytes}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > req.maxBytes) {
            fail(new UpstreamError('too-large', `upstream body exceeds ${req.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => {
          if (settled) return;
          if (!res.complete) {
            fail(new UpstreamError('reset', 'upstream closed the connection mid-body'));
            return;
          }
          settled = true;
          clearTimeout(timer);
          resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size), reused });
        });
        res.on('aborted', () => fail(new UpstreamError('reset', 'upstream aborted the response')));
        res.on('error', (err: NodeJS.ErrnoException) =>
          fail(new UpstreamError(classify(err), `upstream response failed: ${err.code ?? err.message}`, { cause: err })),
        );
      });
      request.on('socket', () => {
        reused = request.reusedSocket;
      });
      request.on('error', (err: NodeJS.ErrnoException) =>
        fail(new UpstreamError(classify(err), `upstream request failed: ${err.code ?? err.message}`, { cause: err })),
      );
      request.end();
    });
  }

  return {
    async fetch(req) {
      const deadline = Date.now() + req.timeoutMs;
      try {
        const { reused: _reused, ...res } = await once(req, deadline);
        return res;
      } catch (err) {
        // A kept-alive socket the task closed while idle fails on first use; a GET is safe to retry once.
        const e = err as UpstreamError & { reused?: boolean };
        if (e.reused && e.kind === 'reset' && Date.now() < deadline) {
          const { reused: _reused, ...res } = await once(req, deadline);
          return res;
        }
        throw err;
      }
    },
    close() {
      agent.destroy();
    },
  };
}

import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * Debian's nginx as the alternative users would pick, run as a child of the benchmark with its own prefix
 * and generated config: `nginx -p <dir> -c <conf> -g 'daemon off; load_module …;'`.
 */

export function nginxAvailable(): boolean {
  try {
    execFileSync('nginx', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Path of the RTMP module from the Debian package (`dpkg -L libnginx-mod-rtmp`). */
export function rtmpModulePath(): string | undefined {
  try {
    const files = execFileSync('dpkg', ['-L', 'libnginx-mod-rtmp'], { encoding: 'utf8' }).split('\n');
    const so = files.find((f) => f.endsWith('/ngx_rtmp_module.so'));
    if (so && existsSync(so)) return so;
  } catch {
    // not Debian
  }
  const fallback = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
  return existsSync(fallback) ? fallback : undefined;
}

export function nginxVersion(): string {
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().replace(/^nginx version: /, '') || 'unknown';
}

const userLine = () => (process.getuid?.() === 0 ? 'user root root;' : '');

/** nginx-rtmp with `hls on`: one worker (the module's usual setup for HLS), nested playlists per stream. */
export function rtmpHlsConfig(opts: { dir: string; port: number; hlsDir: string; fragmentSeconds: number; playlistSeconds: number }): string {
  return `${userLine()}
worker_processes 1;
pid ${join(opts.dir, 'nginx.pid')};
error_log ${join(opts.dir, 'error.log')} warn;
events { worker_connections 4096; }
rtmp {
  server {
    listen 127.0.0.1:${opts.port};
    chunk_size 4096;
    application live {
      live on;
      record off;
      hls on;
      hls_path ${opts.hlsDir};
      hls_nested on;
      hls_fragment ${opts.fragmentSeconds}s;
      hls_playlist_length ${opts.playlistSeconds}s;
      hls_cleanup on;
    }
  }
}
`;
}

/**
 * The seed's origin (../shared/seeds/004, finbits): nginx `proxy_cache` with `proxy_cache_lock`, cache key
 * `$scheme$proxy_host$uri`, playlists valid 1 s, segments 60 s, stale answers while updating, CORS headers,
 * `sendfile off`, `gzip on`, HTTP/1.0 to the upstream (no keep-alive), as in the seed. The Redis look-up
 * backend is left out (one task, proxied directly), which can only favour nginx. Access logs off by default (the
 * Keyframe origin's logs are off in the same comparison). Segments are MPEG-TS (`.ts`, the seed's) or CMAF (`.m4s`,
 * and the `_init.mp4` init segment, Keyframe's), cached alike.
 */
export function proxyCacheConfig(opts: { dir: string; port: number; upstreamPort: number; workers: number | 'auto'; accessLog?: boolean }): string {
  const cors = `
      add_header 'Access-Control-Allow-Origin' '*';
      add_header 'Access-Control-Allow-Methods' 'GET, OPTIONS';
      add_header 'Access-Control-Allow-Headers' 'DNT,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range';
      add_header 'Access-Control-Expose-Headers' 'Content-Length,Content-Range';`;
  const cached = (pattern: string, valid: string) => `
    location ~ ${pattern} {
      proxy_cache CONTENTCACHE;
      proxy_cache_lock on;
      proxy_cache_key $scheme$proxy_host$uri;
      proxy_cache_valid ${valid};
      proxy_cache_use_stale error timeout invalid_header updating http_500 http_502 http_503 http_504;${cors}
      proxy_pass http://media-backend/$1$is_args$args;
    }`;
  return `${userLine()}
worker_processes ${opts.workers};
pid ${join(opts.dir, 'nginx.pid')};
error_log ${join(opts.dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  default_type application/octet-stream;
  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; video/iso.segment m4s; video/mp4 mp4; }
  ${opts.accessLog ? `access_log ${join(opts.dir, 'access.log')};` : 'access_log off;'}
  client_body_temp_path ${join(opts.dir, 'client_body')};
  proxy_temp_path ${join(opts.dir, 'proxy_temp')};
  fastcgi_temp_path ${join(opts.dir, 'fastcgi_temp')};
  uwsgi_temp_path ${join(opts.dir, 'uwsgi_temp')};
  scgi_temp_path ${join(opts.dir, 'scgi_temp')};
  sendfile on;
  keepalive_timeout 65;
  gzip on;
  proxy_cache_path ${join(opts.dir, 'cache')} levels=1:2 keys_zone=CONTENTCACHE:10m max_size=1g inactive=10m use_temp_path=off;
  ignore_invalid_headers off;
  upstream media-backend {
    server 127.0.0.1:${opts.upstreamPort} max_fails=0;
  }
  server {
    listen 127.0.0.1:${opts.port};
    server_name localhost;
    sendfile off;
${cached('^/(.*index\\.m3u8)$', '1s')}
${cached('^/(.*\\.(?:ts|m4s|mp4))$', '60s')}
  }
}
`;
}

export interface NginxProcess {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly dir: string;
  stderr(): string;
  stop(): Promise<void>;
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts nginx in the foreground with the given config; resolves once `port` accepts connections. */
export async function startNginx(opts: { dir: string; config: string; port: number; modules?: readonly string[] }): Promise<NginxProcess> {
  mkdirSync(opts.dir, { recursive: true });
  const conf = join(opts.dir, 'nginx.conf');
  writeFileSync(conf, opts.config);
  const globals = ['daemon off;', ...(opts.modules ?? []).map((m) => `load_module ${m};`)].join(' ');
  const proc = spawn('nginx', ['-p', opts.dir, '-e', join(opts.dir, 'error.log'), '-c', conf, '-g', globals], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  proc.stderr?.on('data', (d) => (err = (err + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  try {
    await Promise.race([
      waitForPort(opts.port, 10_000),
      exited.then(() => {
        throw new Error(`nginx exited at start: ${err}`);
      }),
    ]);
  } catch (e) {
    proc.kill('SIGKILL');
    throw e;
  }
  return {
    proc,
    pid: proc.pid!,
    dir: opts.dir,
    stderr: () => err,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGQUIT'); // graceful: the master waits for its worker
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A free TCP port on loopback (bind 0, read, close). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

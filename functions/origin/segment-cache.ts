/**
 * A small LRU of finished segment bodies, bounded by total bytes and by age. Segments are immutable (their
 * names carry the session and sequence number), so a warm origin can answer a repeat from memory.
 */
export interface SegmentCacheOptions {
  maxBytes: number;
  ttlMs: number;
  now?: () => number;
}

interface Entry {
  readonly body: Buffer;
  readonly at: number;
}

export class SegmentCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxBytes: number;
  readonly #ttlMs: number;
  readonly #now: () => number;
  #bytes = 0;

  constructor(opts: SegmentCacheOptions) {
    this.#maxBytes = opts.maxBytes;
    this.#ttlMs = opts.ttlMs;
    this.#now = opts.now ?? Date.now;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): Buffer | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    this.#entries.delete(key);
    if (this.#now() - entry.at >= this.#ttlMs) {
      this.#bytes -= entry.body.length;
      return undefined;
    }
    this.#entries.set(key, entry); // most recently used goes last
    return entry.body;
  }

  set(key: string, body: Buffer): void {
    if (this.#ttlMs <= 0 || body.length > this.#maxBytes / 4) return; // keep room for several entries
    const old = this.#entries.get(key);
    if (old) {
      this.#entries.delete(key);
      this.#bytes -= old.body.length;
    }
    this.#entries.set(key, { body, at: this.#now() });
    this.#bytes += body.length;
    for (const [k, e] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(k);
      this.#bytes -= e.body.length;
    }
  }
}

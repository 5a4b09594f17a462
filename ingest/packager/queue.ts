/**
 * Per-track sample queue as parallel typed arrays: no object per sample, only the payload view in `data`.
 */
export class SampleQueue {
  dts = new Float64Array(64);
  cto = new Int32Array(64);
  size = new Uint32Array(64);
  sync = new Uint8Array(64);
  /** Filled in when the samples are cut into a fragment. */
  duration = new Uint32Array(64);
  data: Buffer[] = [];
  n = 0;
  /** Sum of `size` over the queued samples. */
  bytes = 0;

  push(dts: number, cto: number, size: number, sync: boolean, data: Buffer): void {
    if (this.n === this.dts.length) this.grow();
    const i = this.n++;
    this.dts[i] = dts;
    this.cto[i] = cto;
    this.size[i] = size;
    this.sync[i] = sync ? 1 : 0;
    this.data[i] = data;
    this.bytes += size;
  }

  /** Drops the first `k` samples. */
  shift(k: number): void {
    if (k <= 0) return;
    for (let i = 0; i < k; i++) this.bytes -= this.size[i];
    const rest = this.n - k;
    this.dts.copyWithin(0, k, this.n);
    this.cto.copyWithin(0, k, this.n);
    this.size.copyWithin(0, k, this.n);
    this.sync.copyWithin(0, k, this.n);
    for (let i = 0; i < rest; i++) this.data[i] = this.data[i + k];
    this.data.length = rest;
    this.n = rest;
  }

  clear(): void {
    this.shift(this.n);
  }

  last(): number {
    return this.dts[this.n - 1];
  }

  private grow(): void {
    const cap = this.dts.length * 2;
    const f = new Float64Array(cap);
    f.set(this.dts);
    this.dts = f;
    const c = new Int32Array(cap);
    c.set(this.cto);
    this.cto = c;
    const s = new Uint32Array(cap);
    s.set(this.size);
    this.size = s;
    const y = new Uint8Array(cap);
    y.set(this.sync);
    this.sync = y;
    this.duration = new Uint32Array(cap);
  }
}

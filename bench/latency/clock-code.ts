/**
 * A wall clock burned into video frames as black and white blocks, read back from a canvas in the browser.
 * More robust than OCR of drawtext digits: 64 blocks of 16×16 pixels survive H.264 at any sane bitrate.
 *
 * Layout (gray frame, at least 576×48): two rows of 32 blocks, at x = 64 + 16·i, y = 16 and 32.
 * Bits 0-47: capture time in epoch milliseconds (most significant first). Bits 48-63: a check word, so a
 * frame caught mid-decode, or a block mangled by the encoder, is rejected instead of misread.
 */

export const CODE_X = 64;
export const CODE_Y = 16;
export const BLOCK = 16;
export const BLOCKS_PER_ROW = 32;
export const CODE_ROWS = 2;
/** Rows of the frame the code occupies (from the top): what the browser needs to read. */
export const CODE_HEIGHT = CODE_Y + CODE_ROWS * BLOCK;
export const CODE_WIDTH = CODE_X + BLOCKS_PER_ROW * BLOCK;

const TIME_BITS = 48;

export function checkWord(ms: number): number {
  const lo = ms % 0x10000;
  const mid = Math.floor(ms / 0x10000) % 0x10000;
  const hi = Math.floor(ms / 0x100000000) % 0x10000;
  return (lo ^ mid ^ hi ^ 0xa5c3) & 0xffff;
}

/** The 64 bits for a time, most significant first. */
export function encodeBits(ms: number): number[] {
  const bits: number[] = [];
  for (let i = TIME_BITS - 1; i >= 0; i--) bits.push(Math.floor(ms / 2 ** i) % 2);
  const check = checkWord(ms);
  for (let i = 15; i >= 0; i--) bits.push((check >> i) & 1);
  return bits;
}

export function decodeBits(bits: readonly number[]): number | undefined {
  if (bits.length !== TIME_BITS + 16) return undefined;
  let ms = 0;
  for (let i = 0; i < TIME_BITS; i++) ms = ms * 2 + bits[i];
  let check = 0;
  for (let i = TIME_BITS; i < bits.length; i++) check = (check << 1) | bits[i];
  return check === checkWord(ms) ? ms : undefined;
}

/** Draws the code into a gray (one byte per pixel) frame. */
export function drawCode(frame: Uint8Array, width: number, ms: number): void {
  const bits = encodeBits(ms);
  for (let b = 0; b < bits.length; b++) {
    const x0 = CODE_X + (b % BLOCKS_PER_ROW) * BLOCK;
    const y0 = CODE_Y + Math.floor(b / BLOCKS_PER_ROW) * BLOCK;
    const v = bits[b] ? 255 : 0;
    for (let y = y0; y < y0 + BLOCK; y++) frame.fill(v, y * width + x0, y * width + x0 + BLOCK);
  }
}

/**
 * Reads the code from RGBA pixels of the frame's top CODE_HEIGHT rows, scaled to `width` (the canvas may
 * be drawn at the video's own size). Samples the middle of each block, thresholded at mid-gray.
 */
export function readCode(rgba: Uint8ClampedArray | Uint8Array, width: number, scale = 1): number | undefined {
  const bits: number[] = [];
  for (let b = 0; b < BLOCKS_PER_ROW * CODE_ROWS; b++) {
    const cx = (CODE_X + (b % BLOCKS_PER_ROW) * BLOCK + BLOCK / 2) * scale;
    const cy = (CODE_Y + Math.floor(b / BLOCKS_PER_ROW) * BLOCK + BLOCK / 2) * scale;
    let sum = 0;
    let n = 0;
    const r = Math.max(1, Math.floor(3 * scale));
    for (let y = Math.floor(cy - r); y < cy + r; y++) {
      for (let x = Math.floor(cx - r); x < cx + r; x++) {
        sum += rgba[(y * width + x) * 4];
        n++;
      }
    }
    bits.push(sum / n >= 128 ? 1 : 0);
  }
  return decodeBits(bits);
}

import { randomFillSync } from 'node:crypto';

/**
 * Random lowercase hex ids for trace and span ids, cut from a pooled buffer: one
 * `randomFillSync` per 4 KiB instead of one `randomBytes` call per id on the hot path.
 */
const POOL = Buffer.allocUnsafe(4096);
let offset = POOL.length;

export function randomHex(bytes: number): string {
  for (;;) {
    if (offset + bytes > POOL.length) {
      randomFillSync(POOL);
      offset = 0;
    }
    const start = offset;
    offset += bytes;
    // W3C trace context forbids all-zero ids; vanishingly rare, but cheap to rule out.
    for (let i = start; i < offset; i++) {
      if (POOL[i] !== 0) return POOL.toString('hex', start, offset);
    }
  }
}

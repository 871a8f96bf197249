/**
 * A fast, well-mixed 32-bit hash of a string: FNV-1a over the UTF-16 code units, then
 * MurmurHash3's finaliser so that similar keys ("user-1", "user-2") land far apart on a
 * hash ring. Not cryptographic: a client choosing keys can choose the instance anyway.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

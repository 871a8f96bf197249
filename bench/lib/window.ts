/**
 * Run `count` async operations keeping at most `window` in flight, like a publisher
 * that waits for confirms without blocking on each one. Resolves when all settled.
 */
export async function windowed(count: number, window: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await op(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
}

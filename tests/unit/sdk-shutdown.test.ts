import { installShutdownHandlers } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

describe('installShutdownHandlers', () => {
  it('closes the targets in order on the first signal, once, and can be removed', async () => {
    const order: string[] = [];
    const target = (name: string, ms: number) => ({
      close: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            order.push(name);
            resolve();
          }, ms),
        ),
    });
    const signal = 'SIGUSR2';
    const before = process.listenerCount(signal);
    const remove = installShutdownHandlers([target('service-a', 30), target('service-b', 5), target('infra', 1)], {
      signals: [signal],
      exit: false,
    });
    expect(process.listenerCount(signal)).toBe(before + 1);
    process.emit(signal, signal);
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual(['service-a', 'service-b', 'infra']);
    remove();
    expect(process.listenerCount(signal)).toBe(before);
  });
});

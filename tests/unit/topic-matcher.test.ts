import { compileTopicPattern, topicMatches } from '@switchyard/broker';
import { describe, expect, it } from 'vitest';

// Cases checked against RabbitMQ's topic exchange semantics: `*` one word, `#` zero or more.
const cases: Array<[pattern: string, topic: string, matches: boolean]> = [
  ['orders.created', 'orders.created', true],
  ['orders.created', 'orders.created.eu', false],
  ['orders.created', 'orders', false],
  ['orders.*', 'orders.created', true],
  ['orders.*', 'orders', false],
  ['orders.*', 'orders.created.eu', false],
  ['*.created', 'orders.created', true],
  ['*.created', 'created', false],
  ['*', 'orders', true],
  ['*', 'orders.created', false],
  ['#', 'orders', true],
  ['#', 'orders.created.eu.west', true],
  ['orders.#', 'orders', true],
  ['orders.#', 'orders.created', true],
  ['orders.#', 'orders.created.eu', true],
  ['orders.#', 'order.created', false],
  ['#.eu', 'eu', true],
  ['#.eu', 'orders.created.eu', true],
  ['#.eu', 'orders.eu.created', false],
  ['orders.#.eu', 'orders.eu', true],
  ['orders.#.eu', 'orders.a.b.c.eu', true],
  ['orders.#.eu', 'orders.a.b.c.us', false],
  ['*.#', 'orders', true],
  ['*.#', 'orders.created', true],
  ['#.*', 'orders', true],
  ['*.*', 'orders', false],
  ['*.*.#', 'a.b', true],
  ['*.*.#', 'a', false],
  ['a.*.c', 'a.b.c', true],
  ['a.*.c', 'a.c', false],
  ['#.#', 'a', true],
  // Wildcards are whole words only: `order*` is a literal word.
  ['order*', 'orders', false],
  ['order*', 'order*', true],
  // Empty words are words.
  ['a..b', 'a..b', true],
  ['a.*.b', 'a..b', true],
];

describe('topic matcher', () => {
  it.each(cases)('%s vs %s -> %s', (pattern, topic, expected) => {
    expect(topicMatches(pattern, topic)).toBe(expected);
    expect(compileTopicPattern(pattern)(topic)).toBe(expected);
  });

  it('a compiled pattern can be reused for many topics', () => {
    const m = compileTopicPattern('stock.*.changed.#');
    expect(['stock.sku1.changed', 'stock.sku2.changed.eu', 'stock.changed', 'stock.sku1.removed'].map(m)).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });

  it('has no exponential blow-up on many # words', () => {
    const pattern = `${Array.from({ length: 30 }, () => '#').join('.')}.x`;
    const topic = Array.from({ length: 60 }, (_, i) => `w${i}`).join('.');
    const t0 = performance.now();
    expect(topicMatches(pattern, topic)).toBe(false);
    expect(topicMatches(pattern, `${topic}.x`)).toBe(true);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(1000);
  });
});

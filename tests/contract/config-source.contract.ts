/**
 * The ConfigSource contract for the shared, watched layer: EtcdConfigSource (real etcd)
 * and MemoryConfigSource read, change and notify alike. `write` is what an operator does
 * (`switchyard config set/apply`): every entry of one call is one change.
 */
import type { ConfigSource } from '@switchyard/sdk';
import { afterEach, describe, expect, it } from 'vitest';

export interface ConfigSourceFixture {
  /** A source not yet started, on a scope of its own. */
  source: ConfigSource;
  /** Set (value) or delete (undefined) dotted paths, all in one change. */
  write(entries: Record<string, unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

/** Resolve once `source` has notified and `check()` holds; rejects after 5 s with what it last saw. */
async function until(source: ConfigSource, check: () => boolean): Promise<void> {
  if (check()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`source never reached the expected state; last: ${JSON.stringify(source.current())}`));
    }, 5_000);
    const off = source.subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}

export function runConfigSourceContract(name: string, make: () => Promise<ConfigSourceFixture>) {
  describe(`ConfigSource contract: ${name}`, () => {
    let fixture: ConfigSourceFixture | undefined;
    afterEach(async () => {
      await fixture?.source.close();
      await fixture?.cleanup();
      fixture = undefined;
    });

    it('start() reads what was there before it, nested by path, and is synced', async () => {
      fixture = await make();
      await fixture.write({ 'features.checkout': true, 'limits.maxItems': 5, greeting: 'hi' });
      await fixture.source.start();
      expect(fixture.source.synced).toBe(true);
      expect(fixture.source.current()).toEqual({
        features: { checkout: true },
        limits: { maxItems: 5 },
        greeting: 'hi',
      });
    });

    it('a change made after start is seen, as one notification for one multi-key write', async () => {
      fixture = await make();
      const { source } = fixture;
      await source.start();
      expect(source.current()).toEqual({});
      let notified = 0;
      source.subscribe(() => notified++);
      await fixture.write({ 'a.x': 1, 'a.y': [1, 2], b: { nested: 'yes' } });
      await until(source, () => JSON.stringify(source.current()) !== '{}');
      expect(source.current()).toEqual({ a: { x: 1, y: [1, 2] }, b: { nested: 'yes' } });
      expect(notified).toBe(1);
    });

    it('a delete removes the value and the objects it leaves empty', async () => {
      fixture = await make();
      const { source } = fixture;
      await fixture.write({ 'a.b.c': 1, 'a.d': 2 });
      await source.start();
      await fixture.write({ 'a.b.c': undefined });
      await until(source, () => (source.current().a as Record<string, unknown> | undefined)?.b === undefined);
      expect(source.current()).toEqual({ a: { d: 2 } });
    });

    it('what it hands out is frozen: a caller cannot change the layer under the others', async () => {
      fixture = await make();
      await fixture.write({ 'a.b': 1 });
      await fixture.source.start();
      const doc = fixture.source.current();
      expect(Object.isFrozen(doc)).toBe(true);
      expect(Object.isFrozen(doc.a)).toBe(true);
    });

    it('after close() no listener is called', async () => {
      fixture = await make();
      const { source } = fixture;
      await source.start();
      let notified = 0;
      source.subscribe(() => notified++);
      await source.close();
      await source.close(); // idempotent
      await fixture.write({ late: 1 });
      await new Promise((r) => setTimeout(r, 150));
      expect(notified).toBe(0);
    });
  });
}

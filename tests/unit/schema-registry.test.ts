import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DirectorySchemaSource,
  isSwitchyardError,
  MemorySchemaSource,
  type SchemaChange,
  type SchemaInvalidErrorInstance,
  SchemaRegistry,
} from '@switchyard/sdk';
import { afterEach, describe, expect, it } from 'vitest';

const MONEY = 'https://schemas.test/common/money.json';
const ORDER = 'https://schemas.test/orders/order.json';

const money = (max = 1000) => ({
  $id: MONEY,
  type: 'object',
  properties: { amount: { type: 'integer', minimum: 0, maximum: max }, currency: { type: 'string' } },
  required: ['amount', 'currency'],
});
const order = (extra: Record<string, unknown> = {}) => ({
  $id: ORDER,
  type: 'object',
  properties: { total: { $ref: '../common/money.json' }, ...extra },
  required: ['total'],
});

/** Records what a registry tells the world. */
function observe(registry: SchemaRegistry) {
  const changes: SchemaChange[] = [];
  const invalid: SchemaInvalidErrorInstance[] = [];
  registry.on('change', (c) => changes.push(c));
  registry.on('invalid', (e) => invalid.push(e));
  return { changes, invalid };
}

const registries: SchemaRegistry[] = [];
async function started(source: MemorySchemaSource | DirectorySchemaSource, extra = {}) {
  const warnings: Array<{ obj: object; msg?: string }> = [];
  const registry = new SchemaRegistry({
    source,
    logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
    ...extra,
  });
  registries.push(registry);
  await registry.start();
  // Observed from here on: the first load's change (every id) is not what these tests look at.
  const seen = observe(registry);
  return { registry, warnings, ...seen };
}

afterEach(async () => {
  await Promise.all(registries.splice(0).map((r) => r.close()));
});

describe('SchemaRegistry reads', () => {
  it('serves validators by $id and lists ids; unknown ids are SCHEMA_NOT_FOUND', async () => {
    const { registry } = await started(new MemorySchemaSource([money(), order()]));
    expect(registry.ids()).toEqual([MONEY, ORDER]);
    expect(registry.has(ORDER)).toBe(true);
    expect(registry.validate(ORDER, { total: { amount: 5, currency: 'EUR' } })).toEqual([]);
    expect(registry.validate(ORDER, { total: { amount: 5000, currency: 'EUR' } })).toEqual([
      { pointer: '/total/amount', message: 'must be at most 1000' },
    ]);
    expect(() => registry.get('https://schemas.test/nope.json')).toThrow(
      expect.objectContaining({ code: 'SCHEMA_NOT_FOUND', details: { id: 'https://schemas.test/nope.json' } }),
    );
    expect(() => registry.assert(ORDER, {}, 'order')).toThrow(/order is invalid: \/total: is required/);
  });

  it('compiles once: the same validator every call, and an equal schema is not recompiled', async () => {
    const source = new MemorySchemaSource([money(), order()]);
    const { registry, changes } = await started(source);
    const first = registry.get(ORDER);
    expect(registry.get(ORDER)).toBe(first);
    // New objects, keys in another order: the same schema.
    const reordered = { required: ['total'], properties: order().properties, type: 'object', $id: ORDER };
    source.set([money(), reordered]);
    expect(registry.get(ORDER)).toBe(first);
    expect(changes).toEqual([]);
  });
});

describe('SchemaRegistry hot swap', () => {
  it('a new version replaces the old one; the registry always hands out the newest', async () => {
    const source = new MemorySchemaSource([money(), order()]);
    const { registry, changes } = await started(source);
    const old = registry.get(ORDER);
    source.set([money(), order({ note: { type: 'string', maxLength: 3 } })]);
    expect(changes).toEqual([{ updated: [ORDER], removed: [] }]);
    expect(registry.get(ORDER)).not.toBe(old);
    expect(registry.validate(ORDER, { total: { amount: 1, currency: 'EUR' }, note: 'long' })).toEqual([
      { pointer: '/note', message: 'must be at most 3 characters long' },
    ]);
  });

  it('a change to a referenced schema recompiles its dependants', async () => {
    const source = new MemorySchemaSource([money(1000), order()]);
    const { registry, changes } = await started(source);
    const payload = { total: { amount: 5000, currency: 'EUR' } };
    expect(registry.validate(ORDER, payload)).not.toEqual([]);
    source.set([money(10_000), order()]);
    expect(changes).toEqual([{ updated: [MONEY, ORDER], removed: [] }]);
    expect(registry.validate(ORDER, payload)).toEqual([]);
  });

  it('a broken update keeps the last good version, and says so once', async () => {
    const source = new MemorySchemaSource([money(), order()]);
    const { registry, changes, invalid, warnings } = await started(source);
    const good = registry.get(ORDER);
    source.set([money(), { ...order(), required: 'total' }]);
    source.set([money(), { ...order(), required: 'total' }]); // the same problem again: not re-reported
    expect(registry.get(ORDER)).toBe(good);
    expect(changes).toEqual([]);
    expect(invalid).toHaveLength(1);
    expect(invalid[0]!.code).toBe('SCHEMA_INVALID');
    expect(invalid[0]!.details).toMatchObject({
      file: `memory:${ORDER}`,
      problem: expect.stringMatching(/\/required must be an array/),
    });
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: 'schema rejected; keeping its last good version',
        obj: expect.objectContaining({ id: ORDER }),
      }),
    ]);
    // Fixed: swapped in.
    source.set([money(), order({ note: { type: 'string' } })]);
    expect(registry.get(ORDER)).not.toBe(good);
    expect(changes).toEqual([{ updated: [ORDER], removed: [] }]);
  });

  it('a broken referenced schema keeps both it and its dependants on their last good versions', async () => {
    const source = new MemorySchemaSource([money(), order()]);
    const { registry, changes, invalid } = await started(source);
    const goodMoney = registry.get(MONEY);
    const goodOrder = registry.get(ORDER);
    source.set([{ ...money(), properties: { amount: { type: 'integr' } } }, order()]);
    expect(registry.get(MONEY)).toBe(goodMoney);
    expect(registry.get(ORDER)).toBe(goodOrder);
    expect(registry.validate(ORDER, { total: { amount: 1, currency: 'EUR' } })).toEqual([]);
    expect(invalid.map((e) => e.details?.id)).toEqual([MONEY]);
    expect(changes).toEqual([]);
  });

  it('a file the source cannot read keeps its id on the last good version; a schema that is gone is removed', async () => {
    const source = new MemorySchemaSource([money(), order()]);
    const { registry, changes, invalid } = await started(source);
    source.set([order()], [{ file: 'money.json', problem: 'not valid JSON: Unexpected end', id: MONEY }]);
    expect(registry.has(MONEY)).toBe(true);
    expect(invalid.map((e) => e.details?.file)).toEqual(['money.json']);
    expect(changes).toEqual([]);
    source.set([money()]);
    expect(changes).toEqual([{ updated: [], removed: [ORDER] }]);
    expect(registry.ids()).toEqual([MONEY]);
  });

  it('a new schema that refers to a broken new schema is rejected too, naming the reference', async () => {
    const source = new MemorySchemaSource([]);
    const { registry, invalid } = await started(source);
    source.set([{ ...money(), type: 'objekt' }, order()]);
    expect(registry.ids()).toEqual([]);
    const problems = Object.fromEntries(invalid.map((e) => [e.details?.id, String(e.details?.problem)]));
    expect(problems[MONEY]).toMatch(/not a valid JSON Schema/);
    expect(problems[ORDER]).toMatch(/\$ref to "https:\/\/schemas.test\/common\/money.json" cannot be resolved/);
  });

  it('a listener that throws does not stop updates', async () => {
    const source = new MemorySchemaSource([money()]);
    const { registry, warnings } = await started(source);
    registry.on('change', () => {
      throw new Error('listener bug');
    });
    source.set([money(5)]);
    expect(registry.validate(MONEY, { amount: 6, currency: 'EUR' })).toHaveLength(1);
    expect(warnings.some((w) => w.msg === 'schema registry listener threw')).toBe(true);
  });
});

describe('SchemaRegistry lifecycle and options', () => {
  it('start and close are idempotent; start after close is CLOSED', async () => {
    const registry = new SchemaRegistry({ source: new MemorySchemaSource([money()]) });
    await Promise.all([registry.start(), registry.start()]);
    await registry.close();
    await registry.close();
    await expect(registry.start()).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('rejects bad options naming the option', () => {
    const bad = (fn: () => unknown, option: string) => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(isSwitchyardError(err, 'INVALID_OPTIONS')).toBe(true);
      expect((err as Error).message).toMatch(new RegExp(`^${option}`));
    };
    bad(() => new SchemaRegistry({} as never), 'source');
    bad(() => new SchemaRegistry({ source: new MemorySchemaSource(), formats: 'x' as never }), 'formats');
    bad(() => new DirectorySchemaSource({ dir: '' }), 'dir');
    bad(() => new DirectorySchemaSource({ dir: '.', debounceMs: -1 }), 'debounceMs');
  });

  it('custom formats are usable; an unknown format is a broken schema', async () => {
    const schema = { $id: 'https://schemas.test/id.json', type: 'string', format: 'order-id' };
    const strict = new SchemaRegistry({ source: new MemorySchemaSource([schema]) });
    await expect(strict.start()).rejects.toMatchObject({
      code: 'SCHEMA_INVALID',
      details: { problem: expect.stringMatching(/unknown format "order-id"/) },
    });
    const { registry } = await started(new MemorySchemaSource([schema]), {
      formats: { 'order-id': /^ord_[a-z0-9]+$/ },
    });
    expect(registry.validate(schema.$id, 'ord_12ab')).toEqual([]);
    expect(registry.validate(schema.$id, 'x')).toEqual([{ pointer: '', message: 'must be a valid order-id' }]);
  });
});

describe('DirectorySchemaSource with watch (embedded hot reload)', () => {
  it('reloads on file changes, keeps the last good version of a file that breaks, drops a deleted one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-schemas-'));
    try {
      // Atomic writes (temp file + rename), as editors and deploy tools do: a reload never sees half a file.
      const write = (name: string, value: unknown) => {
        const tmp = join(dir, `${name}.tmp`);
        writeFileSync(tmp, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
        renameSync(tmp, join(dir, name));
      };
      const until = async (what: string, ok: () => boolean) => {
        const t0 = performance.now();
        while (!ok()) {
          if (performance.now() - t0 > 5_000) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        return performance.now() - t0;
      };
      write('money.json', money(1000));
      write('order.json', order());
      const { registry, changes, invalid } = await started(
        new DirectorySchemaSource({ dir, watch: true, debounceMs: 20 }),
      );
      const big = { total: { amount: 5000, currency: 'EUR' } };

      write('money.json', money(10_000));
      const ms = await until('the new money schema', () => registry.validate(ORDER, big).length === 0);
      console.log(`directory hot reload: change visible after ${ms.toFixed(1)} ms (debounce 20 ms)`);
      expect(changes).toEqual([{ updated: [MONEY, ORDER], removed: [] }]);

      write('money.json', '{ "$id": ');
      await until('the invalid event', () => invalid.length > 0);
      expect(invalid[0]!.details).toMatchObject({ file: join(dir, 'money.json'), id: MONEY });
      expect(registry.has(MONEY)).toBe(true);
      expect(registry.validate(ORDER, big)).toEqual([]);

      rmSync(join(dir, 'order.json'));
      await until('order to be removed', () => !registry.has(ORDER));
      expect(changes.at(-1)).toEqual({ updated: [], removed: [ORDER] });
      expect(registry.ids()).toEqual([MONEY]);

      // A new subdirectory is watched too.
      mkdirSync(join(dir, 'orders'));
      write('orders/order.json', order());
      await until('order in a new subdirectory', () => registry.has(ORDER));
      write('orders/order.json', order({ note: { type: 'string' } }));
      await until(
        'the changed order',
        () =>
          registry.get(ORDER).schema.properties !== undefined &&
          'note' in (registry.get(ORDER).schema.properties as object),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

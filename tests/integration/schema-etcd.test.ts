import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  EtcdSchemaSource,
  isSwitchyardError,
  type SchemaInvalidErrorInstance,
  SchemaPublisher,
  SchemaRegistry,
  schemaLatestKey,
} from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueNamespace } from '../harness/servers.js';

const shipped = join(resolve(import.meta.dirname, '../..'), 'schemas');
const BASE = 'https://schemas.switchyard.dev';
const MONEY = `${BASE}/common/money.json`;
const ORDER_REQ = `${BASE}/orders/order.create.request.json`;

let client: Etcd3;
const readers: SchemaRegistry[] = [];

beforeAll(() => {
  client = new Etcd3({ hosts: inject('etcdEndpoint') });
});

afterAll(async () => {
  await Promise.all(readers.map((r) => r.close()));
  client.close();
});

/** A namespace per test: tests never see each other's schemas. */
function setup(label: string, extra: Partial<ConstructorParameters<typeof SchemaPublisher>[0]> = {}) {
  const namespace = uniqueNamespace(`schemas-${label}`);
  return { namespace, publisher: new SchemaPublisher({ client, namespace, ...extra }) };
}

async function reader(namespace: string) {
  const invalid: SchemaInvalidErrorInstance[] = [];
  const registry = new SchemaRegistry({
    source: new EtcdSchemaSource({ client, namespace }),
    tolerateBrokenAtStart: true,
  });
  registry.on('invalid', (e) => invalid.push(e));
  readers.push(registry);
  await registry.start();
  return { registry, invalid };
}

async function until(what: string, ok: () => boolean, timeoutMs = 5_000): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
  return performance.now() - t0;
}

async function rejection(
  p: Promise<unknown>,
): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e) => e,
  );
}

const ID = 'https://schemas.switchyard.dev/test/widget.json';
const widget = (props: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  $id: ID,
  type: 'object',
  properties: { name: { type: 'string', maxLength: 50 }, size: { type: 'integer', minimum: 1 }, ...props },
  required: ['name'],
  additionalProperties: false,
  ...extra,
});

describe('SchemaPublisher on etcd', () => {
  it('publishes versions with a history; an identical schema is a no-op', async () => {
    const { publisher, namespace } = setup('history');
    expect(await publisher.publish(widget())).toEqual({ id: ID, version: 1, status: 'published', breaks: [] });
    // Same schema, keys in another order: nothing new.
    const reordered = {
      additionalProperties: false,
      required: ['name'],
      properties: widget().properties,
      type: 'object',
      $id: ID,
    };
    expect(await publisher.publish(reordered)).toMatchObject({ version: 1, status: 'unchanged' });
    expect(await publisher.publish(widget({ color: { enum: ['red', 'blue'] } }))).toMatchObject({
      version: 2,
      status: 'published',
    });

    const history = await publisher.history(ID);
    expect(history.map((r) => r.version)).toEqual([1, 2]);
    expect(history[1]!.schema).toEqual(widget({ color: { enum: ['red', 'blue'] } }));
    expect(history[0]!.forced).toBe(false);
    expect((await publisher.get(ID, 1)).schema).toEqual(widget());
    expect(await publisher.list()).toEqual([
      { id: ID, version: 2, hash: history[1]!.hash, publishedAt: history[1]!.publishedAt, forced: false },
    ]);
    // The documented key layout.
    const keys = await client.getAll().prefix(`/${namespace}/schemas/`).keys();
    const enc = encodeURIComponent(ID);
    expect(keys.sort()).toEqual([
      `/${namespace}/schemas/history/${enc}/00000001`,
      `/${namespace}/schemas/history/${enc}/00000002`,
      `/${namespace}/schemas/latest/${enc}`,
    ]);
    await expect(publisher.history('https://schemas.switchyard.dev/none.json')).rejects.toMatchObject({
      code: 'SCHEMA_NOT_FOUND',
    });
  });

  it('refuses a backward-incompatible change, listing each break; force publishes it and records the breaks', async () => {
    const { publisher } = setup('incompatible');
    await publisher.publish(widget());
    const narrowed = widget(
      { name: { type: 'string', maxLength: 20 }, size: { type: 'number', minimum: 1 } },
      { required: ['name', 'size'] },
    );
    const err = await rejection(publisher.publish(narrowed));
    expect(err.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(err.details.id).toBe(ID);
    const breaks = err.details.breaks as Array<{ id: string; pointer: string; message: string }>;
    expect(breaks.map((b) => b.pointer).sort()).toEqual(['/properties/name/maxLength', '/required']);
    expect(breaks.find((b) => b.pointer === '/required')!.message).toMatch(/"size" became required/);
    expect(err.message).toMatch(/would break existing payloads: .*maxLength lowered from 50 to 20/);
    expect((await publisher.history(ID)).map((r) => r.version)).toEqual([1]);

    const forced = await publisher.publish(narrowed, { force: true });
    expect(forced).toMatchObject({ version: 2, status: 'published' });
    expect(forced.breaks).toHaveLength(2);
    const record = await publisher.get(ID);
    expect(record).toMatchObject({ version: 2, forced: true });
    expect(record.breaks).toEqual(forced.breaks);
  });

  it('never publishes a broken schema, even forced', async () => {
    const { publisher } = setup('broken');
    const err = await rejection(
      publisher.publish({ $id: ID, type: 'object', properties: { a: { type: 'strin' } } }, { force: true }),
    );
    expect(err.code).toBe('SCHEMA_INVALID');
    expect(err.details).toMatchObject({ file: ID, problem: expect.stringMatching(/not a valid JSON Schema/) });
    const unresolved = await rejection(publisher.publish({ $id: ID, $ref: 'other.json' }));
    expect(unresolved.details.problem).toMatch(
      /cannot be resolved: no schema has \$id "https:\/\/schemas.switchyard.dev\/test\/other.json"/,
    );
    expect(await publisher.list()).toEqual([]);
  });

  it('publishes a directory all-or-nothing', async () => {
    const { publisher } = setup('directory');
    const results = await publisher.publishDirectory(shipped);
    expect(results.length).toBeGreaterThanOrEqual(9);
    expect(results.every((r) => r.status === 'published' && r.version === 1)).toBe(true);
    expect((await publisher.publishDirectory(shipped)).every((r) => r.status === 'unchanged')).toBe(true);

    const dir = mkdtempSync(join(tmpdir(), 'switchyard-publish-'));
    try {
      cpSync(shipped, dir, { recursive: true });
      // One compatible change (a new optional field) and one incompatible one (a new required field).
      const notify = JSON.parse(
        (await import('node:fs')).readFileSync(join(dir, 'notifications/notification.send.request.json'), 'utf8'),
      );
      notify.properties.priority = { enum: ['low', 'high'] };
      writeFileSync(join(dir, 'notifications/notification.send.request.json'), JSON.stringify(notify));
      const money = JSON.parse((await import('node:fs')).readFileSync(join(dir, 'common/money.json'), 'utf8'));
      money.required.push('scale');
      money.properties.scale = { type: 'integer' };
      writeFileSync(join(dir, 'common/money.json'), JSON.stringify(money));

      const err = await rejection(publisher.publishDirectory(dir));
      expect(err.code).toBe('SCHEMA_INCOMPATIBLE');
      const breaks = err.details.breaks as Array<{ id: string; pointer: string; message: string }>;
      expect(breaks.find((b) => b.id === MONEY)).toMatchObject({
        pointer: '/required',
        message: expect.stringMatching(/"scale"/),
      });
      // Unchanged schemas that reference money break with it, and say where and why.
      expect(breaks).toContainEqual({
        id: ORDER_REQ,
        pointer: '/properties/items/items/properties/unitPrice/required',
        message: expect.stringMatching(/"scale" became required.*common\/money.json.*through a schema it references/),
      });
      // Nothing published, not even the compatible change.
      expect((await publisher.list()).every((s) => s.version === 1)).toBe(true);

      // A broken file: nothing published either, and the error names it.
      writeFileSync(join(dir, 'common/money.json'), '{ "$id": ');
      const broken = await rejection(publisher.publishDirectory(dir));
      expect(broken.code).toBe('SCHEMA_INVALID');
      expect(broken.details.file).toBe(join(dir, 'common/money.json'));
      expect((await publisher.list()).every((s) => s.version === 1)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a $defs change that breaks the published schemas using it', async () => {
    const { publisher } = setup('defs');
    await publisher.publishDirectory(shipped);
    const ids = (await publisher.get(`${BASE}/common/identifiers.json`)).schema as { $defs: Record<string, object> };
    const narrowed = structuredClone(ids);
    narrowed.$defs.orderId = { type: 'string', pattern: '^ord_[0-9]{8}$' };
    const err = await rejection(publisher.publish(narrowed));
    expect(err.code).toBe('SCHEMA_INCOMPATIBLE');
    const breaks = err.details.breaks as Array<{ id: string; pointer: string }>;
    // Published schemas using the definition break with it, and say why.
    expect(breaks).toContainEqual({
      id: ORDER_REQ.replace('request', 'response'),
      pointer: '/properties/orderId/pattern',
      message: expect.stringMatching(/pattern changed .*identifiers.json.*through a schema it references/),
    });
    const removed = structuredClone(ids);
    delete removed.$defs.orderId;
    const invalid = await rejection(publisher.publish(removed));
    expect(invalid.code).toBe('SCHEMA_INVALID');
    expect(invalid.message).toMatch(/published schema .* would stop compiling/);
  });

  it('two publishers never both create the same version', async () => {
    const { namespace } = setup('race');
    const a = new SchemaPublisher({ client, namespace });
    await a.publish(widget());
    // B reads the published state, then waits at a gate while A publishes version 2.
    let open!: () => void;
    const gate = new Promise<void>((r) => {
      open = r;
    });
    let reads = 0;
    const gated = new Proxy(client, {
      get(target, prop) {
        if (prop === 'getAll') {
          return () => {
            const builder = target.getAll();
            const exec = builder.exec.bind(builder);
            builder.exec = async () => {
              const res = await exec();
              reads++;
              await gate;
              return res;
            };
            return builder;
          };
        }
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const strictB = new SchemaPublisher({ client: gated, namespace, conflictRetries: 0 });
    const pending = rejection(strictB.publish(widget({}, { description: 'from B' })));
    await until('B to read', () => reads === 1);
    expect(await a.publish(widget({}, { description: 'from A' }))).toMatchObject({ version: 2 });
    open();
    const err = await pending;
    expect(err.code).toBe('ALREADY_EXISTS');
    expect((await a.get(ID)).schema.description).toBe('from A');

    // With a retry B reads again, checks against A's version and becomes version 3.
    const retryingB = new SchemaPublisher({ client, namespace, conflictRetries: 3 });
    const racers = await Promise.all(
      [1, 2, 3, 4].map((i) => retryingB.publish(widget({}, { description: `racer ${i}` }))),
    );
    const versions = racers.map((r) => r.version).sort((x, y) => x - y);
    expect(versions).toEqual([3, 4, 5, 6]);
    expect((await a.history(ID)).map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('SchemaRegistry fed by etcd', () => {
  it('hot-swaps a published version into a running reader, quickly', async () => {
    const { publisher, namespace } = setup('hotswap');
    await publisher.publish(widget());
    const { registry } = await reader(namespace);
    expect(registry.get(ID).version).toBe(1);
    const publishMs: number[] = [];
    const swapMs: number[] = [];
    for (let v = 2; v <= 21; v++) {
      const t0 = performance.now();
      await publisher.publish(widget({}, { description: `v${v}` }));
      const t1 = performance.now();
      await until(`version ${v}`, () => registry.get(ID).version === v, 2_000);
      publishMs.push(t1 - t0);
      swapMs.push(performance.now() - t1);
    }
    const stats = (xs: number[]) => {
      const sorted = [...xs].sort((a, b) => a - b);
      return `p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`;
    };
    console.log(
      `etcd schema hot swap, ${swapMs.length} versions: publish() call ${stats(publishMs)}; publish resolved -> reader serves the new version ${stats(swapMs)}`,
    );
    expect(registry.validate(ID, { name: 'x', extra: 1 })).toEqual([
      { pointer: '/extra', message: 'is not an allowed property' },
    ]);
  });

  it('reads everything again when its watch fails, missing nothing published meanwhile', async () => {
    const { publisher, namespace } = setup('resync');
    await publisher.publish(widget());
    const source = new EtcdSchemaSource({ client, namespace });
    const registry = new SchemaRegistry({ source });
    readers.push(registry);
    await registry.start();
    const watcher = (source as unknown as { watcher: { emit(e: string, err: Error): void; cancel(): Promise<void> } })
      .watcher;
    // As when etcd cancels a watch whose revision was compacted: deliveries stop, then an error.
    await watcher.cancel();
    watcher.emit('error', new Error('Watcher canceled: etcdserver: mvcc: required revision has been compacted'));
    await publisher.publish(widget({}, { description: 'published while re-reading' }));
    await until('version 2 after the resync', () => registry.get(ID).version === 2);
    await publisher.publish(widget({}, { description: 'and after' }));
    await until('version 3 on the new watch', () => registry.get(ID).version === 3);
    expect((source as unknown as { watcher: unknown }).watcher).not.toBe(watcher);
  });

  it('recompiles dependants when a referenced schema is published', async () => {
    const { publisher, namespace } = setup('dependants');
    await publisher.publishDirectory(shipped);
    const { registry } = await reader(namespace);
    const payload = {
      customerId: 'cus_Q4n8Zt2Lmx',
      items: [{ sku: 'MUG-BLUE-350', quantity: 1, unitPrice: { amount: 200_000_000_000, currency: 'EUR' } }],
    };
    expect(registry.validate(ORDER_REQ, payload)).toEqual([
      { pointer: '/items/0/unitPrice/amount', message: 'must be at most 100000000000' },
    ]);
    const money = structuredClone((await publisher.get(MONEY)).schema) as {
      properties: { amount: { maximum: number } };
    };
    money.properties.amount.maximum = 1_000_000_000_000;
    await publisher.publish(money);
    await until('order.create to accept the larger amount', () => registry.validate(ORDER_REQ, payload).length === 0);
    expect(registry.get(ORDER_REQ).version).toBe(1);
    expect(registry.get(MONEY).version).toBe(2);
  });

  it('a broken schema written to etcd does not take the reader down: it keeps the last good version', async () => {
    const { publisher, namespace } = setup('foreign');
    await publisher.publish(widget());
    const { registry, invalid } = await reader(namespace);
    const good = registry.get(ID);
    // A foreign writer puts garbage, then an invalid schema, straight into the latest key.
    await client.put(schemaLatestKey(namespace, ID)).value('{ not json');
    await until('the invalid event', () => invalid.length === 1);
    expect(invalid[0]!.details).toMatchObject({ id: ID, problem: expect.stringMatching(/not valid JSON/) });
    await client
      .put(schemaLatestKey(namespace, ID))
      .value(JSON.stringify({ version: 2, schema: { $id: ID, type: 'objekt' } }));
    await until('the second invalid event', () => invalid.length === 2);
    expect(invalid[1]!.details?.problem).toMatch(/not a valid JSON Schema/);
    expect(registry.get(ID)).toBe(good);
    expect(registry.validate(ID, { name: 'still validated' })).toEqual([]);

    // The publisher cannot prove anything against a broken latest version: it needs force.
    const err = await rejection(publisher.publish(widget({ note: { type: 'string' } })));
    expect(err.code).toBe('SCHEMA_INCOMPATIBLE');
    expect(err.message).toMatch(/latest published version is not a valid schema/);
    const repaired = await publisher.publish(widget({ note: { type: 'string' } }), { force: true });
    expect(repaired.version).toBe(3);
    await until('the repaired version', () => registry.get(ID).version === 3);
    expect(registry.get(ID)).not.toBe(good);
    expect(isSwitchyardError(invalid[0], 'SCHEMA_INVALID')).toBe(true);
  });
});

/** The store contract on the embedded MemoryStore, and what is special to it. */
import { MemoryStore, storeFromEnv } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { runStoreContract } from '../contract/store.contract.js';

runStoreContract('memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

describe('MemoryStore', () => {
  it('keeps values as JSON: a value changed after the write does not change the record', async () => {
    const store = new MemoryStore();
    const value = { n: 1, when: new Date(0) };
    await store.write('k', value);
    value.n = 2;
    expect((await store.read('k'))[0]!.value).toEqual({ n: 1, when: '1970-01-01T00:00:00.000Z' });
  });

  it('refuses calls once closed with CLOSED', async () => {
    const store = new MemoryStore();
    await store.close();
    await expect(store.read('k')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe('storeFromEnv', () => {
  const ctx = { namespace: 'switchyard' };
  it.each([
    [undefined, 'memory'],
    ['memory', 'memory'],
    ['postgres://postgres@127.0.0.1/postgres', 'postgres'],
    ['postgresql://postgres@127.0.0.1/postgres', 'postgres'],
    ['redis://127.0.0.1:6379', 'redis'],
  ])('SWITCHYARD_STORE=%s gives the %s store', async (value, backend) => {
    const store = storeFromEnv({ SWITCHYARD_STORE: value }, ctx);
    expect(store.backend).toBe(backend);
    await store.close();
  });

  it('refuses what it does not know, and etcd without an etcd, naming the variable', () => {
    expect(() => storeFromEnv({ SWITCHYARD_STORE: 'mysql://x' }, ctx)).toThrow(/SWITCHYARD_STORE must be postgres/);
    expect(() => storeFromEnv({ SWITCHYARD_STORE: 'etcd' }, ctx)).toThrow(/SWITCHYARD_STORE is "etcd" but no etcd/);
    expect(() =>
      storeFromEnv({ SWITCHYARD_STORE: 'redis://127.0.0.1:6379', SWITCHYARD_REDIS_CA: '/nope.pem' }, ctx),
    ).toThrow(/SWITCHYARD_REDIS_CA.*rediss:\/\//);
  });
});

/** The AuthStore contract: MemoryAuthStore and EtcdAuthStore (real etcd) behave alike. */
import type { AccountRecord, AuthStore } from '@switchyard/auth';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

const account = (id: string, extra: Partial<AccountRecord> = {}): AccountRecord => ({
  id,
  type: 'service',
  scopes: ['a'],
  metadata: {},
  secretHash: 'scrypt$N=2,r=1,p=1$AA$AA',
  createdAt: new Date().toISOString(),
  ...extra,
});

export function runAuthStoreContract(
  name: string,
  make: () => Promise<{ store: AuthStore; other?: AuthStore; cleanup(): Promise<void> }>,
) {
  describe(`AuthStore contract: ${name}`, () => {
    let h: Awaited<ReturnType<typeof make>>;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(() => h.cleanup());

    it('creates accounts once (ALREADY_EXISTS after), replaces on purpose, lists by id', async () => {
      await h.store.putAccount(account('b'));
      await h.store.putAccount(account('a'));
      await expect(h.store.putAccount(account('a'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      await h.store.putAccount(account('a', { revokedAt: 'now' }), { replace: true });
      expect((await h.store.getAccount('a'))?.revokedAt).toBe('now');
      expect((await h.store.listAccounts()).map((x) => x.id)).toEqual(['a', 'b']);
      expect(await h.store.getAccount('zzz')).toBeUndefined();
    });

    it('marks a refresh token used exactly once under concurrency; families revoke; sweep drops expired', async () => {
      await h.store.putRefresh('h1', { accountId: 'a', family: 'f1', scope: '', expiresAt: Date.now() + 60_000 });
      const wins = await Promise.all(Array.from({ length: 8 }, () => h.store.useRefresh('h1', Date.now())));
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect((await h.store.getRefresh('h1'))?.usedAt).toBeTypeOf('number');
      expect(await h.store.useRefresh('missing', Date.now())).toBe(false);
      expect(await h.store.isFamilyRevoked('f1')).toBe(false);
      await h.store.revokeFamily('f1');
      expect(await h.store.isFamilyRevoked('f1')).toBe(true);
      await h.store.putRefresh('old', { accountId: 'a', family: 'f2', scope: '', expiresAt: Date.now() - 1 });
      expect(await h.store.sweepRefresh(Date.now())).toBe(1);
      expect(await h.store.getRefresh('old')).toBeUndefined();
      expect(await h.store.getRefresh('h1')).toBeDefined();
    });

    it('tells key watchers (also of another store instance on the same data) about every key change', async () => {
      const watched = h.other ?? h.store;
      let changes = 0;
      const off = watched.onKeysChanged(() => changes++);
      await h.store.putKey({ kid: 'k1', alg: 'EdDSA', publicJwk: {}, encryptedPrivateKey: 'x', createdAt: 1 });
      const until = Date.now() + 5000;
      while (changes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(changes).toBeGreaterThan(0);
      expect((await watched.listKeys()).map((k) => k.kid)).toEqual(['k1']);
      await h.store.deleteKey('k1');
      expect(await watched.listKeys()).toEqual([]);
      off();
    });
  });
}

import { EtcdRegistry } from '@switchyard/sdk';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, sleep, WatchRecorder } from '../contract/registry.contract.js';
import { PrivateEtcd } from '../harness/etcd.js';
import { uniqueNamespace } from '../harness/servers.js';

const TTL = 2;
/** Longer than 2 x TTL: etcd3 declares the lease lost, so recovery must grant a new one. */
const DOWN_MS = 5_000;

describe('etcd stopped for longer than the TTL, then restarted', () => {
  const namespace = uniqueNamespace('registry-restart');
  const key = `/${namespace}/services/survivor/s1`;
  let etcd: PrivateEtcd;
  let service: EtcdRegistry;
  let observer: EtcdRegistry;
  let raw: Etcd3;

  beforeAll(async () => {
    etcd = await PrivateEtcd.start();
    service = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttlSeconds: TTL, dialTimeoutMs: 1_000 });
    observer = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, dialTimeoutMs: 1_000 });
    raw = new Etcd3({ hosts: etcd.endpoint });
  }, 30_000);
  afterAll(async () => {
    await Promise.all([service?.close(), observer?.close()]);
    raw?.close();
    await etcd?.close();
  });

  const leaseOf = async () => (await raw.get(key).exec()).kvs[0]?.lease;

  it('the service is back within one TTL without doing anything; the view serves stale data meanwhile, then resyncs', async () => {
    const reg = await service.register({ service: 'survivor', version: '1', id: 's1' });
    const view = observer.view();
    await view.ready;
    const rec = new WatchRecorder(observer);
    await rec.next((e) => e.type === 'sync');
    await eventually(() => expect(view.instances('survivor')).toEqual([reg.instance]));
    const oldLease = await leaseOf();
    expect(oldLease).toBeDefined();

    await etcd.stop();
    await eventually(() => expect(view.synced).toBe(false), 3_000);
    const staleSince = view.staleSince;
    expect(staleSince).toBeInstanceOf(Date);
    await rec.next((e) => e.type === 'disconnected', 3_000);
    await sleep(DOWN_MS);
    // etcd is gone, yet readers still get the last known table.
    expect(view.instances('survivor')).toEqual([reg.instance]);
    expect(view.synced).toBe(false);
    await expect(observer.listServices()).rejects.toMatchObject({ code: 'UNAVAILABLE' });

    const restartAt = Date.now();
    await etcd.resume();
    const t0 = Date.now(); // etcd answers /health again
    let syncedAfter = 0;
    let backAfter = 0;
    await Promise.all([
      eventually(() => {
        expect(view.synced).toBe(true);
        syncedAfter = Date.now() - t0;
      }, 10_000),
      eventually(async () => {
        const lease = await leaseOf();
        expect(lease).toBeDefined();
        expect(lease).not.toBe(oldLease); // re-registered under a fresh lease
        backAfter = Date.now() - t0;
      }, 10_000),
    ]);
    console.log(
      `[registry etcd] etcd down ${DOWN_MS} ms, TTL ${TTL} s; etcd healthy ${t0 - restartAt} ms after relaunch; ` +
        `from healthy: re-registered (new lease seen) in ${backAfter} ms, view resynced in ${syncedAfter} ms`,
    );
    expect(backAfter).toBeLessThan(TTL * 1000);
    expect(view.staleSince).toBeUndefined();
    expect(view.lastSyncedAt!.getTime()).toBeGreaterThan(staleSince!.getTime());
    await rec.next((e) => e.type === 'sync', 5_000, 2);

    // The old lease (renewed by etcd at restart, kept alive by nobody) expires; the record must stay.
    await sleep(TTL * 1000 + 1_500);
    expect(view.instances('survivor')).toEqual([reg.instance]);
    expect((await observer.listInstances('survivor')).map((i) => i.id)).toEqual(['s1']);

    await reg.deregister();
    await eventually(() => expect(view.instances('survivor')).toEqual([]), 2_000);
    await rec.handle.close();
  }, 60_000);
});

describe('etcd stopped for between TTL and 2 x TTL, then restarted', () => {
  const namespace = uniqueNamespace('registry-blip');
  let etcd: PrivateEtcd;
  let service: EtcdRegistry;
  let observer: EtcdRegistry;

  beforeAll(async () => {
    etcd = await PrivateEtcd.start();
    service = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, ttlSeconds: TTL, dialTimeoutMs: 1_000 });
    observer = new EtcdRegistry({ endpoints: etcd.endpoint, namespace, dialTimeoutMs: 1_000 });
  }, 30_000);
  afterAll(async () => {
    await Promise.all([service?.close(), observer?.close()]);
    await etcd?.close();
  });

  it('the record survives: etcd renews the lease at startup and keepalives resume', async () => {
    const reg = await service.register({ service: 'blip', version: '1', id: 'b1' });
    const view = observer.view();
    await view.ready;
    await etcd.stop();
    await sleep(TTL * 1000 + 1_000);
    await etcd.resume();
    await eventually(() => expect(view.synced).toBe(true), 10_000);
    expect(view.instances('blip')).toEqual([reg.instance]);
    // Past any expiry of a lease nobody keeps alive: still there.
    await sleep(TTL * 2000 + 1_000);
    expect((await observer.listInstances('blip')).map((i) => i.id)).toEqual(['b1']);
    expect(view.instances('blip')).toEqual([reg.instance]);
  }, 60_000);
});

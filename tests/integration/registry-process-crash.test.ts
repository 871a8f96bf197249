import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { EtcdRegistry } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, isDelete, isPut, WatchRecorder } from '../contract/registry.contract.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const root = fileURLToPath(new URL('../..', import.meta.url));
const TTL = 2;

/** Start the fixture service process and resolve once it printed its registration. */
async function startService(namespace: string, id: string, then: 'stay' | 'close'): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'tests/fixtures/register-instance.ts'],
    {
      cwd: root,
      env: {
        ...process.env,
        SY_ETCD: endpoint,
        SY_NAMESPACE: namespace,
        SY_SERVICE: 'crashy',
        SY_ID: id,
        SY_TTL: String(TTL),
        SY_THEN: then,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fixture did not register within 20 s: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('registered ')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!out.includes('registered ')) reject(new Error(`fixture exited with ${code}: ${err}`));
    });
  });
  return child;
}

describe('a registered process that dies', () => {
  const namespace = uniqueNamespace('registry-crash');
  let observer: EtcdRegistry;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    observer = new EtcdRegistry({ endpoints: endpoint, namespace });
    await observer.start();
    await observer.view().ready;
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await observer.close();
  });

  it(`killed with SIGKILL disappears from every watcher within TTL + 1 s (TTL ${TTL} s)`, async () => {
    const rec = new WatchRecorder(observer);
    await rec.next((e) => e.type === 'sync');
    const view = observer.view();
    const child = await startService(namespace, 'victim', 'stay');
    children.push(child);
    await rec.next(isPut('victim'));
    await eventually(() => expect(view.instances('crashy').map((i) => i.id)).toEqual(['victim']));

    const t0 = Date.now();
    child.kill('SIGKILL');
    let viewGoneAt = 0;
    const viewGone = eventually(() => {
      expect(view.instances('crashy')).toEqual([]);
      viewGoneAt = Date.now();
    }, 10_000);
    await rec.next(isDelete('victim'), 10_000);
    const watchDelay = Date.now() - t0;
    await viewGone;
    const viewDelay = viewGoneAt - t0;
    console.log(
      `[registry etcd] SIGKILLed instance gone: watch after ${watchDelay} ms, view after ${viewDelay} ms (TTL ${TTL} s)`,
    );
    expect(watchDelay).toBeLessThan((TTL + 1) * 1000);
    expect(viewDelay).toBeLessThan((TTL + 1) * 1000);
    expect(await observer.listInstances('crashy')).toEqual([]);
    await rec.handle.close();
  });

  it('that closes its registry is deregistered at once and exits on its own (no handle left open)', async () => {
    const rec = new WatchRecorder(observer);
    await rec.next((e) => e.type === 'sync');
    const child = await startService(namespace, 'polite', 'close');
    children.push(child);
    const t0 = Date.now();
    const [code] = (await Promise.race([
      once(child, 'exit'),
      new Promise((_, reject) => setTimeout(() => reject(new Error('process still alive 10 s after close()')), 10_000)),
    ])) as [number | null];
    console.log(`[registry etcd] process exited ${Date.now() - t0} ms after registering and closing`);
    expect(code).toBe(0);
    await rec.next(isDelete('polite'), 1_000);
    expect(await observer.listInstances('crashy')).toEqual([]);
    await rec.handle.close();
  });
});

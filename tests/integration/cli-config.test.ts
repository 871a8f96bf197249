/**
 * `switchyard config` against a real etcd, with a DynamicConfig watching the same scope as
 * a service would: set/unset/apply land as one change each, --dry-run and a failing
 * --schema write nothing, --prune removes what the file lacks, and watch prints changes.
 */
import { EXIT } from '@switchyard/cli';
import { createEtcdClient, DynamicConfig, EtcdConfigSource } from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli, startCli } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-config');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const files = scratchDir('config');
const etcd = createEtcdClient(endpoint);
const source = new EtcdConfigSource({ client: etcd, namespace, scope: 'orders' });
const config = new DynamicConfig({ remote: source, env: false, logger: pino({ level: 'silent' }) });
const versions: number[] = [];

beforeAll(async () => {
  await config.start();
  config.watch('', (_n, _p, change) => versions.push(change.version));
});
afterAll(async () => {
  await config.close();
  await source.close();
  await etcd.delete().prefix(`/${namespace}/`);
  etcd.close();
  files.remove();
});

async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`not reached; config is ${JSON.stringify(config.value)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const schema = files.write(
  'orders-config.json',
  JSON.stringify({
    type: 'object',
    properties: { limits: { type: 'object', properties: { maxItems: { type: 'integer', maximum: 100 } } } },
  }),
);

describe('switchyard config', () => {
  it('set writes JSON (or text), get reads it back, and the watching config sees one change per command', async () => {
    let r = await cli(['config', 'set', 'orders', 'limits', '{"maxItems":50,"maxWeightKg":20}'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\+ limits\.maxItems = 50\n\+ limits\.maxWeightKg = 20\nwrote 2 settings/);
    r = await cli(['config', 'set', 'orders', 'banner', 'Closed on Sunday'], { env });
    expect(r.code).toBe(0);
    await until(() => config.get('banner') === 'Closed on Sunday');
    expect(config.value).toEqual({ limits: { maxItems: 50, maxWeightKg: 20 }, banner: 'Closed on Sunday' });
    expect(versions).toEqual([2, 3]);

    r = await cli(['config', 'get', 'orders', 'limits.maxItems'], { env });
    expect([r.code, JSON.parse(r.stdout)]).toEqual([0, 50]);
    r = await cli(['config', 'get', 'orders', 'nothing.here'], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stderr).toMatch(/NOT_FOUND/);
  });

  it('--dry-run and a failing --schema write nothing; a bad path is INVALID_ARGUMENT', async () => {
    const before = await cli(['config', 'get', 'orders', '--json'], { env });
    let r = await cli(['config', 'set', 'orders', 'limits.maxItems', '60', '--dry-run'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/~ limits\.maxItems = 60\nwould write 1 setting/);
    r = await cli(['config', 'set', 'orders', 'limits.maxItems', '500', '--schema', schema], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stderr).toMatch(/\/limits\/maxItems: must be at most 100; nothing was written/);
    r = await cli(['config', 'set', 'orders', 'limits..maxItems', '5'], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stderr).toMatch(/INVALID_ARGUMENT/);
    expect((await cli(['config', 'get', 'orders', '--json'], { env })).stdout).toBe(before.stdout);
  });

  it('apply sets the file as one change; --prune makes the scope exactly the file; unset removes a subtree', async () => {
    const file = files.write('orders.yaml', 'limits:\n  maxItems: 70\nfeatures:\n  checkout: true\n');
    const seen = versions.length;
    let r = await cli(['config', 'apply', 'orders', '-f', file, '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      put: expect.arrayContaining([
        { path: 'limits.maxItems', value: 70 },
        { path: 'features.checkout', value: true },
      ]),
      deleted: [],
    });
    await until(() => config.get('features.checkout') === true);
    expect(versions.length).toBe(seen + 1);
    expect(config.get('banner')).toBe('Closed on Sunday');

    r = await cli(['config', 'apply', 'orders', '-f', file, '--prune'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/- banner\n- limits\.maxWeightKg/);
    await until(() => config.get('banner') === undefined);
    expect(config.value).toEqual({ limits: { maxItems: 70 }, features: { checkout: true } });

    r = await cli(['config', 'unset', 'orders', 'features'], { env });
    expect(r.code).toBe(0);
    await until(() => config.get('features') === undefined);

    const bad = files.write('bad.yaml', 'limits: [unclosed\n');
    r = await cli(['config', 'apply', 'orders', '-f', bad], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stderr).toMatch(
      /bad\.yaml does not parse \(.*at line 2, column 1\); nothing was written \[INVALID_ARGUMENT\]/,
    );
  });

  it('watch prints the value, then each change as a JSON line', async () => {
    const run = startCli(['config', 'watch', 'orders', 'limits.maxItems', '--count', '1'], { env });
    await run.stdout.waitFor(/\{"value":70,"synced":true\}\n/);
    expect((await cli(['config', 'set', 'orders', 'limits.maxItems', '80'], { env })).code).toBe(0);
    expect(await run.done).toBe(0);
    expect(
      run.stdout.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { value: 70, synced: true },
      { value: 80, synced: true },
    ]);
  });
});

import { createInfrastructure, parseSwitchyardConfig, resolveServiceOptions, SWITCHYARD_ENV } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';

const noDirs = { isDirectory: () => false, cwd: '/srv/app' };
const handler = () => ({});

function optionOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe('INVALID_OPTIONS');
    return (err as { details?: { option?: string } }).details?.option;
  }
  throw new Error('expected INVALID_OPTIONS');
}

describe('parseSwitchyardConfig', () => {
  it('is embedded with defaults when nothing is configured', () => {
    const c = parseSwitchyardConfig({}, {}, noDirs);
    expect(c).toEqual({
      mode: 'embedded',
      etcdEndpoints: [],
      amqpUrl: undefined,
      namespace: 'switchyard',
      schemas: { kind: 'none' },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads servers, a comma-separated etcd list and the namespace from the environment', () => {
    const c = parseSwitchyardConfig(
      {
        SWITCHYARD_ETCD: ' http://10.0.0.5:2379 , 10.0.0.6:2379,',
        SWITCHYARD_AMQP: 'amqp://u:p@rabbit:5672',
        SWITCHYARD_NAMESPACE: 'shop-prod',
      },
      {},
      noDirs,
    );
    expect(c.mode).toBe('servers');
    expect(c.etcdEndpoints).toEqual(['http://10.0.0.5:2379', 'http://10.0.0.6:2379']);
    expect(c.amqpUrl).toBe('amqp://u:p@rabbit:5672');
    expect(c.namespace).toBe('shop-prod');
    // No ./schemas directory: with servers, schemas come from etcd.
    expect(c.schemas).toEqual({ kind: 'etcd' });
  });

  it('treats empty variables as unset', () => {
    expect(parseSwitchyardConfig({ SWITCHYARD_ETCD: '', SWITCHYARD_AMQP: '  ' }, {}, noDirs).mode).toBe('embedded');
  });

  it('lets options given in code override the environment', () => {
    const c = parseSwitchyardConfig(
      { SWITCHYARD_NAMESPACE: 'from-env', SWITCHYARD_ETCD: 'http://a:1', SWITCHYARD_AMQP: 'amqp://b' },
      { namespace: 'from-code', etcdEndpoints: ['http://c:2379'] },
      noDirs,
    );
    expect(c.namespace).toBe('from-code');
    expect(c.etcdEndpoints).toEqual(['http://c:2379']);
  });

  it('defaults the schema directory to ./schemas when it exists, and resolves a given one against cwd', () => {
    const dirs = new Set(['/srv/app/schemas', '/srv/app/contracts']);
    const isDirectory = (p: string) => dirs.has(p);
    expect(parseSwitchyardConfig({}, {}, { cwd: '/srv/app', isDirectory }).schemas).toEqual({
      kind: 'directory',
      dir: '/srv/app/schemas',
    });
    expect(
      parseSwitchyardConfig({ SWITCHYARD_SCHEMAS: 'contracts' }, {}, { cwd: '/srv/app', isDirectory }).schemas,
    ).toEqual({
      kind: 'directory',
      dir: '/srv/app/contracts',
    });
    expect(parseSwitchyardConfig({ SWITCHYARD_SCHEMAS: 'none' }, {}, { cwd: '/srv/app', isDirectory }).schemas).toEqual(
      {
        kind: 'none',
      },
    );
  });

  it('names the variable that is wrong', () => {
    expect(optionOf(() => parseSwitchyardConfig({ SWITCHYARD_ETCD: 'http://a:1' }, {}, noDirs))).toBe(
      SWITCHYARD_ENV.amqp,
    );
    expect(optionOf(() => parseSwitchyardConfig({ SWITCHYARD_AMQP: 'amqp://x' }, {}, noDirs))).toBe(
      SWITCHYARD_ENV.etcd,
    );
    expect(
      optionOf(() => parseSwitchyardConfig({ SWITCHYARD_ETCD: 'not a url', SWITCHYARD_AMQP: 'amqp://x' }, {}, noDirs)),
    ).toBe(SWITCHYARD_ENV.etcd);
    expect(
      optionOf(() => parseSwitchyardConfig({ SWITCHYARD_ETCD: 'http://a:1', SWITCHYARD_AMQP: 'http://x' }, {}, noDirs)),
    ).toBe(SWITCHYARD_ENV.amqp);
    expect(optionOf(() => parseSwitchyardConfig({ SWITCHYARD_NAMESPACE: 'a/b' }, {}, noDirs))).toBe(
      SWITCHYARD_ENV.namespace,
    );
    expect(optionOf(() => parseSwitchyardConfig({ SWITCHYARD_SCHEMAS: 'missing-dir' }, {}, noDirs))).toBe(
      SWITCHYARD_ENV.schemas,
    );
    expect(optionOf(() => parseSwitchyardConfig({ SWITCHYARD_SCHEMAS: 'etcd' }, {}, noDirs))).toBe(
      SWITCHYARD_ENV.schemas,
    );
    expect(optionOf(() => parseSwitchyardConfig({}, { amqpUrl: 'amqp://x' }, noDirs))).toBe(SWITCHYARD_ENV.etcd);
  });
});

describe('resolveServiceOptions', () => {
  it('fills in documented defaults and freezes the result', () => {
    const o = resolveServiceOptions({ name: 'orders', version: '1.0.0', methods: { get: { handler } } });
    expect(o.methods[0]).toMatchObject({ name: 'get', idempotent: false, maxConcurrent: 100, maxQueued: 0 });
    expect(o.calls).toEqual({
      timeoutMs: 10_000,
      retry: { attempts: 3, initialDelayMs: 50, maxDelayMs: 1000 },
      circuitBreaker: { failureRatio: 0.5, window: 20, minimumCalls: 10, halfOpenAfterMs: 5000 },
      validateReplies: false,
    });
    expect(o.prefetch).toBe(100);
    expect(o.shutdownTimeoutMs).toBe(30_000);
    expect(o.handleSignals).toBe(false);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('defaults a subscription group to the service name and accepts bare handlers', () => {
    const o = resolveServiceOptions({ name: 'mailer', version: '1', subscriptions: { 'orders.*': () => {} } });
    expect(o.subscriptions[0]).toMatchObject({ topic: 'orders.*', group: 'mailer' });
  });

  it('turns retries off with retry: false (one attempt)', () => {
    expect(resolveServiceOptions({ name: 'a', version: '1', calls: { retry: false } }).calls.retry.attempts).toBe(1);
  });

  it('checks replies on the caller side only when calls.validateReplies is true', () => {
    expect(
      resolveServiceOptions({ name: 'a', version: '1', calls: { validateReplies: true } }).calls.validateReplies,
    ).toBe(true);
  });

  it.each([
    [{ name: 'bad/name', version: '1' }, 'name'],
    [{ name: 'a' }, 'version'],
    [{ name: 'a', version: '1', methods: { 'get.x': { handler } } }, 'methods.get.x'],
    [{ name: 'a', version: '1', methods: { get: {} } }, 'methods.get.handler'],
    [{ name: 'a', version: '1', methods: { get: { handler, maxConcurrent: 0 } } }, 'methods.get.maxConcurrent'],
    [{ name: 'a', version: '1', methods: { get: { handler, idempotnt: true } } }, 'methods.get.idempotnt'],
    [{ name: 'a', version: '1', methods: { get: { handler, rateLimit: {} } } }, 'methods.get.rateLimit.points'],
    [{ name: 'a', version: '1', calls: { timeoutMs: -1 } }, 'calls.timeoutMs'],
    [{ name: 'a', version: '1', calls: { retry: { attempts: 0 } } }, 'calls.retry.attempts'],
    [{ name: 'a', version: '1', calls: { retry: { initialDelayMs: 500, maxDelayMs: 100 } } }, 'calls.retry.maxDelayMs'],
    [{ name: 'a', version: '1', calls: { circuitBreaker: { failureRatio: 2 } } }, 'calls.circuitBreaker.failureRatio'],
    [{ name: 'a', version: '1', calls: { validateReplies: 'yes' } }, 'calls.validateReplies'],
    [{ name: 'a', version: '1', subscriptions: { 'a..b': handler } }, 'subscriptions.a..b'],
    [{ name: 'a', version: '1', emits: { 'orders.created': 42 } }, 'emits.orders.created'],
    [{ name: 'a', version: '1', prefetch: 70_000 }, 'prefetch'],
    [{ name: 'a', version: '1', logger: console }, 'logger'],
    [{ name: 'a', version: '1', metadata: { zone: 1 } }, 'metadata.zone'],
    [{ name: 'a', version: '1', timeout: 5 }, 'timeout'],
    [
      {
        name: 'a',
        version: '1',
        handleSignals: true,
        infra: { transport: { call() {} }, registry: { register() {} } },
      },
      'handleSignals',
    ],
  ])('rejects %j naming %s', (options, option) => {
    expect(optionOf(() => resolveServiceOptions(options as never))).toBe(option);
  });
});

describe('createInfrastructure', () => {
  it('rejects unknown options and half-configured servers before connecting to anything', async () => {
    await expect(createInfrastructure({ env: {}, nope: 1 } as never)).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      details: { option: 'nope' },
    });
    await expect(createInfrastructure({ env: { SWITCHYARD_ETCD: 'http://127.0.0.1:1' } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      details: { option: 'SWITCHYARD_AMQP' },
    });
  });
});

/**
 * Dynamic config without servers: the layer order, the schema check at start and on every
 * change (a refused change keeps the last good config), watchers with old and new values,
 * the environment and secret files read as the schema says, files watched, secrets kept
 * out of logs, and bad input refused with stable codes. The etcd layer is tested on a real
 * etcd in tests/integration/config-etcd.test.ts.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  type ConfigDocument,
  createInfrastructure,
  createService,
  DynamicConfig,
  EnvConfigSource,
  MemoryConfigSource,
  parsePath,
  REDACTED,
  SecretFilesSource,
} from '@switchyard/sdk';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runConfigSourceContract } from '../contract/config-source.contract.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A pino logger whose lines are kept, to check what was (and was not) logged. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

/** Resolves with the next (next, prev) the watcher at `path` sees. */
function nextChange<V>(config: DynamicConfig, path: string): Promise<[V | undefined, V | undefined]> {
  return new Promise((resolve) => {
    const off = config.watch<V>(path, (next, prev) => {
      off();
      resolve([next, prev]);
    });
  });
}

const SCHEMA = {
  type: 'object',
  properties: {
    level: { type: 'string' },
    features: { type: 'object', properties: { checkout: { type: 'boolean' } } },
    limits: {
      type: 'object',
      properties: { maxItems: { type: 'integer', minimum: 1, maximum: 100 }, label: { type: 'string' } },
    },
    database: { type: 'object', properties: { password: { type: 'string' } } },
  },
};

runConfigSourceContract('memory', async () => {
  const source = new MemoryConfigSource();
  return {
    source,
    async write(entries) {
      const doc = structuredClone(source.current()) as ConfigDocument;
      const scratch = new MemoryConfigSource();
      scratch.replace(doc);
      for (const [path, value] of Object.entries(entries)) {
        if (value === undefined) scratch.delete(path);
        else scratch.set(path, value);
      }
      source.replace(scratch.current());
    },
    cleanup: async () => {},
  };
});

describe('DynamicConfig layers', () => {
  const open: DynamicConfig[] = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });

  it('merges defaults < file < remote < secrets < env < overrides, objects key by key', async () => {
    const dir = tempDir();
    const file = join(dir, 'service.yaml');
    writeFileSync(file, 'layer: file\nfromFile: 1\nnested:\n  a: file\n  b: file\n');
    const secrets = tempDir();
    writeFileSync(join(secrets, 'layer'), 'secrets\n');
    writeFileSync(join(secrets, 'fromSecrets'), 'yes');
    const remote = new MemoryConfigSource();
    remote.replace({ layer: 'remote', fromRemote: true, nested: { b: 'remote', c: 'remote' } });
    const overridden = new DynamicConfig({
      defaults: { layer: 'defaults', fromDefaults: true, nested: { a: 'defaults', d: 'defaults' }, list: [1, 2, 3] },
      file,
      remote,
      secrets: { dir: secrets },
      env: { env: { SWITCHYARD_CONFIG_LAYER: 'env', SWITCHYARD_CONFIG_FROMENV: '1' } },
      overrides: { layer: 'overrides', list: [9] },
    });
    open.push(overridden);
    await overridden.start();
    expect(overridden.value).toEqual({
      layer: 'overrides',
      fromDefaults: true,
      fromFile: 1,
      fromRemote: true,
      fromsecrets: 'yes',
      fromenv: 1,
      nested: { a: 'file', b: 'remote', c: 'remote', d: 'defaults' },
      list: [9],
    });
    // Each layer wins over the ones below it: take the top away and the next one shows.
    const withoutOverrides = new DynamicConfig({
      defaults: { layer: 'defaults' },
      file,
      remote,
      secrets: { dir: secrets },
      env: { env: { SWITCHYARD_CONFIG_LAYER: 'env' } },
    });
    const withoutEnv = new DynamicConfig({ file, remote, secrets: { dir: secrets }, env: false });
    const withoutSecrets = new DynamicConfig({ file, remote, env: false });
    const withoutRemote = new DynamicConfig({ defaults: { layer: 'defaults' }, file, env: false });
    const onlyDefaults = new DynamicConfig({ defaults: { layer: 'defaults' }, env: false });
    open.push(withoutOverrides, withoutEnv, withoutSecrets, withoutRemote, onlyDefaults);
    for (const c of open) await c.start();
    expect(
      [withoutOverrides, withoutEnv, withoutSecrets, withoutRemote, onlyDefaults].map((c) => c.get('layer')),
    ).toEqual(['env', 'secrets', 'remote', 'file', 'defaults']);
  });

  it('get() takes dotted paths and a fallback; the values it hands out are frozen', async () => {
    const c = new DynamicConfig({ defaults: { a: { b: { c: 3 } } }, env: false });
    open.push(c);
    await c.start();
    expect(c.get('a.b.c')).toBe(3);
    expect(c.get('a.b')).toEqual({ c: 3 });
    expect(c.get('a.missing', 'fallback')).toBe('fallback');
    expect(c.get('')).toEqual({ a: { b: { c: 3 } } });
    expect(Object.isFrozen(c.get('a.b'))).toBe(true);
    expect(() => {
      (c.get('a.b') as { c: number }).c = 4;
    }).toThrow(TypeError);
    expect(c.version).toBe(1);
  });
});

describe('DynamicConfig schema checks', () => {
  it('start() fails with CONFIG_INVALID listing every violation', async () => {
    const remote = new MemoryConfigSource();
    remote.replace({ limits: { maxItems: 0 }, level: 7 });
    const c = new DynamicConfig({ schema: SCHEMA, remote, env: false });
    const err = await c.start().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', canonical: 'INVALID_ARGUMENT' });
    expect((err as { details: { violations: unknown[] } }).details.violations).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pointer: '/limits/maxItems' }),
        expect.objectContaining({ pointer: '/level' }),
      ]),
    );
    expect((err as Error).message).toMatch(/\/limits\/maxItems: .*\/level: |\/level: .*\/limits\/maxItems: /);
    await c.close();
  });

  it('a change that fails the schema is refused and logged without its value; the last good config keeps serving', async () => {
    const { logger, lines } = capturingLogger();
    const remote = new MemoryConfigSource();
    remote.replace({ limits: { maxItems: 5 } });
    const c = new DynamicConfig({ schema: SCHEMA, remote, env: false, logger });
    await c.start();
    let calls = 0;
    c.watch('limits.maxItems', () => calls++);

    remote.set('limits.maxItems', 424242);
    expect(c.get('limits.maxItems')).toBe(5);
    expect(calls).toBe(0);
    expect(c.version).toBe(1);
    const refusal = c.status().lastRefusal;
    expect(refusal).toMatchObject({
      source: 'memory',
      violations: [expect.objectContaining({ pointer: '/limits/maxItems' })],
    });
    const refusedLine = lines.find((l) => l.includes('config change refused'));
    expect(refusedLine).toBeDefined();
    expect(refusedLine).toContain('/limits/maxItems');
    expect(lines.join('')).not.toContain('424242');

    // The next good change is taken: the refusal did not wedge anything.
    const seen = nextChange<number>(c, 'limits.maxItems');
    remote.set('limits.maxItems', 7);
    expect(await seen).toEqual([7, 5]);
    expect(c.version).toBe(2);
    await c.close();
  });

  it('a schema that does not compile, an unknown option or a bad remote is INVALID_OPTIONS at construction', () => {
    expect(() => new DynamicConfig({ schema: { type: 'nonsense' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('schema') }),
    );
    expect(() => new DynamicConfig({ defualts: {} } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('defualts') }),
    );
    expect(() => new DynamicConfig({ remote: {} as never })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
    expect(() => new DynamicConfig({ file: 'settings.ini' })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('.yaml') }),
    );
  });
});

describe('DynamicConfig watchers', () => {
  it('see (next, prev) for their path only, deeply compared; unsubscribe stops them; one throwing does not stop the rest', async () => {
    const remote = new MemoryConfigSource();
    remote.replace({ a: { x: 1 }, b: 1 });
    const c = new DynamicConfig({ remote, env: false, logger: pino({ level: 'silent' }) });
    await c.start();
    const seen: Array<[string, unknown, unknown, number]> = [];
    c.watch('a', () => {
      throw new Error('watcher bug');
    });
    c.watch('a', (next, prev, change) => seen.push(['a', next, prev, change.version]));
    c.watch('a.x', (next, prev, change) => seen.push(['a.x', next, prev, change.version]));
    const offB = c.watch('b', (next, prev, change) => seen.push(['b', next, prev, change.version]));
    c.watch('', (next, prev) => seen.push(['', (next as ConfigDocument).b, (prev as ConfigDocument).b, 0]));

    remote.set('a.y', 2);
    remote.set('b', 1); // the same value: no change, no version
    offB();
    remote.set('b', 2);
    remote.delete('a');
    expect(seen).toEqual([
      ['a', { x: 1, y: 2 }, { x: 1 }, 2],
      ['', 1, 1, 0],
      ['', 2, 1, 0],
      ['a', undefined, { x: 1, y: 2 }, 4],
      ['a.x', undefined, 1, 4],
      ['', 2, 2, 0],
    ]);
    expect(c.version).toBe(4);
    await c.close();
  });

  it('a watched file: a rewrite is seen; a file that no longer parses is refused and the last good content stays', async () => {
    const { logger, lines } = capturingLogger();
    const dir = tempDir();
    const file = join(dir, 'app.yaml');
    writeFileSync(file, 'level: info\n');
    const c = new DynamicConfig({ schema: SCHEMA, file, env: false, logger });
    await c.start();
    let seen = nextChange<string>(c, 'level');
    // As editors save: a new file renamed over the old one.
    writeFileSync(join(dir, 'app.yaml.tmp'), 'level: debug\n');
    renameSync(join(dir, 'app.yaml.tmp'), file);
    expect(await seen).toEqual(['debug', 'info']);

    writeFileSync(file, 'level: [unclosed\n');
    await waitFor(() => lines.some((l) => l.includes('does not parse')));
    expect(c.get('level')).toBe('debug');

    seen = nextChange<string>(c, 'level');
    writeFileSync(file, 'level: warn\n');
    expect(await seen).toEqual(['warn', 'debug']);
    await c.close();
  });
});

describe('environment and secret files', () => {
  it('SWITCHYARD_CONFIG_* is spelled and typed as the schema says; `__` nests; a mapping names exact variables', () => {
    const source = new EnvConfigSource({
      schema: SCHEMA,
      env: {
        SWITCHYARD_CONFIG_LIMITS__MAXITEMS: '7',
        SWITCHYARD_CONFIG_LIMITS__LABEL: '5',
        SWITCHYARD_CONFIG_FEATURES__CHECKOUT: 'true',
        SWITCHYARD_CONFIG_UNKNOWN__THING: '{"a":1}',
        LOG_LEVEL: 'debug',
        UNRELATED: 'x',
      },
      mapping: { LOG_LEVEL: 'level' },
    });
    expect(source.current()).toEqual({
      limits: { maxItems: 7, label: '5' },
      features: { checkout: true },
      unknown: { thing: { a: 1 } },
      level: 'debug',
    });
    expect(() => new EnvConfigSource({ mapping: { X: 'bad path!' } })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('env.mapping.X') }),
    );
  });

  it('secret files: trailing newline trimmed, values redacted, a rotation seen and never logged', async () => {
    const { logger, lines } = capturingLogger();
    const dir = tempDir();
    writeFileSync(join(dir, 'db_password'), 's3cr3t-first\n');
    const c = new DynamicConfig({
      schema: SCHEMA,
      defaults: { level: 'info' },
      secrets: { dir, mapping: { db_password: 'database.password' } },
      env: false,
      logger,
    });
    await c.start();
    expect(c.get('database.password')).toBe('s3cr3t-first');
    expect(c.redacted()).toEqual({ level: 'info', database: { password: REDACTED } });
    const seen = nextChange<string>(c, 'database.password');
    writeFileSync(join(dir, 'db_password'), 's3cr3t-second\n');
    expect(await seen).toEqual(['s3cr3t-second', 's3cr3t-first']);
    const changed = lines.find((l) => l.includes('config changed'));
    expect(changed).toContain('database.password');
    expect(lines.join('')).not.toMatch(/s3cr3t/);
    await c.close();
  });

  it('a missing secrets directory fails start unless optional', async () => {
    const missing = join(tempDir(), 'nope');
    await expect(new SecretFilesSource({ dir: missing }).start()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    const optional = new SecretFilesSource({ dir: missing, optional: true });
    await optional.start();
    expect(optional.current()).toEqual({});
  });
});

describe('bad input', () => {
  it('a bad path is INVALID_ARGUMENT naming it', () => {
    for (const bad of ['a..b', 'a b', 'a/b', '.a', 'ü']) {
      expect(() => parsePath(bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(JSON.stringify(bad)) }),
      );
    }
    const c = new DynamicConfig({ env: false });
    expect(() => c.get('a..b')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => c.watch('a b', () => {})).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('a value that is not serialisable is refused and nothing is half-written', () => {
    const source = new MemoryConfigSource();
    source.set('a', 1);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const bad of [() => 1, 10n, undefined, cyclic]) {
      expect(() => source.set('a', bad)).toThrow(
        expect.objectContaining({ code: 'INVALID_ARGUMENT', details: { reason: 'not_serialisable' } }),
      );
    }
    expect(() => source.replace({ a: 2, b: 10n } as never)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(source.current()).toEqual({ a: 1 });
  });
});

describe('a service and its config', () => {
  it('ctx.config reads the shared layer (scope = service name) and sees a change at once; a bad config stops start', async () => {
    const infra = await createInfrastructure({ env: {}, logger: pino({ level: 'silent' }) });
    try {
      const service = createService({
        name: 'configured',
        version: '1.0.0',
        infra,
        config: { schema: SCHEMA, defaults: { limits: { maxItems: 3 } } },
        methods: { limit: (_p: unknown, ctx) => ctx.config.get('limits.maxItems') },
      });
      await service.start();
      expect(await service.call('configured.limit', {})).toBe(3);
      (infra.configSource('configured') as MemoryConfigSource).set('limits.maxItems', 9);
      expect(await service.call('configured.limit', {})).toBe(9);
      expect(service.config.status()).toMatchObject({ synced: true, version: 2 });
      await service.close();

      (infra.configSource('broken') as MemoryConfigSource).set('limits.maxItems', 'many');
      const broken = createService({ name: 'broken', version: '1.0.0', infra, config: { schema: SCHEMA } });
      await expect(broken.start()).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      expect(broken.state).toBe('closed');
      expect(() => createService({ name: 'typo', version: '1.0.0', infra, config: { defualts: {} } as never })).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('config.defualts') }),
      );
    } finally {
      await infra.close();
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

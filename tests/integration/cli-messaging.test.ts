/**
 * `switchyard call`, `publish`, `subscribe` and `services` against real RabbitMQ and etcd:
 * replies are printed, error replies exit 1 with their code on stderr, events published
 * by the CLI reach subscribers, a temporary subscription leaves no queue behind, and a
 * registered instance is listed.
 */
import { AmqpTransport, type IncomingEvent, InvalidArgumentError, NotFoundError } from '@switchyard/broker';
import { EXIT } from '@switchyard/cli';
import { EtcdRegistry } from '@switchyard/sdk';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queueExists } from '../fixtures/amqp-broker.js';
import { cli, startCli } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const amqpUrl = inject('amqpUrl');
const etcdEndpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-messaging');
const env = { SWITCHYARD_AMQP: amqpUrl, SWITCHYARD_ETCD: etcdEndpoint, SWITCHYARD_NAMESPACE: namespace };
let server: AmqpTransport;

beforeAll(async () => {
  server = new AmqpTransport({ url: amqpUrl, namespace });
  await server.start();
  await server.serve('cli-echo', {
    say: {
      handler: (req) => ({
        said: req.payload,
        caller: req.headers['x-caller'] ?? null,
        source: req.headers['x-source'],
      }),
    },
    missing: {
      handler: () => {
        throw new NotFoundError('no order o-9', { details: { orderId: 'o-9' } });
      },
    },
    slow: { handler: () => new Promise((resolve) => setTimeout(() => resolve({ late: true }), 1_500)) },
    count: {
      streaming: true,
      handler: async function* (req) {
        for (let i = 0; i < (req.payload as { n: number }).n; i++) yield { i };
      },
    },
    shout: {
      bidi: 'bidi',
      validateRequest: (item) => {
        if (typeof (item as { text?: unknown }).text !== 'string')
          throw new InvalidArgumentError('text must be a string');
      },
      handler: async function* (req) {
        let n = 0;
        for await (const item of req.input!) {
          n++;
          yield { loud: (item as { text: string }).text.toUpperCase() };
        }
        yield { lines: n };
      },
    },
    total: {
      bidi: 'client',
      handler: async (req) => {
        let sum = 0;
        for await (const x of req.input!) sum += x as number;
        return { sum };
      },
    },
  });
});

afterAll(() => server.close());

async function deleteQueues(names: string[]): Promise<void> {
  const conn = await amqplib.connect(amqpUrl);
  try {
    const ch = await conn.createChannel();
    for (const name of names) await ch.deleteQueue(name);
    await ch.close();
  } finally {
    await conn.close();
  }
}

describe('switchyard call', () => {
  it('prints the reply as JSON, with the caller identity and the CLI as source', async () => {
    const r = await cli(['call', 'cli-echo.say', '{"orderId":"o-1"}', '--caller', 'alice'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toEqual({ said: { orderId: 'o-1' }, caller: 'alice', source: 'switchyard-cli' });
    expect(r.stdout).toContain('\n  "said"'); // pretty-printed
  });

  it('reads the payload from a file (-d @file) and from stdin (-d -)', async () => {
    const stdin = await cli(['call', 'cli-echo.say', '-d', '-'], { env, stdin: '{"from":"stdin"}' });
    expect(JSON.parse(stdin.stdout).said).toEqual({ from: 'stdin' });
    const file = await cli(['call', 'cli-echo.say', '-d', '@tests/fixtures/cli-payload.json'], { env });
    expect(file.code).toBe(EXIT.OK);
    expect(JSON.parse(file.stdout).said).toEqual({ from: 'file', items: [1, 2] });
  });

  it('an error reply exits 1 and prints {code, message, details} on stderr', async () => {
    const r = await cli(['call', 'cli-echo.missing', '{}'], { env });
    expect(r.code).toBe(EXIT.FAILED);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toEqual({ code: 'NOT_FOUND', message: 'no order o-9', details: { orderId: 'o-9' } });
  });

  it('a deadline that passes exits 1 with DEADLINE_EXCEEDED; a service nobody serves with UNAVAILABLE', async () => {
    const slow = await cli(['call', 'cli-echo.slow', '{}', '--timeout', '300ms'], { env });
    expect(slow.code).toBe(EXIT.FAILED);
    expect(JSON.parse(slow.stderr).code).toBe('DEADLINE_EXCEEDED');
    const nobody = await cli(['call', 'cli-nobody.say', '{}'], { env });
    expect(nobody.code).toBe(EXIT.FAILED);
    expect(JSON.parse(nobody.stderr).code).toBe('UNAVAILABLE');
  });

  it('--stream prints one JSON line per item', async () => {
    const r = await cli(['call', 'cli-echo.count', '{"n":3}', '--stream'], { env });
    expect(r.code).toBe(EXIT.OK);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it('--bidi sends each stdin line as an item and prints each reply item; stdin EOF half-closes', async () => {
    const r = await cli(['call', 'cli-echo.shout', '--bidi'], {
      env,
      stdin: '{"text":"hi"}\n\n{"text":"there"}\n',
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.OK);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([{ loud: 'HI' }, { loud: 'THERE' }, { lines: 2 }]);
  });

  it('--bidi: an item the service refuses exits 1 with INVALID_ARGUMENT naming its seq; a line that is not JSON is a usage error', async () => {
    const bad = await cli(['call', 'cli-echo.shout', '--bidi'], { env, stdin: '{"text":"ok"}\n{"text":7}\n' });
    expect(bad.code).toBe(EXIT.FAILED);
    expect(JSON.parse(bad.stdout.trim())).toEqual({ loud: 'OK' });
    expect(JSON.parse(bad.stderr)).toMatchObject({
      code: 'INVALID_ARGUMENT',
      details: { seq: 1, direction: 'request' },
    });
    const junk = await cli(['call', 'cli-echo.shout', '--bidi'], { env, stdin: 'not json\n' });
    expect(junk.code).toBe(EXIT.USAGE);
    expect(junk.stderr).toContain('stdin line 1 is not JSON');
  });

  it('--client-stream prints the one reply', async () => {
    const r = await cli(['call', 'cli-echo.total', '--client-stream'], { env, stdin: '1\n2\n3\n' });
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toEqual({ sum: 6 });
  });

  it('shows progress on a terminal stderr for a call slower than a second, never on stdout', async () => {
    const r = await cli(['call', 'cli-echo.slow', '{}', '--json'], { env, stderrIsTTY: true });
    expect(r.code).toBe(EXIT.OK);
    expect(JSON.parse(r.stdout)).toEqual({ late: true });
    expect(r.stderr).toContain('calling cli-echo.slow');
    // The spinner line is erased at the end.
    expect(r.stderr.endsWith('\r\x1b[2K')).toBe(true);
    const quiet = await cli(['call', 'cli-echo.slow', '{}'], { env, stderrIsTTY: false });
    expect(quiet.stderr).toBe('');
  });

  it('cancelled by the user (SIGINT) exits 130', async () => {
    const run = startCli(['call', 'cli-echo.slow', '{}'], { env });
    setTimeout(run.stop, 300);
    expect(await run.done).toBe(EXIT.INTERRUPTED);
  });

  it('an unreachable RabbitMQ exits 3', async () => {
    const r = await cli(['call', 'cli-echo.say', '{}'], {
      env: { ...env, SWITCHYARD_AMQP: 'amqp://guest:guest@127.0.0.1:1' },
    });
    expect(r.code).toBe(EXIT.UNREACHABLE);
    expect(r.stderr).toMatch(/RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1 is unreachable/);
  });
});

describe('switchyard publish and subscribe', () => {
  it('publish reaches a subscriber, with the CLI as source; UNROUTABLE exits 1', async () => {
    const seen: IncomingEvent[] = [];
    const sub = await server.subscribe('cli.orders.*', (e) => void seen.push(e), {
      group: 'cli-test',
      queueType: 'classic',
      retry: { attempts: 1 }, // no retry delay queues to clean up
    });
    try {
      const r = await cli(['publish', 'cli.orders.created', '{"orderId":"o-1"}', '--json'], { env });
      expect(r.code).toBe(EXIT.OK);
      const { messageId } = JSON.parse(r.stdout);
      await expect.poll(() => seen.length).toBe(1);
      expect(seen[0]).toMatchObject({ id: messageId, topic: 'cli.orders.created', payload: { orderId: 'o-1' } });
      expect(seen[0]!.headers['x-source']).toBe('switchyard-cli');
    } finally {
      await sub.close();
      await deleteQueues([sub.deadLetterQueue.replace(/\.dlq$/, ''), sub.deadLetterQueue]);
    }
    const lost = await cli(['publish', 'cli.nobody.listens', '{}'], { env });
    expect(lost.code).toBe(EXIT.FAILED);
    expect(lost.stderr).toMatch(/\[UNROUTABLE\]/);
  });

  it('subscribe prints the events published, then removes its temporary queues on stop', async () => {
    const run = startCli(['subscribe', 'cli.tail.#', '--json'], { env });
    const [, group] = await run.stderr.waitFor(/as temporary group (cli-[0-9a-f]+)/);
    const queue = `${namespace}.events.${group}.cli.tail.#`;
    expect(await queueExists(amqpUrl, queue)).toBe(true);
    await cli(['publish', 'cli.tail.one', '{"n":1}'], { env });
    await server.publish('cli.tail.two.deep', { n: 2 }, { source: 'test' });
    await run.stdout.waitFor(/cli\.tail\.two\.deep.*\n/);
    run.stop();
    expect(await run.done).toBe(EXIT.OK);
    const lines = run.stdout.text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.topic, l.payload])).toEqual([
      ['cli.tail.one', { n: 1 }],
      ['cli.tail.two.deep', { n: 2 }],
    ]);
    expect(lines[1].headers['x-source']).toBe('test');
    expect(await queueExists(amqpUrl, queue)).toBe(false);
    expect(await queueExists(amqpUrl, `${queue}.dlq`)).toBe(false);
  });

  it('--count exits after that many events, in the human format', async () => {
    const run = startCli(['subscribe', 'cli.count.*', '--count', '1'], { env });
    await run.stderr.waitFor(/listening for cli\.count\.\* as temporary group/);
    await server.publish('cli.count.a', { a: 1 });
    expect(await run.done).toBe(EXIT.OK);
    expect(run.stdout.text).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z {2}cli\.count\.a {2}\{"a":1\}\n$/);
  });

  it('--group joins a durable group, which outlives the command', async () => {
    const group = `cli-durable-${Date.now().toString(36)}`;
    const run = startCli(['subscribe', 'cli.kept.*', '--group', group, '--queue-type', 'classic', '--count', '1'], {
      env,
    });
    await run.stderr.waitFor(/as group /);
    await server.publish('cli.kept.x', {});
    expect(await run.done).toBe(EXIT.OK);
    const queue = `${namespace}.events.${group}.cli.kept.*`;
    expect(await queueExists(amqpUrl, queue)).toBe(true);
    await deleteQueues([queue, `${queue}.dlq`]);
  });
});

describe('switchyard services', () => {
  it('lists a registered instance with its version, address and methods', async () => {
    const registry = new EtcdRegistry({ endpoints: etcdEndpoint, namespace });
    await registry.start();
    try {
      await registry.register({
        service: 'cli-orders',
        version: '1.4.2',
        id: 'orders-1',
        address: { http: 'http://10.0.0.7:8080' },
        methods: { get: { idempotent: true }, track: { streaming: true } },
        metadata: { lang: 'go' },
      });
      const r = await cli(['services'], { env });
      expect(r.code).toBe(EXIT.OK);
      expect(r.stdout).toMatch(/^SERVICE\s+VERSION\s+INSTANCE\s+ADDRESS\s+LANG\s+UP\s+METHODS$/m);
      expect(r.stdout).toMatch(
        /^cli-orders\s+1\.4\.2\s+orders-1\s+http:\/\/10\.0\.0\.7:8080\s+go\s+\d+s\s+get, track\(stream\)$/m,
      );
      expect(r.stderr).toBe('1 service, 1 instance\n');
      const json = JSON.parse((await cli(['services', '--json'], { env })).stdout);
      expect(json.services).toEqual([
        expect.objectContaining({
          name: 'cli-orders',
          versions: ['1.4.2'],
          instances: [expect.objectContaining({ id: 'orders-1' })],
        }),
      ]);
      const none = await cli(['services', 'cli-nothing'], { env });
      expect(none.code).toBe(EXIT.OK);
      expect(none.stderr).toContain(`no live instance of cli-nothing in namespace ${namespace}`);
    } finally {
      await registry.close();
    }
  });
});

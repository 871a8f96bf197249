/**
 * A subscriber killed in the middle of its handler never acked the event, so RabbitMQ
 * hands it to the next subscriber of the group, marked redelivered.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AmqpTransport, type IncomingEvent, type QueueType } from '@switchyard/broker';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('amqp-crash');
const transports: AmqpTransport[] = [];
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await Promise.all(transports.map((t) => t.close()));
  await deleteNamespaces(url, [namespace]);
});

async function transport(): Promise<AmqpTransport> {
  const t = new AmqpTransport({ url, namespace });
  transports.push(t);
  await t.start();
  return t;
}

/** Start the fixture and resolve with a reader of its stdout lines once it says ready. */
async function startConsumer(topic: string, group: string, queueType: QueueType) {
  const child = spawn(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', 'tests/fixtures/amqp-blocking-consumer.ts'],
    {
      env: {
        ...process.env,
        SY_AMQP: url,
        SY_NAMESPACE: namespace,
        SY_TOPIC: topic,
        SY_GROUP: group,
        SY_QUEUE_TYPE: queueType,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const lines: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters.splice(0)) w();
  });
  const nextLine = async (prefix: string, timeoutMs = 20_000): Promise<string> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((l) => l.startsWith(prefix));
      if (found) return found;
      if (Date.now() > until) throw new Error(`fixture did not print "${prefix}" (got ${JSON.stringify(lines)})`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };
  await nextLine('ready');
  return { child, nextLine };
}

describe.each(['quorum', 'classic'] as const)('a %s group queue', (queueType) => {
  it('redelivers the event of a consumer killed mid-handler to the next subscriber', async () => {
    const topic = `crash.${queueType}`;
    const group = `workers-${queueType}`;
    const consumer = await startConsumer(topic, group, queueType);
    const publisher = await transport();
    await publisher.publish(topic, { order: 7 }, { messageId: `crash-${queueType}` });

    const handling = JSON.parse((await consumer.nextLine('handling ')).slice('handling '.length));
    expect(handling).toEqual({ id: `crash-${queueType}`, redelivered: false, attempt: 1 });
    const exited = new Promise((r) => consumer.child.once('exit', r));
    consumer.child.kill('SIGKILL');
    await exited;

    const survivor = await transport();
    let deliver!: (e: IncomingEvent) => void;
    const got = new Promise<IncomingEvent>((resolve) => {
      deliver = resolve;
    });
    await survivor.subscribe(topic, (e) => deliver(e), { group, queueType });
    const event = await got;
    expect(event.id).toBe(`crash-${queueType}`);
    expect(event.payload).toEqual({ order: 7 });
    expect(event.redelivered).toBe(true);
    expect(event.attempt).toBe(1);
  });
});

/**
 * The private RabbitMQ node harness itself, for the chaos tests that will use it: it
 * starts beside the machine's node, kill() is a crash of its own beam.smp only (the main
 * node keeps answering), resume() brings it back on the same port, close() removes it.
 */
import { existsSync } from 'node:fs';
import amqplib from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PrivateRabbit } from '../harness/private-rabbit.js';

let rabbit: PrivateRabbit | undefined;

beforeAll(async () => {
  rabbit = await PrivateRabbit.start();
}, 90_000);

afterAll(async () => {
  await rabbit?.close();
}, 60_000);

async function answers(url: string): Promise<boolean> {
  try {
    const conn = await amqplib.connect(url, { timeout: 2000 });
    await conn.close();
    return true;
  } catch {
    return false;
  }
}

describe('PrivateRabbit', () => {
  it('kill() crashes only its own node; resume() brings it back on the same port', async () => {
    const url = rabbit!.amqpUrl;
    expect(await answers(url)).toBe(true);
    await rabbit!.kill();
    expect(rabbit!.running).toBe(false);
    expect(await answers(url)).toBe(false);
    expect(await answers(inject('amqpUrl'))).toBe(true);
    await rabbit!.resume();
    expect(await answers(url)).toBe(true);
  }, 90_000);

  it('close() stops the node and removes its files', async () => {
    const node = rabbit!;
    rabbit = undefined;
    expect(existsSync(node.dir)).toBe(true);
    await node.close();
    expect(existsSync(node.dir)).toBe(false);
    expect(await answers(node.amqpUrl)).toBe(false);
  }, 60_000);
});

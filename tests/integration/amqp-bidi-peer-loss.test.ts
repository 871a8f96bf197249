/**
 * A bidi peer SIGKILLed mid-stream (docs/protocol.md §9, "Lost peers"): its process
 * vanishes without a cancel, so only the heartbeat can tell. The side left behind must
 * give up within about one heartbeat — not wait out the deadline (there is none here) —
 * with UNAVAILABLE. Each peer is a child process on the shared RabbitMQ; only the child
 * is killed, never the broker.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AmqpTransport } from '@switchyard/broker';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { deleteNamespaces } from '../fixtures/amqp-broker.js';
import { rejection } from '../harness/rejection.js';
import { uniqueNamespace } from '../harness/servers.js';

const url = inject('amqpUrl');
const namespace = uniqueNamespace('bidi-loss');
const HEARTBEAT_MS = 1_000;
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

/** Start the fixture in `role` and resolve once it printed `line`. */
async function startPeer(role: 'server' | 'caller', service: string, line: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'tests/fixtures/bidi-peer.ts'], {
    env: {
      ...process.env,
      SY_AMQP: url,
      SY_NAMESPACE: namespace,
      SY_SERVICE: service,
      SY_ROLE: role,
      SY_HEARTBEAT_MS: String(HEARTBEAT_MS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ${role} fixture did not print "${line}"`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (l) => {
      if (l === line) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the ${role} fixture exited with ${code}`)));
  });
  return child;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

describe('a bidi peer killed mid-stream', () => {
  it('the caller fails UNAVAILABLE within the heartbeat when its server is SIGKILLed', async () => {
    const service = 'loss-server';
    const server = await startPeer('server', service, 'ready');
    const caller = await transport();
    const call = caller.bidi(service, 'chat', { heartbeatMs: HEARTBEAT_MS });
    await call.send('one');
    expect((await call.next()).value).toBe('one');
    const waiting = rejection(call.next());
    await kill(server);
    const killedAt = Date.now();
    const err = await waiting;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toContain('nothing heard from the server');
    // Found by the heartbeat (a whole interval of silence plus one tick of a third of it), not by
    // a deadline (there is none): the bound leaves room for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(HEARTBEAT_MS * 4);
    expect(await rejection(call.send('two'))).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it("the server's handler is aborted with UNAVAILABLE within the heartbeat when its caller is SIGKILLed", async () => {
    const service = 'loss-caller';
    const server = await transport();
    let abortedAt = 0;
    let reason: unknown;
    const aborted = new Promise<void>((resolve) => {
      void server.serve(service, {
        chat: {
          bidi: 'bidi',
          async *handler(req) {
            req.signal.addEventListener('abort', () => {
              abortedAt = Date.now();
              reason = req.signal.reason;
              resolve();
            });
            for await (const item of req.input!) yield item;
          },
        },
      });
    });
    await new Promise((r) => setTimeout(r, 200)); // the queue is declared
    const caller = await startPeer('caller', service, 'streaming');
    await kill(caller);
    const killedAt = Date.now();
    await aborted;
    expect(reason).toMatchObject({ code: 'UNAVAILABLE' });
    expect(abortedAt - killedAt).toBeLessThan(HEARTBEAT_MS * 4);
  });

  it('a server that closes gives its open streams the drain timeout, then ends them UNAVAILABLE (retryable)', async () => {
    const service = 'loss-close';
    const server = new AmqpTransport({ url, namespace, drainTimeoutMs: 300 });
    transports.push(server);
    await server.start();
    let reason: unknown;
    await server.serve(service, {
      chat: {
        bidi: 'bidi',
        async *handler(req) {
          req.signal.addEventListener('abort', () => {
            reason = req.signal.reason;
          });
          for await (const item of req.input!) yield item;
        },
      },
    });
    const caller = await transport();
    const call = caller.bidi(service, 'chat', { heartbeatMs: 30_000 });
    await call.send('one');
    expect((await call.next()).value).toBe('one');
    const waiting = rejection(call.next());
    await server.close();
    const err = await waiting;
    expect(err).toMatchObject({ code: 'UNAVAILABLE', retryable: true });
    expect(err.message).toContain('server closed');
    expect(reason).toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('a stream whose request RabbitMQ hands to another instance after a SIGKILL fails UNAVAILABLE there and is cancelled, not resumed', async () => {
    const service = 'loss-handover';
    const first = await startPeer('server', service, 'ready');
    const caller = await transport();
    const call = caller.bidi(service, 'chat', { heartbeatMs: 30_000 });
    await call.send('one');
    expect((await call.next()).value).toBe('one');
    // A second instance, up only now, so the stream surely runs on the first one.
    const survivor = await transport();
    let handedOver: unknown;
    const cancelled = new Promise<void>((resolve) => {
      void survivor.serve(service, {
        chat: {
          bidi: 'bidi',
          async *handler(req) {
            handedOver = req.redelivered;
            req.signal.addEventListener('abort', () => resolve());
            for await (const item of req.input!) yield item;
          },
        },
      });
    });
    const waiting = rejection(call.next());
    await kill(first);
    // The heartbeat is 30 s: what ends the stream this early is the second open.
    const err = await waiting;
    expect(err.code).toBe('UNAVAILABLE');
    expect(err.message).toContain('interrupted');
    await cancelled;
    expect(handedOver).toBe(true);
  });
});

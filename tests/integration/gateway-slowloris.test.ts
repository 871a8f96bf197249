/**
 * A slowloris client: it sends a request head one header line every 5 s and never ends
 * it. With the default options the gateway answers 408 and closes the connection once
 * the head has taken 15 s (checked every second), instead of the minute-plus it used to hold
 * it; a client that finishes its head in time is served.
 */
import { connect } from 'node:net';
import { MemoryRouteSource } from '@switchyard/gateway';
import { createInfrastructure, type Infrastructure } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  quietLogger,
  type RunningGateway,
  startGateway,
  startUpstream,
  type TestUpstream,
} from '../fixtures/gateway-harness.js';

let infra: Infrastructure;
let upstream: TestUpstream;
let gw: RunningGateway;

beforeAll(async () => {
  infra = await createInfrastructure({ env: { SWITCHYARD_SCHEMAS: 'none' }, logger: quietLogger });
  upstream = await startUpstream('slow');
  await upstream.register(infra.registry, 'slow');
  const routes = new MemoryRouteSource([
    { id: 'slow', match: { path: '/slow/*' }, target: { type: 'http', service: 'slow' }, auth: { mode: 'off' } },
  ]);
  // Default timeouts: only the wiring of the test gateway is given.
  gw = await startGateway({ infra, routes });
});

afterAll(async () => {
  await gw?.gateway.close();
  await upstream?.close();
  await infra?.close();
});

/** Trickle a head, one line every `everyMs`; resolve with what came back and how long the socket lived. */
function trickle(port: number, everyMs: number, lines: number): Promise<{ answer: string; heldMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < lines) socket.write(`X-Slow-${sent++}: ${'a'.repeat(10)}\r\n`);
    }, everyMs);
    socket.on('connect', () => socket.write('GET /slow/x HTTP/1.1\r\nHost: gw.test\r\n'));
    socket.on('data', (d) => {
      answer += d.toString('latin1');
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, heldMs: Date.now() - started });
    });
    socket.on('error', () => {});
  });
}

describe('a request head trickled line by line', () => {
  it('is answered 408 and closed by the 15 s default (well before 20 s), and never reaches the upstream', async () => {
    const { answer, heldMs } = await trickle(gw.port, 5_000, 100);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // A deadline, not a timing measurement: the old default held such a client 63 s.
    expect(heldMs).toBeLessThan(20_000);
    expect(heldMs).toBeGreaterThanOrEqual(14_000);
    expect(upstream.seen).toEqual([]);
  }, 30_000);

  it('the control: a head sent slowly but within the limit is served', async () => {
    const { answer } = await new Promise<{ answer: string }>((resolve) => {
      const socket = connect(gw.port, '127.0.0.1');
      let answer = '';
      socket.on('connect', () => {
        socket.write('GET /slow/y HTTP/1.1\r\nHost: gw.test\r\n');
        setTimeout(() => socket.write('Connection: close\r\n\r\n'), 1_000);
      });
      socket.on('data', (d) => {
        answer += d.toString('latin1');
      });
      socket.on('close', () => resolve({ answer }));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
  });
});

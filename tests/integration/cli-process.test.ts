/**
 * The real binary (cli/bin/switchyard.js running the sources) as a child process: exit
 * codes reach the shell, output goes to the right stream, and SIGINT/SIGTERM stop the
 * long-running commands gracefully (temporary queues removed, the gateway drained).
 */
import { AmqpTransport, FailedPreconditionError } from '@switchyard/broker';
import { EXIT } from '@switchyard/cli';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { queueExists } from '../fixtures/amqp-broker.js';
import { spawnCli } from '../fixtures/cli-run.js';
import { uniqueNamespace } from '../harness/servers.js';

const amqpUrl = inject('amqpUrl');
const namespace = uniqueNamespace('cli-process');
const env = { SWITCHYARD_ETCD: inject('etcdEndpoint'), SWITCHYARD_AMQP: amqpUrl, SWITCHYARD_NAMESPACE: namespace };
let server: AmqpTransport;

beforeAll(async () => {
  server = new AmqpTransport({ url: amqpUrl, namespace });
  await server.start();
});
afterAll(() => server.close());

describe('the switchyard binary', () => {
  it('--version and --help exit 0 on stdout; a usage error exits 2 on stderr', async () => {
    const t0 = performance.now();
    const version = await spawnCli(['--version']).exited;
    console.log(
      `switchyard --version as a process, from the TypeScript sources: ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n', stderr: '' });
    const help = await spawnCli(['call', '--help']).exited;
    expect(help.code).toBe(0);
    expect(help.stdout).toContain(`switchyard call orders.get '{"orderId":"o-1"}'`);
    const usage = await spawnCli(['routes', 'list']).exited;
    expect(usage.code).toBe(EXIT.USAGE);
    expect(usage.stdout).toBe('');
    expect(usage.stderr).toMatch(/no etcd configured/);
  });

  it('an error reply exits 1 with the code printed; --json output is only JSON', async () => {
    await server.serve('cli-proc', {
      fail: {
        handler: () => {
          throw new FailedPreconditionError('the shop is closed', { details: { opensAt: '09:00' } });
        },
      },
    });
    const failed = await spawnCli(['call', 'cli-proc.fail', '{}'], { env }).exited;
    expect(failed.code).toBe(EXIT.FAILED);
    expect(JSON.parse(failed.stderr)).toEqual({
      code: 'FAILED_PRECONDITION',
      message: 'the shop is closed',
      details: { opensAt: '09:00' },
    });
    expect(failed.stdout).toBe('');
    const list = await spawnCli(['routes', 'list', '--json'], { env }).exited;
    expect(list.code).toBe(EXIT.OK);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('subscribe stops on SIGINT with exit 0 and prints what it received', async () => {
    const sub = spawnCli(['subscribe', 'cli.proc.*'], { env });
    await sub.stderr.waitFor(/Ctrl-C to stop/, 20_000);
    await server.publish('cli.proc.hello', { hello: 'world' });
    await sub.stdout.waitFor(/cli\.proc\.hello/);
    sub.child.kill('SIGINT');
    const r = await sub.exited;
    expect(r.code).toBe(EXIT.OK);
    expect(r.stdout).toMatch(/cli\.proc\.hello {2}\{"hello":"world"\}/);
    // The temporary group is gone: publishing to it now finds no queue.
    await expect(server.publish('cli.proc.again', {})).rejects.toMatchObject({ code: 'UNROUTABLE' });
  });

  it('a SIGKILLed subscribe leaves no queue behind: the broker expires its temporary queues', async () => {
    const sub = spawnCli(['subscribe', 'cli.killed.*'], { env });
    const [, group] = await sub.stderr.waitFor(/as temporary group (cli-[0-9a-f]+)/, 20_000);
    const queue = `${namespace}.events.${group}.cli.killed.*`;
    const exists = (name: string) => queueExists(amqpUrl, name);
    expect(await exists(queue)).toBe(true);
    expect(await exists(`${queue}.dlq`)).toBe(true);
    sub.child.kill('SIGKILL');
    await sub.exited;
    // No cleanup ran; the queues go once unused for TEMPORARY_QUEUE_EXPIRES_MS (10 s). A
    // passive declare counts as a use (it restarts the clock), so look only after the expiry.
    let left = [queue, `${queue}.dlq`];
    for (let look = 0; look < 3 && left.length > 0; look++) {
      await new Promise((r) => setTimeout(r, 12_000));
      const still: string[] = [];
      for (const q of left) if (await exists(q)) still.push(q);
      left = still;
    }
    expect(left, 'queues left behind by the killed subscriber').toEqual([]);
  }, 60_000);

  it('gateway stops on SIGTERM: it drains and exits 0', async () => {
    const gw = spawnCli(['gateway', '--port', '0', '--admin-port', 'off', '--routes', 'examples/routes.yaml'], {
      // Embedded mode: no servers, routes from the file.
      env: { SWITCHYARD_SCHEMAS: 'none', SWITCHYARD_DEV_JWT_SECRET: 'cli-process-test-secret-0123456789abcd' },
    });
    const [, url] = await gw.stderr.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000);
    const res = await fetch(`${url}/healthz`);
    expect(res.status).toBe(200);
    // The gateway's logs are its stdout (pino JSON lines).
    expect(gw.stdout.text).toMatch(/"msg":"gateway: listening"/);
    gw.child.kill('SIGTERM');
    const r = await gw.exited;
    expect(r.code).toBe(EXIT.OK);
    expect(r.stderr).toContain('stopping (draining requests in flight)');
    expect(r.stdout).toMatch(/"msg":"gateway: closed"/);
  });
});

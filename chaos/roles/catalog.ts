/**
 * catalog: the service the chaos run SIGKILLs. Each instance serves HTTP (`GET /items/:n`,
 * registered with its address, behind an `http` route) and one idempotent RPC method
 * (`lookup`, behind an `rpc` route). Two instances run, so the gateway can fail over.
 * Each answer takes CHAOS_SERVICE_DELAY_MS (default 50 ms), so a SIGKILL finds requests
 * in flight, and names the process that answered (and, over RPC, whether the request
 * was a redelivery: RabbitMQ hands a dead instance's unacknowledged requests to another).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createService } from '@switchyard/sdk';
import { roleInfrastructure, say, serveUntilStopped } from './role-infra.js';

const delayMs = Number(process.env.CHAOS_SERVICE_DELAY_MS ?? 50);
const work = () => new Promise((r) => setTimeout(r, delayMs));

const infra = await roleInfrastructure();
const server = createServer((req, res) => {
  const m = /^\/items\/(\d+)$/.exec(req.url ?? '');
  const status = req.method === 'GET' && m ? 200 : 404;
  const body = JSON.stringify(status === 200 ? { item: Number(m![1]), pid: process.pid } : { code: 'NOT_FOUND' });
  work().then(() => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const service = createService({
  name: 'catalog',
  version: '1.0.0',
  infra,
  address: { http: url },
  methods: {
    lookup: {
      idempotent: true,
      handler: async (req: { item: number }, ctx) => {
        await work();
        return { item: req.item, pid: process.pid, redelivered: ctx.redelivered };
      },
    },
  },
});
await service.start();
serveUntilStopped(service, infra, [
  {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  },
]);
say(`READY ${url}`);

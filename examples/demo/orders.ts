import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createService, type Infrastructure, type Service, type ServiceCredentials } from '@switchyard/sdk';
import { newId, SCHEMA } from './ids.js';

interface LineItem {
  sku: string;
  quantity: number;
  unitPrice: { amount: number; currency: string };
}

interface Order {
  orderId: string;
  customerId: string;
  items: LineItem[];
  status: 'pending_payment' | 'confirmed';
  total: { amount: number; currency: string };
  createdAt: string;
  createdBy: string | undefined;
}

/** A running orders instance: its registration (service) and its HTTP server. */
export interface OrdersInstance {
  readonly service: Service;
  readonly url: string;
  close(): Promise<void>;
}

/**
 * orders: an HTTP service. It listens on a free local port and registers that address in
 * the registry (with one RPC method, `get`), so the gateway routes `/api/orders/...` to it
 * over HTTP. It trusts the gateway's identity headers (`x-switchyard-subject`) and emits
 * `orders.created` for every order placed. The gateway has already validated a POST body
 * against order.create.request, so the handler only computes.
 */
export async function startOrders(infra: Infrastructure, credentials?: ServiceCredentials): Promise<OrdersInstance> {
  const orders = new Map<string, Order>();
  let service: Service | undefined;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      service?.logger.error({ err }, 'orders: request failed');
      json(res, 500, { code: 'INTERNAL', message: 'internal error', retryable: false });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    if (req.method === 'GET' && path === '/status') {
      return json(res, 200, { service: 'orders', instance: service?.instanceId, orders: orders.size });
    }
    if ((req.method === 'GET' || req.method === 'HEAD') && (path === '/orders' || path === '/orders/')) {
      return json(res, 200, { orders: [...orders.values()] });
    }
    const one = /^\/orders\/([^/]+)$/.exec(path);
    if ((req.method === 'GET' || req.method === 'HEAD') && one) {
      const order = orders.get(one[1]!);
      return order
        ? json(res, 200, order)
        : json(res, 404, { code: 'NOT_FOUND', message: 'no such order', retryable: false });
    }
    if (req.method === 'POST' && path === '/orders') {
      const body = JSON.parse((await readAll(req)).toString('utf8')) as { customerId: string; items: LineItem[] };
      const currency = body.items[0]!.unitPrice.currency;
      const amount = body.items.reduce((sum, i) => sum + i.quantity * i.unitPrice.amount, 0);
      const subject = req.headers['x-switchyard-subject'];
      const order: Order = {
        orderId: newId('ord'),
        customerId: body.customerId,
        items: body.items,
        status: 'pending_payment',
        total: { amount, currency },
        createdAt: new Date().toISOString(),
        createdBy: typeof subject === 'string' ? subject : undefined,
      };
      orders.set(order.orderId, order);
      await service!.emit('orders.created', {
        orderId: order.orderId,
        customerId: order.customerId,
        items: order.items,
        total: order.total,
        createdAt: order.createdAt,
      });
      const { orderId, status, total, createdAt } = order;
      return json(res, 201, { orderId, status, total, createdAt });
    }
    json(res, 404, { code: 'NOT_FOUND', message: 'no such resource', retryable: false });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  service = createService({
    name: 'orders',
    version: '1.0.0',
    infra,
    // With auth on (npm start's default) each service has its own account.
    ...(credentials ? { credentials } : {}),
    address: { http: url },
    emits: { 'orders.created': SCHEMA.orderCreated },
    methods: {
      get: {
        idempotent: true,
        handler: (req: { orderId: string }) => orders.get(req.orderId) ?? null,
      },
    },
  });
  await service.start();
  const registered = service;
  return {
    service: registered,
    url,
    async close() {
      await registered.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

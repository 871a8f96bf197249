/**
 * `npm start`: the Switchyard demo. One process runs three services and the gateway in
 * front of them:
 *
 * - orders (HTTP, registered with its address) behind `GET/POST /api/orders...`;
 * - payments (RPC over the transport) behind `POST /api/payments/charge`;
 * - notifications (events, two subscriber groups) reacting to `orders.created`.
 *
 * With neither SWITCHYARD_ETCD nor SWITCHYARD_AMQP set, everything runs in memory
 * (embedded mode); with both set, on the real etcd and RabbitMQ. Routes come from
 * examples/routes.yaml (hot-reloaded: edit it while the demo runs) unless
 * SWITCHYARD_ROUTES_FILE names another file. Tokens are DEVELOPMENT tokens (HS256, see
 * docs/auth.md): never use this auth setup in production. Ctrl-C shuts everything down
 * gracefully.
 */
import { fileURLToPath } from 'node:url';
import { createGateway, devJwtVerifierOptions, GATEWAY_ENV, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, installShutdownHandlers } from '@switchyard/sdk';
import { pino } from 'pino';
import { startNotifications } from './notifications.js';
import { startOrders } from './orders.js';
import { startPayments } from './payments.js';

const logger = pino({ level: process.env[GATEWAY_ENV.logLevel] ?? 'info' });
const routesFile = process.env[GATEWAY_ENV.routesFile] ?? fileURLToPath(new URL('../routes.yaml', import.meta.url));

const infra = await createInfrastructure({ logger });
const payments = await startPayments(infra);
const notifications = await startNotifications(infra);
const orders = await startOrders(infra);
const gateway = createGateway({
  infra,
  logger,
  routesFile,
  // The demo always accepts dev tokens, also with real servers (it prints them below).
  auth: { jwt: devJwtVerifierOptions() },
});
// Gateway first (drains requests), then the services, then what they share.
installShutdownHandlers([gateway, orders, payments, notifications, infra], { logger });
await gateway.start();

const base = gateway.address()!.url;
const admin = gateway.adminAddress()?.url;
const token = await signDevToken({ sub: 'demo-user', scopes: ['orders:read', 'orders:write', 'payments:charge'] });
const order = JSON.stringify({
  customerId: 'cus_Q4n8Zt2Lmx',
  items: [{ sku: 'MUG-BLUE-350', quantity: 2, unitPrice: { amount: 1250, currency: 'EUR' } }],
});
const charge = JSON.stringify({
  orderId: 'ord_7Hc2Lq9XkP',
  amount: { amount: 2500, currency: 'EUR' },
  method: { kind: 'card', token: 'tok_4eC39HqLyjWDarjt' },
  idempotencyKey: 'charge-demo-1',
});

console.log(`
Switchyard demo (${infra.mode} mode) is running.

  gateway   ${base}
  admin     ${admin ?? '(off)'}   /metrics  /healthz  /readyz  /_switchyard/routes
  routes    ${routesFile}  (edit it: changes apply at once)

A development token (1 hour; scopes orders:read orders:write payments:charge):

  TOKEN=${token}

Try:

  curl -i ${base}/api/status
  curl -i -X POST ${base}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${order}'
  curl -i ${base}/api/orders -H "authorization: Bearer $TOKEN"
  curl -i -X POST ${base}/api/payments/charge -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${charge}'
  curl -i -X POST ${base}/api/payments/charge -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"orderId":"nope"}'
  curl -i ${base}/api/orders                       # 401: no token
  ${admin ? `curl -s ${admin}/metrics | grep switchyard_gateway_requests_total` : ''}

Ctrl-C stops everything gracefully.
`);

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
 * SWITCHYARD_ROUTES_FILE names another file.
 *
 * Auth is on: an embedded auth service issues every service its own token and the demo
 * user theirs (client credentials), so every RPC and event carries a verified identity.
 * SWITCHYARD_AUTH=off switches it off for local work (the gateway then accepts
 * DEVELOPMENT tokens, HS256). Ctrl-C shuts everything down gracefully.
 */
import { fileURLToPath } from 'node:url';
import { createGateway, devJwtVerifierOptions, GATEWAY_ENV, signDevToken } from '@switchyard/gateway';
import { createInfrastructure, installShutdownHandlers, startTracing } from '@switchyard/sdk';
import { pino } from 'pino';
import {
  DEMO_OPERATOR,
  DEMO_USER,
  DEMO_USER_SCOPES,
  type DemoAuth,
  OPERATOR_SCOPE,
  startDemoAuth,
} from './demo-auth.js';
import { startNotifications } from './notifications.js';
import { startOrders } from './orders.js';
import { startPayments } from './payments.js';

const logger = pino({ level: process.env[GATEWAY_ENV.logLevel] ?? 'info' });
// Off unless OTEL_* ask for traces (e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318).
const tracing = await startTracing({ serviceName: 'switchyard-demo' });
const routesFile = process.env[GATEWAY_ENV.routesFile] ?? fileURLToPath(new URL('../routes.yaml', import.meta.url));

const authMode = process.env.SWITCHYARD_AUTH?.trim() || 'on';
if (authMode !== 'on' && authMode !== 'off') {
  console.error(`SWITCHYARD_AUTH must be "on" or "off", got ${JSON.stringify(authMode)}`);
  process.exit(2);
}
const auth: DemoAuth | undefined =
  authMode === 'on' ? await startDemoAuth(logger, Number(process.env.SWITCHYARD_AUTH_PORT ?? 4455)) : undefined;
const infra = await createInfrastructure({ logger, auth: auth ? { issuer: auth.issuer } : false });
const payments = await startPayments(infra, auth?.credentials.payments);
const notifications = await startNotifications(infra, auth?.credentials.notifications);
const orders = await startOrders(infra, auth?.credentials.orders);
const gateway = createGateway({
  infra,
  logger,
  routesFile,
  // With auth on the gateway verifies the auth service's tokens (its JWKS); off, it accepts dev tokens.
  ...(auth ? { credentials: auth.credentials.gateway } : { auth: { jwt: devJwtVerifierOptions() } }),
});
// Gateway first (drains requests), then the services, then what they share, then the auth service.
installShutdownHandlers(
  [
    gateway,
    orders,
    payments,
    notifications,
    infra,
    ...(auth ? [auth.server] : []),
    { close: () => tracing.shutdown() },
  ],
  { logger },
);
await gateway.start();

const base = gateway.address()!.url;
const wsBase = base.replace(/^http/, 'ws');
const admin = gateway.adminAddress()?.url;
const tokenCurl = auth
  ? `curl -s -X POST ${auth.issuer}/oauth/token -H 'content-type: application/x-www-form-urlencoded' -d 'grant_type=client_credentials&client_id=${auth.user.clientId}&client_secret=${auth.user.clientSecret}'`
  : undefined;
const token = auth
  ? await auth.server.issueToken(DEMO_USER)
  : await signDevToken({ sub: DEMO_USER, scopes: DEMO_USER_SCOPES });
// The console reads the token from the URL fragment, which the browser never sends to a server.
const operatorToken = auth
  ? await auth.server.issueToken(DEMO_OPERATOR)
  : await signDevToken({ sub: DEMO_OPERATOR, scopes: [OPERATOR_SCOPE] });
const consoleUrl = admin ? `${admin}/console/#token=${operatorToken}` : undefined;
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
  console   ${consoleUrl ?? '(off: no admin port)'}
            (the link signs you in as ${DEMO_OPERATOR} for an hour; docs/console.md)
  routes    ${routesFile}  (edit it: changes apply at once)

${
  auth
    ? `Auth is on (SWITCHYARD_AUTH=off npm start for local work without it). The demo's auth service
is ${auth.issuer}; get a token for the demo user (client credentials, RFC 6749 §4.4):

  ${tokenCurl}

A token for the demo user, issued at start (1 hour; scopes ${DEMO_USER_SCOPES.join(' ')}):`
    : `Auth is off. A development token (1 hour; scopes ${DEMO_USER_SCOPES.join(' ')}):`
}

  TOKEN=${token}

Try:

  curl -i ${base}/api/status
  curl -i -X POST ${base}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${order}'
  curl -i ${base}/api/orders -H "authorization: Bearer $TOKEN"
  curl -i -X POST ${base}/api/payments/charge -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${charge}'
  curl -i -X POST ${base}/api/payments/charge -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"orderId":"nope"}'
  curl -i ${base}/api/orders                       # 401: no token
  ${admin ? `curl -s ${admin}/metrics | grep switchyard_gateway_requests_total` : ''}

The live notifications feed is a WebSocket (a bidi stream to notifications.feed): send a
filter as JSON at any time, get each order notification that passes it. Place an order
(the POST above) while it is open. From a terminal:

  npx wscat -c ${wsBase}/api/notifications/feed -H "authorization: Bearer $TOKEN"
  > {"topics":["orders.created"],"minAmount":2000}

or in a browser console (a browser sends the token as a subprotocol):

  const ws = new WebSocket('${wsBase}/api/notifications/feed', ['bearer', '<TOKEN>']);
  ws.onmessage = (e) => console.log(JSON.parse(e.data));
  ws.onopen = () => ws.send(JSON.stringify({ topics: ['orders.*'] }));

Ctrl-C stops everything gracefully.
`);

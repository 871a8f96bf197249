/**
 * The gateway as a program: `node --conditions=source --import tsx gateway/src/main.ts`
 * (or `node gateway/dist/main.js` after `npm run build`). Everything comes from the
 * environment (docs/gateway.md lists the variables); with neither SWITCHYARD_ETCD nor
 * SWITCHYARD_AMQP set it runs embedded, routes from SWITCHYARD_ROUTES_FILE (routes.yaml).
 * SIGTERM / SIGINT close it gracefully: requests in flight are drained first. Tracing is
 * on when the standard OTEL_* variables ask for it (docs/gateway.md#tracing).
 */
import { isSwitchyardError } from '@switchyard/broker';
import { installShutdownHandlers, startTracing, type Tracing } from '@switchyard/sdk';
import { createGateway, type Gateway } from './server/gateway.js';

let gateway: Gateway;
let tracing: Tracing;
try {
  // Before the gateway: its first spans need the provider. Off unless OTEL_* ask for traces.
  // No async context: the gateway hands every span its parent, and on Node 20 an
  // AsyncLocalStorage context manager would put a hook on every promise of the proxy path.
  tracing = await startTracing({ serviceName: 'switchyard-gateway', asyncContext: false });
  gateway = createGateway();
} catch (err) {
  // A configuration mistake: one clear line, no stack.
  console.error(`switchyard gateway: ${isSwitchyardError(err) ? err.message : String(err)}`);
  process.exit(2);
}

if (tracing.enabled) {
  gateway.logger.info({ exporters: tracing.settings.exporters, endpoint: tracing.settings.endpoint }, 'tracing on');
}
// The gateway first (its last spans end while it drains), then the exporter flushes them.
installShutdownHandlers([gateway, { close: () => tracing.shutdown() }], { logger: gateway.logger, timeoutMs: 60_000 });
try {
  await gateway.start();
} catch (err) {
  gateway.logger.fatal({ err }, 'gateway: cannot start');
  process.exit(1);
}

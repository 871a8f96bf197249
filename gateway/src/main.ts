/**
 * The gateway as a program: `node --conditions=source --import tsx gateway/src/main.ts`
 * (or `node gateway/dist/main.js` after `npm run build`). Everything comes from the
 * environment (docs/gateway.md lists the variables); with neither SWITCHYARD_ETCD nor
 * SWITCHYARD_AMQP set it runs embedded, routes from SWITCHYARD_ROUTES_FILE (routes.yaml).
 * SIGTERM / SIGINT close it gracefully: requests in flight are drained first.
 */
import { isSwitchyardError } from '@switchyard/broker';
import { installShutdownHandlers } from '@switchyard/sdk';
import { createGateway, type Gateway } from './server/gateway.js';

let gateway: Gateway;
try {
  gateway = createGateway();
} catch (err) {
  // A configuration mistake: one clear line, no stack.
  console.error(`switchyard gateway: ${isSwitchyardError(err) ? err.message : String(err)}`);
  process.exit(2);
}

installShutdownHandlers(gateway, { logger: gateway.logger, timeoutMs: 60_000 });
try {
  await gateway.start();
} catch (err) {
  gateway.logger.fatal({ err }, 'gateway: cannot start');
  process.exit(1);
}

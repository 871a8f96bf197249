/**
 * ticker: publishes `chaos.tick` events at a steady rate (CHAOS_EVENT_RATE per second),
 * each with a unique message id, and tells the runner about each: `P <id>` when it is
 * published, then `E <id> <sentAt> <doneAt> ok` once RabbitMQ confirmed it, or
 * `E ... <code>` when it failed.
 * SIGUSR1 stops publishing (the drain at the end); outstanding publishes still report.
 */
import { createService, isSwitchyardError } from '@switchyard/sdk';
import { roleInfrastructure, say, serveUntilStopped } from './role-infra.js';

const rate = Number(process.env.CHAOS_EVENT_RATE ?? 20);
const infra = await roleInfrastructure();
const service = createService({ name: 'ticker', version: '1.0.0', infra, emits: { 'chaos.tick': null } });
await service.start();
serveUntilStopped(service, infra);

let seq = 0;
let timer: NodeJS.Timeout | undefined;
function publishOne(): void {
  const id = `tick-${process.pid}-${++seq}`;
  const sentAt = Date.now();
  say(`P ${id}`);
  service.emit('chaos.tick', { id, sentAt }, { messageId: id }).then(
    () => say(`E ${id} ${sentAt} ${Date.now()} ok`),
    (err: unknown) => say(`E ${id} ${sentAt} ${Date.now()} ${isSwitchyardError(err) ? err.code : 'ERROR'}`),
  );
}
process.once('SIGUSR1', () => clearInterval(timer));
say('READY');
// Started by the runner once everything is up (SIGUSR2), so the figures cover only the run.
process.once('SIGUSR2', () => {
  timer = setInterval(publishOne, 1000 / rate);
});

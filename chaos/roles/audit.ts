/**
 * audit: one subscriber group of `chaos.tick` (a quorum queue). Every delivery is
 * reported to the runner as `D <id> <redelivered 0|1>`, so it can count deliveries per id:
 * duplicates, and events confirmed to the publisher but never delivered (lost).
 */
import { createService } from '@switchyard/sdk';
import { roleInfrastructure, say, serveUntilStopped } from './role-infra.js';

const infra = await roleInfrastructure();
const service = createService({
  name: 'audit',
  version: '1.0.0',
  infra,
  subscriptions: {
    'chaos.tick': {
      group: 'chaos-audit',
      handler: (event: { id: string }, ctx) => {
        say(`D ${event.id} ${ctx.redelivered ? 1 : 0}`);
      },
    },
  },
});
await service.start();
serveUntilStopped(service, infra);
say('READY');

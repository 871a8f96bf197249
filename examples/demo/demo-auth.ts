/**
 * The demo's auth: an embedded auth service (in memory, ephemeral master key) with one
 * service account per demo service, one for the gateway and a user account for you.
 * A real deployment runs `switchyard auth serve` on etcd instead (docs/auth.md).
 */
import { randomBytes } from 'node:crypto';
import { type AuthServer, createAuthServer, MemoryAuthStore } from '@switchyard/auth';
import type { ServiceCredentials } from '@switchyard/sdk';
import type { Logger } from 'pino';

export const DEMO_USER = 'demo-user';
export const DEMO_USER_SCOPES = ['orders:read', 'orders:write', 'payments:charge', 'notifications:read'];
/** Signs in to the web console (`/console` on the admin port, docs/console.md). */
export const DEMO_OPERATOR = 'demo-operator';
export const OPERATOR_SCOPE = 'switchyard:operator';
const SERVICES = ['gateway', 'orders', 'payments', 'notifications'] as const;

export interface DemoAuth {
  server: AuthServer;
  issuer: string;
  credentials: Record<(typeof SERVICES)[number], ServiceCredentials>;
  user: { clientId: string; clientSecret: string };
}

export async function startDemoAuth(logger: Logger, port: number): Promise<DemoAuth> {
  const server = createAuthServer({
    store: new MemoryAuthStore(),
    masterKey: randomBytes(32),
    host: '127.0.0.1',
    port,
    // An hour, so the printed token lasts a session; the service default is 15 minutes.
    accessTokenTtlSec: 3600,
    logger,
  });
  await server.start();
  const credentials = {} as DemoAuth['credentials'];
  const made = await Promise.all([
    ...SERVICES.map((id) => server.createAccount({ id, type: 'service' })),
    server.createAccount({ id: DEMO_USER, type: 'user', scopes: DEMO_USER_SCOPES }),
    server.createAccount({ id: DEMO_OPERATOR, type: 'user', scopes: [OPERATOR_SCOPE] }),
  ]);
  SERVICES.forEach((id, i) => {
    credentials[id] = { clientId: id, clientSecret: made[i]!.secret };
  });
  return {
    server,
    issuer: server.address()!.url,
    credentials,
    user: { clientId: DEMO_USER, clientSecret: made[SERVICES.length]!.secret },
  };
}

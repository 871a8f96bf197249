import { randomBytes } from 'node:crypto';
import { type AuthServer, type AuthServerOptions, createAuthServer, MemoryAuthStore } from '@switchyard/auth';
import { pino } from 'pino';

/**
 * An auth service in the calling process for the benchmarks: in memory, an ephemeral master
 * key, a free port, the default (OWASP-minimum) hash cost. Started; close() it when done.
 */
export async function startBenchAuth(options: Partial<AuthServerOptions> = {}): Promise<AuthServer> {
  const server = createAuthServer({
    store: new MemoryAuthStore(),
    masterKey: randomBytes(32),
    port: 0,
    logger: pino({ level: 'warn' }),
    ...options,
  });
  await server.start();
  return server;
}

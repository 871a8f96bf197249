import { randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import amqplib from 'amqplib';
import pg from 'pg';

export const DEFAULT_TEST_AMQP = 'amqp://guest:guest@127.0.0.1:5672';
export const DEFAULT_TEST_REDIS = 'redis://127.0.0.1:6379';
export const DEFAULT_TEST_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres';

export function testAmqpUrl(): string {
  return process.env.SWITCHYARD_TEST_AMQP ?? DEFAULT_TEST_AMQP;
}

export function testRedisUrl(): string {
  return process.env.SWITCHYARD_TEST_REDIS ?? DEFAULT_TEST_REDIS;
}

export function testPostgresUrl(): string {
  return process.env.SWITCHYARD_TEST_POSTGRES ?? DEFAULT_TEST_POSTGRES;
}

/** Throws one clear line when PostgreSQL does not take a connection and a query. */
export async function checkPostgres(url = testPostgresUrl()): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${redact(url)} (${(err as Error).message}): start it with \`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\` or set SWITCHYARD_TEST_POSTGRES.`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

/** Throws one clear line when RabbitMQ does not accept an AMQP connection. */
export async function checkRabbit(url = testAmqpUrl()): Promise<void> {
  try {
    const conn = await amqplib.connect(url, { timeout: 3000 });
    await conn.close();
  } catch (err) {
    throw new Error(
      `RabbitMQ is not reachable at ${redact(url)} (${(err as Error).message}): start it with \`rabbitmq-server -detached\` or set SWITCHYARD_TEST_AMQP.`,
    );
  }
}

/** Throws one clear line when Redis does not answer PING. */
export async function checkRedis(url = testRedisUrl()): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || 6379);
  const host = u.hostname || '127.0.0.1';
  try {
    await new Promise<void>((resolve, reject) => {
      const sock = tcpConnect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error('timed out'));
      }, 3000);
      sock.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      sock.once('connect', () => sock.write('PING\r\n'));
      sock.once('data', (d) => {
        clearTimeout(timer);
        sock.destroy();
        if (d.toString().startsWith('+PONG')) resolve();
        else reject(new Error(`unexpected reply ${JSON.stringify(d.toString().trim())}`));
      });
    });
  } catch (err) {
    throw new Error(
      `Redis is not reachable at ${host}:${port} (${(err as Error).message}): start it with \`redis-server --daemonize yes\` or set SWITCHYARD_TEST_REDIS.`,
    );
  }
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/**
 * Identifies one `npm test` run. The global setup sets it before workers start, so every
 * namespace of the run shares the prefix `sytest-<run>-` and the teardown can delete what
 * the run left in RabbitMQ without touching a parallel run's.
 */
export function testRunId(): string {
  process.env.SWITCHYARD_TEST_RUN_ID ??= `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  return process.env.SWITCHYARD_TEST_RUN_ID;
}

export function testRunPrefix(): string {
  return `sytest-${testRunId()}-`;
}

/** A namespace no other run or test file shares, so runs never collide. */
export function uniqueNamespace(label: string): string {
  return `${testRunPrefix()}${label}-${randomBytes(3).toString('hex')}`;
}

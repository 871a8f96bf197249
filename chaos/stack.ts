/**
 * The whole stack of a chaos run, on loopback: a private etcd, RabbitMQ node and Redis
 * (never the machine's shared ones), the gateway as a child process (rate limits in that
 * Redis), and the services as child processes: two catalog instances (the SIGKILL target),
 * the ticker (publisher) and audit (subscriber). `close()` stops all of it and removes
 * the temp dir, whatever state the run is in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateEtcd } from '../tests/harness/etcd.js';
import { freePort } from '../tests/harness/ports.js';
import { PrivateRabbit } from '../tests/harness/private-rabbit.js';
import { PrivateRedis } from '../tests/harness/private-redis.js';
import { Child } from './child.js';
import type { Ledger } from './ledger.js';
import { putRoutes } from './routes.js';

const NAMESPACE = 'chaos';
export const CATALOG_INSTANCES = 2;

export interface StackOptions {
  eventRate: number;
  progress: (message: string) => void;
}

export class Stack {
  readonly dir = mkdtempSync(join(tmpdir(), 'switchyard-chaos-'));
  etcd: PrivateEtcd | undefined;
  rabbit: PrivateRabbit | undefined;
  readonly redis = new PrivateRedis();
  readonly catalogs: (Child | undefined)[] = [];
  gateway: Child | undefined;
  ticker: Child | undefined;
  audit: Child | undefined;
  gatewayUrl = '';
  adminUrl = '';
  #started = 0;

  constructor(
    private readonly ledger: Ledger,
    private readonly options: StackOptions,
  ) {}

  /** Servers first (in parallel), then the subscriber (its queue must exist before anyone publishes), the rest. */
  async start(): Promise<void> {
    const { progress } = this.options;
    const [etcd, rabbit] = await Promise.all([PrivateEtcd.start(), PrivateRabbit.start(), this.redis.start()]);
    this.etcd = etcd;
    this.rabbit = rabbit;
    progress(
      `servers up: etcd ${etcd.endpoint}, RabbitMQ ${rabbit.amqpUrl} (${rabbit.startedInMs} ms), ${this.redis.url}`,
    );
    await putRoutes(etcd.endpoint, NAMESPACE);
    this.audit = this.#role('audit', 'chaos/roles/audit.ts', ['D '], (l) => this.ledger.subscriberLine(l));
    await this.audit.ready;
    this.ticker = this.#role('ticker', 'chaos/roles/ticker.ts', ['P ', 'E '], (l) => this.ledger.publisherLine(l));
    await Promise.all([
      this.ticker.ready,
      ...Array.from({ length: CATALOG_INSTANCES }, (_, i) => this.startCatalog(i)),
    ]);
    await this.#startGateway();
    progress(`stack up: gateway ${this.gatewayUrl}, ${CATALOG_INSTANCES} catalog instances, ticker, audit`);
  }

  #serverEnv(): Record<string, string> {
    return {
      SWITCHYARD_ETCD: this.etcd!.endpoint,
      SWITCHYARD_AMQP: this.rabbit!.amqpUrl,
      SWITCHYARD_NAMESPACE: NAMESPACE,
      SWITCHYARD_SCHEMAS: 'none',
      SWITCHYARD_AUTH: 'off',
    };
  }

  #role(name: string, script: string, protocol: string[], onLine?: (line: string) => void): Child {
    return new Child({
      name,
      script,
      env: { ...this.#serverEnv(), CHAOS_EVENT_RATE: String(this.options.eventRate) },
      logFile: join(this.dir, `${name}.log`),
      protocol,
      ...(onLine ? { onLine } : {}),
    });
  }

  /** Start (or restart, in a new process) catalog instance `slot`. */
  async startCatalog(slot: number): Promise<void> {
    const child = this.#role(`catalog-${slot + 1}-${++this.#started}`, 'chaos/roles/catalog.ts', []);
    this.catalogs[slot] = child;
    await child.ready;
  }

  async killCatalog(slot: number): Promise<void> {
    await this.catalogs[slot]?.kill();
  }

  async #startGateway(): Promise<void> {
    const [port, adminPort] = [await freePort(), await freePort()];
    this.gatewayUrl = `http://127.0.0.1:${port}`;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.gateway = new Child({
      name: 'gateway',
      script: 'gateway/src/main.ts',
      env: {
        ...this.#serverEnv(),
        SWITCHYARD_REDIS: this.redis.url,
        SWITCHYARD_GATEWAY_HOST: '127.0.0.1',
        SWITCHYARD_GATEWAY_PORT: String(port),
        SWITCHYARD_ADMIN_PORT: String(adminPort),
        SWITCHYARD_LOG_LEVEL: process.env.CHAOS_GATEWAY_LOG_LEVEL ?? 'warn',
      },
      logFile: join(this.dir, 'gateway.log'),
      awaitReady: false,
    });
    await this.#gatewayReady(60_000);
  }

  /** `/readyz` 200: routes and instances synced from etcd, RabbitMQ connected. */
  async #gatewayReady(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.gateway?.alive) throw new Error(`the gateway exited (log: ${join(this.dir, 'gateway.log')})`);
      try {
        const res = await fetch(`${this.adminUrl}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the gateway was not ready within ${timeoutMs} ms`);
  }

  /** Everything, in reverse order of need; each step bounded, none allowed to skip the rest. */
  async close(keepDir: boolean): Promise<void> {
    const children = [this.gateway, ...this.catalogs, this.ticker, this.audit].filter((c) => c !== undefined);
    await Promise.all(children.map((c) => c.stop(5_000).catch(() => c.kill())));
    await Promise.all([
      this.rabbit?.close().catch(() => {}),
      this.etcd?.close().catch(() => {}),
      this.redis.kill().catch(() => {}),
    ]);
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

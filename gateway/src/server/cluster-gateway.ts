import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClosedError, UnavailableError } from '@switchyard/broker';
import type { Logger } from 'pino';
import { AggregatorRegistry, type PrometheusContentType } from 'prom-client';
import type { ResolvedGatewayOptions } from '../config/gateway-options.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { setupClusterRateLimitMaster } from '../ratelimit/cluster-store.js';
import { REDIS_URL_ENV } from '../ratelimit/store-from-env.js';
import type { Gateway, GatewayAddress } from './gateway-types.js';
import { createOpsApp, type MetricsSource } from './ops-app.js';
import type { ReadinessReport } from './readiness.js';

/** Messages between the primary and its gateway workers (node cluster IPC). */
const LISTENING = 'switchyard:gateway-listening';
const SHUTDOWN = 'switchyard:gateway-shutdown';

type ClusterMessage = { type: typeof LISTENING; port: number } | { type: typeof SHUTDOWN };

/** How long a worker has to come up before `start()` gives up. */
const WORKER_START_TIMEOUT_MS = 30_000;
/** A worker that dies is replaced, but not more often than this per slot. */
const RESPAWN_DELAY_MS = 1_000;

/**
 * The cluster primary of `createGateway({ workers: n })`: it forks `n` workers running
 * the same script (each builds a serving gateway from the same options and shares the
 * listening port), replaces a worker that dies, and serves the admin listener itself:
 * `/metrics` aggregated over every worker (prom-client's AggregatorRegistry), `/healthz`,
 * and `/readyz` (ready while every worker listens). Without SWITCHYARD_REDIS the primary
 * also holds the rate-limit counters all workers share (`setupClusterRateLimitMaster`).
 */
export class ClusterGateway implements Gateway {
  readonly logger: Logger;
  readonly #o: ResolvedGatewayOptions;
  readonly #aggregator = new AggregatorRegistry<PrometheusContentType>();
  readonly #workers = new Map<number, Worker>();
  readonly #listening = new Set<number>();
  #port: number | undefined;
  #admin: Server | undefined;
  #phase: 'starting' | 'running' | 'draining' | 'closed' = 'starting';
  #starting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(o: ResolvedGatewayOptions, logger: Logger) {
    this.#o = o;
    this.logger = logger.child({ role: 'primary' });
  }

  start(): Promise<void> {
    if (this.#closing) return Promise.reject(new ClosedError('gateway is closed'));
    this.#starting ??= this.#start().catch(async (err: unknown) => {
      await this.close();
      throw err;
    });
    return this.#starting;
  }

  async #start(): Promise<void> {
    const o = this.#o;
    // The primary answers the workers' rate-limit calls: it must exist before they are forked.
    if (!o.env[REDIS_URL_ENV]?.trim()) setupClusterRateLimitMaster();
    const exec = o.workerScript ?? process.argv[1];
    if (exec === undefined) throw new UnavailableError('cannot tell which script the gateway workers should run');
    cluster.setupPrimary({ exec, args: process.argv.slice(2), execArgv: process.execArgv });
    cluster.on('message', (worker, message: ClusterMessage) => {
      if (message?.type === LISTENING) {
        this.#listening.add(worker.id);
        this.#port = message.port;
      }
    });
    for (let slot = 0; slot < o.workers; slot++) this.#fork(slot);
    const deadline = Date.now() + WORKER_START_TIMEOUT_MS;
    while (this.#listening.size < o.workers) {
      if (Date.now() > deadline || this.#phase !== 'starting') {
        throw new UnavailableError(`only ${this.#listening.size} of ${o.workers} gateway workers started`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (o.adminPort !== false) {
      const app = createOpsApp({
        readiness: () => this.readiness(),
        metrics: aggregatedMetrics(this.#aggregator),
      });
      const admin = createServer(app);
      this.#admin = admin;
      await new Promise<void>((resolve, reject) => {
        admin.once('error', reject);
        admin.listen(o.adminPort as number, o.adminHost, () => resolve());
      });
    }
    this.#phase = 'running';
    this.logger.info({ workers: o.workers, port: this.#port, admin: this.adminAddress()?.url }, 'gateway: cluster up');
  }

  #fork(slot: number): void {
    const worker = cluster.fork({ ...this.#o.env, SWITCHYARD_GATEWAY_WORKER_SLOT: String(slot) });
    this.#workers.set(slot, worker);
    worker.on('exit', (code, signal) => {
      this.#listening.delete(worker.id);
      if (this.#workers.get(slot) === worker) this.#workers.delete(slot);
      if (this.#phase === 'draining' || this.#phase === 'closed') return;
      this.logger.error({ slot, pid: worker.process.pid, code, signal }, 'gateway: a worker died; starting another');
      setTimeout(() => {
        if (this.#phase === 'running' || this.#phase === 'starting') this.#fork(slot);
      }, RESPAWN_DELAY_MS).unref();
    });
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#phase = 'draining';
    const workers = [...this.#workers.values()];
    const exited = workers.map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.isDead()) resolve();
          else w.once('exit', () => resolve());
        }),
    );
    for (const w of workers) if (w.isConnected()) w.send({ type: SHUTDOWN } satisfies ClusterMessage);
    // Each worker drains within shutdownTimeoutMs; beyond that (and a margin), force it.
    const timer = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, this.#o.shutdownTimeoutMs + 5_000);
    await Promise.all(exited);
    clearTimeout(timer);
    if (this.#admin?.listening) {
      this.#admin.closeAllConnections();
      await new Promise<void>((resolve) => this.#admin!.close(() => resolve()));
    }
    this.#phase = 'closed';
    this.logger.info('gateway: cluster closed');
  }

  address(): GatewayAddress | undefined {
    if (this.#port === undefined) return undefined;
    const host = this.#o.host === '0.0.0.0' || this.#o.host === '::' ? '127.0.0.1' : this.#o.host;
    const scheme = this.#o.tls === undefined ? 'http' : 'https';
    return { address: this.#o.host, port: this.#port, url: `${scheme}://${host}:${this.#port}` };
  }

  adminAddress(): GatewayAddress | undefined {
    const a = this.#admin?.address() as AddressInfo | null | undefined;
    if (!a) return undefined;
    const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address;
    return { address: a.address, port: a.port, url: `http://${host}:${a.port}` };
  }

  readiness(): ReadinessReport {
    const listening = this.#listening.size;
    const ready = this.#phase === 'running' && listening === this.#o.workers;
    const workers = { ready: listening === this.#o.workers, listening, expected: this.#o.workers };
    return {
      ready,
      checks: {
        // Each worker reports its own dependencies on the public listener's /readyz.
        routes: workers,
        registry: workers,
        transport: workers,
        gateway: { ready: this.#phase === 'running', phase: this.#phase },
      },
    };
  }
}

/** Worker side: tell the primary the port is bound, so it can report it. */
export function reportWorkerListening(port: number): void {
  process.send?.({ type: LISTENING, port } satisfies ClusterMessage);
}

/**
 * Worker side: let the primary gather this worker's metrics, and close the gateway
 * gracefully when the primary says so (then exit).
 */
export function installWorkerHooks(gateway: Gateway, metrics: GatewayMetrics): void {
  // Constructing one installs prom-client's worker-side listener for the primary's requests.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([metrics.registry]);
  process.on('message', (message: ClusterMessage) => {
    if (message?.type !== SHUTDOWN) return;
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

/** The admin listener's `/metrics`: the aggregated text of every worker. */
function aggregatedMetrics(aggregator: AggregatorRegistry<PrometheusContentType>): MetricsSource {
  return {
    get contentType() {
      return aggregator.contentType;
    },
    render: () => aggregator.clusterMetrics(),
  };
}

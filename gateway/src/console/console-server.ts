import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidArgumentError, NotFoundError, type Transport } from '@switchyard/broker';
import type { Infrastructure, RegistryView } from '@switchyard/sdk';
import type { Logger } from 'pino';
import type { AuthGuard } from '../auth/auth-guard.js';
import { writeErrorResponse } from '../http/error-response.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RouteStore } from '../routing/route-store.js';
import type { RouteRuntimes } from '../server/route-runtimes.js';
import type { UpstreamPool } from '../upstream/index.js';
import { ConsoleAccess, type ConsoleUser } from './console-access.js';
import { ConsoleEvents } from './console-events.js';
import type { ResolvedConsoleOptions } from './console-options.js';
import { ConsoleSchemas } from './console-schemas.js';
import {
  type InstanceSources,
  routesSnapshot,
  rpcRouteIds,
  serviceRow,
  servicesSnapshot,
} from './console-snapshots.js';
import { DEFAULT_CONSOLE_ASSETS, serveConsoleFile, setSecurityHeaders } from './console-static.js';
import type { ErrorLog } from './error-log.js';
import { MetricsSampler } from './metrics-sampler.js';
import { type TryItRequest, tryIt } from './try-it.js';

/** Where the console lives on the admin listener. */
export const CONSOLE_PATH = '/console';
const API = `${CONSOLE_PATH}/api/`;
const MAX_JSON_BYTES = 1024 * 1024;

export interface ConsoleServerDeps {
  options: ResolvedConsoleOptions;
  guard: AuthGuard;
  infra: Infrastructure;
  view: RegistryView;
  store: RouteStore;
  runtimes: RouteRuntimes;
  pool: UpstreamPool;
  metrics: GatewayMetrics;
  errors: ErrorLog;
  publicUrl: () => string | undefined;
  /** The transport the gateway bridges RPC routes with (its own identity when auth is on). */
  rpc: Transport;
  timeoutMs: number;
  logger: Logger;
}

/**
 * The web console (docs/console.md): the bundle at `/console`, a JSON API under
 * `/console/api/` and one event stream. Every API request passes the operator check
 * first, so nothing about the system is visible without it; the static bundle is not
 * secret and is served to anyone who reaches the admin listener.
 */
export class ConsoleServer {
  readonly #d: ConsoleServerDeps;
  readonly #access: ConsoleAccess;
  readonly #events = new ConsoleEvents();
  readonly #schemas: ConsoleSchemas;
  readonly #sampler: MetricsSampler;
  readonly #src: InstanceSources;
  readonly #assets: string;
  readonly #pending = new Set<string>();
  #flush: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #off: (() => void)[] = [];

  constructor(deps: ConsoleServerDeps) {
    this.#d = deps;
    this.#access = new ConsoleAccess(deps.guard, deps.options);
    this.#schemas = new ConsoleSchemas(deps.infra);
    this.#sampler = new MetricsSampler(deps.metrics.registry, () => rpcRouteIds(deps.store), deps.options.samples);
    this.#src = { view: deps.view, pool: deps.pool, store: deps.store };
    this.#assets = deps.options.assetsDir ?? DEFAULT_CONSOLE_ASSETS;
  }

  /** Follow the registry, the routes, the errors and the metrics. */
  start(): void {
    const d = this.#d;
    this.#off.push(
      d.view.onChange((service) => this.#serviceChanged(service)),
      d.store.subscribe(() => this.#events.send('routes', routesSnapshot(d.store, d.runtimes))),
      d.errors.onError(() => this.#serviceChanged(undefined)),
    );
    const tick = async () => {
      try {
        const s = await this.#sampler.sample();
        if (s !== undefined) this.#events.send('metrics', s);
      } catch (err) {
        d.logger.warn({ err }, 'console: sampling the metrics failed');
      }
    };
    void tick();
    this.#timer = setInterval(() => void tick(), d.options.sampleIntervalMs);
    this.#timer.unref();
  }

  close(): void {
    for (const off of this.#off.splice(0)) off();
    clearInterval(this.#timer);
    clearTimeout(this.#flush);
    this.#events.close();
    this.#schemas.close();
  }

  /** Express hands the full path (`req.originalUrl`), since the app is mounted at CONSOLE_PATH. */
  async handle(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    setSecurityHeaders(res);
    try {
      const path = new URL(url, 'http://x').pathname;
      if (!path.startsWith(API)) {
        // The bundle is public: a browser cannot put a bearer token on a page load or a
        // <script src>, and the files hold no data — everything shown comes from the API.
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new NotFoundError('no such console endpoint');
        await serveConsoleFile(this.#assets, path.slice(CONSOLE_PATH.length + 1), res);
        return;
      }
      const user = await this.#access.check(req);
      res.setHeader('cache-control', 'no-store');
      await this.#api(req, res, path.slice(API.length), user, new URL(url, 'http://x').searchParams);
    } catch (err) {
      writeErrorResponse(res, err);
    }
  }

  async #api(
    req: IncomingMessage,
    res: ServerResponse,
    endpoint: string,
    user: ConsoleUser,
    query: URLSearchParams,
  ): Promise<void> {
    const d = this.#d;
    const get = req.method === 'GET';
    const post = req.method === 'POST';
    if (get && endpoint === 'session') return json(res, { subject: user.subject ?? null, auth: d.options.auth });
    if (get && endpoint === 'services') return json(res, servicesSnapshot(this.#src));
    if (get && endpoint === 'routes') return json(res, routesSnapshot(d.store, d.runtimes));
    if (get && endpoint === 'errors') return json(res, d.errors.summary());
    if (get && endpoint === 'metrics') return json(res, this.#sampler.samples);
    if (get && endpoint === 'schemas') return json(res, this.#schemas.list());
    if (get && endpoint === 'schema-history') return json(res, await this.#schemas.history(required(query, 'id')));
    if (post && endpoint === 'schema-check') {
      const body = await readJson(req);
      return json(res, { breaks: this.#schemas.check(String(body.id ?? ''), body.schema) });
    }
    if (post && endpoint === 'try') {
      const body = (await readJson(req)) as unknown as TryItRequest;
      return json(res, await tryIt({ ...d, schemas: d.infra.schemas }, user, body));
    }
    if (get && endpoint === 'events') {
      this.#events.open(res, [
        { event: 'services', data: servicesSnapshot(this.#src) },
        { event: 'routes', data: routesSnapshot(d.store, d.runtimes) },
        { event: 'errors', data: d.errors.summary() },
      ]);
      return;
    }
    throw new NotFoundError('no such console endpoint');
  }

  /** Registry watches fire per key: batch a burst into one event per service (undefined: the errors). */
  #serviceChanged(service: string | undefined): void {
    this.#pending.add(service ?? '');
    this.#flush ??= setTimeout(() => {
      this.#flush = undefined;
      const names = [...this.#pending];
      this.#pending.clear();
      for (const name of names) {
        if (name === '') this.#events.send('errors', this.#d.errors.summary());
        else this.#events.send('service', serviceRow(this.#src, name));
      }
    }, 50);
  }
}

function json(res: ServerResponse, value: unknown): void {
  const body = JSON.stringify(value);
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

function required(query: URLSearchParams, name: string): string {
  const v = query.get(name);
  if (!v) throw new InvalidArgumentError(`the query parameter "${name}" is required`);
  return v;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_JSON_BYTES) throw new InvalidArgumentError('the request body is larger than 1 MiB');
    chunks.push(c);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError('the request body must be a JSON object');
  }
}

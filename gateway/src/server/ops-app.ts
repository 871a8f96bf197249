import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type Express, type Request, type Response } from 'express';
import type { RouteStore } from '../routing/route-store.js';
import type { ReadinessReport } from './readiness.js';

/** Paths the gateway answers itself on the public listener, before any route. */
export const HEALTH_PATH = '/healthz';
export const READY_PATH = '/readyz';
/** The API description (docs/gateway.md#openapi); on the admin listener under RESERVED_PREFIX. */
export const OPENAPI_PATH = '/openapi.json';
/** Reserved prefix for the gateway's own endpoints (admin listener). */
export const RESERVED_PREFIX = '/_switchyard/';
export const ADMIN_OPENAPI_PATH = `${RESERVED_PREFIX}openapi.json`;

/** Whether a normalised path belongs to the gateway rather than to a route. */
export function isReservedPath(path: string): boolean {
  // First-character test keeps the proxied hot path at one comparison for almost every request.
  return (
    (path.charCodeAt(1) === 0x68 /* h */ && path === HEALTH_PATH) ||
    (path.charCodeAt(1) === 0x72 /* r */ && path === READY_PATH) ||
    (path.charCodeAt(1) === 0x6f /* o */ && path === OPENAPI_PATH) ||
    (path.charCodeAt(1) === 0x5f /* _ */ && path.startsWith(RESERVED_PREFIX))
  );
}

/** Prometheus exposition: GatewayMetrics, or the cluster primary's aggregate of its workers. */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

export interface OpsAppDeps {
  readiness(): ReadinessReport;
  metrics?: MetricsSource | undefined;
  /** Serve the route table (admin listener only). */
  store?: RouteStore | undefined;
  /** The API description: at OPENAPI_PATH on the public listener, ADMIN_OPENAPI_PATH on the admin one. */
  openApi?: { path: string; handle(req: IncomingMessage, res: ServerResponse): Promise<void> } | undefined;
  /** The web console and its API, under `path` (admin listener only). */
  console?: { path: string; handle(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> } | undefined;
}

/**
 * The gateway's own endpoints, on express: they are few and cold, so express's per-request
 * cost is irrelevant here — and it is kept off the proxied path entirely (the public
 * listener calls this app only for the reserved paths).
 *
 * - `GET /healthz`: 200 while the process runs (liveness);
 * - `GET /readyz`: 200 or 503 with a JSON report naming what is not ready;
 * - admin only: `GET /metrics` (Prometheus text), `GET /_switchyard/routes` (the table and
 *   the rejected routes), `/console` (the web console, docs/console.md).
 */
export function createOpsApp(deps: OpsAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get(HEALTH_PATH, (_req: Request, res: Response) => {
    res.set('cache-control', 'no-store').json({ status: 'ok' });
  });
  app.get(READY_PATH, (_req: Request, res: Response) => {
    const report = deps.readiness();
    res
      .status(report.ready ? 200 : 503)
      .set('cache-control', 'no-store')
      .json(report);
  });
  const metrics = deps.metrics;
  if (metrics) {
    app.get('/metrics', async (_req: Request, res: Response) => {
      res.set('content-type', metrics.contentType).send(await metrics.render());
    });
  }
  const store = deps.store;
  if (store) {
    app.get(`${RESERVED_PREFIX}routes`, (_req: Request, res: Response) => {
      res.set('cache-control', 'no-store').json({
        version: store.version,
        synced: store.synced,
        routes: store.table.routes.map((r) => r.definition),
        rejected: store.rejected(),
      });
    });
  }
  const openApi = deps.openApi;
  if (openApi) {
    app.get(openApi.path, (req: Request, res: Response) => void openApi.handle(req, res));
  }
  const consoleApp = deps.console;
  if (consoleApp) {
    app.use(consoleApp.path, (req: Request, res: Response) => void consoleApp.handle(req, res, req.originalUrl));
  }
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ code: 'NOT_FOUND', message: 'no such gateway endpoint', retryable: false });
  });
  // Express's default handler would print the stack in development; never show internals.
  app.use((_err: unknown, _req: Request, res: Response, _next: (err?: unknown) => void) => {
    res.status(500).json({ code: 'INTERNAL', message: 'internal error', retryable: false });
  });
  return app;
}

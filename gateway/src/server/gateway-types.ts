import type { Logger } from 'pino';
import type { ReadinessReport } from './readiness.js';

// The gateway's public shape, below both implementations: HttpGateway (gateway.ts) and the
// cluster primary (cluster-gateway.ts), which gateway.ts creates.

/** Where a listener is bound. */
export interface GatewayAddress {
  /** The bound address (`0.0.0.0`, `127.0.0.1`, `::`). */
  readonly address: string;
  readonly port: number;
  /** A URL to reach it from this machine (`http://127.0.0.1:8080` for a wildcard bind). */
  readonly url: string;
}

/** A running gateway: `start()` it, `close()` it (graceful: drains requests in flight). */
export interface Gateway {
  /** Bind the listeners and begin serving. Idempotent; rejects (and cleans up) when something cannot start. */
  start(): Promise<void>;
  /** Stop accepting, drain requests in flight (bounded by `shutdownTimeoutMs`), release everything. Idempotent. */
  close(): Promise<void>;
  /** The public listener, once started. */
  address(): GatewayAddress | undefined;
  /** The admin listener (`/metrics`, `/healthz`, `/readyz`, `/_switchyard/routes`), once started, if any. */
  adminAddress(): GatewayAddress | undefined;
  /** What `/readyz` says now. */
  readiness(): ReadinessReport;
  /** The gateway's logger (pino). */
  readonly logger: Logger;
}

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  type BidiCall,
  InvalidArgumentError,
  type Transport,
  UnavailableError,
  UnimplementedError,
  validationError,
} from '@switchyard/broker';
import type { RegistryView, SchemaRegistry } from '@switchyard/sdk';
import type { Logger } from 'pino';
import { WebSocketServer } from 'ws';
import type { Identity } from '../auth/identity.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RpcTarget } from '../routing/route-types.js';
import { upstreamReason } from './rpc-bridge.js';
import { rpcHeaders } from './rpc-headers.js';
import { BEARER_SUBPROTOCOL } from './ws-credentials.js';
import { WsSession } from './ws-session.js';

export interface WsBridgeOptions {
  transport: Transport;
  /** The registry: only a method registered as `kind: 'bidi'` is opened. */
  view: RegistryView;
  metrics: GatewayMetrics;
  logger: Logger;
  schemas: SchemaRegistry;
  /** With auth on, the Switchyard issuer (see rpcHeaders). */
  issuer: string | undefined;
  /** GatewayOptions.wsHighWaterBytes. */
  highWaterBytes: number;
  /** GatewayOptions.streamKeepAliveMs: a quiet WebSocket gets a ping frame. */
  keepAliveMs: number;
  /** After a client's close, how long its stream may go on before it is cancelled, ms. Default 5000. */
  halfCloseGraceMs?: number;
}

/** One upgrade that passed the route's checks (route, rate limit, auth). */
export interface WsUpgrade {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  routeId: string;
  target: Readonly<RpcTarget>;
  identity: Identity;
  requestId: string;
  /** The largest message, bytes (1009 above). */
  maxMessageBytes: number;
  /** The route's own `timeoutMs`: bounds the whole stream. Undefined: no deadline. */
  timeoutMs: number | undefined;
  /** `$id` every client item must satisfy, checked here before it goes to the service. */
  requestSchema: string | undefined;
}

const DEFAULT_HALF_CLOSE_GRACE_MS = 5_000;

/**
 * `stream: websocket` routes: the upgrade is refused with an HTTP error (before any
 * handshake) when the registry does not list the method as bidi, or while the gateway
 * shuts down; otherwise ws completes the handshake and a WsSession bridges the socket to
 * `transport.bidi()`. Keeps the open sessions so that `close()` can end them with 1001.
 */
export class WsBridge {
  readonly #o: WsBridgeOptions;
  /** One ws server per message limit (ws's `maxPayload` is per server), created on demand. */
  readonly #servers = new Map<number, WebSocketServer>();
  readonly #sessions = new Set<WsSession>();
  #closing = false;

  constructor(options: WsBridgeOptions) {
    this.#o = options;
  }

  /** Open sessions (for tests and the console). */
  get open(): number {
    return this.#sessions.size;
  }

  /**
   * Throws (the pipeline answers with the error's HTTP status) when the stream cannot be
   * opened; after that every failure is reported on the WebSocket itself.
   */
  upgrade(u: WsUpgrade): void {
    if (this.#closing) throw new UnavailableError('the gateway is shutting down', { retryable: true });
    this.#checkMethod(u.target);
    this.#server(u.maxMessageBytes).handleUpgrade(u.req, u.socket, u.head, (ws) => {
      const o = this.#o;
      o.metrics.wsOpened(u.routeId);
      const call: BidiCall = o.transport.bidi(u.target.service, u.target.method, {
        kind: 'bidi',
        headers: rpcHeaders(u.req, u.identity, u.requestId, o.issuer, undefined),
        ...(u.timeoutMs !== undefined ? { timeoutMs: u.timeoutMs } : {}),
      });
      const session = new WsSession(ws, u.socket, call, {
        requestId: u.requestId,
        highWaterBytes: o.highWaterBytes,
        halfCloseGraceMs: o.halfCloseGraceMs ?? DEFAULT_HALF_CLOSE_GRACE_MS,
        keepAliveMs: o.keepAliveMs,
        validate: u.requestSchema === undefined ? undefined : this.#validator(u.requestSchema),
      });
      this.#sessions.add(session);
      void session.closed.then(({ code, error }) => {
        o.metrics.wsClosed(u.routeId, code);
        if (error !== undefined) {
          const reason = upstreamReason(error);
          if (reason !== undefined) o.metrics.upstreamError(u.routeId, reason);
          if (error.canonical === 'INTERNAL') {
            o.logger.error(
              { err: error, requestId: u.requestId, route: u.routeId },
              'gateway: WebSocket stream failed',
            );
          }
        }
        o.logger.debug({ route: u.routeId, requestId: u.requestId, code }, 'gateway: WebSocket closed');
      });
      void session.finished.then(() => this.#sessions.delete(session));
      session.start();
    });
  }

  /**
   * Shutdown: every open stream is cancelled and its client told so (an UNAVAILABLE error
   * message, close 1001). Connections still open after `timeoutMs` are dropped.
   */
  async close(timeoutMs: number): Promise<void> {
    this.#closing = true;
    const sessions = [...this.#sessions];
    for (const s of sessions) s.shutdown();
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all(sessions.map((s) => s.finished));
    const timedOut = await Promise.race([
      all.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) for (const s of sessions) s.terminate();
    for (const server of this.#servers.values()) server.close();
    this.#servers.clear();
  }

  /** The registry must list the method as bidi (the first instance that lists it speaks for it). */
  #checkMethod(target: Readonly<RpcTarget>): void {
    const { service, method } = target;
    for (const instance of this.#o.view.instances(service)) {
      const info = instance.methods[method];
      if (info === undefined) continue;
      if (info.kind === 'bidi') return;
      const kind = info.kind ?? (info.streaming === true ? 'server-streaming' : 'unary');
      throw new UnimplementedError(
        `${service}.${method} is ${kind === 'client' ? 'client-streaming' : kind}: a WebSocket route needs a bidi method`,
        { details: { reason: 'not_bidi', service, method, kind } },
      );
    }
    throw new UnavailableError(`no instance of ${service} serves ${method}`, {
      details: { service, method },
      retryable: true,
    });
  }

  #validator(schemaId: string): (item: unknown, seq: number) => void {
    const schemas = this.#o.schemas;
    return (item, seq) => {
      // Looked up per item (a map read): a schema that changes applies at once.
      if (!schemas.has(schemaId)) {
        throw new UnavailableError('the request schema of this route is not loaded', { details: { schema: schemaId } });
      }
      const violations = schemas.get(schemaId).validate(item);
      if (violations.length > 0) {
        const err = validationError(`message ${seq}`, violations);
        throw new InvalidArgumentError(err.message, { details: { ...err.details, seq, direction: 'request' } });
      }
    };
  }

  #server(maxPayload: number): WebSocketServer {
    let server = this.#servers.get(maxPayload);
    if (server === undefined) {
      server = new WebSocketServer({
        noServer: true,
        maxPayload,
        // Compression would let a small frame inflate past the limits and costs CPU per item.
        perMessageDeflate: false,
        clientTracking: false,
        // `bearer` is chosen when the client offered it (its token rode along, ws-credentials.ts):
        // a browser fails a handshake that selects none of its protocols.
        handleProtocols: (protocols) => (protocols.has(BEARER_SUBPROTOCOL) ? BEARER_SUBPROTOCOL : false),
      });
      this.#servers.set(maxPayload, server);
    }
    return server;
  }
}

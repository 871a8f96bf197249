import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Span } from '@opentelemetry/api';
import { isSwitchyardError, UnavailableError, validationError } from '@switchyard/broker';
import { type SchemaRegistry, traceparentOf, tracingOn } from '@switchyard/sdk';
import type { Logger } from 'pino';
import type { AuthGuard } from '../auth/auth-guard.js';
import { ANONYMOUS, type Identity } from '../auth/identity.js';
import { stripIdentityHeaders } from '../auth/identity-headers.js';
import type { CachedResponse, CachePlan, ResponseCache } from '../cache/response-cache.js';
import type { ErrorLog } from '../console/error-log.js';
import { setHeaderList } from '../http/header-list.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { RejectReason } from '../metrics/labels.js';
import type { ClientIpResolver, TrustProxy } from '../ratelimit/client-ip.js';
import type { RateLimiter } from '../ratelimit/rate-limiter.js';
import type { RateLimitResult } from '../ratelimit/route-limiter.js';
import { normalizePath, pathRejectedError } from '../routing/normalize-path.js';
import type { RouteStore } from '../routing/route-store.js';
import {
  endRequestSpan,
  endUpstreamSpan,
  requestFailed,
  routeMatched,
  startRequestSpan,
  startUpstreamSpan,
} from '../tracing/request-spans.js';
import { parseJsonBody, readBody } from './body.js';
import { endSocket } from './client-error.js';
import {
  badFraming,
  bodyTooLarge,
  methodNotAllowed,
  rawErrorResponse,
  routeNotFound,
  upgradeRequired,
  writeEdgeError,
} from './edge-errors.js';
import type { Forwarder, ForwardRequest } from './forwarder.js';
import { framingProblem } from './framing.js';
import type { InFlight } from './in-flight.js';
import { isReservedPath } from './ops-app.js';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.js';
import type { RouteRuntimes } from './route-runtimes.js';
import type { RpcBridge } from './rpc-bridge.js';
import type { WsBridge } from './ws-bridge.js';
import { takeSubprotocolBearer } from './ws-credentials.js';

export interface RequestPipelineDeps {
  store: RouteStore;
  runtimes: RouteRuntimes;
  guard: AuthGuard;
  rateLimiter: RateLimiter;
  clientIp: ClientIpResolver;
  /** The resolver's setting: without trusted proxies the client address is the socket's, computed once per connection. */
  trustProxy: TrustProxy;
  forwarder: Forwarder;
  rpc: RpcBridge;
  /** `stream: websocket` routes; without it their upgrades get 501. */
  ws?: WsBridge | undefined;
  schemas: SchemaRegistry;
  metrics: GatewayMetrics;
  logger: Logger;
  inFlight: InFlight;
  /** The gateway's own endpoints (`/healthz`, `/readyz`) on the public listener. */
  ops: (req: IncomingMessage, res: ServerResponse) => void;
  /** Responses of routes with `cache`. */
  responseCache: ResponseCache;
  /** Where the errors the gateway answers with are noted for the console. */
  errors?: ErrorLog | undefined;
}

/** Per-request state: one small object, found from the response in the `close` handler. */
class Exchange {
  routeId: string | undefined = undefined;
  requestId = '';
  /** The request reached its target: failures from here on are the upstream's, not refusals. */
  atTarget = false;
  /** A gateway endpoint: not counted in the route metrics. */
  ops = false;
  /** The client sent `Expect: 100-continue` and waits for the go-ahead before sending its body. */
  expectsContinue = false;
  /** The request's SERVER span, while a tracer provider is registered. */
  span: Span | undefined = undefined;
  /**
   * Response headers the gateway decided (request id, RateLimit-*, Connection when
   * draining), flat name/value: set on the response only when the gateway answers itself;
   * a proxied answer takes them in its one writeHead.
   */
  readonly headers: string[] = [];
  constructor(readonly start: number) {}
}

const EXCHANGE = Symbol('switchyard.exchange');
type Tagged = ServerResponse & { [EXCHANGE]?: Exchange };
const CLIENT_IP = Symbol('switchyard.clientIp');
type IpTagged = Socket & { [CLIENT_IP]?: string };

/**
 * Every proxied request goes through here, on node's own `http` server, in this order:
 *
 *  1. request id: the client's valid `x-request-id`, else a new one (response, upstream, RPC headers);
 *  2. framing: ambiguous Transfer-Encoding / Host refused (node's parser refuses the rest);
 *  3. path normalisation (400 on tricks), then the gateway's own endpoints;
 *  4. route match: 404, or 405 with `Allow`;
 *  5. declared body size against the route's limit: 413 before anything is read;
 *  6. rate limit keyed by IP (before auth, so floods never cost a signature check);
 *  7. auth: 401 with `WWW-Authenticate`, 403; identity headers set, spoofed ones stripped;
 *  8. rate limit keyed by subject / API key; `RateLimit-*` headers from here on, 429;
 *  9. body: read whole (up to the limit) when it must be validated or bridged, or is chunked;
 *     JSON parsed and checked against the route's `requestSchema`: 400 with every violation;
 * 10. target: `http` → the upstream pool (streams the body when it was not read), `rpc` →
 *     the RPC bridge; a `stream: websocket` route answers 426 here (it takes upgrades only). A client waiting on `Expect: 100-continue` is told to go on only here.
 *
 * Any failure is written once, as JSON, by `writeEdgeError`. The route table, per-route
 * auth and limits are prepared when routes change; a request allocates its state object,
 * the rate-limit identity and what the stages return, and no closures.
 */
export class RequestPipeline {
  readonly #d: RequestPipelineDeps;
  /** While draining, every response asks the client to close its connection. */
  draining = false;
  /** Bound once: node's `request` listener. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /**
   * Bound once: node's `checkContinue` listener. The `100 Continue` is sent only once the
   * request passed every check that does not need the body (route, size, auth, rate limit),
   * so a refused client never uploads its body.
   */
  readonly handleExpectContinue: (req: IncomingMessage, res: ServerResponse) => void;
  /** Bound once: node's `upgrade` listener. */
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly #onClose: (this: ServerResponse) => void;
  readonly #trustsProxies: boolean;

  constructor(deps: RequestPipelineDeps) {
    this.#d = deps;
    this.#trustsProxies = deps.trustProxy !== false && deps.trustProxy !== 0;
    this.handle = (req, res) => this.#begin(req, res, false);
    this.handleExpectContinue = (req, res) => this.#begin(req, res, true);
    this.upgrade = (req, socket, head) => {
      void this.#runUpgrade(req, socket, head);
    };
    const pipeline = this;
    this.#onClose = function (this: ServerResponse) {
      pipeline.#finish(this);
    };
  }

  #begin(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    const x = new Exchange(performance.now());
    x.expectsContinue = expectsContinue;
    (res as Tagged)[EXCHANGE] = x;
    this.#d.inFlight.enter();
    res.on('close', this.#onClose);
    void this.#run(req, res, x);
  }

  async #run(req: IncomingMessage, res: ServerResponse, x: Exchange): Promise<void> {
    const d = this.#d;
    try {
      const requestId = requestIdOf(req.headers[REQUEST_ID_HEADER]);
      x.requestId = requestId;
      // The upstream pool and the RPC bridge send it on from `requestId`; the client gets it back.
      x.headers.push(REQUEST_ID_HEADER, requestId);
      if (this.draining) x.headers.push('connection', 'close');

      const framing = framingProblem(req);
      if (framing !== undefined) throw badFraming(framing);
      const target = normalizePath(req.url ?? '');
      if (!target.ok) throw pathRejectedError(target);
      const path = target.path;
      if (isReservedPath(path)) {
        x.ops = true;
        setHeaderList(res, x.headers);
        if (x.expectsContinue) res.writeContinue();
        d.ops(req, res);
        return;
      }
      // The gateway's own endpoints are not traced (probes would drown the traces).
      if (tracingOn()) x.span = startRequestSpan(req, path, x.start);
      const method = req.method ?? 'GET';
      const hit = d.store.match(req.headers.host, method, path);
      if (hit === undefined) throw routeNotFound();
      if (hit.methodNotAllowed) throw methodNotAllowed(method, hit.allowed);
      const route = hit.route;
      x.routeId = route.id;
      if (x.span !== undefined) routeMatched(x.span, method, route, requestId);
      const rt = d.runtimes.get(route);
      if (rt.broken !== undefined) throw rt.broken;
      if (rt.websocket) throw upgradeRequired();
      const declared = req.headers['content-length'];
      if (declared !== undefined && Number(declared) > rt.maxBodyBytes) throw bodyTooLarge(rt.maxBodyBytes);

      const clientIp = this.#clientIp(req);
      // An IP-keyed limit comes before auth, so a flood never costs a signature check. With
      // auth `off` the guard is skipped: stripping spoofed identity headers is all it would do.
      if (rt.limitKey === 'ip') this.#limited(x.headers, await this.#limit(route.id, clientIp, ANONYMOUS));
      let identity: Identity = ANONYMOUS;
      if (rt.authOff) stripIdentityHeaders(req);
      else identity = await d.guard.authorize(req, rt.auth!, path);
      if (rt.limitKey !== undefined && rt.limitKey !== 'ip') {
        this.#limited(x.headers, await this.#limit(route.id, clientIp, identity));
      }

      let cachePlan: CachePlan | undefined;
      if (route.cache !== undefined && !rt.rpc) {
        cachePlan = d.responseCache.plan(route, req, path, target.query, identity);
        const cached = cachePlan && d.responseCache.lookup(cachePlan);
        d.metrics.cacheResult(route.id, cached ? 'hit' : cachePlan ? 'miss' : 'bypass');
        if (cached) {
          x.atTarget = true;
          this.#serveCached(req, res, x, cached.entry, cached.ageSeconds);
          return;
        }
        if (cachePlan) x.headers.push('x-cache', 'MISS');
      }

      if (x.expectsContinue) res.writeContinue();
      let body: Buffer | undefined;
      // A chunked body announces no length: it is read (up to the limit) rather than streamed.
      if (rt.readsBody || req.headers['transfer-encoding'] !== undefined) body = await readBody(req, rt.maxBodyBytes);
      let payload: unknown;
      if (rt.readsBody) {
        payload = parseJsonBody(body!);
        if (rt.requestSchema !== undefined) this.#validate(rt.requestSchema, payload);
      }

      x.atTarget = true;
      if (rt.rpc) {
        const t = route.target;
        if (t.type !== 'rpc') return;
        setHeaderList(res, x.headers);
        await d.rpc.call(req, res, route.id, t, payload, identity, requestId, rt.timeoutMs, x.span);
        return;
      }
      const f: ForwardRequest = {
        req,
        res,
        route,
        upstreamPath: hit.upstreamPath,
        query: target.query,
        requestId,
        clientIp,
        body,
        responseHeaders: x.headers,
        recorder: cachePlan && method === 'GET' ? d.responseCache.recorder(route, cachePlan) : undefined,
      };
      if (x.span === undefined) await d.forwarder.forward(f);
      else await this.#forwardTraced(f, x.span, method, route.target);
    } catch (err) {
      this.#fail(res, x, err);
    }
  }

  /** The upstream exchange under a CLIENT span whose id the upstream gets in `traceparent`. */
  async #forwardTraced(f: ForwardRequest, parent: Span, method: string, target: { service?: string }): Promise<void> {
    const span = startUpstreamSpan(parent, method, target.service ?? '');
    f.traceparent = traceparentOf(span);
    await this.#d.forwarder.forward(f);
    endUpstreamSpan(span, f.res.headersSent ? f.res.statusCode : undefined);
  }

  /** A stored response: its headers under the gateway's own (which win), its age, and the body unless HEAD. */
  #serveCached(req: IncomingMessage, res: ServerResponse, x: Exchange, entry: CachedResponse, age: number): void {
    const own = x.headers;
    const list: string[] = [];
    for (let i = 0; i < entry.headers.length; i += 2) {
      const lower = entry.headers[i]!.toLowerCase();
      if (lower === 'age' || lower === 'x-cache') continue;
      let mine = false;
      for (let j = 0; j < own.length; j += 2) if (own[j]!.toLowerCase() === lower) mine = true;
      if (!mine) list.push(entry.headers[i]!, entry.headers[i + 1]!);
    }
    list.push(...own, 'age', String(age), 'x-cache', 'HIT');
    res.writeHead(entry.status, entry.statusText, list);
    if (req.method === 'HEAD') res.end();
    else res.end(entry.body);
  }

  /**
   * The client address. Unless trusted proxies may rewrite it per request (X-Forwarded-For),
   * it is the connection's peer: parsed once per connection, not once per request.
   */
  #clientIp(req: IncomingMessage): string {
    if (this.#trustsProxies && req.headers['x-forwarded-for'] !== undefined) return this.#d.clientIp.fromRequest(req);
    const socket = req.socket as IpTagged;
    let ip = socket[CLIENT_IP];
    if (ip === undefined) {
      ip = this.#d.clientIp.resolve(socket.remoteAddress, undefined);
      socket[CLIENT_IP] = ip;
    }
    return ip;
  }

  /** Count the request; the RateLimit-* headers go on `res` (an upgrade has none to carry them). */
  #limit(routeId: string, ip: string, identity: Identity): Promise<RateLimitResult> {
    // An API key is counted by its id (never the secret itself); it reaches here as `client_id`.
    const apiKey = identity.method === 'api-key' ? String(identity.claims.client_id ?? identity.subject) : undefined;
    return this.#d.rateLimiter.check(routeId, { ip, subject: identity.subject, apiKey });
  }

  /** Apply a #limit() result (awaited by the caller: one async frame less per request). */
  #limited(headers: string[] | undefined, r: RateLimitResult): void {
    if (headers !== undefined) {
      const h = r.headers;
      for (const name in h) headers.push(name, h[name]!);
    }
    if (!r.allowed) throw r.error;
  }

  #validate(schemaId: string, payload: unknown): void {
    const schemas = this.#d.schemas;
    // Looked up per request (a map read): a schema that changes applies to the next request.
    if (!schemas.has(schemaId)) {
      throw new UnavailableError('the request schema of this route is not loaded', { details: { schema: schemaId } });
    }
    const violations = schemas.get(schemaId).validate(payload);
    if (violations.length > 0) throw validationError('request body', violations);
  }

  #fail(res: ServerResponse, x: Exchange, err: unknown): void {
    const d = this.#d;
    if (x.span !== undefined) requestFailed(x.span, err);
    if (!x.atTarget) {
      const reason = rejectReason(err);
      if (reason !== undefined) d.metrics.rejected(x.routeId, reason);
    }
    if (!isSwitchyardError(err) || err.canonical === 'INTERNAL') {
      d.logger.error({ err, requestId: x.requestId, route: x.routeId }, 'gateway: request failed inside the gateway');
    }
    if (!res.headersSent) setHeaderList(res, x.headers);
    // Refused before `100 Continue`: the client may never send the body, so the connection cannot be reused.
    if (x.expectsContinue && !res.headersSent) res.setHeader('connection', 'close');
    d.errors?.record(err, x.routeId, x.requestId || undefined);
    writeEdgeError(res, err, x.requestId || undefined);
  }

  #finish(res: ServerResponse): void {
    const x = (res as Tagged)[EXCHANGE];
    this.#d.inFlight.leave();
    if (x === undefined || x.ops) return;
    // A response cut before its head was sent never reached the client: 499, as nginx counts it.
    const status = res.headersSent ? res.statusCode : 499;
    if (x.span !== undefined) endRequestSpan(x.span, status);
    this.#d.metrics.observeRequest(x.routeId, res.req?.method, status, (performance.now() - x.start) / 1000);
  }

  /**
   * WebSocket and other upgrades: the same checks (refusals are HTTP answers on the raw
   * socket, before any handshake), then the upstream takes the socket — or, on a
   * `stream: websocket` route, the WebSocket bridge.
   */
  async #runUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const d = this.#d;
    let requestId: string | undefined;
    let routeId: string | undefined;
    try {
      requestId = requestIdOf(req.headers[REQUEST_ID_HEADER]);
      const framing = framingProblem(req);
      if (framing !== undefined) throw badFraming(framing);
      const target = normalizePath(req.url ?? '');
      if (!target.ok) throw pathRejectedError(target);
      const method = req.method ?? 'GET';
      const hit = d.store.match(req.headers.host, method, target.path);
      if (hit === undefined) throw routeNotFound();
      if (hit.methodNotAllowed) throw methodNotAllowed(method, hit.allowed);
      routeId = hit.route.id;
      const rt = d.runtimes.get(hit.route);
      if (rt.broken !== undefined) throw rt.broken;
      if (rt.rpc && !rt.websocket) throw methodNotAllowed(`${method} with Upgrade`, []);
      const clientIp = this.#clientIp(req);
      if (rt.limitKey === 'ip') this.#limited(undefined, await this.#limit(routeId, clientIp, ANONYMOUS));
      // Browsers cannot set Authorization on a WebSocket: their token may come as a subprotocol.
      if (rt.websocket && !rt.authOff) takeSubprotocolBearer(req, d.guard.realm);
      const identity = await d.guard.authorize(req, rt.auth!, target.path);
      if (rt.limitKey !== undefined && rt.limitKey !== 'ip') {
        this.#limited(undefined, await this.#limit(routeId, clientIp, identity));
      }
      if (rt.websocket) {
        const t = hit.route.target;
        if (t.type !== 'rpc') return;
        if (this.draining) throw new UnavailableError('the gateway is shutting down', { retryable: true });
        if (d.ws === undefined) throw methodNotAllowed(`${method} with Upgrade`, []);
        d.ws.upgrade({
          req,
          socket,
          head,
          routeId,
          target: t,
          identity,
          requestId,
          maxMessageBytes: rt.maxMessageBytes,
          timeoutMs: rt.streamTimeoutMs,
          requestSchema: rt.requestSchema,
        });
        return;
      }
      d.forwarder.upgrade(req, socket, head, {
        req,
        route: hit.route,
        upstreamPath: hit.upstreamPath,
        query: target.query,
        requestId,
        clientIp,
      });
    } catch (err) {
      const reason = rejectReason(err);
      if (reason !== undefined) d.metrics.rejected(routeId, reason);
      if (!isSwitchyardError(err) || err.canonical === 'INTERNAL') {
        d.logger.error({ err, requestId, route: routeId }, 'gateway: upgrade failed inside the gateway');
      }
      endSocket(socket, rawErrorResponse(err, requestId));
    }
  }
}

/** Which refusal an error is, for `switchyard_gateway_rejected_total`. */
function rejectReason(err: unknown): RejectReason | undefined {
  if (!isSwitchyardError(err)) return 'other';
  const reason = err.details?.reason;
  switch (reason) {
    case 'route_not_found':
      return 'not_found';
    case 'method_not_allowed':
      return 'method';
    case 'body_too_large':
    case 'headers_too_large':
      return 'size';
    case 'multiple_credentials':
      return 'auth';
  }
  switch (err.code) {
    case 'UNAUTHENTICATED':
      return 'auth';
    case 'PERMISSION_DENIED':
      return 'forbidden';
    case 'RATE_LIMITED':
      return 'rate_limit';
    case 'INVALID_ARGUMENT':
      return 'validation';
    case 'CANCELLED':
      return undefined;
    default:
      return 'other';
  }
}

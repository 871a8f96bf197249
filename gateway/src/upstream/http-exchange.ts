import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, Readable } from 'node:stream';
import { InternalError } from '@switchyard/broker';
import type { UpstreamErrorReason } from '../metrics/labels.js';
import type { CompiledRoute, ResolvedHttpTarget } from '../routing/route-compiler.js';
import { setForwardedHeaders } from './forwarded-headers.js';
import { responseHeaderList, withoutHopHeaders } from './hop-by-hop.js';
import type { ResolvedPoolOptions } from './pool-options.js';
import type { ServiceUpstreams } from './service-upstreams.js';
import {
  circuitOpen,
  classifyError,
  type FailureKind,
  failureResponse,
  metricReason,
  noInstance,
  type UpstreamFailure,
  writeFailure,
} from './upstream-failure.js';
import type { UpstreamInstance } from './upstream-instance.js';

/** One matched request to proxy, as the gateway's request pipeline hands it over. */
export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  /** The matched route; its target must be `http`. */
  route: CompiledRoute;
  /** The normalised (stripped/rewritten) upstream path, without the query. */
  upstreamPath: string;
  /** The raw query string, with or without its leading '?' ('' when none); sent unchanged. */
  query: string;
  requestId: string;
  /** The resolved client address (trusted proxies honoured), for X-Forwarded-For. */
  clientIp: string;
  /** The request body, when the pipeline has already read it (schema validation); it is sent as is. */
  body?: Buffer;
}

/** What an exchange needs from its pool. */
export interface ExchangeHost {
  readonly options: ResolvedPoolOptions;
  /** http-proxy's `web()`. */
  send(req: IncomingMessage, res: ServerResponse, options: AttemptOptions, onError: (err: Error) => void): void;
  upstreamError(routeId: string, reason: UpstreamErrorReason): void;
  exchangeEnded(): void;
}

/** http-proxy's per-request options, plus the attempt they belong to (read back in its `proxyReq` event). */
export interface AttemptOptions {
  target: UpstreamInstance['target'];
  agent: UpstreamInstance['agent'];
  selfHandleResponse: true;
  /** Use req.url as is (no url.parse per request, query bytes untouched). */
  toProxy: true;
  buffer?: Readable;
  switchyardAttempt: Attempt;
}

/** Methods whose requests may be sent twice (RFC 9110 9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** A failed attempt counts as at least this slow for p2c-latency, ms: it steers traffic away before ejection does. */
const FAILURE_LATENCY_MS = 250;

const ATTEMPT = Symbol('switchyard.upstream.attempt');

type BodyKind = 'empty' | 'buffered' | 'streamed';

/** One try of a request on one instance. */
export class Attempt {
  readonly exchange: HttpExchange;
  readonly instance: UpstreamInstance;
  /** This request is the instance's half-open probe. */
  readonly probe: boolean;
  readonly startedAt = performance.now();
  proxyReq: ClientRequest | undefined;
  /** A connection to the instance exists (fresh and connected, or reused). */
  connected = false;
  reused = false;
  /** Response headers arrived. */
  responded = false;
  /** Its `outstanding` count was given back. */
  finished = false;
  /** Holds a streamed body back until the connection is up (so a connect failure leaves it unread). */
  gate: PassThrough | undefined;

  constructor(exchange: HttpExchange, instance: UpstreamInstance, probe: boolean) {
    this.exchange = exchange;
    this.instance = instance;
    this.probe = probe;
  }
}

/** The attempt a proxied request belongs to (set when its socket is assigned). */
export function attemptOf(proxyReq: ClientRequest): Attempt | undefined {
  return (proxyReq as ClientRequest & { [ATTEMPT]?: Attempt })[ATTEMPT];
}

/**
 * One forwarded request, from the pick of an instance to the end of the response:
 * attempts and retries, the deadline, health and circuit bookkeeping, and the response
 * (proxied, or a JSON error). It never throws; `resolve` (the promise `forward()`
 * returned) is called when the client's response has closed (finished or aborted).
 *
 * Retry rules. A retry goes to another instance than the one that just failed, within
 * `retries.attempts` extra tries, and never after the response has started:
 * - nothing was sent (connect failure), or a reused keep-alive connection was reset
 *   before any response byte: any method, as long as the body can be sent again;
 * - other socket errors before the response, or a 502/503 answer: only idempotent
 *   methods, and only with a buffered or empty body;
 * - a deadline is never retried: `timeoutMs` bounds the whole wait for the response
 *   headers, all attempts included (the body is then bounded by the idle timeout).
 * A body can be sent again when it was buffered, is empty, or was never read (a streamed
 * body is read from the client only once a connection is up).
 */
export class HttpExchange {
  readonly #host: ExchangeHost;
  readonly #f: ForwardRequest;
  readonly #svc: ServiceUpstreams;
  readonly #target: ResolvedHttpTarget;
  readonly #resolve: () => void;
  readonly #idempotent: boolean;
  #bodyKind: BodyKind = 'empty';
  #bodyStarted = false;
  #hashKey: string | undefined;
  #retriesLeft: number;
  #timeoutMs: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #tried: UpstreamInstance[] = [];
  #current: Attempt | undefined;
  /** The breaker admitted this request as its half-open trial. */
  #trial = false;
  #admitted = false;
  /** The outcome is decided: an error was written or the upstream response is being relayed. */
  #decided = false;
  #ended = false;

  constructor(host: ExchangeHost, f: ForwardRequest, svc: ServiceUpstreams, resolve: () => void) {
    this.#host = host;
    this.#f = f;
    this.#svc = svc;
    this.#target = f.route.target as ResolvedHttpTarget;
    this.#resolve = resolve;
    this.#idempotent = IDEMPOTENT.has(f.req.method ?? '');
    this.#retriesLeft = f.route.retries?.attempts ?? host.options.defaultRetries;
    this.#timeoutMs = f.route.timeoutMs ?? host.options.defaultTimeoutMs;
  }

  start(): void {
    const { req, res } = this.#f;
    if (res.destroyed) {
      this.#onClose();
      return;
    }
    // Inline closures rather than arrow-function fields: cheaper per request (no per-instance function naming).
    res.once('close', () => this.#onClose());
    const svc = this.#svc;
    svc.refresh();
    const admission = svc.breaker?.admit();
    if (admission !== undefined && !admission.ok) {
      this.#host.upstreamError(this.#f.route.id, 'circuit_open');
      this.#decide(circuitOpen(svc.name, admission.retryAfterMs));
      return;
    }
    this.#admitted = admission !== undefined;
    this.#trial = admission?.trial ?? false;
    const hashHeader = this.#target.hashHeader;
    if (hashHeader !== undefined) {
      const v = req.headers[hashHeader];
      const key = Array.isArray(v) ? v[0] : v;
      this.#hashKey = key === '' ? undefined : key;
    }
    const first = svc.pick(this.#target.balancer, this.#hashKey, this.#tried);
    if (first === undefined) {
      this.#host.upstreamError(this.#f.route.id, 'no_instance');
      this.#releaseAdmission();
      this.#decide(noInstance(svc.name));
      return;
    }
    this.#prepareHeaders();
    this.#timer = setTimeout(() => this.#onDeadline(), this.#timeoutMs);
    this.#launch(first);
  }

  /** Called by the pool's `proxyReq` listener: the attempt's request has a socket. */
  socketAssigned(a: Attempt, proxyReq: ClientRequest): void {
    a.proxyReq = proxyReq;
    (proxyReq as ClientRequest & { [ATTEMPT]?: Attempt })[ATTEMPT] = a;
    if (a.finished || this.#decided) {
      // Queued behind the agent's socket limit until after the deadline, or superseded.
      proxyReq.destroy();
      return;
    }
    const socket = proxyReq.socket;
    if (socket?.connecting) {
      socket.once('connect', () => this.#connected(a));
    } else {
      a.reused = proxyReq.reusedSocket;
      this.#connected(a);
    }
  }

  /** Called by the pool's `proxyRes` listener. */
  responded(a: Attempt, proxyRes: IncomingMessage): void {
    if (a.finished || this.#decided || a !== this.#current) {
      // A late answer to an attempt given up (deadline): drain it so the connection is reused.
      proxyRes.resume();
      return;
    }
    a.responded = true;
    const inst = a.instance;
    const now = performance.now();
    inst.observeLatency(now - a.startedAt, now);
    const status = proxyRes.statusCode ?? 502;
    const failed = this.#host.options.health.failureStatuses.has(status);
    if (failed) {
      this.#svc.outlier.failure(inst, a.probe, this.#svc.instances);
      this.#host.upstreamError(this.#f.route.id, 'bad_response');
    } else {
      this.#svc.outlier.success(inst, a.probe);
    }
    if ((status === 502 || status === 503) && this.#canRetry('status')) {
      const next = this.#svc.pick(this.#target.balancer, this.#hashKey, this.#tried);
      if (next !== undefined) {
        proxyRes.resume();
        this.#finish(a);
        this.#retriesLeft--;
        this.#launch(next);
        return;
      }
    }
    this.#relay(a, proxyRes, status, failed);
  }

  /** The attempt's request failed (http-proxy's error callback). */
  attemptFailed(a: Attempt, err: Error): void {
    if (a !== this.#current) return;
    if (a.responded) {
      // The upstream broke off a response already being relayed: cut the client's.
      this.#midBodyFailure(a);
      return;
    }
    if (a.finished) return;
    this.#finish(a);
    // Our own doing (deadline passed, client gone): already accounted for.
    if (this.#decided) return;
    const kind = classifyError(err, a.connected, a.reused);
    this.#instanceFailed(a);
    this.#host.upstreamError(this.#f.route.id, metricReason(kind));
    if (this.#canRetry(kind)) {
      const next = this.#svc.pick(this.#target.balancer, this.#hashKey, this.#tried);
      if (next !== undefined) {
        this.#retriesLeft--;
        this.#launch(next);
        return;
      }
    }
    this.#fail(kind);
  }

  #prepareHeaders(): void {
    const { req, body } = this.#f;
    const host = req.headers.host;
    const chunked = req.headers['transfer-encoding'] !== undefined;
    // Replaced, not edited: http-proxy copies req.headers into the upstream request.
    const headers = withoutHopHeaders(req.headers);
    req.headers = headers;
    setForwardedHeaders(headers, req, this.#f.clientIp, this.#f.requestId, host);
    if (body !== undefined) {
      this.#bodyKind = 'buffered';
      headers['content-length'] = String(body.length);
    } else if (chunked) {
      // Node de-chunked the body; re-frame it the same way (a GET or DELETE with a body would otherwise go out unframed).
      this.#bodyKind = 'streamed';
      headers['transfer-encoding'] = 'chunked';
      delete headers['content-length'];
    } else {
      const length = headers['content-length'];
      this.#bodyKind = length === undefined || length === '0' ? 'empty' : 'streamed';
    }
  }

  #launch(inst: UpstreamInstance): void {
    const { req, res } = this.#f;
    const a = new Attempt(this, inst, this.#svc.outlier.picked(inst));
    this.#current = a;
    this.#tried.push(inst);
    inst.outstanding++;
    if (this.#tried.length > 8) req.setMaxListeners(Math.max(req.getMaxListeners(), this.#tried.length + 4));
    const options: AttemptOptions = {
      target: inst.target,
      agent: inst.agent,
      selfHandleResponse: true,
      toProxy: true,
      switchyardAttempt: a,
    };
    if (this.#bodyKind === 'buffered') {
      options.buffer = bufferStream(this.#f.body!);
    } else if (this.#bodyKind === 'streamed' && this.#retriesLeft > 0) {
      a.gate = new PassThrough();
      options.buffer = a.gate;
    }
    if (!this.#host.options.preserveHost) req.headers.host = inst.hostHeader;
    const url = req.url;
    req.url = this.#f.upstreamPath + querySuffix(this.#f.query);
    try {
      this.#host.send(req, res, options, (err) => this.attemptFailed(a, err));
    } catch (err) {
      // http.request rejects a header it cannot send (ERR_INVALID_CHAR ...): the gateway's fault, not the instance's.
      this.#finish(a);
      this.#releaseAdmission();
      this.#decide({ error: new InternalError('the request could not be sent upstream', { cause: err }) });
    } finally {
      req.url = url;
    }
  }

  #connected(a: Attempt): void {
    a.connected = true;
    if (a.gate !== undefined && !a.finished && !this.#decided) {
      this.#bodyStarted = true;
      this.#f.req.pipe(a.gate);
    }
  }

  #canRetry(kind: FailureKind): boolean {
    if (this.#retriesLeft <= 0) return false;
    const replayable = this.#bodyKind !== 'streamed';
    switch (kind) {
      case 'connect':
      case 'stale':
        return replayable || !this.#bodyStarted;
      case 'reset':
      case 'protocol':
      case 'status':
        return this.#idempotent && replayable;
      case 'timeout':
        return false;
    }
  }

  #relay(a: Attempt, proxyRes: IncomingMessage, status: number, failed: boolean): void {
    const res = this.#f.res;
    this.#decided = true;
    this.#clearTimer();
    this.#recordOutcome(!failed);
    const list = responseHeaderList(proxyRes.rawHeaders);
    const preset = res.getHeaderNames();
    if (preset.length === 0) {
      res.writeHead(status, proxyRes.statusMessage, list);
    } else {
      // Headers the gateway set before forwarding (rate limits, CORS ...) win over the upstream's.
      for (let i = 0; i < list.length; i += 2) {
        if (!preset.includes(list[i]!.toLowerCase())) res.appendHeader(list[i]!, list[i + 1]!);
      }
      res.writeHead(status, proxyRes.statusMessage);
    }
    // The idle timeout costs listeners and a timer per request: only for responses that can
    // last (streams without Content-Length, such as SSE, or large bodies). A short fixed-length
    // body that stalls is ended by the client going away.
    const idle = this.#host.options.responseIdleTimeoutMs;
    if (idle > 0 && isLong(list)) a.proxyReq?.setTimeout(idle, () => a.proxyReq?.destroy());
    proxyRes.on('error', () => this.#midBodyFailure(a));
    proxyRes.pipe(res);
  }

  #midBodyFailure(a: Attempt): void {
    const res = this.#f.res;
    // destroy() below sets `destroyed` at once: the error callback and the stream's error event count once.
    if (res.writableFinished || res.destroyed) return;
    this.#svc.outlier.failure(a.instance, false, this.#svc.instances);
    this.#host.upstreamError(this.#f.route.id, 'reset');
    res.destroy();
  }

  #onDeadline(): void {
    this.#timer = undefined;
    if (this.#decided) return;
    const a = this.#current;
    if (a !== undefined && !a.finished) {
      this.#instanceFailed(a);
      this.#finish(a);
      a.proxyReq?.destroy();
    }
    this.#host.upstreamError(this.#f.route.id, 'timeout');
    this.#fail('timeout');
  }

  #onClose(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clearTimer();
    const a = this.#current;
    if (a !== undefined && !a.finished) {
      if (!this.#f.res.writableFinished) {
        a.proxyReq?.destroy();
        if (a.probe && !a.responded) this.#svc.outlier.probeAbandoned(a.instance);
      }
      this.#finish(a);
    }
    this.#releaseAdmission();
    this.#decided = true;
    this.#host.exchangeEnded();
    this.#resolve();
  }

  #instanceFailed(a: Attempt): void {
    const inst = a.instance;
    const now = performance.now();
    inst.observeLatency(Math.max(now - a.startedAt, 2 * inst.latency(now), FAILURE_LATENCY_MS), now);
    this.#svc.outlier.failure(inst, a.probe, this.#svc.instances);
  }

  #fail(kind: FailureKind): void {
    this.#recordOutcome(false);
    this.#decide(failureResponse(kind, this.#svc.name, this.#tried.length, this.#timeoutMs));
  }

  #decide(failure: UpstreamFailure): void {
    this.#decided = true;
    this.#clearTimer();
    writeFailure(this.#f.res, failure, this.#f.requestId);
  }

  /** The admitted request ends without saying anything about the service (no instance, client gone). */
  #releaseAdmission(): void {
    if (!this.#admitted) return;
    this.#admitted = false;
    this.#svc.breaker?.abandon(this.#trial);
  }

  #recordOutcome(success: boolean): void {
    if (!this.#admitted) return;
    this.#admitted = false;
    this.#svc.breaker?.record(success, this.#trial);
  }

  #finish(a: Attempt): void {
    if (a.finished) return;
    a.finished = true;
    a.instance.outstanding--;
    if (a.gate !== undefined) this.#f.req.unpipe(a.gate);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}

/**
 * The query as appended to the path. Both conventions are accepted: normalizePath's
 * query has no '?', a raw one starts with it (so a query that itself starts with '?',
 * from `/x??a`, must be passed with its separator: `??a`).
 */
export function querySuffix(query: string): string {
  return query === '' || query.charCodeAt(0) === 0x3f ? query : `?${query}`;
}

/** Responses at least this long (or without a length) get the idle timeout. */
const LONG_BODY_BYTES = 64 * 1024;

/** From the raw header list: `proxyRes.headers` would build node's header object just for this. */
function isLong(list: readonly string[]): boolean {
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    if (name.length === 14 && name.toLowerCase() === 'content-length') return !(Number(list[i + 1]) < LONG_BODY_BYTES);
  }
  return true;
}

function bufferStream(body: Buffer): Readable {
  return new Readable({
    read() {
      if (body.length > 0) this.push(body);
      this.push(null);
    },
  });
}

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import { InternalError } from '@switchyard/broker';
import type { Dispatcher } from 'undici';
import { setHeaderList } from '../http/header-list.js';
import type { UpstreamErrorReason } from '../metrics/labels.js';
import type { CompiledRoute, ResolvedHttpTarget } from '../routing/route-compiler.js';
import { setForwardedHeaders } from './forwarded-headers.js';
import { responseHeaderList, withoutHopHeaders } from './hop-by-hop.js';
import type { ResolvedPoolOptions } from './pool-options.js';
import type { ServiceUpstreams } from './service-upstreams.js';
import { wentOutOnReusedConnection } from './upstream-connections.js';
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
  /** The request body, when the pipeline has already read it (validation, chunked); else the request streams. */
  body?: Buffer | undefined;
  /**
   * Response headers the gateway decided (request id, RateLimit-*), as a flat name/value
   * list. They go out with the response in one `writeHead` and win over the upstream's
   * headers of the same name; also on an error answer. None when absent.
   */
  responseHeaders?: readonly string[];
  /** Set when the route caches responses and this request may fill the cache. */
  recorder?: ResponseRecorder | undefined;
  /** With tracing on: the gateway's CLIENT span for this hop, sent instead of the client's `traceparent`. */
  traceparent?: string | undefined;
}

/** Keeps a copy of a relayed response (the gateway's response cache). */
export interface ResponseRecorder {
  /** The response head (the upstream's end-to-end headers, flat): the most body bytes to keep, or undefined to keep none. */
  begin(status: number, statusText: string, headers: readonly string[]): number | undefined;
  /** The whole body, relayed to the client in full. */
  end(body: Buffer): void;
}

/** What an exchange needs from its pool. */
export interface ExchangeHost {
  readonly options: ResolvedPoolOptions;
  upstreamError(routeId: string, reason: UpstreamErrorReason): void;
  /** A bug of ours surfaced in an undici callback: logged; the exchange is cut. */
  internalFailure(err: unknown, where: string): void;
  exchangeEnded(): void;
}

const NO_HEADERS: readonly string[] = Object.freeze([]);

const EXCHANGE = Symbol('switchyard.upstream.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: HttpExchange };

function onResponseClose(this: ServerResponse): void {
  (this as ExchangeResponse)[EXCHANGE]?.closed();
}

/** Methods whose requests may be sent twice (RFC 9110 9.2.2). */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** A failed attempt counts as at least this slow for p2c-latency, ms: it steers traffic away before ejection does. */
const FAILURE_LATENCY_MS = 250;

type BodyKind = 'empty' | 'buffered' | 'streamed';

/**
 * One try of a request on one instance, and undici's handler for that request: undici
 * reports the connection (`onConnect`), the response head, body chunks, the end or an
 * error; the exchange makes the decisions.
 */
export class Attempt implements Dispatcher.DispatchHandlers {
  readonly exchange: HttpExchange;
  readonly instance: UpstreamInstance;
  /** This request is the instance's half-open probe. */
  readonly probe: boolean;
  readonly startedAt = performance.now();
  /** undici's abort for this request; set once the request is written on a connection. */
  abortRequest: ((err?: Error) => void) | undefined;
  /** undici's resume, for when the client has drained. */
  resumeBody: (() => void) | undefined;
  /** The request went out on a connection (fresh and connected, or reused). */
  connected = false;
  reused = false;
  /** Response headers arrived. */
  responded = false;
  /** Its response is the one being written to the client. */
  relaying = false;
  /** Its `outstanding` count was given back. */
  finished = false;
  /** Holds a streamed body back until the connection is up (so a connect failure leaves it unread). */
  gate: PassThrough | undefined;

  constructor(exchange: HttpExchange, instance: UpstreamInstance, probe: boolean) {
    this.exchange = exchange;
    this.instance = instance;
    this.probe = probe;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortRequest = abort;
    this.reused = wentOutOnReusedConnection(this);
    this.exchange.connected(this);
  }

  // undici turns a throw in onHeaders/onData into an abort of this request; catching here
  // as well gets a bug of ours logged and the client's response cut, not left hanging.
  onHeaders(status: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    this.resumeBody = resume;
    try {
      return this.exchange.responded(this, status, headers, statusText);
    } catch (bug) {
      this.exchange.internalFailure(bug);
      return false;
    }
  }

  onData(chunk: Buffer): boolean {
    if (!this.relaying) return true;
    try {
      return this.exchange.relayChunk(this, chunk);
    } catch (bug) {
      this.exchange.internalFailure(bug);
      return false;
    }
  }

  onComplete(): void {
    if (this.relaying) this.exchange.relayEnd();
  }

  onError(err: Error): void {
    // Called from inside undici's socket and parser callbacks: a throw here would be
    // emitted as an 'error' on its client and take the process down.
    try {
      this.exchange.attemptFailed(this, err);
    } catch (bug) {
      this.exchange.internalFailure(bug);
    }
  }

  /** Cancel the request (once it is on a connection; before that, `connected()` cancels it). */
  cancel(): void {
    this.abortRequest?.();
  }
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
  /** The upstream request's headers (Host set per attempt). */
  #headers: IncomingHttpHeaders | undefined;
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
  /** Body chunks kept for the recorder; undefined when not recording (or over its budget). */
  #recorded: Buffer[] | undefined;
  #recordBudget = 0;

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
      this.closed();
      return;
    }
    // One shared listener (no closure per request); 'close' fires once.
    (res as ExchangeResponse)[EXCHANGE] = this;
    res.on('close', onResponseClose);
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

  /** The attempt's request is being written on a connection. */
  connected(a: Attempt): void {
    if (a.finished || this.#decided) {
      // Queued for a connection until after the deadline, or superseded.
      a.cancel();
      return;
    }
    a.connected = true;
    if (a.gate !== undefined) {
      this.#bodyStarted = true;
      this.#f.req.pipe(a.gate);
    }
  }

  /** The attempt's response head arrived. Returns undici's "go on". */
  responded(a: Attempt, status: number, rawHeaders: Buffer[], statusText: string): boolean {
    if (a.finished || this.#decided || a !== this.#current) {
      // A late answer to an attempt given up: its body is read and dropped, so the connection is reused.
      return true;
    }
    a.responded = true;
    const inst = a.instance;
    const now = performance.now();
    inst.observeLatency(now - a.startedAt, now);
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
        this.#finish(a);
        this.#retriesLeft--;
        this.#launch(next);
        return true;
      }
    }
    this.#relay(a, status, rawHeaders, statusText, failed);
    return true;
  }

  /** A body chunk of the relayed response; false pauses undici until the client has drained. */
  relayChunk(a: Attempt, chunk: Buffer): boolean {
    const res = this.#f.res;
    if (this.#recorded !== undefined) {
      this.#recordBudget -= chunk.length;
      if (this.#recordBudget < 0) this.#recorded = undefined;
      else this.#recorded.push(Buffer.from(chunk)); // undici may reuse the chunk's memory
    }
    if (res.write(chunk) || a.resumeBody === undefined) return true;
    res.once('drain', a.resumeBody);
    return false;
  }

  relayEnd(): void {
    const recorded = this.#recorded;
    this.#recorded = undefined;
    if (recorded !== undefined) this.#f.recorder?.end(Buffer.concat(recorded));
    this.#f.res.end();
  }

  /** A bug of ours in an undici callback: logged, and the exchange is cut. */
  internalFailure(err: unknown): void {
    this.#host.internalFailure(err, 'upstream response');
    // Decided and cut first, so the cancel's onError neither retries nor blames the instance.
    this.#decided = true;
    this.#clearTimer();
    this.#f.res.destroy();
    const a = this.#current;
    if (a !== undefined && !a.finished) {
      this.#finish(a);
      a.cancel();
    }
  }

  /** The attempt's request failed (undici's onError). */
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
    if (isRequestRefused(err)) {
      // undici would not send the request as built: the gateway's fault, not the instance's.
      this.#releaseAdmission();
      this.#decide({ error: new InternalError('the request could not be sent upstream', { cause: err }) });
      return;
    }
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
    const headers = withoutHopHeaders(req.headers);
    setForwardedHeaders(headers, req, this.#f.clientIp, this.#f.requestId, host);
    if (this.#f.traceparent !== undefined) headers.traceparent = this.#f.traceparent;
    // undici frames the body itself: a buffer gets its length, a stream without a length is chunked.
    if (body !== undefined) {
      this.#bodyKind = 'buffered';
      headers['content-length'] = undefined;
    } else if (chunked) {
      this.#bodyKind = 'streamed';
      headers['content-length'] = undefined;
    } else {
      const length = headers['content-length'];
      this.#bodyKind = length === undefined || length === '0' ? 'empty' : 'streamed';
    }
    this.#headers = headers;
  }

  #launch(inst: UpstreamInstance): void {
    const req = this.#f.req;
    const a = new Attempt(this, inst, this.#svc.outlier.picked(inst));
    this.#current = a;
    this.#tried.push(inst);
    inst.outstanding++;
    let body: Buffer | PassThrough | null = null;
    if (this.#bodyKind === 'buffered') {
      body = this.#f.body!;
    } else if (this.#bodyKind === 'streamed') {
      if (this.#tried.length > 8) req.setMaxListeners(Math.max(req.getMaxListeners(), this.#tried.length + 4));
      a.gate = new PassThrough();
      body = a.gate;
    }
    const headers = this.#headers!;
    // undici serialises the headers when it takes the request: the object may change for the next attempt.
    headers.host = this.#host.options.preserveHost ? req.headers.host : inst.hostHeader;
    const method = (req.method ?? 'GET') as Dispatcher.HttpMethod;
    inst.connections.dispatch(
      {
        path: inst.target.path + this.#f.upstreamPath + querySuffix(this.#f.query),
        method,
        headers,
        body,
        // undici closes the connection after every HEAD (for servers that wrongly send a
        // body); node:http keeps it, and so do we: load balancers' HEAD health checks would
        // otherwise open a connection each. No effect when keep-alive is off.
        reset: method === 'HEAD' ? false : undefined,
      },
      a,
    );
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

  #relay(a: Attempt, status: number, rawHeaders: Buffer[], statusText: string, failed: boolean): void {
    const res = this.#f.res;
    this.#decided = true;
    this.#clearTimer();
    this.#recordOutcome(!failed);
    // The gateway's own headers win over the upstream's: those passed along (one flat list
    // for node's fast path of writeHead, no header object built) and any set on `res`.
    const own = this.#f.responseHeaders ?? NO_HEADERS;
    const list = responseHeaderList(rawHeaders, own);
    const budget = this.#f.recorder?.begin(status, statusText, list.slice());
    if (budget !== undefined) {
      this.#recorded = [];
      this.#recordBudget = budget;
    }
    const preset = res.getHeaderNames();
    if (preset.length === 0) {
      for (let i = 0; i < own.length; i++) list.push(own[i]!);
      res.writeHead(status, statusText, list);
    } else {
      for (let i = 0; i < list.length; i += 2) {
        if (!preset.includes(list[i]!.toLowerCase())) res.appendHeader(list[i]!, list[i + 1]!);
      }
      setHeaderList(res, own);
      res.writeHead(status, statusText);
    }
    a.relaying = true;
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
      a.cancel();
    }
    this.#host.upstreamError(this.#f.route.id, 'timeout');
    this.#fail('timeout');
  }

  /** The client's response closed (finished or aborted). */
  closed(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#clearTimer();
    const a = this.#current;
    if (a !== undefined && !a.finished) {
      this.#finish(a);
      if (!this.#f.res.writableFinished) {
        a.cancel();
        if (a.probe && !a.responded) this.#svc.outlier.probeAbandoned(a.instance);
      }
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
    const res = this.#f.res;
    const own = this.#f.responseHeaders;
    if (own !== undefined && !res.headersSent) setHeaderList(res, own);
    writeFailure(res, failure, this.#f.requestId);
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

/** undici would not send the request as given (invalid argument, unsupported header): nothing went out. */
function isRequestRefused(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED';
}

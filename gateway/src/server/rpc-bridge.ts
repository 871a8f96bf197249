import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { type Headers, isSwitchyardError, type Transport } from '@switchyard/broker';
import { failSpan, messagingSystemOf, type RegistryView } from '@switchyard/sdk';
import type { Identity } from '../auth/identity.js';
import type { GatewayMetrics } from '../metrics/gateway-metrics.js';
import type { UpstreamErrorReason } from '../metrics/labels.js';
import type { RpcTarget } from '../routing/route-types.js';
import { startRpcSpan } from '../tracing/request-spans.js';
import { rpcHeaders } from './rpc-headers.js';
import { isStreamingMethod, StreamBridge } from './stream-bridge.js';

/**
 * The `rpc` target: the JSON body becomes the payload of `transport.call(service, method)`,
 * the reply goes back as a 200 JSON body. The call carries the route's deadline, a child
 * span of the client's trace, the request id, the caller (`x-caller`: the authenticated
 * subject) and the verified identity headers. A failure rejects with the transport's
 * typed error (UNAVAILABLE when nobody serves the method, DEADLINE_EXCEEDED at the
 * deadline, or the service's own error), which the pipeline writes once.
 */
export class RpcBridge {
  readonly #transport: Transport;
  readonly #metrics: GatewayMetrics;
  readonly #issuer: string | undefined;
  readonly #view: RegistryView | undefined;
  readonly #streams: StreamBridge;

  /**
   * `issuer`: with auth on, the Switchyard auth service's issuer. A caller's bearer token
   * from that issuer travels on as the user token (`x-switchyard-user-token`), so every
   * hop can verify who the call is for instead of trusting `x-caller`. `view`: the
   * registry, whose `streaming` flag sends a method through the StreamBridge (SSE/NDJSON).
   * `streamKeepAliveMs`: see GatewayOptions.
   */
  constructor(
    transport: Transport,
    metrics: GatewayMetrics,
    issuer?: string,
    view?: RegistryView,
    streamKeepAliveMs = 0,
  ) {
    this.#transport = transport;
    this.#metrics = metrics;
    this.#issuer = issuer;
    this.#view = view;
    this.#streams = new StreamBridge(transport, streamKeepAliveMs);
  }

  async call(
    req: IncomingMessage,
    res: ServerResponse,
    routeId: string,
    target: Readonly<RpcTarget>,
    payload: unknown,
    identity: Identity,
    requestId: string,
    timeoutMs: number,
    parentSpan?: Span,
  ): Promise<void> {
    const span =
      parentSpan === undefined
        ? undefined
        : startRpcSpan(parentSpan, target.service, target.method, messagingSystemOf(this.#transport.kind));
    const headers = rpcHeaders(req, identity, requestId, this.#issuer, span);
    if (this.#view !== undefined && isStreamingMethod(this.#view, target.service, target.method)) {
      await this.#stream(req, res, routeId, target, payload, headers, requestId, timeoutMs, span);
      return;
    }
    let reply: unknown;
    try {
      reply = await this.#transport.call(target.service, target.method, payload, {
        deadline: Date.now() + timeoutMs,
        headers,
      });
    } catch (err) {
      if (span !== undefined) {
        failSpan(span, err);
        span.end();
      }
      const reason = upstreamReason(err);
      if (reason !== undefined) this.#metrics.upstreamError(routeId, reason);
      throw err;
    }
    span?.end();
    const text = JSON.stringify(reply ?? null);
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** A streaming method: the span and upstream metrics cover the whole stream. */
  async #stream(
    req: IncomingMessage,
    res: ServerResponse,
    routeId: string,
    target: Readonly<RpcTarget>,
    payload: unknown,
    headers: Headers,
    requestId: string,
    timeoutMs: number,
    span: Span | undefined,
  ): Promise<void> {
    let error: unknown;
    try {
      ({ error } = await this.#streams.stream(req, res, target, payload, headers, Date.now() + timeoutMs, requestId));
    } catch (err) {
      error = err;
      throw err;
    } finally {
      if (error !== undefined) {
        if (span !== undefined) failSpan(span, error);
        const reason = upstreamReason(error);
        if (reason !== undefined) this.#metrics.upstreamError(routeId, reason);
      }
      span?.end();
    }
  }
}

/** Failures of the hop itself; a service's own answer (INVALID_ARGUMENT, NOT_FOUND, ...) is not one. */
export function upstreamReason(err: unknown): UpstreamErrorReason | undefined {
  if (!isSwitchyardError(err)) return 'other';
  switch (err.code) {
    case 'DEADLINE_EXCEEDED':
      return 'timeout';
    case 'UNAVAILABLE':
    case 'UNROUTABLE':
    case 'SERVICE_NOT_FOUND':
      return 'no_instance';
    case 'CIRCUIT_OPEN':
      return 'circuit_open';
    case 'CLOSED':
      return 'connect';
    default:
      return undefined;
  }
}

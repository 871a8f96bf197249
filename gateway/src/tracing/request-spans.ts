import type { IncomingMessage } from 'node:http';
import { ROOT_CONTEXT, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { isSwitchyardError } from '@switchyard/broker';
import { ATTR, RPC_SYSTEM, remoteParent, SpanKind, startSpan } from '@switchyard/sdk';
import type { CompiledRoute } from '../routing/route-compiler.js';

/**
 * The gateway's spans (docs/gateway.md#tracing): a SERVER span per proxied request, child
 * of the client's `traceparent`, and under it a CLIENT span for the hop to the target (the
 * HTTP upstream exchange with its retries, or the RPC call); the target gets the CLIENT
 * span's id in `traceparent`. Made only while a tracer provider is registered
 * (`tracingOn()`): the pipeline asks once per request and otherwise allocates nothing.
 */
export const GATEWAY_TRACER = '@switchyard/gateway';

/** `start`: the request's `performance.now()` at arrival (OTel takes it as a start time). */
export function startRequestSpan(req: IncomingMessage, path: string, start: number): Span {
  const method = req.method ?? 'GET';
  const span = trace.getTracer(GATEWAY_TRACER).startSpan(
    method,
    {
      kind: SpanKind.SERVER,
      startTime: start,
      attributes: {
        [ATTR.httpRequestMethod]: method,
        [ATTR.urlPath]: path,
        [ATTR.urlScheme]: (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      },
    },
    remoteParent(single(req.headers.traceparent)),
  );
  return span;
}

/** Name the span for its route, as the HTTP conventions ask (`GET /orders/:id`, never the raw path). */
export function routeMatched(span: Span, method: string, route: CompiledRoute, requestId: string): void {
  const template = route.definition.match.path;
  span.updateName(`${method} ${template}`);
  span.setAttribute(ATTR.httpRoute, template);
  span.setAttribute(ATTR.routeId, route.id);
  span.setAttribute(ATTR.requestId, requestId);
}

/** The refusal or failure the client gets, as `error.type` with our stable code. */
export function requestFailed(span: Span, err: unknown): void {
  span.setAttribute(ATTR.errorType, isSwitchyardError(err) ? err.code : 'INTERNAL');
}

/** An HTTP server span is an error only for a 5xx: a 4xx is the client's mistake, kept as `error.type`. */
export function endRequestSpan(span: Span, status: number): void {
  span.setAttribute(ATTR.httpResponseStatusCode, status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** The upstream's answer on the hop's span: an error for a 5xx or no answer at all. */
export function endUpstreamSpan(span: Span, status: number | undefined): void {
  if (status !== undefined) span.setAttribute(ATTR.httpResponseStatusCode, status);
  if (status === undefined || status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** The CLIENT span of the hop to an HTTP upstream, and the `traceparent` the upstream gets. */
export function startUpstreamSpan(parent: Span, method: string, service: string): Span {
  return startSpan(
    method,
    SpanKind.CLIENT,
    { [ATTR.httpRequestMethod]: method, 'switchyard.upstream.service': service },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
}

/** The CLIENT span of an HTTP → RPC bridge call. */
export function startRpcSpan(parent: Span, service: string, method: string, messagingSystem: string | undefined): Span {
  return startSpan(
    `${service}/${method}`,
    SpanKind.CLIENT,
    {
      [ATTR.rpcSystem]: RPC_SYSTEM,
      [ATTR.rpcService]: service,
      [ATTR.rpcMethod]: method,
      [ATTR.messagingSystem]: messagingSystem,
    },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
}

function single(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

import type { IncomingMessage } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { Headers } from '@switchyard/broker';
import { AUTH_HEADER, continueTrace, formatTraceparent, HEADER, traceparentOf } from '@switchyard/sdk';
import type { Identity } from '../auth/identity.js';
import { IDENTITY_HEADER_NAMES } from '../auth/identity-headers.js';
import { REQUEST_ID_HEADER } from './request-id.js';

/**
 * The headers every bridged RPC carries (unary, server stream, WebSocket bidi): the trace
 * (a child of `span`, else the client's trace continued), the request id, the caller
 * (`x-caller`: the authenticated subject), the verified identity headers and, when the
 * caller's token is from the Switchyard issuer, the user token itself so every hop can
 * verify who the call is for instead of trusting `x-caller`.
 */
export function rpcHeaders(
  req: IncomingMessage,
  identity: Identity,
  requestId: string,
  issuer: string | undefined,
  span: Span | undefined,
): Headers {
  const headers: Headers = {
    [HEADER.traceparent]:
      span === undefined ? formatTraceparent(continueTrace(single(req.headers.traceparent))) : traceparentOf(span),
    [REQUEST_ID_HEADER]: requestId,
  };
  if (identity.subject !== undefined) headers[HEADER.caller] = identity.subject;
  if (issuer !== undefined && identity.token !== undefined && identity.claims.iss === issuer) {
    headers[AUTH_HEADER.userToken] = identity.token;
  }
  for (const name of IDENTITY_HEADER_NAMES) {
    const v = req.headers[name];
    if (typeof v === 'string') headers[name] = v;
  }
  return headers;
}

function single(v: string | string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

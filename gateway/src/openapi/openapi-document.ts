import { bundleSchemas, type JsonSchemaObject, type MethodInfo, type ServiceInstance } from '@switchyard/sdk';
import type { DeepReadonly, HttpMethod, RouteDefinition } from '../routing/route-types.js';

/** One route as the document sees it: its definition and the auth policy in force on it. */
export interface OpenApiRoute {
  readonly definition: DeepReadonly<RouteDefinition>;
  /** After the gateway's default policy is applied. */
  readonly authMode: 'required' | 'optional' | 'off';
  readonly scopes: readonly string[];
}

export interface OpenApiSources {
  /** In the route table's order (precedence): on a clash of path and method the first wins. */
  readonly routes: readonly OpenApiRoute[];
  /** The schema document of a `$id` (the gateway's schema registry). */
  schema(id: string): JsonSchemaObject | undefined;
  /** What a live instance of `service` declares for `method` (request and response schema ids). */
  method(service: string, method: string): MethodInfo | undefined;
  readonly title: string;
  readonly version: string;
  readonly description?: string;
  /** How callers authenticate: bearer JWTs, and/or an API key in this header. */
  readonly credentials: { readonly bearer: boolean; readonly apiKeyHeader?: string | undefined };
}

export type OpenApiDocument = Record<string, unknown> & { openapi: string; paths: Record<string, unknown> };

const ERROR_SCHEMA = 'SwitchyardError';
const ALL_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const BODY_METHODS = new Set<HttpMethod>(['POST', 'PUT', 'PATCH', 'DELETE']);
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': { description: 'Requests allowed in the window.', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in the window.', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
  'RateLimit-Policy': { description: 'The policy, e.g. `100;w=60`.', schema: { type: 'string' } },
} as const;

/**
 * The OpenAPI 3.1 description of a route table: a path per route (`:id` → `{id}`, a final
 * `*` → `{rest}`), an operation per method, request bodies from `requestSchema` (or the
 * RPC method's request schema), RPC replies from the method's response schema, the auth
 * scheme and scopes, rate-limit headers, and the gateway's error body on every failure it
 * can send. Schemas are bundled into `components.schemas` with local `$ref`s only.
 */
export function buildOpenApi(src: OpenApiSources): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const used = new Set<string>();
  const schemaIds = new Set<string>();
  const operations: Array<{
    op: Record<string, unknown>;
    request?: string;
    response?: string;
    streaming: boolean;
    websocket: boolean;
  }> = [];
  const securitySchemes: Record<string, unknown> = {};
  if (src.credentials.bearer) securitySchemes.bearer = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };
  if (src.credentials.apiKeyHeader) {
    securitySchemes.apiKey = { type: 'apiKey', in: 'header', name: src.credentials.apiKeyHeader };
  }

  for (const route of src.routes) {
    const def = route.definition;
    const { template, params } = pathTemplate(def.match.path);
    paths[template] ??= {};
    const item = paths[template];
    const methods = def.match.methods?.filter((m) => m !== 'HEAD') ?? ALL_METHODS;
    const rpc = def.target.type === 'rpc' ? src.method(def.target.service, def.target.method) : undefined;
    const request = def.requestSchema ?? rpc?.request;
    const response = rpc?.response;
    for (const method of methods) {
      const key = method.toLowerCase();
      if (item[key] !== undefined) continue; // a route of higher precedence has it
      const op = operation(route, method, params, src, methods.length > 1, used);
      item[key] = op;
      const websocket = def.target.type === 'rpc' && def.target.stream === 'websocket';
      const streaming = !websocket && rpc?.streaming === true;
      if (streaming) markStreaming(op, def.target);
      if (websocket) {
        operations.push({ op, request, response, streaming: false, websocket });
        if (request !== undefined) schemaIds.add(request);
        if (response !== undefined) schemaIds.add(response);
        continue;
      }
      operations.push({ op, request: BODY_METHODS.has(method) ? request : undefined, response, streaming, websocket });
      if (BODY_METHODS.has(method) && request !== undefined) schemaIds.add(request);
      if (response !== undefined) schemaIds.add(response);
    }
  }

  const bundle = bundleSchemas(schemaIds, src.schema, { reserved: [ERROR_SCHEMA] });
  const ref = (id: string | undefined): Record<string, unknown> | undefined => {
    const name = id === undefined ? undefined : bundle.nameOf(id);
    return name === undefined ? undefined : { $ref: `#/components/schemas/${name}` };
  };
  for (const { op, request, response, streaming, websocket } of operations) {
    if (websocket) {
      markWebSocket(op, ref(request), ref(response));
      continue;
    }
    const body = ref(request);
    if (body !== undefined) op.requestBody = { required: true, content: { 'application/json': { schema: body } } };
    const ok = (op.responses as Record<string, Record<string, unknown>>)['200']!;
    const reply = ref(response);
    if (streaming) ok.content = streamContent(reply);
    else if (reply !== undefined) ok.content = { 'application/json': { schema: reply } };
  }

  const doc: OpenApiDocument = {
    openapi: '3.1.0',
    info: { title: src.title, version: src.version, ...(src.description ? { description: src.description } : {}) },
    paths,
    components: {
      schemas: { [ERROR_SCHEMA]: ERROR_BODY, ...bundle.components },
      responses: errorResponses(),
      ...(Object.keys(securitySchemes).length > 0 ? { securitySchemes } : {}),
    },
  };
  if (bundle.missing.length > 0) doc['x-switchyard-missing-schemas'] = bundle.missing;
  return doc;
}

/**
 * A streaming RPC method's route answers NDJSON or SSE (gateway.md#for-clients). OpenAPI
 * 3.1 has no schema for one line of a body: the NDJSON schema is that of each line (an
 * item, or `{"error": ...}` last), said in the description and `x-switchyard-stream`.
 */
function markStreaming(op: Record<string, unknown>, target: OpenApiRoute['definition']['target']): void {
  const ok = (op.responses as Record<string, Record<string, unknown>>)['200']!;
  const name = target.type === 'rpc' ? `${target.service}.${target.method}` : target.service;
  ok.description = `The items of ${name}, as they come: one JSON item a line (application/x-ndjson), or one \`data:\` event each (text/event-stream, when Accept asks for it). A failure after the first item is the last line, \`{"error": <SwitchyardError>}\` (SSE: \`event: error\`).`;
  op['x-switchyard-stream'] = { framing: ['application/x-ndjson', 'text/event-stream'] };
}

/**
 * A `stream: websocket` route (gateway.md#websocket-streams): OpenAPI 3.1 cannot describe
 * the messages of a WebSocket, so the upgrade is the operation (101 instead of 200, 426 for
 * a plain request) and `x-switchyard-websocket` gives the schema of each message each way.
 */
function markWebSocket(
  op: Record<string, unknown>,
  send: Record<string, unknown> | undefined,
  receive: Record<string, unknown> | undefined,
): void {
  const responses = op.responses as Record<string, unknown>;
  delete responses['200'];
  responses['101'] = {
    description:
      'Switching Protocols: a WebSocket bridged to a bidi RPC stream. Each text message you send is one JSON item, each one you get is an item of the service; a failed stream ends with `{"error": <SwitchyardError>}` and a close code of 4000 + its HTTP status. Browsers send the token as the subprotocols `bearer`, `<token>`.',
  };
  responses['426'] = {
    description: 'FAILED_PRECONDITION (upgrade_required): the route takes WebSocket upgrades only.',
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } },
  };
  op['x-switchyard-websocket'] = {
    subprotocols: ['bearer'],
    ...(send ? { send } : {}),
    ...(receive ? { receive } : {}),
  };
}

function streamContent(item: Record<string, unknown> | undefined): Record<string, unknown> {
  const line =
    item === undefined
      ? {}
      : {
          oneOf: [
            item,
            {
              type: 'object',
              required: ['error'],
              properties: { error: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } },
            },
          ],
        };
  return { 'application/x-ndjson': { schema: line }, 'text/event-stream': { schema: { type: 'string' } } };
}

function operation(
  route: OpenApiRoute,
  method: HttpMethod,
  params: readonly PathParam[],
  src: OpenApiSources,
  several: boolean,
  used: Set<string>,
): Record<string, unknown> {
  const def = route.definition;
  const target = def.target;
  let operationId = several ? `${def.id}.${method.toLowerCase()}` : def.id;
  for (let i = 2; used.has(operationId); i++) operationId = `${def.id}.${method.toLowerCase()}.${i}`;
  used.add(operationId);
  const limited = def.rateLimit !== undefined;
  const responses: Record<string, unknown> = {
    '200': {
      description:
        target.type === 'rpc'
          ? `The reply of ${target.service}.${target.method}.`
          : `The response of ${target.service}.`,
      ...(limited ? { headers: RATE_LIMIT_HEADERS } : {}),
    },
  };
  const errors = ['404', '503', '504'];
  if (target.type === 'rpc' || def.requestSchema !== undefined) errors.push('400', '413');
  if (route.authMode !== 'off') errors.push('401', '403');
  if (limited) errors.push('429');
  for (const status of errors.sort()) responses[status] = { $ref: `#/components/responses/${ERRORS[status]!.name}` };

  const op: Record<string, unknown> = {
    operationId,
    ...(def.description ? { summary: def.description } : {}),
    tags: [target.service],
    ...(params.length > 0
      ? {
          parameters: params.map((p) => ({
            name: p.name,
            in: 'path',
            required: true,
            schema: { type: 'string' },
            ...(p.rest ? { description: 'The rest of the path: it may hold slashes.' } : {}),
          })),
        }
      : {}),
    responses,
    'x-switchyard-route': def.id,
    'x-switchyard-target':
      target.type === 'rpc'
        ? { type: 'rpc', service: target.service, method: target.method }
        : { type: 'http', service: target.service },
  };
  if (limited) {
    const rl = def.rateLimit!;
    op['x-switchyard-rate-limit'] = { points: rl.points, durationSeconds: rl.durationSeconds, key: rl.key };
  }
  if (def.match.hosts !== undefined) op['x-switchyard-hosts'] = [...def.match.hosts];
  const schemes = Object.keys({
    ...(src.credentials.bearer ? { bearer: 1 } : {}),
    ...(src.credentials.apiKeyHeader ? { apiKey: 1 } : {}),
  });
  if (route.authMode === 'off' || schemes.length === 0) {
    op.security = [];
  } else {
    const needed = schemes.map((s) => ({ [s]: [...route.scopes] }));
    op.security = route.authMode === 'optional' ? [{}, ...needed] : needed;
  }
  return op;
}

/** What the first of `instances` that declares `method` says of it (instances of one service may differ by version). */
export function declaredMethod(instances: readonly ServiceInstance[], method: string): MethodInfo | undefined {
  for (const instance of instances) {
    const info = instance.methods[method];
    if (info !== undefined) return info;
  }
  return undefined;
}

interface PathParam {
  name: string;
  rest: boolean;
}

/** `/orders/:id/*` → `/orders/{id}/{rest}`. */
export function pathTemplate(path: string): { template: string; params: PathParam[] } {
  const params: PathParam[] = [];
  const segments = path.split('/').map((segment) => {
    if (segment.startsWith(':')) {
      params.push({ name: segment.slice(1), rest: false });
      return `{${segment.slice(1)}}`;
    }
    if (segment === '*' || segment === '**') {
      let name = 'rest';
      while (params.some((p) => p.name === name)) name = `_${name}`;
      params.push({ name, rest: true });
      return `{${name}}`;
    }
    return segment;
  });
  return { template: segments.join('/') || '/', params };
}

const ERROR_BODY = {
  type: 'object',
  description: 'Every error the gateway sends (docs/errors.md): a stable code, a message, and whether to retry.',
  required: ['code', 'message', 'retryable'],
  properties: {
    code: { type: 'string', description: 'Stable error code, e.g. INVALID_ARGUMENT, UNAUTHENTICATED.' },
    message: { type: 'string' },
    retryable: { type: 'boolean' },
    details: {
      type: 'object',
      description: 'Structured detail, e.g. `violations: [{ pointer, message }]` for a body that fails its schema.',
    },
    requestId: { type: 'string' },
  },
};

/** The failures an operation can answer with (docs/errors.md has every code). */
const ERRORS: Record<string, { name: string; description: string }> = {
  '400': {
    name: 'InvalidArgument',
    description: 'INVALID_ARGUMENT: malformed JSON, or a body that fails its schema (`details.violations`).',
  },
  '401': { name: 'Unauthenticated', description: 'UNAUTHENTICATED: no credentials, or they are not valid.' },
  '403': {
    name: 'PermissionDenied',
    description: 'PERMISSION_DENIED: a scope is missing or an access rule denies the request.',
  },
  '404': {
    name: 'NotFound',
    description: 'NOT_FOUND: no route matches, or nothing serves the target (SERVICE_NOT_FOUND).',
  },
  '413': {
    name: 'ContentTooLarge',
    description: 'RESOURCE_EXHAUSTED (`details.reason` body_too_large): the body is over the limit.',
  },
  '429': {
    name: 'RateLimited',
    description: "RATE_LIMITED: the route's rate limit was hit; retry after Retry-After seconds.",
  },
  '503': { name: 'Unavailable', description: 'UNAVAILABLE: no instance can serve now (retryable).' },
  '504': { name: 'DeadlineExceeded', description: 'DEADLINE_EXCEEDED: the upstream did not answer in time.' },
};

function errorResponses(): Record<string, unknown> {
  const error = { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } };
  const out: Record<string, unknown> = {};
  for (const [status, { name, description }] of Object.entries(ERRORS)) {
    const headers: Record<string, unknown> = {};
    if (status === '401') {
      headers['WWW-Authenticate'] = { description: 'The challenge (RFC 6750).', schema: { type: 'string' } };
    }
    if (status === '429' || status === '503') {
      headers['Retry-After'] = { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } };
    }
    out[name] = {
      description,
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      content: error,
    };
  }
  return out;
}

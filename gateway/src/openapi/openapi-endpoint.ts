import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RegistryView, SchemaRegistry } from '@switchyard/sdk';
import { insufficientScope, missingCredentials } from '../auth/auth-errors.js';
import type { AuthGuard } from '../auth/auth-guard.js';
import type { RouteAuth } from '../auth/route-auth.js';
import type { GatewayOpenApiOptions } from '../config/gateway-options.js';
import { writeErrorResponse } from '../http/error-response.js';
import type { RouteStore } from '../routing/route-store.js';
import { OPENAPI_PATH } from '../server/ops-app.js';
import type { RouteRuntimes } from '../server/route-runtimes.js';
import { buildOpenApi, declaredMethod, type OpenApiDocument, type OpenApiRoute } from './openapi-document.js';

export interface OpenApiEndpointDeps {
  store: RouteStore;
  runtimes: RouteRuntimes;
  schemas: SchemaRegistry;
  view: RegistryView;
  guard: AuthGuard;
  options: Required<GatewayOpenApiOptions>;
}

/** Who is asking: the public part, or every route. */
export type OpenApiVisibility = 'public' | 'all';

/**
 * `GET /openapi.json`, built from the live route table, schemas and registry on each
 * request (it is cold, and so a route change shows at once). Anyone gets the routes that
 * need no credentials; a caller whose token has the operator scope gets every route.
 * `?view=all` asks for everything explicitly: 401 without credentials, 403 without the
 * scope, so a client learns why it sees less.
 */
export class OpenApiEndpoint {
  readonly #d: OpenApiEndpointDeps;
  readonly #optional: RouteAuth;

  constructor(deps: OpenApiEndpointDeps) {
    this.#d = deps;
    this.#optional = deps.guard.compileRoute({ mode: 'optional' }, 'openApi');
  }

  document(visibility: OpenApiVisibility): OpenApiDocument {
    const d = this.#d;
    const routes: OpenApiRoute[] = [];
    for (const route of d.store.table.routes) {
      const rt = d.runtimes.get(route);
      if (rt.broken !== undefined || rt.auth === undefined) continue;
      if (visibility === 'public' && rt.auth.mode === 'required') continue;
      routes.push({ definition: route.definition, authMode: rt.auth.mode, scopes: rt.auth.scopes });
    }
    return buildOpenApi({
      routes,
      schema: (id) => d.schemas.document(id)?.schema,
      method: (service, method) => declaredMethod(d.view.instances(service), method),
      title: d.options.title,
      version: `routes-${d.store.version}`,
      ...(d.options.description ? { description: d.options.description } : {}),
      credentials: d.guard.credentials,
    });
  }

  /** The public listener's handler: who may see what is decided by the caller's token. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const asked = new URL(req.url ?? '/', 'http://x').searchParams.get('view');
      const identity = await this.#d.guard.authorize(req, this.#optional, OPENAPI_PATH);
      const operator = identity.scopes.includes(this.#d.options.operatorScope);
      if (asked === 'all' && !operator) {
        const scope = this.#d.options.operatorScope;
        const realm = this.#d.guard.realm;
        if (identity.method === 'anonymous') {
          throw missingCredentials('missing_credentials', 'the whole API description needs credentials', realm, [
            scope,
          ]);
        }
        throw insufficientScope('insufficient_scope', `the whole API description needs the scope "${scope}"`, realm, [
          scope,
        ]);
      }
      this.send(res, this.document(operator ? 'all' : 'public'));
    } catch (err) {
      writeErrorResponse(res, err);
    }
  }

  send(res: ServerResponse, doc: OpenApiDocument): void {
    const body = JSON.stringify(doc, null, 2);
    res.statusCode = 200;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    // What a caller sees depends on its token: never from a shared cache.
    res.setHeader('cache-control', 'no-store');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  }
}

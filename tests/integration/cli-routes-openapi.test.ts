/**
 * `switchyard routes openapi` against a real etcd: routes applied with the CLI, schemas
 * pushed with the CLI, an instance registered with its methods, and the printed document
 * is valid OpenAPI 3.1 (checked with @readme/openapi-parser) with the RPC route's body and
 * reply from the method's schemas; --public leaves out routes that need credentials;
 * --schemas reads a local directory instead of etcd.
 */
import { compileErrors, validate } from '@readme/openapi-parser';
import { createEtcdClient, EtcdRegistry } from '@switchyard/sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { scratchDir } from '../fixtures/cli-files.js';
import { cli } from '../fixtures/cli-run.js';
import { SCHEMAS_DIR } from '../fixtures/gateway-harness.js';
import { uniqueNamespace } from '../harness/servers.js';

const endpoint = inject('etcdEndpoint');
const namespace = uniqueNamespace('cli-openapi');
const env = { SWITCHYARD_ETCD: endpoint, SWITCHYARD_NAMESPACE: namespace };
const files = scratchDir('openapi');
const etcd = createEtcdClient(endpoint);
const registry = new EtcdRegistry({ endpoints: [endpoint], namespace, ttlSeconds: 5 });
const PAY_REQUEST = 'https://schemas.switchyard.dev/payments/payment.charge.request.json';
const PAY_RESPONSE = 'https://schemas.switchyard.dev/payments/payment.charge.response.json';

beforeAll(async () => {
  const routesFile = files.write(
    'routes.yaml',
    `
- id: charge
  match: { path: /api/payments/charge, methods: [POST] }
  target: { type: rpc, service: payments, method: charge }
  auth: { mode: required, scopes: [payments:write] }
- id: status
  match: { path: /api/status/*, methods: [GET] }
  target: { type: http, service: status }
  auth: { mode: off }
`,
  );
  expect((await cli(['routes', 'apply', '-f', routesFile], { env })).code).toBe(0);
  expect((await cli(['schemas', 'push', SCHEMAS_DIR], { env })).code).toBe(0);
  await registry.register({
    service: 'payments',
    version: '1.0.0',
    methods: { charge: { request: PAY_REQUEST, response: PAY_RESPONSE } },
  });
});

afterAll(async () => {
  await registry.close();
  await etcd.delete().prefix(`/${namespace}/`).exec();
  etcd.close();
  files.remove();
});

async function document(...flags: string[]) {
  const r = await cli(['routes', 'openapi', ...flags], { env });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout);
  const result = await validate(structuredClone(doc));
  expect(result.valid ? '' : compileErrors(result)).toBe('');
  return doc;
}

describe('switchyard routes openapi', () => {
  it('prints valid OpenAPI 3.1 of every route, RPC bodies and replies from the registered method', async () => {
    const doc = await document();
    expect(Object.keys(doc.paths).sort()).toEqual(['/api/payments/charge', '/api/status/{rest}']);
    const charge = doc.paths['/api/payments/charge'].post;
    expect(charge.security).toEqual([{ bearer: ['payments:write'] }]);
    expect(charge.requestBody.content['application/json'].schema.$ref).toBe(
      '#/components/schemas/payments.payment.charge.request',
    );
    expect(charge.responses['200'].content['application/json'].schema.$ref).toBe(
      '#/components/schemas/payments.payment.charge.response',
    );
    expect(doc.components.schemas['payments.payment.charge.request']['x-switchyard-schema']).toBe(PAY_REQUEST);
  });

  it('--public: only what an anonymous client may call; --schemas reads a directory', async () => {
    const pub = await document('--public');
    expect(Object.keys(pub.paths)).toEqual(['/api/status/{rest}']);
    const local = await document('--schemas', SCHEMAS_DIR, '--title', 'Payments', '--api-key-header', 'x-api-key');
    expect(local.info.title).toBe('Payments');
    expect(local.components.securitySchemes).toEqual({
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
      apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
    });
    expect(local.components.schemas['payments.payment.charge.response']).toBeDefined();
  });

  it('a bad --default-auth is a usage error', async () => {
    const r = await cli(['routes', 'openapi', '--default-auth', 'sometimes'], { env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('sometimes');
  });
});

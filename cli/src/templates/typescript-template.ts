import { greetSchemaFiles, type TemplateNames } from './template-names.js';

/**
 * A TypeScript service built on `createService` from @switchyard/sdk: one method with
 * request and response schemas, an entry point with graceful shutdown, a test that runs
 * in embedded mode (no servers), a Dockerfile and a README. Paths -> file contents.
 */
export function typescriptServiceFiles(n: TemplateNames, sdkVersion: string): Record<string, string> {
  const factory = `create${n.pascal}Service`;
  return {
    ...greetSchemaFiles(n),
    'package.json': `${JSON.stringify(
      {
        name: `${n.service}-service`,
        version: '0.1.0',
        private: true,
        type: 'module',
        engines: { node: '>=20.11' },
        scripts: {
          build: 'tsc -p tsconfig.json',
          start: 'node dist/src/main.js',
          dev: 'node --import tsx src/main.ts',
          test: 'node --import tsx --test test/service.test.ts',
          typecheck: 'tsc -p tsconfig.json --noEmit',
        },
        dependencies: { '@switchyard/sdk': `^${sdkVersion}`, pino: '^10.4.0' },
        devDependencies: { '@types/node': '^20.19.0', tsx: '^4.20.0', typescript: '^5.9.0' },
      },
      null,
      2,
    )}\n`,
    'tsconfig.json': `${JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          esModuleInterop: true,
          skipLibCheck: true,
          sourceMap: true,
          rootDir: '.',
          outDir: 'dist',
          types: ['node'],
        },
        include: ['src', 'test'],
      },
      null,
      2,
    )}\n`,
    'src/service.ts': `import { createService, type Service, type ServiceOptions } from '@switchyard/sdk';

/** Schema ids of the files under schemas/${n.service}/ (\`$id\` = https://schemas.switchyard.dev/ + path). */
export const SCHEMAS = {
  greetRequest: '${n.schemaBase}.greet.request.json',
  greetResponse: '${n.schemaBase}.greet.response.json',
} as const;

export interface GreetRequest {
  name: string;
}

export interface GreetResponse {
  message: string;
}

/** Everything but what the service itself defines: \`infra\`, \`env\`, \`logger\`, \`handleSignals\`, ... */
export type ${n.pascal}ServiceOptions = Omit<ServiceOptions, 'name' | 'version' | 'methods'>;

/**
 * The ${n.service} service. Requests and replies are checked against their schemas by the
 * SDK: a handler only ever sees a valid request, and a reply that breaks its schema is
 * never sent (the caller gets INTERNAL). Throw a SwitchyardError (NotFoundError, ...) to
 * answer with its code.
 */
export function ${factory}(options: ${n.pascal}ServiceOptions = {}): Service {
  return createService({
    name: '${n.service}',
    version: '0.1.0',
    methods: {
      greet: {
        request: SCHEMAS.greetRequest,
        response: SCHEMAS.greetResponse,
        idempotent: true,
        handler: async (request: GreetRequest, ctx): Promise<GreetResponse> => {
          ctx.logger.info({ caller: ctx.caller }, 'greeting');
          return { message: \`Hello, \${request.name}!\` };
        },
      },
    },
    ...options,
  });
}
`,
    'src/main.ts': `/**
 * Run the ${n.service} service. With SWITCHYARD_ETCD and SWITCHYARD_AMQP set it registers in
 * etcd and serves through RabbitMQ; with neither it runs embedded (in this process only).
 * Schemas are read from ./schemas (SWITCHYARD_SCHEMAS to change it). SIGTERM/SIGINT:
 * deregister, finish requests in flight, disconnect, exit.
 */
import { ${factory} } from './service.js';

const service = ${factory}({ handleSignals: true });
try {
  await service.start();
} catch (err) {
  service.logger.fatal({ err }, '${n.service}: cannot start');
  process.exit(1);
}
`,
    'test/service.test.ts': `import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSwitchyardError } from '@switchyard/sdk';
import { pino } from 'pino';
import { ${factory} } from '../src/service.js';

// Embedded mode: an env without SWITCHYARD_ETCD / SWITCHYARD_AMQP runs the registry and
// the transport in this process, so the test needs no servers.
const service = ${factory}({
  env: { SWITCHYARD_SCHEMAS: fileURLToPath(new URL('../schemas', import.meta.url)) },
  logger: pino({ level: 'silent' }),
});

before(() => service.start());
after(() => service.close());

test('greet answers with a greeting', async () => {
  assert.deepEqual(await service.call('${n.service}.greet', { name: 'Ada' }), { message: 'Hello, Ada!' });
});

test('greet refuses a request that fails its schema, before the handler runs', async () => {
  await assert.rejects(service.call('${n.service}.greet', { name: '' }), (err: unknown) =>
    isSwitchyardError(err, 'INVALID_ARGUMENT'),
  );
});

test('the running service is registered with its method and schemas', async () => {
  const instances = await service.infra!.registry.listInstances('${n.service}');
  assert.equal(instances.length, 1);
  assert.equal(instances[0]!.version, '0.1.0');
  assert.deepEqual(instances[0]!.methods.greet, {
    request: '${n.schemaBase}.greet.request.json',
    response: '${n.schemaBase}.greet.response.json',
    idempotent: true,
  });
});
`,
    Dockerfile: `# Build: docker build -t ${n.service} .
# Run:   docker run --rm -e SWITCHYARD_ETCD=http://etcd:2379 -e SWITCHYARD_AMQP=amqp://guest:guest@rabbitmq:5672 ${n.service}
FROM node:20-slim AS build
WORKDIR /app
COPY package*.json ./
RUN npm install
COPY tsconfig.json ./
COPY src ./src
COPY test ./test
RUN npm run build

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package*.json ./
RUN npm install --omit=dev
COPY --from=build /app/dist ./dist
COPY schemas ./schemas
USER node
# SIGTERM (docker stop) shuts the service down gracefully.
CMD ["node", "dist/src/main.js"]
`,
    '.dockerignore': 'node_modules\ndist\n',
    '.gitignore': 'node_modules\ndist\n',
    'README.md': `# ${n.service}

A Switchyard service in TypeScript, generated by \`switchyard new service ${n.service}\`.

| file | what |
|---|---|
| \`src/service.ts\` | the service: method \`greet\` with its schemas |
| \`src/main.ts\` | entry point (graceful shutdown on SIGTERM/SIGINT) |
| \`schemas/${n.service}/\` | JSON Schemas of \`greet\`'s request and response |
| \`test/service.test.ts\` | tests, run in embedded mode (no servers needed) |
| \`Dockerfile\` | production image |

## Run

Outside the Switchyard repository, \`@switchyard/sdk\` must be installable: from your package
registry, or \`npm install <path-to-switchyard>/sdk\`.

\`\`\`sh
npm install
npm test                      # embedded: no etcd, no RabbitMQ
npm run dev                   # embedded, in this process only

# against real servers (docker compose up etcd rabbitmq, in the Switchyard repository)
export SWITCHYARD_ETCD=http://127.0.0.1:2379
export SWITCHYARD_AMQP=amqp://guest:guest@127.0.0.1:5672
npm run build && npm start
\`\`\`

Then, from another terminal with the same variables:

\`\`\`sh
switchyard services ${n.service}                         # the running instance and its methods
switchyard call ${n.service}.greet '{"name":"Ada"}'      # {"message": "Hello, Ada!"}
switchyard schemas push schemas                     # publish the schemas (compatibility-checked)
\`\`\`

To expose \`greet\` over HTTP, add a route and \`switchyard routes apply -f routes.yaml\`:

\`\`\`yaml
- id: ${n.service}-greet
  match: { path: /api/${n.service}/greet, methods: [POST] }
  target: { type: rpc, service: ${n.service}, method: greet }
  requestSchema: ${n.schemaBase}.greet.request.json
\`\`\`

## Configuration

| variable | default | meaning |
|---|---|---|
| \`SWITCHYARD_ETCD\` | none | etcd URLs (with \`SWITCHYARD_AMQP\`; neither = embedded mode) |
| \`SWITCHYARD_AMQP\` | none | RabbitMQ URL |
| \`SWITCHYARD_NAMESPACE\` | \`switchyard\` | namespace of registry keys and queues |
| \`SWITCHYARD_SCHEMAS\` | \`./schemas\` | schema directory, or \`etcd\` for the published schemas |

See the SDK guide (docs/sdk.md in the Switchyard repository) for methods, events, calls and resilience options.
`,
  };
}

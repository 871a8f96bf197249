/**
 * `npm run bench -- gateway`: HTTP proxying throughput, keep-alive, loopback.
 *
 * Every server and the load generator run in processes of their own (this file, started
 * with BENCH_GATEWAY_ROLE): an upstream answering a 100-byte body, and in front of it
 *
 * - direct: no proxy (the ceiling);
 * - bare-http-proxy: `http-proxy` on a raw node server with a keep-alive agent (the baseline);
 * - undici-proxy: a bare forwarder on undici's dispatch API, the engine the gateway uses (its ceiling);
 * - gateway: Switchyard's gateway with a dev JWT (HS256) verified on every request, a
 *   rate limit keyed by subject, and the upstream discovered through the registry;
 * - gateway-plain: the same gateway on a route without auth and rate limit (the proxy path alone);
 * - gateway-auth: the same gateway with Switchyard auth on (issue 10): the user's token issued
 *   by an auth service (EdDSA, verified against its JWKS, cached per token), the access rules
 *   evaluated for the route, and the gateway's own service token plus the user's token
 *   forwarded to the upstream;
 * - express-hpm: express 5 + http-proxy-middleware with a keep-alive agent (what keeping
 *   express off the hot path avoids);
 * - gateway-traced: `gateway` with an OpenTelemetry tracer provider registered that records
 *   every span (a SERVER and a CLIENT span per request) but exports none;
 * - gateway-exported: the same, exporting over OTLP/HTTP (batched) to a sink process;
 * - gateway-sampled: gateway-exported keeping one trace in ten (`parentbased_traceidratio`
 *   0.1, as production usually runs). `ratio.tracing_*` compare these with `gateway` (tracing off).
 *
 * The load generator keeps 64 requests in flight on a keep-alive agent for a fixed time.
 * Rounds alternate the variants; each variant's figure is its best round. `ratio.gateway`
 * is gateway req/s over bare-http-proxy req/s (target >= 0.8).
 */
import { randomBytes } from 'node:crypto';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Dispatcher } from 'undici';
import { otlpSinkRole } from './lib/otlp-sink-role.js';
import { type Child, ready, spawnRole, stop } from './lib/role-process.js';
import { type LatencySummary, median, pairedMedianRatio, ratio, summarizeLatencies } from './lib/stats.js';
import type { SuiteReport } from './lib/suite.js';
import { printTable } from './lib/table.js';

const ROLE_ENV = 'BENCH_GATEWAY_ROLE';
const SELF = fileURLToPath(import.meta.url);
const ALL_VARIANTS = [
  'direct',
  'bare-http-proxy',
  'undici-proxy',
  'gateway',
  'gateway-plain',
  'gateway-auth',
  'express-hpm',
  'gateway-traced',
  'gateway-exported',
  'gateway-sampled',
] as const;
type Variant = (typeof ALL_VARIANTS)[number];
/** BENCH_GATEWAY_VARIANTS=a,b picks some (bare-http-proxy and gateway are always run: they make the ratio). */
const VARIANTS: readonly Variant[] = (() => {
  const asked = process.env.BENCH_GATEWAY_VARIANTS?.split(',').map((s) => s.trim());
  if (!asked) return ALL_VARIANTS;
  return ALL_VARIANTS.filter((v) => asked.includes(v) || v === 'bare-http-proxy' || v === 'gateway');
})();

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const DURATION_MS = Number(process.env.BENCH_GATEWAY_DURATION_MS ?? 3_000);
const WARMUP_MS = Number(process.env.BENCH_GATEWAY_WARMUP_MS ?? 1_000);
const CONCURRENCY = Number(process.env.BENCH_GATEWAY_CONCURRENCY ?? 64);
const BODY = JSON.stringify({ ok: true, service: 'bench-upstream', padding: 'x'.repeat(49) });

interface LoadResult {
  /** CPU µs the proxy (or, for direct, the upstream) spent per request, warm-up included. */
  cpuPerRequestUs?: number;
  requests: number;
  errors: number;
  non200: number;
  elapsedMs: number;
  perSecond: number;
  latency: LatencySummary;
}

// ---------------------------------------------------------------------------------
// Roles (child processes)

async function upstreamRole(): Promise<void> {
  const body = Buffer.from(BODY);
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ready((server.address() as AddressInfo).port);
}

async function bareProxyRole(target: string): Promise<void> {
  const { default: httpProxy } = await import('http-proxy');
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ target, agent });
  proxy.on('error', (_err, _req, res) => {
    if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  });
  const server = createServer((req, res) => proxy.web(req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ready((server.address() as AddressInfo).port);
}

async function undiciRole(target: string): Promise<void> {
  const { Pool } = await import('undici');
  const pool = new Pool(target, { connections: 256, pipelining: 1 });
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);
  const server = createServer((req, res) => {
    // The least a correct forwarder does: hop-by-hop headers out, backpressure honoured.
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    let resumeBody: () => void = noop;
    const handler: Dispatcher.DispatchHandlers = {
      onConnect() {},
      onHeaders(status, rawHeaders, resume, statusText) {
        resumeBody = resume;
        const list: string[] = [];
        for (let i = 0; i < rawHeaders.length; i += 2) {
          const name = rawHeaders[i]!.toString('latin1');
          if (!HOP.has(name.toLowerCase())) list.push(name, rawHeaders[i + 1]!.toString('latin1'));
        }
        res.writeHead(status, statusText, list);
        return true;
      },
      onData(chunk) {
        if (res.write(chunk)) return true;
        res.once('drain', resumeBody);
        return false;
      },
      onComplete() {
        res.end();
      },
      onError() {
        if (!res.headersSent) res.writeHead(502);
        res.end();
      },
    };
    const method = req.method as Dispatcher.HttpMethod;
    pool.dispatch(
      { path: req.url!, method, headers, body: method === 'GET' || method === 'HEAD' ? null : req },
      handler,
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ready((server.address() as AddressInfo).port);
}

async function expressRole(target: string): Promise<void> {
  const { default: express } = await import('express');
  const { createProxyMiddleware } = await import('http-proxy-middleware');
  const app = express();
  app.use(
    createProxyMiddleware({ target, changeOrigin: false, agent: new Agent({ keepAlive: true, maxSockets: 256 }) }),
  );
  const server = createServer(app);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  ready((server.address() as AddressInfo).port);
}

/**
 * `dev`: a dev JWT (HS256); `plain`: no auth, no rate limit; `auth`: Switchyard auth on;
 * `traced` / `exported` / `sampled`: `dev` with tracing recording only / exporting every
 * trace / one in ten to BENCH_OTLP_SINK.
 */
type GatewayMode = 'dev' | 'plain' | 'auth' | 'traced' | 'exported' | 'sampled';

/** An auth service in this process, with the gateway's account and the bench user's token. */
async function benchAuth(logger: import('pino').Logger) {
  const { startBenchAuth } = await import('./lib/auth-service.js');
  const server = await startBenchAuth({ accessTokenTtlSec: 3600, logger });
  const gateway = await server.createAccount({ id: 'gateway', type: 'service' });
  await server.createAccount({ id: 'bench-user', type: 'user', scopes: ['bench'] });
  return {
    issuer: server.address()!.url,
    credentials: { clientId: 'gateway', clientSecret: gateway.secret },
    userToken: await server.issueToken('bench-user'),
  };
}

async function gatewayRole(target: string, mode: GatewayMode): Promise<void> {
  const plain = mode === 'plain';
  if (mode === 'traced' || mode === 'exported' || mode === 'sampled') {
    const { startTracing } = await import('@switchyard/sdk');
    await startTracing(
      // As the gateway's main starts it: no async context manager.
      mode === 'traced'
        ? { recordOnly: true, asyncContext: false }
        : {
            // The sampler is read by the OTel SDK from process.env (set for the sampled role).
            env: { OTEL_EXPORTER_OTLP_ENDPOINT: process.env.BENCH_OTLP_SINK },
            serviceName: 'bench-gateway',
            asyncContext: false,
          },
    );
  }
  const { createGateway, devJwtVerifierOptions, MemoryRouteSource } = await import('@switchyard/gateway');
  const { createInfrastructure } = await import('@switchyard/sdk');
  const { pino } = await import('pino');
  const logger = pino({ level: 'silent' });
  const auth = mode === 'auth' ? await benchAuth(logger) : undefined;
  const infra = await createInfrastructure({
    env: { SWITCHYARD_SCHEMAS: 'none' },
    logger,
    auth: auth ? { issuer: auth.issuer } : false,
  });
  // Registry-discovered: the route names a service; its instance is found in the registry view.
  await infra.registry.register({ service: 'bench-upstream', version: '1.0.0', address: { http: target } });
  const route = {
    id: 'bench',
    match: { path: '/bench/*', methods: ['GET'] },
    target: { type: 'http', service: 'bench-upstream', stripPrefix: '/bench' },
  };
  const routes = new MemoryRouteSource([
    plain
      ? { ...route, auth: { mode: 'off' } }
      : {
          ...route,
          auth: { mode: 'required', scopes: ['bench'] },
          rateLimit: { points: 1_000_000_000, durationSeconds: 60, key: 'subject' },
        },
  ]);
  const gateway = createGateway({
    env: {},
    infra,
    routes,
    logger,
    host: '127.0.0.1',
    port: 0,
    adminPort: false,
    ...(auth ? { credentials: auth.credentials } : { auth: { jwt: devJwtVerifierOptions(process.env) } }),
  });
  await gateway.start();
  // The bench process needs the user's token: it follows the port on the READY line.
  ready(gateway.address()!.port, auth?.userToken);
}

async function loadRole(): Promise<void> {
  const url = new URL(process.env.BENCH_URL!);
  const headers = JSON.parse(process.env.BENCH_HEADERS ?? '{}') as Record<string, string>;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const options = { agent, host: url.hostname, port: Number(url.port), path: url.pathname, headers };
  const one = (): Promise<number> =>
    new Promise((resolve) => {
      const req = request(options, (res) => {
        res.on('data', noop);
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(-1));
      });
      req.on('error', () => resolve(-1));
      req.end();
    });
  const run = async (ms: number, samples: number[] | undefined) => {
    let requests = 0;
    let errors = 0;
    let non200 = 0;
    const end = performance.now() + ms;
    const worker = async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const status = await one();
        if (samples) samples.push(performance.now() - t0);
        requests++;
        if (status < 0) errors++;
        else if (status !== 200) non200++;
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return { requests, errors, non200, elapsedMs: performance.now() - t0 };
  };
  await run(WARMUP_MS, undefined);
  const samples: number[] = [];
  const r = await run(DURATION_MS, samples);
  const result: LoadResult = {
    ...r,
    perSecond: (r.requests * 1000) / r.elapsedMs,
    latency: summarizeLatencies(samples),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  agent.destroy();
}

function noop(): void {}

// ---------------------------------------------------------------------------------
// The suite (bench process)

const child = (role: string, env: Record<string, string>): Child => spawnRole(SELF, ROLE_ENV, role, env);

async function load(url: string, headers: Record<string, string>): Promise<LoadResult> {
  const c = child('load', { BENCH_URL: url, BENCH_HEADERS: JSON.stringify(headers) });
  try {
    return JSON.parse(await c.line) as LoadResult;
  } finally {
    await stop(c);
  }
}

export async function runGateway(): Promise<SuiteReport> {
  // A shared dev secret, so the bench process can sign tokens the gateway process accepts.
  const secret = randomBytes(32).toString('hex');
  process.env.SWITCHYARD_DEV_JWT_SECRET = secret;
  const { signDevToken } = await import('@switchyard/gateway');
  const token = await signDevToken({ sub: 'bench-user', scopes: ['bench'], ttl: 3600 });

  const children: Child[] = [];
  try {
    const upstream = child('upstream', {});
    children.push(upstream);
    const target = `http://127.0.0.1:${await upstream.line}`;
    const servers: Record<Variant, { url: string; headers: Record<string, string>; server: Child }> = {
      direct: { url: `${target}/item`, headers: {}, server: upstream },
      'bare-http-proxy': { url: '', headers: {}, server: upstream },
      'undici-proxy': { url: '', headers: {}, server: upstream },
      gateway: { url: '', headers: { authorization: `Bearer ${token}` }, server: upstream },
      'gateway-plain': { url: '', headers: {}, server: upstream },
      'gateway-auth': { url: '', headers: {}, server: upstream },
      'express-hpm': { url: '', headers: {}, server: upstream },
      'gateway-traced': { url: '', headers: { authorization: `Bearer ${token}` }, server: upstream },
      'gateway-exported': { url: '', headers: { authorization: `Bearer ${token}` }, server: upstream },
      'gateway-sampled': { url: '', headers: { authorization: `Bearer ${token}` }, server: upstream },
    };
    let sinkUrl = '';
    if (VARIANTS.includes('gateway-exported') || VARIANTS.includes('gateway-sampled')) {
      const sink = child('otlp-sink', {});
      children.push(sink);
      sinkUrl = `http://127.0.0.1:${await sink.line}`;
    }
    for (const [variant, role, path] of [
      ['bare-http-proxy', 'bare-proxy', '/item'],
      ['undici-proxy', 'undici', '/item'],
      ['gateway', 'gateway', '/bench/item'],
      ['gateway-plain', 'gateway-plain', '/bench/item'],
      ['gateway-auth', 'gateway-auth', '/bench/item'],
      ['express-hpm', 'express', '/item'],
      ['gateway-traced', 'gateway-traced', '/bench/item'],
      ['gateway-exported', 'gateway-exported', '/bench/item'],
      ['gateway-sampled', 'gateway-sampled', '/bench/item'],
    ] as const) {
      if (!VARIANTS.includes(variant)) continue;
      const c = child(role, {
        BENCH_TARGET: target,
        SWITCHYARD_DEV_JWT_SECRET: secret,
        BENCH_OTLP_SINK: sinkUrl,
        // A queue deep enough for ~16k spans/s between exports every 200 ms: spans are sent, not dropped.
        OTEL_BSP_MAX_QUEUE_SIZE: '16384',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        ...(variant === 'gateway-sampled'
          ? { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }
          : {}),
      });
      children.push(c);
      const [port, userToken] = (await c.line).split(' ');
      servers[variant].url = `http://127.0.0.1:${port}${path}`;
      if (userToken) servers[variant].headers = { authorization: `Bearer ${userToken}` };
      servers[variant].server = c;
    }

    const rounds: Record<Variant, LoadResult[]> = {
      direct: [],
      'bare-http-proxy': [],
      'undici-proxy': [],
      gateway: [],
      'gateway-plain': [],
      'gateway-auth': [],
      'express-hpm': [],
      'gateway-traced': [],
      'gateway-exported': [],
      'gateway-sampled': [],
    };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of VARIANTS) {
        const s = servers[v];
        const cpu0 = await s.server.cpuMicros();
        const r = await load(s.url, s.headers);
        r.cpuPerRequestUs = ((await s.server.cpuMicros()) - cpu0) / (r.requests * (1 + WARMUP_MS / DURATION_MS));
        if (r.errors > 0 || r.non200 > 0) {
          throw new Error(`${v}: ${r.errors} errors and ${r.non200} non-200 answers in round ${round}`);
        }
        rounds[v].push(r);
        console.log(
          `round ${round} ${v.padEnd(16)} ${Math.round(r.perSecond)} req/s  p50 ${r.latency.p50.toFixed(2)} ms  ${r.cpuPerRequestUs.toFixed(1)} µs CPU/req`,
        );
      }
    }

    const best = (v: Variant) => rounds[v].reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    const figures: Record<string, unknown> = {};
    for (const v of VARIANTS) {
      const b = best(v);
      figures[v] = {
        req_per_s: Math.round(b.perSecond),
        p50_ms: round3(b.latency.p50),
        p99_ms: round3(b.latency.p99),
        rounds_req_per_s: rounds[v].map((r) => Math.round(r.perSecond)),
        cpu_us_per_req: round3(Math.min(...rounds[v].map((r) => r.cpuPerRequestUs!))),
        median_req_per_s: Math.round(median(rounds[v].map((r) => r.perSecond))),
      };
    }
    const base = best('bare-http-proxy').perSecond;
    const ratios: Record<string, number> = {};
    for (const v of VARIANTS) if (v !== 'bare-http-proxy') ratios[v] = ratio(best(v).perSecond, base);
    ratios.gateway_paired_median = pairedMedianRatio(rounds['bare-http-proxy'], rounds.gateway, (r) => r.perSecond);
    // CPU per request barely moves with other load on the machine: bare ÷ ours, so higher is better like req/s.
    const minCpu = (v: Variant) => Math.min(...rounds[v].map((r) => r.cpuPerRequestUs!));
    ratios.gateway_cpu = ratio(minCpu('bare-http-proxy'), minCpu('gateway'));
    // Tracing: each traced variant against the same gateway with tracing off.
    const tracingRows: Array<[string, Variant]> = [
      ['tracing_record_only', 'gateway-traced'],
      ['tracing_exported', 'gateway-exported'],
      ['tracing_sampled_10pct', 'gateway-sampled'],
    ];
    for (const [name, v] of tracingRows) {
      if (!VARIANTS.includes(v)) continue;
      ratios[name] = ratio(best(v).perSecond, best('gateway').perSecond);
      ratios[`${name}_paired_median`] = pairedMedianRatio(rounds.gateway, rounds[v], (r) => r.perSecond);
      ratios[`${name}_cpu`] = ratio(minCpu('gateway'), minCpu(v));
    }
    if (sinkUrl !== '') {
      const stats = (await (await fetch(`${sinkUrl}/stats`)).json()) as { posts: number; bytes: number };
      figures.otlp_sink = stats;
      console.log(`OTLP sink received ${stats.posts} POSTs, ${Math.round(stats.bytes / 1024)} KiB of spans`);
    }
    printTable(
      `gateway: req/s at concurrency ${CONCURRENCY}, keep-alive, best of ${ROUNDS} rounds of ${DURATION_MS} ms`,
      ['variant', 'req/s', 'p50 ms', 'p99 ms', 'vs bare http-proxy', 'CPU µs/req'],
      VARIANTS.map((v) => {
        const b = best(v);
        return [v, b.perSecond, b.latency.p50, b.latency.p99, ratio(b.perSecond, base), minCpu(v)];
      }),
    );
    console.log(`\npaired median ratio gateway / bare-http-proxy (noise check): ${ratios.gateway_paired_median}`);
    console.log(`CPU per request, bare-http-proxy / gateway: ${ratios.gateway_cpu} (1.0 = the gateway costs no more)`);
    return {
      method: `${ROUNDS} rounds alternating the variants; each round: ${WARMUP_MS} ms warm-up then ${DURATION_MS} ms with ${CONCURRENCY} requests in flight on a keep-alive agent, load generator in its own process; best round per variant`,
      params: {
        rounds: ROUNDS,
        durationMs: DURATION_MS,
        warmupMs: WARMUP_MS,
        concurrency: CONCURRENCY,
        bodyBytes: BODY.length,
      },
      figures,
      ratio: ratios,
      targets: {
        gateway: '>= 0.8 (gateway req/s / bare http-proxy req/s)',
        'gateway-auth': '>= 0.8 (gateway with Switchyard auth on req/s / bare http-proxy req/s)',
        gateway_cpu: 'information (bare http-proxy CPU per request / gateway CPU per request)',
        tracing_record_only: '>= 0.95 (gateway with spans recorded, no exporter / gateway with tracing off)',
        tracing_exported: '>= 0.85 (gateway exporting spans over OTLP/HTTP to a local sink / tracing off)',
        tracing_sampled_10pct: 'information (the same, one trace in ten sampled / tracing off)',
      },
      // With auth on (gateway-auth) the edge must still keep 0.8x bare http-proxy.
      met:
        ratios.gateway! >= 0.8 &&
        (ratios['gateway-auth'] === undefined || ratios['gateway-auth'] >= 0.8) &&
        (ratios.tracing_record_only === undefined || ratios.tracing_record_only >= 0.95) &&
        (ratios.tracing_exported === undefined || ratios.tracing_exported >= 0.85),
    };
  } finally {
    await Promise.all(children.map(stop));
  }
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

// Child process entry.
const role = process.env[ROLE_ENV];
if (role !== undefined) {
  const target = process.env.BENCH_TARGET ?? '';
  const roles: Record<string, () => Promise<void>> = {
    upstream: upstreamRole,
    'bare-proxy': () => bareProxyRole(target),
    express: () => expressRole(target),
    undici: () => undiciRole(target),
    gateway: () => gatewayRole(target, 'dev'),
    'gateway-plain': () => gatewayRole(target, 'plain'),
    'gateway-auth': () => gatewayRole(target, 'auth'),
    'gateway-traced': () => gatewayRole(target, 'traced'),
    'gateway-exported': () => gatewayRole(target, 'exported'),
    'gateway-sampled': () => gatewayRole(target, 'sampled'),
    'otlp-sink': otlpSinkRole,
    load: loadRole,
  };
  roles[role]!().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}

import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveGatewayOptions } from '@switchyard/gateway';
import { parseSwitchyardConfig } from '@switchyard/sdk';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs in CI: prove instead that the compose file, the Dockerfiles and the
// .dockerignore fit together and with the repository, and run the health checks' own code.

const root = fileURLToPath(new URL('../../', import.meta.url));

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string; dockerfile?: string };
  command?: string[];
  ports?: string[];
  restart?: string;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}
// merge: the file shares one environment block between services with `<<: *switchyard-env`.
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const services = Object.entries(compose.services);
/** One-shot jobs (they exit when done): no health check, dependents wait for their success. */
const isJob = (svc: ComposeService) => svc.restart === 'no';
const built = services.filter(([, svc]) => svc.build !== undefined) as [
  string,
  ComposeService & { build: NonNullable<ComposeService['build']> },
][];

/** What Compose makes of `${NAME:-default}`, with NAME unset (the host's environment is not the file's). */
function interpolate(value: string): string {
  return value.replace(/\$\{\w+:-([^}]*)\}/g, '$1');
}
const envOf = (svc: ComposeService): Record<string, string> =>
  Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));

// --- Dockerfile and .dockerignore, just enough to check them ---------------------------

interface Stage {
  name: string;
  base: string;
  instructions: { op: string; args: string }[];
}

function parseDockerfile(path: string): Stage[] {
  const text = readFileSync(path, 'utf8').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line === '' || line.startsWith('#')) continue;
    const [, op = '', args = ''] = /^(\w+)\s+(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ name: m[2] ?? String(stages.length), base: m[1]!, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

/** A stage with the stages it is built FROM, nearest first. */
function stageChain(stages: Stage[], target: string | undefined): Stage[] {
  const chain: Stage[] = [];
  let stage = target === undefined ? stages.at(-1) : stages.find((s) => s.name === target);
  while (stage) {
    chain.push(stage);
    const base = stage.base;
    stage = stages.find((s) => s.name === base);
  }
  return chain;
}

/** The sources of a COPY without --from (paths in the build context). */
function copySources(args: string): string[] | undefined {
  if (/--from=/.test(args)) return undefined;
  const words = args.split(/\s+/).filter((w) => !w.startsWith('--'));
  return words.slice(0, -1);
}

function dockerignore(context: string): (path: string) => boolean {
  const file = join(context, '.dockerignore');
  if (!existsSync(file)) return () => false;
  const patterns = readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'))
    .map((p) => {
      // `**/` is any number of directories; `*` and `?` stay within one.
      const re = p
        .split('**/')
        .map((part) =>
          part
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '[^/]*')
            .replace(/\?/g, '[^/]'),
        )
        .join('(?:.*/)?');
      return new RegExp(`^${re}(?:/.*)?$`);
    });
  return (path) => patterns.some((re) => re.test(path));
}

// --- the checks -------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  it('runs etcd, RabbitMQ, Redis and PostgreSQL on their standard ports', () => {
    const expectPorts: Record<string, string> = {
      etcd: '2379:2379',
      rabbitmq: '5672:5672',
      redis: '6379:6379',
      postgres: '5432:5432',
    };
    for (const [name, port] of Object.entries(expectPorts)) {
      const svc = compose.services[name];
      expect(svc, name).toBeDefined();
      expect(svc!.ports).toContain(port);
    }
  });

  it('runs the gateway, the demo services and the Python service next to the servers', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['gateway', 'demo', 'inventory']));
    expect(compose.services.gateway!.command).toEqual(['node', 'gateway/dist/main.js']);
    expect(compose.services.demo!.command?.join(' ')).toMatch(/examples\/demo\/start\.ts$/);
    expect(compose.services.inventory!.build?.context).toBe('examples/python');
  });

  it('gives every service an image or a build, and every long-running one a health check', () => {
    for (const [name, svc] of services) {
      expect(svc.image ?? svc.build, `${name} needs an image or build`).toBeTruthy();
      if (isJob(svc)) {
        expect(svc.healthcheck, `${name} is a one-shot job`).toBeUndefined();
        expect(svc.ports, `${name} is a one-shot job`).toBeUndefined();
      } else {
        expect(svc.healthcheck?.test?.[0], `${name} needs a healthcheck`).toMatch(/^CMD/);
      }
    }
  });

  it('only depends on services that exist: healthy ones, or jobs that succeeded', () => {
    for (const [name, svc] of services) {
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        const target = compose.services[dep];
        expect(target, `${name} depends on unknown ${dep}`).toBeDefined();
        expect(cond.condition, `${name} -> ${dep}`).toBe(
          isJob(target!) ? 'service_completed_successfully' : 'service_healthy',
        );
      }
    }
  });

  it('points every server URL at a service of the file, on its port, and waits for it', () => {
    const urlVars = ['SWITCHYARD_ETCD', 'SWITCHYARD_AMQP', 'SWITCHYARD_REDIS', 'SWITCHYARD_STORE'];
    let checked = 0;
    for (const [name, svc] of services) {
      const env = envOf(svc);
      for (const v of urlVars) {
        if (env[v] === undefined) continue;
        // SWITCHYARD_STORE may also be `etcd` or `memory`, which are no URLs.
        for (const raw of env[v]!.split(',').filter((x) => x.includes('://'))) {
          const url = new URL(raw);
          const server = compose.services[url.hostname];
          expect(server, `${name} ${v} names ${url.hostname}`).toBeDefined();
          const containerPorts = (server!.ports ?? []).map((p) => p.split(':').at(-1));
          expect(containerPorts, `${name} ${v}`).toContain(url.port);
          expect(svc.depends_on?.[url.hostname]?.condition, `${name} must wait for ${url.hostname}`).toBe(
            'service_healthy',
          );
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('configures the gateway and the demo for the servers, Redis and dev tokens, with the ports they publish', () => {
    for (const name of ['gateway', 'demo']) {
      const svc = compose.services[name]!;
      const env = envOf(svc);
      // The gateway's own option parsing, as the process will do it: it throws on anything wrong.
      const resolved = resolveGatewayOptions({ env });
      expect(resolved.switchyard.mode, name).toBe('servers');
      expect(resolved.auth.source, `${name}: the demo's tokens must verify`).toBe('dev');
      expect(env.SWITCHYARD_REDIS, `${name}: rate limits shared through Redis`).toMatch(/^redis:\/\//);
      expect(svc.ports).toContain(`${resolved.port}:${resolved.port}`);
      expect(svc.ports).toContain(`${resolved.adminPort}:${resolved.adminPort}`);
    }
    const gw = resolveGatewayOptions({ env: envOf(compose.services.gateway!) });
    expect([gw.port, gw.adminPort]).toEqual([8080, 9090]);
    // Tokens printed by the demo are accepted by the other gateway: one secret for both.
    expect(envOf(compose.services.gateway!).SWITCHYARD_DEV_JWT_SECRET).toBe(
      envOf(compose.services.demo!).SWITCHYARD_DEV_JWT_SECRET,
    );
  });

  it('gives the routes job and the Python service the settings they read', () => {
    const routes = envOf(compose.services.routes!);
    expect(parseSwitchyardConfig({ ...routes, SWITCHYARD_AMQP: 'amqp://x:5672' }).etcdEndpoints).toEqual([
      'http://etcd:2379',
    ]);
    const inventory = envOf(compose.services.inventory!);
    expect(inventory.SWITCHYARD_AMQP).toMatch(/^amqp:\/\//);
    // Everything in one namespace, or the services could not see each other.
    const namespaces = new Set(
      services.filter(([, s]) => s.build).map(([, s]) => envOf(s).SWITCHYARD_NAMESPACE ?? 'switchyard'),
    );
    expect([...namespaces]).toEqual(['switchyard']);
  });
});

describe('the images docker-compose.yml builds', () => {
  it('build from Dockerfiles that exist, with the targets they name', () => {
    expect(built.length).toBeGreaterThanOrEqual(4);
    for (const [name, svc] of built) {
      const context = join(root, svc.build.context);
      expect(statSync(context).isDirectory(), `${name}: context ${svc.build.context}`).toBe(true);
      const dockerfile = join(context, svc.build.dockerfile ?? 'Dockerfile');
      expect(existsSync(dockerfile), `${name}: ${relative(root, dockerfile)}`).toBe(true);
      const stages = parseDockerfile(dockerfile);
      if (svc.build.target !== undefined) {
        expect(
          stages.map((s) => s.name),
          `${name}: target`,
        ).toContain(svc.build.target);
      }
    }
  });

  it('copy only files that exist and that the .dockerignore lets through', () => {
    const dockerfiles = new Set(built.map(([, s]) => join(root, s.build.context, s.build.dockerfile ?? 'Dockerfile')));
    let copies = 0;
    for (const dockerfile of dockerfiles) {
      const context = dirname(dockerfile);
      const ignored = dockerignore(context);
      for (const stage of parseDockerfile(dockerfile)) {
        for (const { op, args } of stage.instructions) {
          if (op !== 'COPY') continue;
          for (const src of copySources(args) ?? []) {
            const rel = src.replace(/^\.\//, '').replace(/\/$/, '');
            expect(existsSync(join(context, rel)), `${relative(root, dockerfile)}: COPY ${src}`).toBe(true);
            expect(ignored(rel), `${relative(root, dockerfile)}: COPY ${src} is in .dockerignore`).toBe(false);
            copies++;
          }
        }
      }
    }
    expect(copies).toBeGreaterThan(10);
    // Rebuilt inside the image, never sent from the host.
    const rootIgnored = dockerignore(root);
    for (const path of ['node_modules', 'gateway/node_modules', 'gateway/dist', 'cli/dist/main.js', '.git']) {
      expect(rootIgnored(path), path).toBe(true);
    }
  });

  it('run commands whose files exist, in images that hold what the command needs', () => {
    const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    for (const [name, svc] of built) {
      const context = join(root, svc.build.context);
      const chain = stageChain(parseDockerfile(join(context, svc.build.dockerfile ?? 'Dockerfile')), svc.build.target);
      const text = chain.flatMap((s) => s.instructions.map((i) => `${i.op} ${i.args}`)).join('\n');
      const imageCommand = (op: string) => {
        const line = chain.flatMap((s) => s.instructions).find((i) => i.op === op);
        return line ? (JSON.parse(line.args) as string[]) : [];
      };
      // Compose's command replaces CMD and is appended to ENTRYPOINT.
      const argv = [...imageCommand('ENTRYPOINT'), ...(svc.command ?? imageCommand('CMD'))];
      expect(argv.length, `${name}: no command`).toBeGreaterThan(0);

      for (const word of argv) {
        const compiled = /^(broker|sdk|gateway|cli)\/dist\/(.+)\.js$/.exec(word);
        if (compiled) {
          // Built in the image: its source must exist, and the image must compile or copy that package.
          expect(existsSync(join(root, compiled[1]!, 'src', `${compiled[2]}.ts`)), `${name}: ${word}`).toBe(true);
          expect(text, `${name}: ${word} is not built in the image`).toMatch(
            new RegExp(`tsc -b[^\\n]*\\b${compiled[1]}\\b|COPY --from=\\S+ \\S*${compiled[1]}/dist`),
          );
        } else if (/\.(ts|js|py|ya?ml|json)$/.test(word)) {
          expect(existsSync(join(context, word)), `${name}: ${word}`).toBe(true);
        }
      }
      if (argv.includes('tsx')) {
        expect(rootPackage.devDependencies.tsx, 'tsx').toBeDefined();
        expect(text, `${name}: tsx needs the dev dependencies`).toMatch(/npm ci(?![^\n]*--omit=dev)/);
      }
      // Options given to a Python program must be options it declares.
      const script = argv.find((w) => w.endsWith('.py'));
      if (script) {
        const source = readFileSync(join(context, script), 'utf8');
        for (const flag of argv.filter((w) => w.startsWith('--'))) {
          expect(source, `${name}: ${script} ${flag}`).toContain(`add_argument('${flag}'`);
        }
      }
    }
  });
});

describe('the health checks', () => {
  function runCheck(test: string[], env: Record<string, string>): Promise<number> {
    const [, cmd, ...args] = test;
    return new Promise((resolve) => {
      execFile(cmd!, args, { env: { ...process.env, ...env }, timeout: 10_000 }, (err) =>
        resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
      );
    });
  }

  it.each(['gateway', 'demo'])('of %s pass while /readyz answers 200, and fail otherwise', async (name) => {
    const test = compose.services[name]!.healthcheck!.test;
    let status = 200;
    const paths: string[] = [];
    const server = createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = String((server.address() as AddressInfo).port);
    try {
      expect(await runCheck(test, { SWITCHYARD_ADMIN_PORT: port })).toBe(0);
      status = 503;
      expect(await runCheck(test, { SWITCHYARD_ADMIN_PORT: port })).not.toBe(0);
      expect(paths).toEqual(['/readyz', '/readyz']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    // Nothing listening.
    expect(await runCheck(test, { SWITCHYARD_ADMIN_PORT: port })).not.toBe(0);
  });

  it('of the Python service is valid Python that asks for the queue of the service it runs', () => {
    const [, python, flag, script] = compose.services.inventory!.healthcheck!.test;
    expect([python, flag]).toEqual(['python', '-c']);
    execFileSync('python3', ['-c', 'import ast, sys; ast.parse(sys.argv[1])', script!]);
    const command = compose.services.inventory!.command ?? [];
    // service.py serves `inventory` unless told otherwise.
    const serviceName = command.includes('--service') ? command[command.indexOf('--service') + 1] : 'inventory';
    expect(script).toContain(`'.rpc.${serviceName}'`);
  });
});

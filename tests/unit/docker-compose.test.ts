import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine runs in CI: prove the compose file is well-formed and complete instead.
interface ComposeService {
  image?: string;
  build?: unknown;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}
const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, ComposeService>;
};

describe('docker-compose.yml', () => {
  it('runs etcd, RabbitMQ and Redis on their standard ports', () => {
    const expectPorts: Record<string, string> = { etcd: '2379:2379', rabbitmq: '5672:5672', redis: '6379:6379' };
    for (const [name, port] of Object.entries(expectPorts)) {
      const svc = compose.services[name];
      expect(svc, name).toBeDefined();
      expect(svc!.ports).toContain(port);
    }
  });

  it('gives every service an image or a build, and a health check', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.image ?? svc.build, `${name} needs an image or build`).toBeTruthy();
      expect(svc.healthcheck?.test?.[0], `${name} needs a healthcheck`).toMatch(/^CMD/);
    }
  });

  it('only depends on services that exist, waiting for them to be healthy', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, cond] of Object.entries(svc.depends_on ?? {})) {
        expect(compose.services[dep], `${name} depends on unknown ${dep}`).toBeDefined();
        expect(cond.condition).toBe('service_healthy');
      }
    }
  });
});

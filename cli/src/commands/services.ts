import { EtcdRegistry, type ServiceInstance } from '@switchyard/sdk';
import type { Command } from 'commander';
import { requireEtcd } from '../connect/etcd.js';
import type { CommandContext } from '../context.js';
import type { CliIo } from '../output/io.js';
import { renderTable } from '../output/table.js';
import { action, examples } from './command-kit.js';

export function registerServicesCommand(program: Command, io: CliIo): void {
  examples(
    program
      .command('services')
      .summary('list registered services, instances and methods')
      .description('list registered services: instances, versions, addresses and methods')
      .argument('[service]', 'only this service')
      .action(action(io, listServices)),
    ['switchyard services', 'switchyard services orders', 'switchyard services --json | jq ".services[].name"'],
  );
}

interface ServiceSummary {
  name: string;
  versions: string[];
  instances: ServiceInstance[];
}

async function listServices(ctx: CommandContext, [only]: string[]): Promise<void> {
  const registry = new EtcdRegistry({
    endpoints: [...requireEtcd(ctx.settings)],
    namespace: ctx.settings.namespace,
    dialTimeoutMs: 5_000,
  });
  ctx.defer(() => registry.close());
  const services = await ctx.reachEtcd('reading the registry', async () => {
    const names = only === undefined ? await registry.listServices() : [only];
    const out: ServiceSummary[] = [];
    for (const name of names) {
      const instances = await registry.listInstances(name);
      if (instances.length === 0) continue;
      out.push({ name, versions: [...new Set(instances.map((i) => i.version))].sort(), instances });
    }
    return out;
  });
  if (ctx.json) {
    ctx.outJson({ namespace: ctx.settings.namespace, services });
    return;
  }
  if (services.length === 0) {
    ctx.note(
      only === undefined
        ? `no services registered in namespace ${ctx.settings.namespace}`
        : `no live instance of ${only} in namespace ${ctx.settings.namespace}`,
    );
    return;
  }
  const rows = services.flatMap((s) => s.instances.map((instance) => ({ s, instance })));
  ctx.out(
    renderTable(rows, [
      { header: 'SERVICE', value: (r) => r.s.name },
      { header: 'VERSION', value: (r) => r.instance.version },
      { header: 'INSTANCE', value: (r) => r.instance.id },
      { header: 'ADDRESS', value: (r) => r.instance.address?.http ?? '-' },
      { header: 'LANG', value: (r) => r.instance.metadata.lang ?? '-' },
      { header: 'UP', value: (r) => age(r.instance.startedAt) },
      { header: 'METHODS', value: (r) => methodsOf(r.instance) },
    ]),
  );
  const total = rows.length;
  ctx.note(`${services.length} service${services.length === 1 ? '' : 's'}, ${total} instance${total === 1 ? '' : 's'}`);
}

function methodsOf(instance: ServiceInstance): string {
  const names = Object.entries(instance.methods).map(([name, m]) =>
    m.kind === 'bidi'
      ? `${name}(bidi)`
      : m.kind === 'client'
        ? `${name}(client-stream)`
        : m.streaming
          ? `${name}(stream)`
          : name,
  );
  return names.length === 0 ? '-' : names.sort().join(', ');
}

/** `3s`, `5m`, `2h`, `4d` since `iso`. */
function age(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

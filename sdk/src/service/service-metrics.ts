import { Counter, Histogram, type Registry } from 'prom-client';

/** Duration buckets, seconds: 0.5 ms to 10 s. */
export const SERVICE_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** The code label of a call that succeeded. */
export const OK = 'OK';

/**
 * prom-client series for one service: calls it handled and calls it made, by method and
 * code. Several services may share one registry: each series is registered once and the
 * `service` label tells them apart. Label children are cached, so recording costs two
 * map lookups, not a label-hash build per call.
 */
export class ServiceMetrics {
  private readonly handledTotal: Counter<'service' | 'method' | 'code'>;
  private readonly handleSeconds: Histogram<'service' | 'method' | 'code'>;
  private readonly callsTotal: Counter<'service' | 'target' | 'method' | 'code'>;
  private readonly callSeconds: Histogram<'service' | 'target' | 'method' | 'code'>;
  private readonly children = new Map<string, { inc(): void; observe(v: number): void }>();

  constructor(
    registry: Registry,
    private readonly service: string,
  ) {
    this.handledTotal = metric(
      registry,
      'switchyard_service_handled_total',
      () =>
        new Counter({
          name: 'switchyard_service_handled_total',
          help: 'RPC calls handled by a service, by method and result code (OK on success)',
          labelNames: ['service', 'method', 'code'],
          registers: [registry],
        }),
    );
    this.handleSeconds = metric(
      registry,
      'switchyard_service_handle_seconds',
      () =>
        new Histogram({
          name: 'switchyard_service_handle_seconds',
          help: 'Time from a request reaching the SDK to its reply, by method and result code',
          labelNames: ['service', 'method', 'code'],
          buckets: [...SERVICE_DURATION_BUCKETS],
          registers: [registry],
        }),
    );
    this.callsTotal = metric(
      registry,
      'switchyard_service_calls_total',
      () =>
        new Counter({
          name: 'switchyard_service_calls_total',
          help: 'RPC calls made by a service, by target service, method and result code (retries included)',
          labelNames: ['service', 'target', 'method', 'code'],
          registers: [registry],
        }),
    );
    this.callSeconds = metric(
      registry,
      'switchyard_service_call_seconds',
      () =>
        new Histogram({
          name: 'switchyard_service_call_seconds',
          help: 'Duration of RPC calls made by a service, retries included',
          labelNames: ['service', 'target', 'method', 'code'],
          buckets: [...SERVICE_DURATION_BUCKETS],
          registers: [registry],
        }),
    );
  }

  handled(method: string, code: string, seconds: number): void {
    const key = `h\u0000${method}\u0000${code}`;
    let child = this.children.get(key);
    if (!child) {
      const labels = { service: this.service, method, code };
      const counter = this.handledTotal.labels(labels);
      const histogram = this.handleSeconds.labels(labels);
      child = { inc: () => counter.inc(), observe: (v) => histogram.observe(v) };
      this.children.set(key, child);
    }
    child.inc();
    child.observe(seconds);
  }

  called(target: string, method: string, code: string, seconds: number): void {
    const key = `c\u0000${target}\u0000${method}\u0000${code}`;
    let child = this.children.get(key);
    if (!child) {
      const labels = { service: this.service, target, method, code };
      const counter = this.callsTotal.labels(labels);
      const histogram = this.callSeconds.labels(labels);
      child = { inc: () => counter.inc(), observe: (v) => histogram.observe(v) };
      this.children.set(key, child);
    }
    child.inc();
    child.observe(seconds);
  }
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

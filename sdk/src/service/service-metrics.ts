import { Counter, Histogram, type Registry } from 'prom-client';

/** Duration buckets, seconds: 0.5 ms to 10 s. */
export const SERVICE_DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

interface Child {
  counter: { inc(): void };
  histogram: { observe(value: number): void };
}

/** The code label of a call that succeeded. */
export const OK = 'OK';

/**
 * prom-client series for one service: calls it handled and calls it made, by method and
 * code. Several services may share one registry: each series is registered once and the
 * `service` label tells them apart. Label children are cached in nested maps, so recording
 * costs a few map lookups, not a label-hash build (or a key string) per call.
 */
export class ServiceMetrics {
  private readonly handledTotal: Counter<'service' | 'method' | 'code'>;
  private readonly handleSeconds: Histogram<'service' | 'method' | 'code'>;
  private readonly callsTotal: Counter<'service' | 'target' | 'method' | 'code'>;
  private readonly callSeconds: Histogram<'service' | 'target' | 'method' | 'code'>;
  private readonly handledChildren = new Map<string, Map<string, Child>>();
  private readonly calledChildren = new Map<string, Map<string, Map<string, Child>>>();

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
    let byCode = this.handledChildren.get(method);
    if (!byCode) {
      byCode = new Map();
      this.handledChildren.set(method, byCode);
    }
    let child = byCode.get(code);
    if (!child) {
      const labels = { service: this.service, method, code };
      child = { counter: this.handledTotal.labels(labels), histogram: this.handleSeconds.labels(labels) };
      byCode.set(code, child);
    }
    child.counter.inc();
    child.histogram.observe(seconds);
  }

  called(target: string, method: string, code: string, seconds: number): void {
    let byMethod = this.calledChildren.get(target);
    if (!byMethod) {
      byMethod = new Map();
      this.calledChildren.set(target, byMethod);
    }
    let byCode = byMethod.get(method);
    if (!byCode) {
      byCode = new Map();
      byMethod.set(method, byCode);
    }
    let child = byCode.get(code);
    if (!child) {
      const labels = { service: this.service, target, method, code };
      child = { counter: this.callsTotal.labels(labels), histogram: this.callSeconds.labels(labels) };
      byCode.set(code, child);
    }
    child.counter.inc();
    child.histogram.observe(seconds);
  }
}

function metric<T>(registry: Registry, name: string, create: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? create();
}

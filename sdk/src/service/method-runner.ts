import {
  type IncomingRequest,
  InternalError,
  isSwitchyardError,
  type MethodDefinition,
  type SwitchyardError,
  toSwitchyardError,
} from '@switchyard/broker';
import { RequestContext } from '../context/call-context.js';
import type { ContextHost } from '../context/context-host.js';
import type { TraceContext } from '../context/trace-context.js';
import type { MethodBulkhead } from '../resilience/bulkhead.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { endWith, tracingOn, withSpan } from '../telemetry/spans.js';
import { MethodAdmission } from './method-admission.js';
import { OK, type ServiceMetrics } from './service-metrics.js';
import type { ResolvedMethod } from './service-options.js';

/**
 * The incoming half of one method: what runs between the transport decoding a request
 * and the reply going out. In order — request schema (INVALID_ARGUMENT), at-most-once
 * for non-idempotent methods (a request handed over from an instance that died is
 * refused, not run twice), rate limit (RATE_LIMITED), bulkhead (BULKHEAD_FULL) — and only
 * then the handler, whose reply is checked against the response schema (INTERNAL when it
 * fails). Each refusal happens before the handler runs.
 */
export class MethodRunner {
  private readonly admission: MethodAdmission;

  constructor(
    private readonly host: ContextHost,
    private readonly spec: ResolvedMethod,
    private readonly schemas: SchemaRegistry,
    private readonly metrics: ServiceMetrics | undefined,
  ) {
    this.admission = new MethodAdmission(host, spec, schemas, 'handling');
  }

  get bulkhead(): MethodBulkhead {
    return this.admission.bulkhead;
  }

  /** The transport's view of this method (one closure per method, made once). */
  definition(): MethodDefinition {
    return { handler: (req) => this.handle(req) };
  }

  private handle(req: IncomingRequest): Promise<unknown> {
    if (tracingOn()) return this.traced(req);
    return this.metrics ? this.measured(req, undefined) : this.admit(req, undefined);
  }

  /**
   * A SERVER span over everything this instance does with the request (schema, admission,
   * handler, reply check), child of the caller's span from `traceparent`; the handler runs
   * with it active and sees it as `ctx.trace`.
   */
  private traced(req: IncomingRequest): Promise<unknown> {
    const { span, parent, trace } = this.admission.serverSpan(req);
    return endWith(
      span,
      withSpan(span, parent, () => this.measured(req, trace)),
    );
  }

  private async measured(req: IncomingRequest, trace: TraceContext | undefined): Promise<unknown> {
    if (!this.metrics) return this.admit(req, trace);
    const started = performance.now();
    try {
      const result = await this.admit(req, trace);
      this.metrics.handled(this.spec.name, OK, (performance.now() - started) / 1000);
      return result;
    } catch (err) {
      const code = isSwitchyardError(err) ? err.code : 'INTERNAL';
      this.metrics.handled(this.spec.name, code, (performance.now() - started) / 1000);
      throw err;
    }
  }

  private async admit(req: IncomingRequest, trace: TraceContext | undefined): Promise<unknown> {
    const limited = this.admission.check(req);
    if (limited) await limited;
    return this.admission.bulkhead.run(() => this.invoke(req, trace));
  }

  private async invoke(req: IncomingRequest, trace: TraceContext | undefined): Promise<unknown> {
    const ctx = new RequestContext(this.host, this.spec.name, req, trace);
    let result: unknown;
    try {
      result = await this.spec.handler(req.payload, ctx);
    } catch (err) {
      throw this.publicError(err, ctx);
    }
    const schema = this.spec.response;
    if (schema !== undefined) {
      const violations = this.schemas.get(schema).validate(result);
      if (violations.length > 0) {
        ctx.logger.error({ violations, schema }, 'reply failed its schema; the caller gets INTERNAL');
        throw new InternalError(`${this.admission.label} produced an invalid reply`);
      }
    }
    return result;
  }

  /** What the caller may see; anything that is not a SwitchyardError is logged here and becomes INTERNAL. */
  private publicError(err: unknown, ctx: RequestContext): SwitchyardError {
    const e = toSwitchyardError(err);
    if (e !== err) ctx.logger.error({ err }, 'handler failed');
    return e;
  }
}

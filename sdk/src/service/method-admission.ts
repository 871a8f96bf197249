import type { Attributes } from '@opentelemetry/api';
import { type IncomingRequest, UnavailableError } from '@switchyard/broker';
import type { ContextHost } from '../context/context-host.js';
import { callerOf } from '../context/headers.js';
import { MethodBulkhead } from '../resilience/bulkhead.js';
import type { RateLimitOptions } from '../resilience/rate-limit.js';
import { MethodRateLimiter } from '../resilience/rate-limit.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { ATTR, RPC_SYSTEM } from '../telemetry/semconv.js';
import { checkPayload } from './payload-check.js';

/** What admission needs of a unary or a streaming method. */
export interface AdmittedMethod {
  readonly name: string;
  readonly request: string | undefined;
  readonly idempotent: boolean;
  readonly maxConcurrent: number;
  readonly maxQueued: number;
  readonly rateLimit: Readonly<RateLimitOptions> | undefined;
}

/**
 * What a unary method (method-runner.ts) and a server-streaming one (stream-runner.ts)
 * check alike before their handler runs, in order: request schema (INVALID_ARGUMENT),
 * at-most-once for non-idempotent methods (a request handed over from an instance that
 * died is refused, not run twice), rate limit (RATE_LIMITED); then each runner takes a
 * slot of `bulkhead` (BULKHEAD_FULL) — for one reply, or for the whole stream. Also the
 * method's label and span name and attributes, made once.
 */
export class MethodAdmission {
  readonly label: string;
  readonly spanName: string;
  readonly spanAttributes: Attributes;
  readonly bulkhead: MethodBulkhead;
  readonly #limiter: MethodRateLimiter | undefined;

  /** `doing`: how the refusal of a redelivered request names the work ("handling", "streaming"). */
  constructor(
    host: ContextHost,
    private readonly spec: AdmittedMethod,
    private readonly schemas: SchemaRegistry,
    private readonly doing: string,
  ) {
    this.label = `${host.name}.${spec.name}`;
    this.spanName = `${host.name}/${spec.name}`;
    this.spanAttributes = { [ATTR.rpcSystem]: RPC_SYSTEM, [ATTR.rpcService]: host.name, [ATTR.rpcMethod]: spec.name };
    this.bulkhead = new MethodBulkhead(this.label, spec.maxConcurrent, spec.maxQueued);
    this.#limiter = spec.rateLimit ? new MethodRateLimiter(this.label, spec.rateLimit) : undefined;
  }

  /**
   * The checks before the bulkhead. Throws on a refusal; returns the rate limiter's wait
   * when the method has one (undefined otherwise, so an unlimited method awaits nothing).
   */
  check(req: IncomingRequest): Promise<void> | undefined {
    const spec = this.spec;
    if (spec.request !== undefined) checkPayload(this.schemas, spec.request, req.payload, 'request');
    if (req.redelivered && !spec.idempotent) {
      throw new UnavailableError(
        `${this.label} was interrupted: the instance ${this.doing} it stopped, and the method is not idempotent, so it is not run again`,
        { retryable: false, details: { reason: 'redelivered' } },
      );
    }
    return this.#limiter?.take(callerOf(req.headers));
  }

  /**
   * For a stream: the checks, then a bulkhead slot held until the returned release is
   * called, since a stream is one long call (stream-runner.ts, bidi-runner.ts).
   */
  async holdSlot(req: IncomingRequest): Promise<() => void> {
    const limited = this.check(req);
    if (limited) await limited;
    return new Promise((resolve, reject) => {
      this.bulkhead.run(() => new Promise<void>((done) => resolve(done))).catch(reject);
    });
  }
}

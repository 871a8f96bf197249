/**
 * How a stream of any kind (server, client, bidi) ends on the serving side, the same for
 * stream-runner.ts and bidi-runner.ts: the error its caller may see, and its metric and
 * span, once.
 */
import type { Span } from '@opentelemetry/api';
import { isSwitchyardError, type SwitchyardError, toSwitchyardError } from '@switchyard/broker';
import type { RequestContext } from '../context/call-context.js';
import { failSpan } from '../telemetry/spans.js';
import { OK, type ServiceMetrics } from './service-metrics.js';

/** What the caller may see; anything that is not a SwitchyardError is logged here (as `what`) and becomes INTERNAL. */
export function publicStreamError(err: unknown, ctx: RequestContext, what: string): SwitchyardError {
  const e = toSwitchyardError(err);
  if (e !== err) ctx.logger.error({ err }, what);
  return e;
}

/** Metrics and span of one stream (`err` undefined: it completed). */
export function streamEnded(
  metrics: ServiceMetrics | undefined,
  method: string,
  span: Span | undefined,
  started: number,
  err: unknown,
): void {
  if (metrics) {
    const code = err === undefined ? OK : isSwitchyardError(err) ? err.code : 'INTERNAL';
    metrics.handled(method, code, (performance.now() - started) / 1000);
  }
  if (span) {
    if (err !== undefined) failSpan(span, err);
    span.end();
  }
}

import { ConsecutiveBreaker, circuitBreaker, ExponentialBackoff, handleWhen, type IBackoff } from 'cockatiel';
import { Etcd3, isRecoverableError } from 'etcd3';

/** Per-call deadline for unary etcd calls (etcd3 ignores its own dialTimeout). */
export const DEFAULT_ETCD_DIAL_TIMEOUT_MS = 5_000;

/**
 * The etcd3 client every Switchyard part uses (registry, schemas, routes), tuned so that recovery after an etcd restart takes about a second
 * instead of tens of seconds. etcd3's defaults hold a host's circuit open for 5 s,
 * back off watch reconnects up to 30 s (a pending timer that also keeps the process
 * alive after close), and grpc-js backs off reconnects up to 120 s.
 */
export function createEtcdClient(
  endpoints: string | readonly string[],
  options: { dialTimeoutMs?: number } = {},
): Etcd3 {
  const dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_ETCD_DIAL_TIMEOUT_MS;
  return new Etcd3({
    hosts: typeof endpoints === 'string' ? endpoints.split(',').map((e) => e.trim()) : [...endpoints],
    dialTimeout: dialTimeoutMs,
    // Streams (watch, lease keepalive) live forever; only unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + dialTimeoutMs }),
    grpcOptions: {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      // Detect a silently dead connection under a long-lived watch (etcd allows pings every >= 5 s).
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
    },
    faultHandling: {
      host: () =>
        circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      // etcd3 types this as an IBackoff but calls `.next()` on it first, as on a factory (its own default).
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) as unknown as IBackoff<unknown>,
    },
  });
}

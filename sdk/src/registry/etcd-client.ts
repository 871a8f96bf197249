import { InvalidOptionsError, type Pem } from '@switchyard/broker';
import { ConsecutiveBreaker, circuitBreaker, ExponentialBackoff, handleWhen, type IBackoff } from 'cockatiel';
import { Etcd3, type IOptions, isRecoverableError } from 'etcd3';

/** Per-call deadline for unary etcd calls (etcd3 ignores its own dialTimeout). */
export const DEFAULT_ETCD_DIAL_TIMEOUT_MS = 5_000;

/** TLS of `https://` etcd endpoints: PEM contents (the SDK reads SWITCHYARD_ETCD_CA/CERT/KEY files once). */
export interface EtcdTlsOptions {
  /** CA certificate(s) etcd's certificate must chain to. Default: node's root CAs. */
  ca?: Pem;
  /** Client certificate, for an etcd started with `--client-cert-auth`. Needs `key`. */
  cert?: Pem;
  key?: Pem;
}

/**
 * The etcd3 client every Switchyard part uses (registry, schemas, routes), tuned so that recovery after an etcd restart takes about a second
 * instead of tens of seconds. etcd3's defaults hold a host's circuit open for 5 s,
 * back off watch reconnects up to 30 s (a pending timer that also keeps the process
 * alive after close), and grpc-js backs off reconnects up to 120 s.
 */
export function createEtcdClient(
  endpoints: string | readonly string[],
  options: { dialTimeoutMs?: number; tls?: EtcdTlsOptions } = {},
): Etcd3 {
  const dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_ETCD_DIAL_TIMEOUT_MS;
  const hosts = typeof endpoints === 'string' ? endpoints.split(',').map((e) => e.trim()) : [...endpoints];
  return new Etcd3({
    hosts,
    ...credentials(hosts, options.tls),
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

/**
 * etcd3's `credentials` (grpc's createSsl). Without them etcd3 still speaks TLS to https://
 * hosts, trusting node's roots. TLS settings with http:// hosts are refused: the operator
 * believes the link is encrypted and grpc would not encrypt it.
 */
function credentials(hosts: readonly string[], tls: EtcdTlsOptions | undefined): Pick<IOptions, 'credentials'> {
  const secure = hosts.filter((h) => h.startsWith('https://')).length;
  if (secure > 0 && secure < hosts.length) throw bad('endpoints', 'mixes http:// and https://');
  if (tls === undefined) return {};
  if (secure === 0) throw bad('tls', 'is set but the etcd endpoints are http:// (plain): use https:// endpoints');
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw bad(
      'tls.cert/tls.key',
      `must be given together (only ${tls.cert === undefined ? 'tls.key' : 'tls.cert'} is set)`,
    );
  }
  const buf = (pem: Pem | undefined) => (pem === undefined ? undefined : Buffer.from(pem));
  return {
    credentials: {
      // grpc takes null for "node's root CAs"; etcd3's type insists on a Buffer.
      rootCertificate: (buf(tls.ca) ?? null) as Buffer,
      ...(tls.cert !== undefined ? { certChain: buf(tls.cert), privateKey: buf(tls.key) } : {}),
    },
  };
}

function bad(option: string, problem: string): InstanceType<typeof InvalidOptionsError> {
  return new InvalidOptionsError(`etcd client option "${option}" ${problem}`, { details: { option } });
}

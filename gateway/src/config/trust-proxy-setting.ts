import { ClientIpResolver, type TrustProxy } from '../ratelimit/client-ip.js';
import { type Env, GATEWAY_ENV, readEnv } from './gateway-env.js';
import { invalidOption } from './option-checks.js';

/**
 * `trustProxy` from the option, else SWITCHYARD_TRUST_PROXY: `false`/`0` (none), a hop
 * count (`1`), or networks, comma-separated (`10.0.0.0/8,loopback`). Validated by building
 * the resolver once, so a bad network fails the startup naming the setting.
 */
export function resolveTrustProxy(value: unknown, env: Env): TrustProxy {
  if (value !== undefined) {
    try {
      new ClientIpResolver(value as TrustProxy);
    } catch (err) {
      throw invalidOption('trustProxy', (err as Error).message.replace(/^trustProxy: /, ''));
    }
    return value as TrustProxy;
  }
  const raw = readEnv(env, GATEWAY_ENV.trustProxy);
  if (raw === undefined || raw === 'false') return false;
  let parsed: TrustProxy;
  if (/^\d+$/.test(raw)) parsed = Number(raw);
  else
    parsed = Object.freeze(
      raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
  try {
    new ClientIpResolver(parsed);
  } catch (err) {
    throw invalidOption(GATEWAY_ENV.trustProxy, (err as Error).message.replace(/^trustProxy: /, ''));
  }
  return parsed;
}

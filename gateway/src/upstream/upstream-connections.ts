import type { Dispatcher } from 'undici';
import { Client, Pool } from 'undici';
import type { ResolvedPoolOptions } from './pool-options.js';
import type { ProxyTarget } from './upstream-instance.js';

const FRESH = Symbol('switchyard.upstream.freshSocket');
const CLIENT = Symbol('switchyard.upstream.client');

/**
 * One undici client = one connection at a time (pipelining 1). It tells each request
 * whether it is the first on the current socket: a reused keep-alive connection reset
 * before any answer almost surely never reached the instance (the instance closed it as
 * the request went out), so such a request may be sent again whatever its method.
 */
class TaggingClient extends Client {
  [FRESH] = false;

  constructor(origin: URL, options: Client.Options) {
    super(origin, options);
    // 'connect' is emitted before the first request is written on the new socket.
    this.on('connect', () => {
      this[FRESH] = true;
    });
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandlers): boolean {
    // Read back in the handler's onConnect (wentOutOnReusedConnection): no closure per request.
    (handler as { [CLIENT]?: TaggingClient })[CLIENT] = this;
    return super.dispatch(options, handler);
  }
}

/** Called from a handler's `onConnect`: was this request written on a connection that had served before? */
export function wentOutOnReusedConnection(handler: object): boolean {
  const client = (handler as { [CLIENT]?: TaggingClient })[CLIENT];
  if (client === undefined) return false;
  if (client[FRESH]) {
    client[FRESH] = false;
    return false;
  }
  return true;
}

/**
 * The keep-alive connections to one instance: an undici Pool. undici rather than
 * node:http's Agent (what http-proxy uses): its client costs about a third less CPU per
 * proxied request (no ClientRequest / IncomingMessage streams per request, no agent queue
 * bookkeeping, a handler object instead of events) — measured with `npm run bench -- gateway`.
 *
 * Timeouts: the gateway's own deadline bounds the wait for response headers (all
 * attempts, connect included), so undici's headers timeout is off; its body timeout is
 * the pool's `responseIdleTimeoutMs` (time between body chunks, not counted while the
 * client is too slow to take more).
 */
export function createUpstreamConnections(target: ProxyTarget, o: ResolvedPoolOptions): Pool {
  const { agent, tls } = o;
  const origin = `${target.protocol}//${target.host}`;
  const tcp = { keepAlive: true, keepAliveInitialDelay: agent.keepAliveMsecs };
  return new Pool(origin, {
    connections: Number.isFinite(agent.maxSockets) ? agent.maxSockets : null,
    // pipelining 0 is undici's "no keep-alive": one request per connection.
    pipelining: agent.keepAlive ? 1 : 0,
    keepAliveTimeout: agent.idleTimeoutMs,
    // An instance's own Keep-Alive hint may shorten the idle time, never lengthen it past ours.
    keepAliveMaxTimeout: agent.idleTimeoutMs,
    headersTimeout: 0,
    bodyTimeout: o.responseIdleTimeoutMs,
    connect:
      target.protocol === 'https:'
        ? { ...tcp, rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca === undefined ? {} : { ca: tls.ca }) }
        : tcp,
    factory: (url, options) => new TaggingClient(url, options as Client.Options),
  });
}
